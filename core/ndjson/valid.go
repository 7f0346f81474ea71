package ndjson

import (
	"encoding/binary"
	"math/bits"
)

// valid reports whether data is one JSON value, accepting exactly what
// encoding/json.Valid accepts: RFC 8259 with at most maxDepth nested arrays
// and objects, and (like encoding/json) any bytes at or above 0x20 inside
// strings, valid UTF-8 or not. It is several times faster than json.Valid:
// it steps through the grammar directly instead of through the scanner's
// per-byte state functions, and skips string contents eight bytes at a
// time. It is iterative, so deep nesting cannot exhaust the stack, and
// allocates only past 64 levels of nesting.
func valid(data []byte) bool {
	i := endOfValue(data, skipSpace(data, 0), 0, nil)
	return i >= 0 && skipSpace(data, i) == len(data)
}

// endOfValue returns the index just past the JSON value starting at d[i],
// or -1 if there is no valid value there. depth is the number of arrays and
// objects open around it. With dc, the keys of every object in the value
// go through dc's duplicate check.
func endOfValue(d []byte, i, depth int, dc *dupCheck) int {
	if i >= len(d) {
		return -1
	}
	switch d[i] {
	case '"':
		return endOfString(d, i+1)
	case '{', '[':
		return endOfContainer(d, i, depth, dc)
	case 't':
		return endOfLiteral(d, i, "true")
	case 'f':
		return endOfLiteral(d, i, "false")
	case 'n':
		return endOfLiteral(d, i, "null")
	}
	return endOfNumber(d, i)
}

// endOfContainer returns the index just past the array or object starting
// at d[i], or -1 if it is invalid or nested more than maxDepth deep. With
// dc, each object's keys are checked for duplicates as they are read.
func endOfContainer(d []byte, i, depth int, dc *dupCheck) int {
	var buf [64]byte
	open := buf[:0] // the closing byte of each open array or object
	limit := maxDepth - depth
	n := len(d)
	for {
		// A value starts at d[i].
		if i >= n {
			return -1
		}
		switch d[i] {
		case '"':
			i = endOfString(d, i+1)
		case '{':
			if len(open) >= limit {
				return -1
			}
			if i = skipSpace(d, i+1); i < n && d[i] == '}' {
				i++
				break
			}
			open = append(open, '}')
			if dc != nil {
				dc.open()
			}
			if i = endOfKeyCheck(d, i, dc); i < 0 {
				return -1
			}
			i = skipSpace(d, i)
			continue
		case '[':
			if len(open) >= limit {
				return -1
			}
			if i = skipSpace(d, i+1); i < n && d[i] == ']' {
				i++
				break
			}
			open = append(open, ']')
			continue
		case 't':
			i = endOfLiteral(d, i, "true")
		case 'f':
			i = endOfLiteral(d, i, "false")
		case 'n':
			i = endOfLiteral(d, i, "null")
		default:
			i = endOfNumber(d, i)
		}
		if i < 0 {
			return -1
		}
		// After a value: close what ends here, then expect the next value
		// of the enclosing array or object.
		for {
			if len(open) == 0 {
				return i
			}
			if i = skipSpace(d, i); i >= n {
				return -1
			}
			c := d[i]
			top := open[len(open)-1]
			if c == ',' {
				i++
				if top == '}' {
					if i = endOfKeyCheck(d, skipSpace(d, i), dc); i < 0 {
						return -1
					}
				}
				i = skipSpace(d, i)
				break
			}
			if c != top {
				return -1
			}
			if dc != nil && top == '}' {
				dc.close()
			}
			open = open[:len(open)-1]
			i++
		}
	}
}

// maxDepth is encoding/json's maxNestingDepth: it rejects a value nested
// more deeply, even an empty one.
const maxDepth = 10000

// endOfKey reads an object key starting at d[i], then the colon after it,
// and returns the index past the colon, or -1.
func endOfKey(d []byte, i int) int {
	if i >= len(d) || d[i] != '"' {
		return -1
	}
	if i = endOfString(d, i+1); i < 0 {
		return -1
	}
	if i < len(d) && d[i] == ':' { // the usual case: no space
		return i + 1
	}
	if i = skipSpace(d, i); i >= len(d) || d[i] != ':' {
		return -1
	}
	return i + 1
}

