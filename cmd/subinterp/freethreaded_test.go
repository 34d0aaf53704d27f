package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestCachedFreeThreadedPython: the newest finished free-threaded build
// of the same X.Y in the cache is chosen; unfinished builds, other
// versions and other flavours are not; without one, the reason says how
// to build it.
func TestCachedFreeThreadedPython(t *testing.T) {
	cache := t.TempDir()
	t.Setenv("SUBINTERP_CACHE", cache)
	build := func(dir, bin string, complete bool) string {
		t.Helper()
		require.NoError(t, os.MkdirAll(filepath.Join(cache, dir, "bin"), 0o755))
		path := filepath.Join(cache, dir, "bin", bin)
		require.NoError(t, os.WriteFile(path, []byte("#!/bin/sh\n"), 0o755))
		if complete {
			require.NoError(t, os.WriteFile(filepath.Join(cache, dir, ".complete"), []byte("3.13 freethreaded\n"), 0o644))
		}
		return path
	}

	py, missing := cachedFreeThreadedPython("3.13.15")
	assert.Empty(t, py)
	assert.Contains(t, missing, "no free-threaded CPython 3.13 (python3.13t) in "+cache)
	assert.Contains(t, missing, "scripts/python.sh --free-threaded")
	assert.Contains(t, missing, "make bench-ft")

	build("cpython-3.13.15-release", "python3.13", true)
	build("cpython-3.14.2-freethreaded", "python3.14t", true)
	build("cpython-3.13.20-freethreaded", "python3.13t", false)
	py, _ = cachedFreeThreadedPython("3.13.15")
	assert.Empty(t, py, "neither another flavour, another version nor an unfinished build")

	older := build("cpython-3.13.9-freethreaded", "python3.13t", true)
	newer := build("cpython-3.13.15-freethreaded", "python3.13t", true)
	py, missing = cachedFreeThreadedPython("3.13.15")
	assert.Equal(t, newer, py, "3.13.15 is newer than 3.13.9")
	assert.Empty(t, missing)
	require.NoError(t, os.Remove(newer))
	py, _ = cachedFreeThreadedPython("3.13.4")
	assert.Equal(t, older, py, "a build without its python3.13t is skipped")
}

// TestBenchFreeThreadedPythonFlag: a --free-threaded-python that is not a
// program is refused before anything runs.
func TestBenchFreeThreadedPythonFlag(t *testing.T) {
	dir := t.TempDir()
	for _, tt := range []struct{ name, path, want string }{
		{"missing", filepath.Join(dir, "python3.13t"), "no such file or directory"},
		{"a directory", dir, "is not an executable file"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := runBinary(t, "", "bench", "--free-threaded-python", tt.path)
			assert.Equal(t, exitUsage, r.code, r.stderr)
			assert.Contains(t, r.stderr, "--free-threaded-python: ")
			assert.Contains(t, r.stderr, tt.want)
			assert.Empty(t, r.stdout)
		})
	}
}

// TestBenchWithoutFreeThreadedBuild: with an empty cache, bench runs and
// says, in the table, why the free-threaded modes did not.
func TestBenchWithoutFreeThreadedBuild(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the sequential peer")
	}
	t.Setenv("SUBINTERP_CACHE", t.TempDir())
	r := runBinary(t, "", "bench", "--quick", "--workload", "tiny", "--mode", "threads-free-threaded", "--workers", "1", "--repeat", "1")
	require.Equal(t, exitOK, r.code, r.stderr)
	assert.Regexp(t, `(?m)^  threads-free-threaded +no free-threaded CPython 3\.\d+ \(python3\.\d+t\) in `, r.stdout)
	assert.Regexp(t, `(?m)^  sequential-free-threaded +no free-threaded CPython`, r.stdout)
}
