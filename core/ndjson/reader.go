// Package ndjson reads newline-delimited JSON streams line by line with
// bounded memory and extracts the few fields of a FHIR resource that the
// catalogue indexes, without re-serialising the line.
package ndjson

import (
	"bufio"
	"bytes"
	"errors"
	"io"
)

// DefaultMaxLine is the default longest line accepted (64 MiB). Longer lines
// are reported as oversized and skipped, never buffered whole.
const DefaultMaxLine = 64 << 20

// keepOversized is how much of an oversized line is kept for the record of
// the problem.
const keepOversized = 1024

// Line is one non-empty line of a stream.
//
// Raw excludes the terminator ("\n" or "\r\n") and aliases the Reader's
// buffer: it is valid only until the next call to Next.
type Line struct {
	Num       int64 // 1-based count of non-empty lines so far
	Raw       []byte
	Oversized bool  // the line exceeded MaxLine; Raw holds only its first 1 KiB
	Size      int64 // the full length of the line without its terminator
	End       int64 // stream offset just past this line's terminator
}

// Reader splits a stream into lines.
//
// Empty lines (nothing but whitespace) are skipped: they carry no resource,
// servers commonly end a file with one, and counting them as resources would
// break the comparison with the manifest count. They are counted in Blank so
// a caller can still report them. Line numbers count non-empty lines only,
// which is what lets a resumed download skip exactly the lines it already
// stored. A final line without a terminator is a line.
type Reader struct {
	// MaxLine is the longest line accepted, in bytes. Zero means
	// DefaultMaxLine. Must be set before the first call to Next.
	MaxLine int
	// Blank counts the empty lines skipped so far.
	Blank int64

	br     *bufio.Reader
	buf    []byte
	num    int64
	offset int64
}

// NewReader returns a Reader reading from r.
func NewReader(r io.Reader) *Reader {
	return &Reader{br: bufio.NewReaderSize(r, 256<<10)}
}

// SetStart sets the line number and offset the stream starts at, for a
// stream that continues a file (an HTTP Range response).
func (r *Reader) SetStart(num, offset int64) {
	r.num, r.offset = num, offset
}

// Next returns the next non-empty line. It returns io.EOF at the end of the
// stream. Any other error from the underlying reader is returned as is, and
// the incomplete line it interrupted is dropped: a cut connection never
// produces a truncated record.
func (r *Reader) Next() (Line, error) {
	max := r.MaxLine
	if max <= 0 {
		max = DefaultMaxLine
	}
	for {
		r.buf = r.buf[:0]
		var size int64
		capped := false // stopped keeping bytes: the line is certainly too long
		var err error
		var prev, last byte // the last two bytes read, to spot "\r\n"
		for {
			var frag []byte
			frag, err = r.br.ReadSlice('\n')
			size += int64(len(frag))
			switch len(frag) {
			case 0:
			case 1:
				prev, last = last, frag[0]
			default:
				prev, last = frag[len(frag)-2], frag[len(frag)-1]
			}
			if !capped {
				// The terminator is at most 2 bytes, so past max+2 the
				// line itself is over the limit.
				if len(r.buf)+len(frag) > max+2 {
					capped = true
					if n := min(keepOversized-len(r.buf), len(frag)); n > 0 {
						r.buf = append(r.buf, frag[:n]...)
					}
				} else {
					r.buf = grow(r.buf, len(frag), max+2)
					r.buf = append(r.buf, frag...)
				}
			}
			if errors.Is(err, bufio.ErrBufferFull) {
				continue
			}
			break
		}
		if err != nil && err != io.EOF {
			return Line{}, err
		}
		if size == 0 {
			return Line{}, io.EOF
		}
		r.offset += size
		line := r.buf
		if err == nil && last == '\n' {
			size--
			if prev == '\r' && size > 0 {
				size--
			}
			// The kept bytes hold the terminator unless the line was capped
			// before reaching it.
			if n := len(line); n > 0 && line[n-1] == '\n' {
				line = line[:n-1]
				if n := len(line); n > 0 && line[n-1] == '\r' && prev == '\r' {
					line = line[:n-1]
				}
			}
		}
		oversized := capped || size > int64(max)
		if oversized && len(line) > keepOversized {
			line = line[:keepOversized]
		}
		if !oversized && len(bytes.TrimSpace(line)) == 0 {
			r.Blank++
			if err == io.EOF {
				return Line{}, io.EOF
			}
			continue
		}
		r.num++
		return Line{Num: r.num, Raw: line, Oversized: oversized, Size: size, End: r.offset}, nil
	}
}

// growJump is the capacity past which the line buffer grows straight to
// the line limit instead of doubling.
const growJump = 4 << 20

// grow makes room for n more bytes in b, doubling its capacity up to
// growJump and then going straight to limit (the longest line kept, with
// its terminator): a long line then costs the limit plus growJump at
// most, where doubling cost up to three times the line at the last step.
// The buffer is kept for the following lines.
func grow(b []byte, n, limit int) []byte {
	need := len(b) + n
	if need <= cap(b) {
		return b
	}
	c := min(max(2*cap(b), need, 4096), max(limit, need))
	if c > growJump {
		c = max(limit, need)
	}
	nb := make([]byte, len(b), c)
	copy(nb, b)
	return nb
}
