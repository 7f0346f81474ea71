package fhirpath

import (
	"strings"
	"unicode/utf8"
)

// tokKind classifies a lexical token (FHIRPath N1, Grammar: lexical rules).
type tokKind int

const (
	tEOF      tokKind = iota
	tIdent            // identifier or `delimited identifier`
	tString           // 'string'
	tNumber           // 12 or 1.5
	tDate             // @2020-01-01, @2020-01-01T10:00, @T10:00
	tExtConst         // %name, %`name`, %'name'
	tSpecial          // $this, $index, $total
	tOp               // punctuation and symbolic operators
)

type token struct {
	kind tokKind
	text string // identifier name, decoded string, number text, date text, operator
	pos  int    // byte offset in the source
}

// lexer turns a FHIRPath expression into tokens, one at a time.
type lexer struct {
	src string
	pos int
}

func isIdentStart(c byte) bool {
	return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
}

func isIdentPart(c byte) bool { return isIdentStart(c) || isDigit(c) }

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// next returns the next token, or an error naming the offending position.
func (l *lexer) next() (token, error) {
	// Whitespace and comments (FHIRPath N1, Grammar: WS, COMMENT, LINE_COMMENT).
	for l.pos < len(l.src) {
		c := l.src[l.pos]
		if c == ' ' || c == '\t' || c == '\r' || c == '\n' {
			l.pos++
			continue
		}
		if strings.HasPrefix(l.src[l.pos:], "//") {
			i := strings.IndexByte(l.src[l.pos:], '\n')
			if i < 0 {
				l.pos = len(l.src)
			} else {
				l.pos += i + 1
			}
			continue
		}
		if strings.HasPrefix(l.src[l.pos:], "/*") {
			i := strings.Index(l.src[l.pos+2:], "*/")
			if i < 0 {
				return token{}, errAt(l.pos, "unterminated comment")
			}
			l.pos += i + 4
			continue
		}
		break
	}
	start := l.pos
	if l.pos >= len(l.src) {
		return token{kind: tEOF, pos: start}, nil
	}
	c := l.src[l.pos]
	switch {
	case isIdentStart(c):
		for l.pos < len(l.src) && isIdentPart(l.src[l.pos]) {
			l.pos++
		}
		return token{kind: tIdent, text: l.src[start:l.pos], pos: start}, nil
	case c == '`':
		s, err := l.quoted('`')
		if err != nil {
			return token{}, err
		}
		return token{kind: tIdent, text: s, pos: start}, nil
	case c == '\'':
		s, err := l.quoted('\'')
		if err != nil {
			return token{}, err
		}
		return token{kind: tString, text: s, pos: start}, nil
	case isDigit(c):
		for l.pos < len(l.src) && isDigit(l.src[l.pos]) {
			l.pos++
		}
		if l.pos+1 < len(l.src) && l.src[l.pos] == '.' && isDigit(l.src[l.pos+1]) {
			l.pos++
			for l.pos < len(l.src) && isDigit(l.src[l.pos]) {
				l.pos++
			}
		}
		return token{kind: tNumber, text: l.src[start:l.pos], pos: start}, nil
	case c == '@':
		l.pos++
		for l.pos < len(l.src) {
			d := l.src[l.pos]
			if isDigit(d) || d == '-' || d == ':' || d == 'T' || d == 'Z' || d == '+' ||
				(d == '.' && l.pos+1 < len(l.src) && isDigit(l.src[l.pos+1])) {
				l.pos++
				continue
			}
			break
		}
		text := l.src[start+1 : l.pos]
		if text == "" {
			return token{}, errAt(start, "empty date/time literal")
		}
		return token{kind: tDate, text: text, pos: start}, nil
	case c == '%':
		l.pos++
		if l.pos >= len(l.src) {
			return token{}, errAt(start, "missing name after %%")
		}
		switch d := l.src[l.pos]; {
		case d == '`' || d == '\'':
			s, err := l.quoted(d)
			if err != nil {
				return token{}, err
			}
			return token{kind: tExtConst, text: s, pos: start}, nil
		case isIdentStart(d):
			s := l.pos
			for l.pos < len(l.src) && isIdentPart(l.src[l.pos]) {
				l.pos++
			}
			return token{kind: tExtConst, text: l.src[s:l.pos], pos: start}, nil
		}
		return token{}, errAt(start, "missing name after %%")
	case c == '$':
		l.pos++
		for l.pos < len(l.src) && isIdentPart(l.src[l.pos]) {
			l.pos++
		}
		switch name := l.src[start:l.pos]; name {
		case "$this", "$index", "$total":
			return token{kind: tSpecial, text: name, pos: start}, nil
		default:
			return token{}, errAt(start, "unknown variable '%s'", name)
		}
	}
	for _, op := range []string{"<=", ">=", "!=", "!~"} {
		if strings.HasPrefix(l.src[l.pos:], op) {
			l.pos += 2
			return token{kind: tOp, text: op, pos: start}, nil
		}
	}
	if strings.IndexByte(".,()[]{}+-*/&|=~<>", c) >= 0 {
		l.pos++
		return token{kind: tOp, text: string(c), pos: start}, nil
	}
	r, _ := utf8.DecodeRuneInString(l.src[l.pos:])
	return token{}, errAt(start, "unexpected character %q", r)
}

// quoted reads a string or delimited identifier with FHIRPath escapes
// (FHIRPath N1, Literals: String).
func (l *lexer) quoted(q byte) (string, error) {
	start := l.pos
	l.pos++
	var b strings.Builder
	for l.pos < len(l.src) {
		c := l.src[l.pos]
		switch c {
		case q:
			l.pos++
			return b.String(), nil
		case '\\':
			if l.pos+1 >= len(l.src) {
				return "", errAt(start, "unterminated string")
			}
			e := l.src[l.pos+1]
			l.pos += 2
			switch e {
			case '\'', '"', '`', '\\', '/':
				b.WriteByte(e)
			case 'n':
				b.WriteByte('\n')
			case 'r':
				b.WriteByte('\r')
			case 't':
				b.WriteByte('\t')
			case 'f':
				b.WriteByte('\f')
			case 'u':
				if l.pos+4 > len(l.src) {
					return "", errAt(l.pos-2, "bad \\u escape")
				}
				var r rune
				for _, h := range l.src[l.pos : l.pos+4] {
					var v rune
					switch {
					case h >= '0' && h <= '9':
						v = h - '0'
					case h >= 'a' && h <= 'f':
						v = h - 'a' + 10
					case h >= 'A' && h <= 'F':
						v = h - 'A' + 10
					default:
						return "", errAt(l.pos-2, "bad \\u escape")
					}
					r = r*16 + v
				}
				l.pos += 4
				b.WriteRune(r)
			default:
				return "", errAt(l.pos-2, "unknown escape \\%c", e)
			}
		default:
			b.WriteByte(c)
			l.pos++
		}
	}
	return "", errAt(start, "unterminated string")
}
