package cpython

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestRuntimeExecutableVenv: what RuntimeOptions.Venv accepts and refuses,
// each refusal wrapping ErrInvalidOptions with its reason.
func TestRuntimeExecutableVenv(t *testing.T) {
	dir := t.TempDir()
	venv := func(name, cfg string) string {
		d := filepath.Join(dir, name)
		require.NoError(t, os.MkdirAll(d, 0o755))
		if cfg != "" {
			require.NoError(t, os.WriteFile(filepath.Join(d, "pyvenv.cfg"), []byte(cfg), 0o644))
		}
		return d
	}
	linked := "3.13.15"
	good := venv("good", "home = /opt/py/bin\ninclude-system-site-packages = false\nversion = 3.13.2\n")
	tests := []struct {
		name string
		opts RuntimeOptions
		want string // "" for accepted
	}{
		{"no venv", RuntimeOptions{}, ""},
		{"venv of the same minor version", RuntimeOptions{Venv: good}, ""},
		{"version_info wins", RuntimeOptions{Venv: venv("info", "home = /x\nversion = 3.12.1\nversion_info = 3.13.0.final.0\n")}, ""},
		{"with Home", RuntimeOptions{Venv: good, Home: "/opt/py"}, "Venv and Home exclude each other"},
		{"with NoSite", RuntimeOptions{Venv: good, NoSite: true}, "Venv needs site"},
		{"missing", RuntimeOptions{Venv: filepath.Join(dir, "nope")}, "no pyvenv.cfg: not a virtual environment"},
		{"plain directory", RuntimeOptions{Venv: venv("plain", "")}, "no pyvenv.cfg"},
		{"other version", RuntimeOptions{Venv: venv("old", "home = /usr/bin\nversion = 3.11.2\n")}, "made by CPython 3.11.2 (pyvenv.cfg), but this program links CPython 3.13.15"},
		{"no version", RuntimeOptions{Venv: venv("nover", "home = /usr/bin\n")}, "names no version"},
		{"no home", RuntimeOptions{Venv: venv("nohome", "version = 3.13.1\n")}, "names no home"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			exe, err := runtimeExecutableFor(tc.opts, linked)
			if tc.want == "" {
				require.NoError(t, err)
				if tc.opts.Venv != "" {
					assert.Equal(t, filepath.Join(tc.opts.Venv, "bin", "python3"), exe)
				} else {
					assert.Empty(t, exe)
				}
				return
			}
			assert.ErrorIs(t, err, ErrInvalidOptions)
			assert.ErrorContains(t, err, tc.want)
		})
	}
}

func TestMajorMinor(t *testing.T) {
	for in, want := range map[string]string{"3.13.15": "3.13", "3.12.1": "3.12", "3.14.0a1+": "3.14", "3.13.15.final.0": "3.13", "3.15": "3.15", "3": "3"} {
		assert.Equal(t, want, MajorMinor(in), in)
	}
}
