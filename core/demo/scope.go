package demo

import (
	"regexp"
	"slices"
	"strings"
)

// Permission bits of a SMART v2 scope suffix ("cruds").
const (
	permC uint8 = 1 << iota
	permR
	permU
	permD
	permS
	permAll = permC | permR | permU | permD | permS
)

const permLetters = "cruds"

// scope is one parsed system/ scope. v1 records the SMART v1 spelling
// (.read/.write/.*) so the grant can answer in the syntax that was asked
// for (SMART2 permission-v1: "SHOULD return v1 scopes when v1 requested").
type scope struct {
	typ   string // resource type or "*"
	perms uint8
	v1    bool
}

var scopeTypeRE = regexp.MustCompile(`^(\*|[A-Z][A-Za-z]+)$`)

// parseScope parses "system/Type.perm". Only system/ scopes mean anything
// to a backend service; granular scopes ("?param=") are not supported.
func parseScope(s string) (scope, bool) {
	rest, ok := strings.CutPrefix(s, "system/")
	if !ok {
		return scope{}, false
	}
	typ, perm, ok := strings.Cut(rest, ".")
	if !ok || !scopeTypeRE.MatchString(typ) {
		return scope{}, false
	}
	switch perm {
	case "read":
		return scope{typ: typ, perms: permR | permS, v1: true}, true
	case "write":
		return scope{typ: typ, perms: permC | permU | permD, v1: true}, true
	case "*":
		return scope{typ: typ, perms: permAll, v1: true}, true
	}
	// v2: a non-empty, in-order subset of "cruds".
	var p uint8
	last := -1
	for _, ch := range perm {
		i := strings.IndexRune(permLetters, ch)
		if i <= last {
			return scope{}, false
		}
		p |= 1 << i
		last = i
	}
	if p == 0 {
		return scope{}, false
	}
	return scope{typ: typ, perms: p}, true
}

func (sc scope) String() string {
	if sc.v1 {
		switch {
		case sc.perms == permAll:
			return "system/" + sc.typ + ".*"
		case sc.perms == permR|permS:
			return "system/" + sc.typ + ".read"
		case sc.perms == permC|permU|permD:
			return "system/" + sc.typ + ".write"
		}
	}
	var b strings.Builder
	for i := range permLetters {
		if sc.perms&(1<<i) != 0 {
			b.WriteByte(permLetters[i])
		}
	}
	return "system/" + sc.typ + "." + b.String()
}

// scopeSet is a parsed, space-separated scope string.
type scopeSet []scope

// parseScopes parses the scopes it understands and returns the others.
func parseScopes(s string) (set scopeSet, unknown []string) {
	for _, f := range strings.Fields(s) {
		if sc, ok := parseScope(f); ok {
			set = append(set, sc)
		} else {
			unknown = append(unknown, f)
		}
	}
	return set, unknown
}

func (ss scopeSet) String() string {
	var out []string
	for _, sc := range ss {
		if s := sc.String(); !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return strings.Join(out, " ")
}

// perms is the union of the permissions ss grants on typ ("*" scopes
// cover every type, present and future).
func (ss scopeSet) perms(typ string) uint8 {
	var p uint8
	for _, sc := range ss {
		if sc.typ == "*" || sc.typ == typ {
			p |= sc.perms
		}
	}
	return p
}

// canRead reports whether ss lets a client read resources of typ. Bulk
// export reads, so it needs the "r" permission (v1 .read includes it).
func (ss scopeSet) canRead(typ string) bool { return ss.perms(typ)&permR != 0 }

// grant intersects the requested scopes with the allowed ones (SMART bs:
// "the requested scope is within the client's pre-authorized scope"). A v1
// scope keeps its v1 spelling only when the intersection is expressible in
// v1; otherwise the grant narrows it to the v2 letters.
func grant(requested, allowed scopeSet) scopeSet {
	var out scopeSet
	add := func(typ string, p uint8, v1 bool) {
		if p == 0 {
			return
		}
		sc := scope{typ: typ, perms: p, v1: v1}
		if v1 && sc.String() == (scope{typ: typ, perms: p}).String() {
			// Not expressible as .read/.write/.*: the v1 form would widen it.
			if p&(permR|permS) == permR|permS {
				sc.perms = permR | permS
			} else {
				return
			}
		}
		out = append(out, sc)
	}
	for _, rq := range requested {
		if rq.typ != "*" {
			add(rq.typ, rq.perms&allowed.perms(rq.typ), rq.v1)
			continue
		}
		var wild uint8
		for _, a := range allowed {
			if a.typ == "*" {
				wild |= a.perms
			}
		}
		add("*", rq.perms&wild, rq.v1)
		for _, a := range allowed {
			if a.typ != "*" {
				add(a.typ, rq.perms&a.perms&^wild, rq.v1)
			}
		}
	}
	return out
}
