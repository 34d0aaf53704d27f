package main

import (
	"archive/zip"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestRunVenv: a virtual environment made with the CPython this program
// links, a pure-Python package pip-installed into it from a local wheel (no
// package index is reachable), imported from own-GIL interpreters through
// --venv; then compat checks the venv's site-packages.
func TestRunVenv(t *testing.T) {
	dir := t.TempDir()
	python := linkedPython(t, dir)
	venv := filepath.Join(dir, "venv")
	runCmd(t, dir, python, "-m", "venv", venv)
	wheel := writeWheel(t, dir, "tinypkg", "1.2.3", map[string]string{
		"tinypkg/__init__.py": "import sys\nVALUE = 42\ndef where():\n    return __file__\n",
	})
	runCmd(t, dir, filepath.Join(venv, "bin", "python"), "-m", "pip", "install", "--no-index", "--disable-pip-version-check", "--quiet", wheel)

	code := `import sys, tinypkg, importlib.metadata as md
print("prefix=" + sys.prefix)
print("value=%d" % tinypkg.VALUE)
print("file=" + tinypkg.where())
print("version=" + md.version("tinypkg"))`
	r := runBinary(t, dir, "run", "-n", "2", "--venv", venv, "-c", code)
	require.Equal(t, 0, r.code, r.stderr)
	for _, want := range []string{"prefix=" + venv, "value=42", "version=1.2.3"} {
		assert.Len(t, idsOf(r.stdout, want), 2, "%q in both interpreters:\n%s", want, r.stdout)
	}
	assert.Contains(t, r.stdout, "file="+filepath.Join(venv, "lib"), "imported from the venv's site-packages")

	// Without --venv the package is not there: the venv really is what
	// made it importable.
	r = runBinary(t, dir, "run", "-c", "import tinypkg")
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.stderr, "No module named 'tinypkg'")

	sitePackages, err := filepath.Glob(filepath.Join(venv, "lib", "python3.*", "site-packages"))
	require.NoError(t, err)
	require.Len(t, sitePackages, 1)
	r = runBinary(t, dir, "compat", "--path", sitePackages[0], "tinypkg")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stdout, "tinypkg")
	assert.Contains(t, r.stdout, "own-gil")
}

// TestRunVenvRefused: what --venv refuses, with the reason.
func TestRunVenvRefused(t *testing.T) {
	dir := t.TempDir()
	notVenv := filepath.Join(dir, "plain")
	require.NoError(t, os.Mkdir(notVenv, 0o755))
	otherVersion := filepath.Join(dir, "old")
	require.NoError(t, os.Mkdir(otherVersion, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(otherVersion, "pyvenv.cfg"),
		[]byte("home = /usr/bin\ninclude-system-site-packages = false\nversion = 3.11.2\n"), 0o644))
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"missing directory", []string{"--venv", filepath.Join(dir, "nope")}, "no pyvenv.cfg: not a virtual environment"},
		{"not a venv", []string{"--venv", notVenv}, "no pyvenv.cfg: not a virtual environment"},
		{"another CPython", []string{"--venv", otherVersion}, "made by CPython 3.11.2 (pyvenv.cfg), but this program links CPython " + pythonUnderTest()},
		{"no site", []string{"--venv", otherVersion, "--no-site"}, "--venv needs site"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := runBinary(t, dir, append(append([]string{"run"}, tc.args...), "-c", "pass")...)
			assert.NotEqual(t, 0, r.code)
			assert.Contains(t, r.stderr, tc.want)
		})
	}
}

// linkedPython returns the python3.X program of the CPython this binary
// links, as `subinterp run` finds it for sys.executable.
func linkedPython(t *testing.T, dir string) string {
	t.Helper()
	r := runBinary(t, dir, "run", "-c", "import sys; print(sys.executable)")
	require.Equal(t, 0, r.code, r.stderr)
	exe := strings.TrimSpace(idPrefix.ReplaceAllString(strings.TrimSpace(r.stdout), ""))
	require.True(t, filepath.IsAbs(exe), "sys.executable %q", exe)
	return exe
}

// runCmd runs a helper program the test needs, failing with its output.
func runCmd(t *testing.T, dir, name string, args ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "PIP_NO_INPUT=1", "PIP_NO_INDEX=1")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s %q:\n%s", name, args, out)
}

// writeWheel writes a pure-Python wheel of files (path → content) and
// returns its path: a zip with the files and a dist-info whose RECORD has
// each file's hash, which is all pip needs to install it.
func writeWheel(t *testing.T, dir, name, version string, files map[string]string) string {
	t.Helper()
	distInfo := fmt.Sprintf("%s-%s.dist-info", name, version)
	all := map[string]string{}
	for p, c := range files {
		all[p] = c
	}
	all[distInfo+"/METADATA"] = fmt.Sprintf("Metadata-Version: 2.1\nName: %s\nVersion: %s\n", name, version)
	all[distInfo+"/WHEEL"] = "Wheel-Version: 1.0\nGenerator: subinterp-test\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
	var record strings.Builder
	for p, c := range all {
		sum := sha256.Sum256([]byte(c))
		fmt.Fprintf(&record, "%s,sha256=%s,%d\n", p, base64.RawURLEncoding.EncodeToString(sum[:]), len(c))
	}
	fmt.Fprintf(&record, "%s/RECORD,,\n", distInfo)
	all[distInfo+"/RECORD"] = record.String()

	path := filepath.Join(dir, fmt.Sprintf("%s-%s-py3-none-any.whl", name, version))
	f, err := os.Create(path)
	require.NoError(t, err)
	zw := zip.NewWriter(f)
	for p, c := range all {
		w, err := zw.Create(p)
		require.NoError(t, err)
		_, err = w.Write([]byte(c))
		require.NoError(t, err)
	}
	require.NoError(t, zw.Close())
	require.NoError(t, f.Close())
	return path
}
