package fhirpath

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"
)

// String functions (FHIRPath N1, String Manipulation).

func strFn(f func(string) any) func(*evaluator, *funcNode, []Item, *scope) ([]Item, error) {
	return func(_ *evaluator, _ *funcNode, in []Item, _ *scope) ([]Item, error) {
		s, ok, err := singleString(in)
		if !ok {
			return nil, err
		}
		return wrap(f(s)), nil
	}
}

func strArgFn(f func(s, a string) any) func(*evaluator, *funcNode, []Item, *scope) ([]Item, error) {
	return func(ev *evaluator, n *funcNode, in []Item, sc *scope) ([]Item, error) {
		s, ok, err := singleString(in)
		if !ok {
			return nil, err
		}
		a, ok, err := ev.stringArg(n, 0, sc)
		if !ok {
			return nil, err
		}
		return wrap(f(s, a)), nil
	}
}

func indexOf(s, a string) any {
	i := strings.Index(s, a)
	if i < 0 {
		return Number("-1")
	}
	return Number(strconv.Itoa(utf8.RuneCountInString(s[:i])))
}

func fnToChars(_ *evaluator, _ *funcNode, in []Item, _ *scope) ([]Item, error) {
	s, ok, err := singleString(in)
	if !ok {
		return nil, err
	}
	var out []Item
	for _, r := range s {
		out = append(out, Item{Value: string(r), Type: "string"})
	}
	return out, nil
}

func fnSubstring(ev *evaluator, n *funcNode, in []Item, sc *scope) ([]Item, error) {
	s, ok, err := singleString(in)
	if !ok {
		return nil, err
	}
	start, err := ev.intArg(n, 0, sc)
	if err != nil {
		return nil, err
	}
	rs := []rune(s)
	if start < 0 || start >= int64(len(rs)) {
		return nil, nil
	}
	end := int64(len(rs))
	if len(n.args) == 2 {
		l, err := ev.intArg(n, 1, sc)
		if err != nil {
			return nil, err
		}
		end = min(end, start+max(l, 0))
	}
	return wrap(string(rs[start:end])), nil
}

func fnSplit(ev *evaluator, n *funcNode, in []Item, sc *scope) ([]Item, error) {
	s, ok, err := singleString(in)
	if !ok {
		return nil, err
	}
	sep, ok, err := ev.stringArg(n, 0, sc)
	if !ok {
		return nil, err
	}
	var out []Item
	for _, p := range strings.Split(s, sep) {
		out = append(out, Item{Value: p, Type: "string"})
	}
	return out, nil
}

func fnReplace(ev *evaluator, n *funcNode, in []Item, sc *scope) ([]Item, error) {
	s, ok, err := singleString(in)
	if !ok {
		return nil, err
	}
	pat, ok, err := ev.stringArg(n, 0, sc)
	if !ok {
		return nil, err
	}
	rep, ok, err := ev.stringArg(n, 1, sc)
	if !ok {
		return nil, err
	}
	return wrap(strings.ReplaceAll(s, pat, rep)), nil
}

// regexps compiles a pattern argument. Go's RE2 syntax is close to the
// PCRE subset FHIRPath expects, and it runs in linear time on any input.
func (ev *evaluator) regexp(n *funcNode, i int, sc *scope, full bool) (*regexp.Regexp, bool, error) {
	pat, ok, err := ev.stringArg(n, i, sc)
	if !ok {
		return nil, false, err
	}
	if full {
		pat = "^(?:" + pat + ")$"
	}
	re, err := regexp.Compile("(?s)" + pat)
	if err != nil {
		return nil, false, fmt.Errorf("bad regular expression: %v", err)
	}
	return re, true, nil
}

func fnMatches(full bool) func(*evaluator, *funcNode, []Item, *scope) ([]Item, error) {
	return func(ev *evaluator, n *funcNode, in []Item, sc *scope) ([]Item, error) {
		s, ok, err := singleString(in)
		if !ok {
			return nil, err
		}
		re, ok, err := ev.regexp(n, 0, sc, full)
		if !ok {
			return nil, err
		}
		return boolean(re.MatchString(s)), nil
	}
}

func fnReplaceMatches(ev *evaluator, n *funcNode, in []Item, sc *scope) ([]Item, error) {
	s, ok, err := singleString(in)
	if !ok {
		return nil, err
	}
	re, ok, err := ev.regexp(n, 0, sc, false)
	if !ok {
		return nil, err
	}
	rep, ok, err := ev.stringArg(n, 1, sc)
	if !ok {
		return nil, err
	}
	return wrap(re.ReplaceAllString(s, rep)), nil
}

// fnJoin joins strings with a separator, "" by default (FHIRPath 3.0.0,
// String manipulation: join).
func fnJoin(ev *evaluator, n *funcNode, in []Item, sc *scope) ([]Item, error) {
	sep := ""
	if len(n.args) == 1 {
		s, ok, err := ev.stringArg(n, 0, sc)
		if err != nil {
			return nil, err
		}
		if ok {
			sep = s
		}
	}
	// An empty input joins to the empty string, as the SQL on FHIR v2 test
	// suite expects (fhirpath.json: string join).
	parts := make([]string, len(in))
	for i, it := range in {
		s, ok := it.Value.(string)
		if !ok {
			return nil, fmt.Errorf("wants strings, got %s", describeType(it))
		}
		parts[i] = s
	}
	return wrap(strings.Join(parts, sep)), nil
}
