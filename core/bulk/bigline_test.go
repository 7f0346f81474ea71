package bulk_test

import (
	"fmt"
	"net/http"
	"runtime"
	"strings"
	"testing"

	"tranche.dev/tranche/core"
)

// TestBigLineMemory: a 50 MB NDJSON line (under the 64 MiB line cap) is
// stored whole, and all that loading it allocates stays under the line cap
// plus 16 MiB: the reader's buffer goes straight to the cap past 4 MiB and
// is never copied again for its batch (before: 325 MiB, the buffer
// doubling to 128 MiB and the line copied for its batch). A 100 MB line,
// over the cap, is kept as a 1 KiB problem within the same bound (before:
// 342 MiB).
func TestBigLineMemory(t *testing.T) {
	const lineCap = 64 << 20
	big := []byte(`{"resourceType":"Patient","id":"big","text":{"div":"` + strings.Repeat("a", 50<<20) + `"}}` + "\n")
	huge := []byte(`{"resourceType":"Patient","id":"huge","text":{"div":"` + strings.Repeat("a", 100<<20) + `"}}` + "\n")
	small := []byte(`{"resourceType":"Patient","id":"small"}` + "\n")
	tests := []struct {
		name      string
		body      []byte
		wantState core.FileState
		maxAlloc  uint64
	}{
		{"50MB", append(append([]byte{}, small...), big...), core.FileLoaded, lineCap + 16<<20},
		{"100MBOverCap", append(append([]byte{}, small...), huge...), core.FileInvalid, lineCap + 16<<20},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHostile(t)
			h.status = func(w http.ResponseWriter, r *http.Request, n int64) { h.manifest(w, map[string]int{"a": 2}) }
			h.files["a"] = func(w http.ResponseWriter, r *http.Request, n int64) { w.Write(tt.body) }
			r, _, exp := h.runner(t)
			r.MaxRedownloads = -1
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			err := r.Start(t.Context(), exp)
			runtime.ReadMemStats(&after)
			alloc := after.TotalAlloc - before.TotalAlloc
			t.Logf("allocated %d MiB for a %d MiB body (Start: %v)", alloc>>20, len(tt.body)>>20, err)
			files, _ := r.Store.FindFiles(t.Context(), exp.ID)
			if len(files) != 1 || files[0].State != tt.wantState || files[0].Lines != 2 {
				t.Fatalf("files = %v, want one %s file of 2 lines", fmt.Sprint(files), tt.wantState)
			}
			if alloc > tt.maxAlloc {
				t.Errorf("allocated %d MiB, want at most %d MiB", alloc>>20, tt.maxAlloc>>20)
			}
		})
	}
}
