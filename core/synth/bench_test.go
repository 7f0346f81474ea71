package synth_test

import (
	"testing"

	"tranche.dev/tranche/core/synth"
)

// BenchmarkEachOfPatient measures NDJSON generation on one goroutine. One
// op is a batch of 100 patients, so MB/s (from b.SetBytes) counts the JSON
// bytes a server would write, newlines included.
func BenchmarkEachOfPatient(b *testing.B) {
	const batch = 100
	p := synth.New(synth.Config{Patients: 10 * batch})
	var bytes, resources int64
	count := func(r *synth.Resource) error {
		if !r.Deleted {
			bytes += int64(len(r.JSON)) + 1
		}
		resources++
		return nil
	}
	for i := range batch {
		if err := p.EachOfPatient(i, count); err != nil {
			b.Fatal(err)
		}
	}
	b.SetBytes(bytes)
	perOp := resources
	sink := func(*synth.Resource) error { return nil }
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		for i := range batch {
			if err := p.EachOfPatient(i, sink); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(perOp)*float64(b.N)/b.Elapsed().Seconds(), "resources/s")
}

// BenchmarkEachOfPatientParallel is the same work spread over GOMAXPROCS
// goroutines, as the demo server does for large exports.
func BenchmarkEachOfPatientParallel(b *testing.B) {
	p := synth.New(synth.Config{Patients: 1000})
	sink := func(*synth.Resource) error { return nil }
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			if err := p.EachOfPatient(i%1000, sink); err != nil {
				b.Error(err)
				return
			}
			i++
		}
	})
}

func BenchmarkGroups(b *testing.B) {
	for range b.N {
		p := synth.New(synth.Config{Patients: 100000})
		if len(p.Groups()) == 0 {
			b.Fatal("no groups")
		}
	}
}
