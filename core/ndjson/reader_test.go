package ndjson_test

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"tranche.dev/tranche/core/ndjson"
)

type gotLine struct {
	Num       int64
	Raw       string
	Oversized bool
	Size      int64
	End       int64
}

func readAll(t testing.TB, in string, max int) ([]gotLine, int64, error) {
	r := ndjson.NewReader(strings.NewReader(in))
	r.MaxLine = max
	var got []gotLine
	for {
		l, err := r.Next()
		if err == io.EOF {
			return got, r.Blank, nil
		}
		if err != nil {
			return got, r.Blank, err
		}
		got = append(got, gotLine{l.Num, string(l.Raw), l.Oversized, l.Size, l.End})
	}
}

var readerTests = []struct {
	name  string
	in    string
	max   int
	want  []gotLine
	blank int64
}{
	{"Empty", "", 0, nil, 0},
	{"LF", "{\"a\":1}\n{}\n", 0, []gotLine{{1, `{"a":1}`, false, 7, 8}, {2, `{}`, false, 2, 11}}, 0},
	{"CRLF", "{\"a\":1}\r\n{}\r\n", 0, []gotLine{{1, `{"a":1}`, false, 7, 9}, {2, `{}`, false, 2, 13}}, 0},
	{"NoFinalNewline", "{}\n{\"b\":2}", 0, []gotLine{{1, `{}`, false, 2, 3}, {2, `{"b":2}`, false, 7, 10}}, 0},
	{"BlankLinesSkippedAndCounted", "\n{}\n  \r\n\n{}\n\n", 0, []gotLine{{1, `{}`, false, 2, 4}, {2, `{}`, false, 2, 12}}, 4},
	{"Oversized", "{}\n0123456789\n{}\n", 5, []gotLine{{1, `{}`, false, 2, 3}, {2, `0123456789`, true, 10, 14}, {3, `{}`, false, 2, 17}}, 0},
	{"ExactlyMax", "01234\r\n", 5, []gotLine{{1, `01234`, false, 5, 7}}, 0},
	{"OneOverMax", "012345\n", 5, []gotLine{{1, `012345`, true, 6, 7}}, 0},
	{"OversizedNoNewline", "0123456789", 5, []gotLine{{1, `0123456789`, true, 10, 10}}, 0},
}

func TestReader(t *testing.T) {
	for _, tt := range readerTests {
		t.Run(tt.name, func(t *testing.T) {
			got, blank, err := readAll(t, tt.in, tt.max)
			if err != nil {
				t.Fatalf("Next() error = %v", err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("lines (-want +got):\n%s", diff)
			}
			if blank != tt.blank {
				t.Errorf("Blank = %d, want %d", blank, tt.blank)
			}
		})
	}
}

func TestReaderLongLineKeepsPrefixOnly(t *testing.T) {
	long := strings.Repeat("x", 1<<20)
	got, _, err := readAll(t, long+"\n{}\n", 1000)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || !got[0].Oversized || len(got[0].Raw) != 1024 || got[0].Size != 1<<20 {
		t.Fatalf("got %d lines, first oversized=%v kept=%d size=%d; want 2 lines, first oversized with 1024 kept of %d",
			len(got), got[0].Oversized, len(got[0].Raw), got[0].Size, 1<<20)
	}
	if got[1].Raw != "{}" {
		t.Errorf("line after the oversized one = %q, want {}", got[1].Raw)
	}
}

// cutReader returns its data and then a network-style error.
type cutReader struct {
	r   io.Reader
	err error
}

func (c *cutReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	if err == io.EOF {
		return n, c.err
	}
	return n, err
}

func TestReaderDropsLineCutByError(t *testing.T) {
	cut := errors.New("connection reset")
	r := ndjson.NewReader(&cutReader{r: strings.NewReader("{}\n{\"half\":"), err: cut})
	l, err := r.Next()
	if err != nil || string(l.Raw) != "{}" {
		t.Fatalf("Next() = %q, %v; want {}, nil", l.Raw, err)
	}
	if _, err := r.Next(); !errors.Is(err, cut) {
		t.Fatalf("Next() error = %v, want %v", err, cut)
	}
}

func TestReaderSetStart(t *testing.T) {
	r := ndjson.NewReader(strings.NewReader("{}\n"))
	r.SetStart(10, 100)
	l, err := r.Next()
	if err != nil || l.Num != 11 || l.End != 103 {
		t.Fatalf("Next() = Num %d End %d err %v, want 11 103 nil", l.Num, l.End, err)
	}
}

func FuzzReader(f *testing.F) {
	for _, tt := range readerTests {
		f.Add([]byte(tt.in), tt.max)
	}
	f.Fuzz(func(t *testing.T, in []byte, max int) {
		if max < 0 || max > 1<<16 {
			max = 0
		}
		r := ndjson.NewReader(bytes.NewReader(in))
		r.MaxLine = max
		var end, num int64
		for {
			l, err := r.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("Next() error = %v", err)
			}
			if l.Num != num+1 || l.End <= end || l.End > int64(len(in)) {
				t.Fatalf("line %d end %d after line %d end %d (input %d bytes)", l.Num, l.End, num, end, len(in))
			}
			if bytes.IndexByte(l.Raw, '\n') >= 0 {
				t.Fatalf("line %d contains a newline: %q", l.Num, l.Raw)
			}
			if !l.Oversized && !bytes.Contains(in, l.Raw) {
				t.Fatalf("line %d %q is not in the input", l.Num, l.Raw)
			}
			num, end = l.Num, l.End
		}
		if end > int64(len(in)) {
			t.Fatalf("consumed %d of %d bytes", end, len(in))
		}
	})
}