// endOfKeyCheck is endOfKey that also hands the key to dc, if any.
func endOfKeyCheck(d []byte, i int, dc *dupCheck) int {
	if dc == nil {
		return endOfKey(d, i)
	}
	if i >= len(d) || d[i] != '"' {
		return -1
	}
	ke := endOfString(d, i+1)
	if ke < 0 {
		return -1
	}
	dc.key(i+1, ke-1)
	if ke < len(d) && d[ke] == ':' {
		return ke + 1
	}
	if ke = skipSpace(d, ke); ke >= len(d) || d[ke] != ':' {
		return -1
	}
	return ke + 1
}

// endOfLiteral returns the index just past lit at d[i], or -1.
func endOfLiteral(d []byte, i int, lit string) int {
	if len(d)-i < len(lit) || string(d[i:i+len(lit)]) != lit {
		return -1
	}
	return i + len(lit)
}

// Masks for SWAR (SIMD within a register) tests on eight bytes at a time.
const (
	ones  = 0x0101010101010101
	highs = 0x8080808080808080
)

// endOfString returns the index just past the closing quote of the string
// whose contents start at d[i], or -1 if the string is invalid or unclosed.
func endOfString(d []byte, i int) int {
	for {
		var c byte
		if i+8 <= len(d) {
			// Test eight bytes at once. The lowest byte flagged in m is
			// always a true '"', '\\' or control byte: a false positive
			// can only come from a borrow out of a lower, true one.
			x := binary.LittleEndian.Uint64(d[i:])
			q := x ^ (ones * '"')
			b := x ^ (ones * '\\')
			m := ((q - ones) &^ q) | ((b - ones) &^ b) | ((x - ones*0x20) &^ x)
			if m &= highs; m == 0 {
				i += 8
				continue
			}
			k := bits.TrailingZeros64(m) &^ 7 // the flagged byte's bit offset
			i += k >> 3
			c = byte(x >> k)
		} else {
			for i < len(d) && !stringStop[d[i]] {
				i++
			}
			if i >= len(d) {
				return -1
			}
			c = d[i]
		}
		switch c {
		case '"':
			return i + 1
		case '\\':
			if i+1 >= len(d) {
				return -1
			}
			switch d[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if len(d)-i < 6 || !isHex[d[i+2]] || !isHex[d[i+3]] || !isHex[d[i+4]] || !isHex[d[i+5]] {
					return -1
				}
				i += 6
			default:
				return -1
			}
		default: // a control byte
			return -1
		}
	}
}

// endOfNumber returns the index just past the number starting at d[i], or
// -1 if there is none. It reads -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
// and leaves what follows to the caller.
func endOfNumber(d []byte, i int) int {
	n := len(d)
	if d[i] == '-' {
		if i++; i >= n {
			return -1
		}
	}
	switch c := d[i]; {
	case c == '0':
		i++
	case '1' <= c && c <= '9':
		i = skipDigits(d, i+1)
	default:
		return -1
	}
	if i < n && d[i] == '.' {
		if i++; i >= n || !isDigit(d[i]) {
			return -1
		}
		i = skipDigits(d, i+1)
	}
	if i < n && (d[i] == 'e' || d[i] == 'E') {
		if i++; i < n && (d[i] == '+' || d[i] == '-') {
			i++
		}
		if i >= n || !isDigit(d[i]) {
			return -1
		}
		i = skipDigits(d, i+1)
	}
	return i
}

func skipDigits(d []byte, i int) int {
	for i < len(d) && isDigit(d[i]) {
		i++
	}
	return i
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// stringStop marks the bytes that end a run of ordinary string contents:
// the quote, the backslash and the control bytes.
var stringStop = func() (t [256]bool) {
	for c := range 0x20 {
		t[c] = true
	}
	t['"'], t['\\'] = true, true
	return t
}()

var isHex = func() (t [256]bool) {
	for _, c := range "0123456789abcdefABCDEF" {
		t[c] = true
	}
	return t
}()
