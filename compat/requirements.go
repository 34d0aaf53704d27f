package compat

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
)

// ErrRequirements is wrapped by the errors ReadRequirements returns for a
// line it cannot take a distribution name from.
var ErrRequirements = errors.New("compat: bad requirements file")

// reqName is the distribution name a requirement line starts with (PEP
// 508), before extras, version specifiers, a URL or markers.
var reqName = regexp.MustCompile(`^([A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?)\s*(?:$|[\[(<>=!~;@ \t])`)

// Options of pip's requirements format that say where or how to install,
// not what: a line with one of these names no distribution.
var reqIgnored = map[string]bool{
	"-i": true, "--index-url": true, "--extra-index-url": true, "--no-index": true,
	"-f": true, "--find-links": true, "--pre": true, "--trusted-host": true,
	"--prefer-binary": true, "--only-binary": true, "--no-binary": true,
	"--require-hashes": true, "-c": true, "--constraint": true, "--use-feature": true,
}

// ReadRequirements reads the distribution names of a pip requirements
// file, in order, without duplicates: one requirement a line ("PyYAML",
// "numpy>=2", "lxml[html]; python_version>'3.8'", "name @ URL"),
// comments, blank lines, continuation lines, options that only say where
// to install from, and "-r FILE" includes (relative to the including
// file). Editable, URL and path requirements name no distribution and are
// refused with the line they are on, as is any other line it cannot read:
// a list that is not checked whole must not look as if it were.
func ReadRequirements(path string) ([]string, error) {
	var names []string
	seen := map[string]bool{}
	if err := readRequirements(path, map[string]bool{}, func(n string) {
		if !seen[normDist(n)] {
			seen[normDist(n)] = true
			names = append(names, n)
		}
	}); err != nil {
		return nil, err
	}
	return names, nil
}

func readRequirements(path string, open map[string]bool, add func(string)) error {
	abs, err := filepath.Abs(path)
	if err != nil {
		return fmt.Errorf("%w: %s: %w", ErrRequirements, path, err)
	}
	if open[abs] {
		return fmt.Errorf("%w: %s includes itself (-r loop)", ErrRequirements, path)
	}
	open[abs] = true
	defer delete(open, abs)
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrRequirements, err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	lineNo, start := 0, 0
	var logical strings.Builder
	for sc.Scan() {
		lineNo++
		line := sc.Text()
		if logical.Len() == 0 {
			start = lineNo
		}
		if strings.HasSuffix(line, `\`) {
			logical.WriteString(strings.TrimSuffix(line, `\`) + " ")
			continue
		}
		logical.WriteString(line)
		text := logical.String()
		logical.Reset()
		if err := requirementLine(path, start, text, open, add); err != nil {
			return err
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("%w: %s: %w", ErrRequirements, path, err)
	}
	if logical.Len() > 0 {
		return requirementLine(path, start, logical.String(), open, add)
	}
	return nil
}

// requirementLine handles one logical line of a requirements file.
func requirementLine(path string, n int, text string, open map[string]bool, add func(string)) error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s:%d: %s", ErrRequirements, path, n, fmt.Sprintf(format, args...))
	}
	// A comment starts at a # at the line's start or after whitespace.
	if i := strings.Index(text, "#"); i == 0 || (i > 0 && (text[i-1] == ' ' || text[i-1] == '\t')) {
		text = text[:i]
	}
	text = strings.TrimSpace(text)
	if text == "" {
		return nil
	}
	if strings.HasPrefix(text, "-") {
		opt, arg, _ := strings.Cut(strings.Replace(text, "=", " ", 1), " ")
		arg = strings.TrimSpace(arg)
		switch {
		case opt == "-r" || opt == "--requirement":
			if arg == "" {
				return bad("%s needs a file name", opt)
			}
			if !filepath.IsAbs(arg) {
				arg = filepath.Join(filepath.Dir(path), arg)
			}
			return readRequirements(arg, open, add)
		case opt == "-e" || opt == "--editable":
			return bad("an editable requirement (%s) names no distribution: name the installed distribution instead", text)
		case reqIgnored[opt]:
			return nil
		}
		return bad("unknown option %s", opt)
	}
	m := reqName.FindStringSubmatch(text)
	if m == nil {
		return bad("%q does not start with a distribution name (a URL or path names none: name the installed distribution instead)", text)
	}
	if strings.Contains(m[1], "/") || strings.HasSuffix(strings.ToLower(m[1]), ".whl") {
		return bad("%q is a file, not a distribution name", text)
	}
	add(m[1])
	return nil
}
