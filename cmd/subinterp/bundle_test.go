package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestBundleUsage(t *testing.T) {
	cases := []struct {
		name string
		args []string
		code int
		msg  string
	}{
		{"no program", nil, exitUsage, "want exactly one PROGRAM"},
		{"two programs", []string{"a", "b"}, exitUsage, "want exactly one PROGRAM"},
		{"bad stdlib", []string{"--stdlib", "tiny", "p"}, exitUsage, `--stdlib "tiny"`},
		{"bad pyc", []string{"--pyc", "some", "p"}, exitUsage, `--pyc "some"`},
		{"bad compression", []string{"--single-file", "f", "--compress", "zip", "p"}, exitUsage, `--compress "zip"`},
		{"launcher without single file", []string{"--launcher", "l", "p"}, exitUsage, "--single-file only"},
		{"help", []string{"--help"}, exitOK, "$ORIGIN/lib"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := runBinary(t, t.TempDir(), append([]string{"bundle"}, c.args...)...)
			assert.Equal(t, c.code, r.code, r.stderr)
			assert.Contains(t, r.stderr, c.msg)
		})
	}
}

func TestBundleRefusesAProgramWithoutLibpython(t *testing.T) {
	dir := t.TempDir()
	r := runBinary(t, dir, "bundle", "--out", "out", "/bin/true")
	assert.Equal(t, exitFailed, r.code)
	assert.Contains(t, r.stderr, "does not link libpython")
	left, _ := os.ReadDir(dir)
	assert.Empty(t, left, "a refused bundle leaves nothing")
}

// TestBundleTheCLIItself bundles this very command (it links libpython),
// both ways, and runs Python from each copy with an empty environment:
// sys.prefix must be the bundle, not the CPython it was built against.
func TestBundleTheCLIItself(t *testing.T) {
	if testing.Short() {
		t.Skip("copies a whole standard library")
	}
	work := t.TempDir()
	out, single := filepath.Join(work, "b"), filepath.Join(work, "subinterp.run")
	// From the package directory, so that the launcher builds from this module.
	r := runBinary(t, "", "bundle", "--json", "--out", out, "--single-file", single, binary)
	require.Equal(t, exitOK, r.code, r.stderr)
	var m struct {
		Program       string `json:"program"`
		PythonVersion string `json:"python_version"`
		Files         int    `json:"files"`
		SingleBytes   int64  `json:"single_file_bytes"`
		Payload       struct {
			SHA256 string `json:"sha256"`
		} `json:"payload"`
	}
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &m), r.stdout)
	assert.Equal(t, "subinterp", m.Program)
	assert.Regexp(t, `^3\.[0-9]+$`, m.PythonVersion)
	assert.Greater(t, m.Files, 100)
	assert.Greater(t, m.SingleBytes, int64(1<<20))
	assert.FileExists(t, filepath.Join(out, "lib", "python"+m.PythonVersion, "os.py"))

	cache := t.TempDir()
	for _, c := range []struct{ name, exe, prefix string }{
		{"directory", filepath.Join(out, "subinterp"), out},
		{"single file", single, filepath.Join(cache, m.Payload.SHA256)},
	} {
		t.Run(c.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			cmd := exec.CommandContext(ctx, c.exe, "run", "-n", "1", "-c", "import sys; print('prefix=' + sys.prefix)")
			cmd.Dir = work
			cmd.Env = []string{"SUBINTERP_BUNDLE_CACHE=" + cache}
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			require.NoError(t, cmd.Run(), stderr.String())
			assert.True(t, strings.HasSuffix(strings.TrimSpace(stdout.String()), "prefix="+c.prefix), stdout.String())
		})
	}
}
