package ndjson

import (
	"encoding/json"
	"sync"
)

// dupCheck finds a key that appears twice in one JSON object, at any depth:
// FHIR R4 JSON Representation (Resource Format) allows each property once, nested
// elements (extensions, array items, backbone elements) included. Keys are
// compared as decoded strings, so "id" and "\u0069d" are the same key.
//
// It works in the validating pass, as the scanner reads each key: an
// object's keys are compared one by one while it has few (FHIR elements
// have a few dozen at most), and through a map once it has more than
// wideObject, so a hostile object with a million keys costs linear time.
// Keys are held as offsets into the line, so nothing is copied and the
// pooled dupCheck keeps no pointer into the line.
type dupCheck struct {
	line    []byte
	keys    []span                // keys of the open objects, outermost first
	marks   []int                 // where each open object's keys start in keys
	sets    []map[string]struct{} // each open object's keys once it is wide; nil before
	decoded [][]byte              // keys written with escapes, decoded
	dup     string                // the first key found twice
	depth   int                   // objects open around dup (1: the resource itself)
}

// span is a key: line[s:e], or decoded[-s-1] when s < 0.
type span struct{ s, e int }

// wideObject is the number of keys an object may have before dupCheck
// keeps them in a map: below it a linear scan is cheaper.
const wideObject = 32

// dupChecks keeps dupChecks for reuse: one per line on the heap would cost
// more than the check itself (escape analysis cannot keep buffers that a
// pointer receiver appends to on the stack).
var dupChecks = sync.Pool{New: func() any {
	return &dupCheck{keys: make([]span, 0, 64), marks: make([]int, 0, 16), sets: make([]map[string]struct{}, 0, 16)}
}}

// newDupCheck returns a dupCheck for the keys of line.
func newDupCheck(line []byte) *dupCheck {
	c := dupChecks.Get().(*dupCheck)
	c.line = line
	return c
}

// release forgets the line and returns c to the pool.
func (c *dupCheck) release() {
	clear(c.sets[:cap(c.sets)])
	clear(c.decoded)
	c.line, c.keys, c.marks, c.sets, c.decoded = nil, c.keys[:0], c.marks[:0], c.sets[:0], c.decoded[:0]
	c.dup, c.depth = "", 0
	dupChecks.Put(c)
}

// open starts an object.
func (c *dupCheck) open() {
	c.marks = append(c.marks, len(c.keys))
	c.sets = append(c.sets, nil)
}

// close ends the innermost object.
func (c *dupCheck) close() {
	n := len(c.marks) - 1
	c.keys = c.keys[:c.marks[n]]
	c.sets[n] = nil
	c.marks, c.sets = c.marks[:n], c.sets[:n]
}

func (c *dupCheck) text(k span) []byte {
	if k.s < 0 {
		return c.decoded[-k.s-1]
	}
	return c.line[k.s:k.e]
}

// key records line[s:e], a key of the innermost object as it appears
// between its quotes, and notes the first duplicate.
func (c *dupCheck) key(s, e int) {
	if c.dup != "" {
		return
	}
	k := span{s, e}
	raw := c.line[s:e]
	for _, b := range raw {
		if b == '\\' {
			// Rare: decode the escapes so that equal keys compare equal.
			var str string
			if json.Unmarshal(c.line[s-1:e+1], &str) == nil {
				raw = []byte(str)
				c.decoded = append(c.decoded, raw)
				k = span{-len(c.decoded), 0}
			}
			break
		}
	}
	n := len(c.marks) - 1
	if set := c.sets[n]; set != nil {
		if _, ok := set[string(raw)]; ok {
			c.found(raw)
			return
		}
		set[string(raw)] = struct{}{}
		return
	}
	own := c.keys[c.marks[n]:]
	for _, o := range own {
		if string(c.text(o)) == string(raw) {
			c.found(raw)
			return
		}
	}
	if len(own) < wideObject {
		c.keys = append(c.keys, k)
		return
	}
	// Wide: from here on this object's keys live in a map.
	set := make(map[string]struct{}, 2*wideObject)
	for _, o := range own {
		set[string(c.text(o))] = struct{}{}
	}
	set[string(raw)] = struct{}{}
	c.sets[n] = set
	c.keys = c.keys[:c.marks[n]]
}

func (c *dupCheck) found(raw []byte) {
	c.dup, c.depth = string(raw), len(c.marks)
}
