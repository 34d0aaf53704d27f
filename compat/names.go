package compat

import (
	"strings"
	"unicode"
)

// keywords are Python's hard keywords: no import statement can name a
// module called one of these. Soft keywords (match, case, type, _) are
// valid module names.
var keywords = map[string]bool{
	"False": true, "None": true, "True": true, "and": true, "as": true, "assert": true,
	"async": true, "await": true, "break": true, "class": true, "continue": true,
	"def": true, "del": true, "elif": true, "else": true, "except": true,
	"finally": true, "for": true, "from": true, "global": true, "if": true,
	"import": true, "in": true, "is": true, "lambda": true, "nonlocal": true,
	"not": true, "or": true, "pass": true, "raise": true, "return": true,
	"try": true, "while": true, "with": true, "yield": true,
}

// ValidModuleName reports whether name is a dotted name an import
// statement accepts: identifiers (Unicode letters, digits and underscores,
// not starting with a digit, not a hard keyword) joined by single dots.
// Anything else is refused before a child process is started, so no
// string that is not a module name ever reaches Python.
func ValidModuleName(name string) bool {
	if name == "" || len(name) > 1000 {
		return false
	}
	for _, part := range strings.Split(name, ".") {
		if !isIdentifier(part) || keywords[part] {
			return false
		}
	}
	return true
}

// isIdentifier follows Python's identifier syntax (PEP 3131) closely
// enough for module names: XID_Start is approximated by letters, letter
// numbers and "_", XID_Continue by those plus digits, combining marks and
// connector punctuation.
func isIdentifier(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		start := r == '_' || unicode.IsLetter(r) || unicode.Is(unicode.Nl, r)
		if i == 0 {
			if !start {
				return false
			}
			continue
		}
		if !start && !unicode.Is(unicode.Nd, r) && !unicode.Is(unicode.Mn, r) &&
			!unicode.Is(unicode.Mc, r) && !unicode.Is(unicode.Pc, r) {
			return false
		}
	}
	return true
}
