package readme

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// snippet is one ```go block of the README.
type snippet struct {
	line int // of the block's first code line in README.md
	code string
}

// goBlocks returns the ```go blocks of a Markdown document.
func goBlocks(t *testing.T, md []byte) []snippet {
	var out []snippet
	var cur *snippet
	var body strings.Builder
	sc := bufio.NewScanner(bytes.NewReader(md))
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		switch {
		case cur == nil && strings.TrimSpace(line) == "```go":
			cur = &snippet{line: n + 1}
			body.Reset()
		case cur != nil && strings.TrimSpace(line) == "```":
			cur.code = body.String()
			out = append(out, *cur)
			cur = nil
		case cur != nil:
			body.WriteString(line)
			body.WriteByte('\n')
		}
	}
	require.NoError(t, sc.Err())
	require.Nil(t, cur, "a ```go block is not closed")
	return out
}

// knownImports are the packages a fragment may use without importing
// them, each with a name of it that the generated file uses, so that every
// fragment can import all of them without tripping "imported and not
// used".
var knownImports = map[string]struct{ path, use string }{
	"bytes":   {"bytes", "bytes.NewBuffer"},
	"channel": {"github.com/subinterp/subinterp/channel", "channel.ErrClosed"},
	"context": {"context", "context.Background"},
	"cpython": {"github.com/subinterp/subinterp/cpython", "cpython.Initialize"},
	"errors":  {"errors", "errors.New"},
	"fmt":     {"fmt", "fmt.Sprint"},
	"http":    {"net/http", "http.StatusOK"},
	"io":      {"io", "io.EOF"},
	"json":    {"encoding/json", "json.Marshal"},
	"log":     {"log", "log.Print"},
	"os":      {"os", "os.Exit"},
	"strings": {"strings", "strings.Contains"},
	"time":    {"time", "time.Now"},
}

// program turns a fragment into a file of package main: its statements
// become the body of a function whose parameters are the names the
// README's fragments share (ctx, rt, in, pool), so that a later fragment
// may use what an earlier one set up; an inner block lets a fragment
// declare them again. A block that is a whole file ("package ...") is
// used as it is. A //line directive makes compile errors point into
// README.md.
func program(i int, s snippet) string {
	if strings.HasPrefix(strings.TrimSpace(s.code), "package ") {
		return fmt.Sprintf("//line README.md:%d\n%s", s.line, s.code)
	}
	names := make([]string, 0, len(knownImports))
	for name := range knownImports {
		names = append(names, name)
	}
	sort.Strings(names)
	var b strings.Builder
	b.WriteString("package main\n\nimport (\n")
	for _, name := range names {
		fmt.Fprintf(&b, "\t%q\n", knownImports[name].path)
	}
	b.WriteString(")\n\n")
	for _, name := range names {
		fmt.Fprintf(&b, "var _ = %s\n", knownImports[name].use)
	}
	fmt.Fprintf(&b, "\nfunc snippet%d(ctx context.Context, rt *cpython.Runtime, in *cpython.Interpreter, pool *cpython.Pool) {\n\t{\n", i)
	fmt.Fprintf(&b, "//line README.md:%d\n%s\t}\n}\n", s.line, s.code)
	return b.String()
}

// TestREADMEGoSnippetsCompile writes every ```go block of README.md into
// a module of its own that uses this checkout (a replace directive) and
// builds it: an unused variable, an ignored error that does not compile,
// a renamed function all fail here, with README.md's line numbers.
func TestREADMEGoSnippetsCompile(t *testing.T) {
	root, err := filepath.Abs("../..")
	require.NoError(t, err)
	md, err := os.ReadFile(filepath.Join(root, "README.md"))
	require.NoError(t, err)
	blocks := goBlocks(t, md)
	require.NotEmpty(t, blocks, "README.md has no ```go blocks")

	dir := t.TempDir()
	gomod := fmt.Sprintf("module readmesnippets\n\ngo 1.26\n\nrequire github.com/subinterp/subinterp v0.0.0\n\nreplace github.com/subinterp/subinterp => %s\n", root)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "go.mod"), []byte(gomod), 0o644))
	sum, err := os.ReadFile(filepath.Join(root, "go.sum"))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "go.sum"), sum, 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "main.go"), []byte("package main\n\nfunc main() {}\n"), 0o644))
	for i, s := range blocks {
		name := fmt.Sprintf("snippet%02d.go", i)
		if strings.HasPrefix(strings.TrimSpace(s.code), "package ") {
			sub := filepath.Join(dir, fmt.Sprintf("whole%02d", i))
			require.NoError(t, os.Mkdir(sub, 0o755))
			name = filepath.Join(sub, "main.go")
		}
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(program(i, s)), 0o644))
	}

	cmd := exec.Command("go", "vet", "./...")
	cmd.Dir = dir
	// Offline: everything comes from this checkout and the module cache.
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "GOPROXY=off", "GOWORK=off")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "README.md's Go snippets do not build (they link CPython: run under eval \"$(scripts/python.sh)\", as make test does):\n%s", out)
}

// TestProgramWrapsFragments: the harness itself imports the known
// packages (each used once), and keeps README line numbers.
func TestProgramWrapsFragments(t *testing.T) {
	p := program(3, snippet{line: 42, code: "n, err := in.Call(ctx, \"f\")\nfmt.Println(n, err)\n"})
	require.Contains(t, p, "\"fmt\"")
	require.Contains(t, p, "var _ = log.Print")
	require.Contains(t, p, "//line README.md:42\nn, err :=")
	whole := program(0, snippet{line: 7, code: "package main\n\nfunc main() {}\n"})
	require.Equal(t, "//line README.md:7\npackage main\n\nfunc main() {}\n", whole)
	blocks := goBlocks(t, []byte("text\n```go\na := 1\n```\n```sh\nls\n```\n  ```go\nb\n  ```\n"))
	require.Equal(t, []snippet{{line: 3, code: "a := 1\n"}, {line: 9, code: "b\n"}}, blocks)
}
