package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"

	"tranche.dev/tranche/core/bench"
	"tranche.dev/tranche/core/bulk"
)

// runBench runs "tranche bench" (core/bench): the demo server in this
// process, then each phase in a child process, and prints the comparison.
func runBench(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("tranche bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	patients := fs.Int("patients", 1000, "synthetic patients on the demo server")
	parallel := fs.Int("parallel", bulk.DefaultMaxParallel, "parallel downloads in both phases")
	phase := fs.String("phase", "", "internal: run one phase (baseline, export or ingest) against --url")
	target := fs.String("url", "", "internal: FHIR base URL for --phase")
	dir := fs.String("dir", "", "internal: working directory for --phase")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the export phase to this file")
	if err := fs.Parse(args); err != nil {
		return err
	}
	ctx := context.Background()
	if *phase != "" {
		r, err := bench.RunPhase(ctx, *phase, *target, *dir, *parallel, *cpuProfile)
		if err != nil {
			return err
		}
		return json.NewEncoder(stdout).Encode(r)
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	results, err := bench.Compare(ctx, bench.Config{Patients: *patients, Parallel: *parallel, CPUProfile: *cpuProfile, Stderr: stderr,
		Started: func() { fmt.Fprintf(stdout, "Demo server started with %d patients.\n", *patients) },
		Command: func(phase, base, dir string) *exec.Cmd {
			return exec.Command(self, "bench", "--phase", phase, "--url", base, "--dir", dir)
		}})
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%-9s %9s %9s %12s %9s %8s %10s\n", "phase", "seconds", "total s", "resources/s", "MB/s", "MB", "peak RSS")
	for _, r := range results[:2] {
		fmt.Fprintf(stdout, "%-9s %9.2f %9.2f %12.0f %9.1f %8.1f %7.1f MB\n", r.Phase, r.Seconds, r.Total,
			float64(r.Resources)/r.Seconds, float64(r.Bytes)/1e6/r.Seconds, float64(r.Bytes)/1e6, r.PeakRSSMB)
	}
	b, e := results[0], results[1]
	if b.Resources != e.Resources {
		fmt.Fprintf(stdout, "note: the phases moved different amounts (%d vs %d resources)\n", b.Resources, e.Resources)
	}
	fmt.Fprintf(stdout, "ratio (export MB/s over baseline MB/s, download phase): %.2f  (0.70 target retired: see README)\n",
		(float64(e.Bytes)/e.Seconds)/(float64(b.Bytes)/b.Seconds))
	pk := e.AtPeak
	fmt.Fprintf(stdout, "export peak RSS: %.1f MB (target <= 100 MB; at the highest sample: Go heap %.0f, free Go heap %.0f, Go runtime %.0f, outside Go %.0f MB)\n",
		e.PeakRSSMB, pk.HeapMB, pk.HeapFreeMB, pk.GoOtherMB, pk.OutsideMB)
	fmt.Fprintf(stdout, "export CPU: %.2f s per 100k resources (%.1f s in all)\n", e.CPUSeconds/float64(e.Resources)*1e5, e.CPUSeconds)
	if in := results[2]; in.FloorCPU > 0 {
		fmt.Fprintf(stdout, "ingest x-floor: %.2f  (catalogue insert path %.2f s over bare insert %.2f s of the same %d lines, CPU; target <= 2.0)\n",
			in.IngestCPU/in.FloorCPU, in.IngestCPU, in.FloorCPU, in.Resources)
	}
	return nil
}
