package cpython

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestHomeBeside(t *testing.T) {
	landmark := filepath.Join("lib", "python3.13", "os.py")
	cases := []struct {
		name   string
		layout func(dir string) // makes the files next to dir/prog
		want   bool
	}{
		{"bundle layout", func(dir string) { writeFile(t, filepath.Join(dir, landmark)) }, true},
		{"nothing beside", func(string) {}, false},
		{"another version", func(dir string) { writeFile(t, filepath.Join(dir, "lib", "python3.14", "os.py")) }, false},
		{"landmark is a directory", func(dir string) {
			require.NoError(t, os.MkdirAll(filepath.Join(dir, landmark), 0o755))
		}, false},
		{"stdlib without os.py", func(dir string) { writeFile(t, filepath.Join(dir, "lib", "python3.13", "site.py")) }, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			c.layout(dir)
			got := homeBeside(filepath.Join(dir, "prog"), landmark)
			if c.want {
				assert.Equal(t, dir, got)
			} else {
				assert.Empty(t, got)
			}
		})
	}
}

func TestHomeLandmarkMatchesBuild(t *testing.T) {
	// The test binary links the same libpython as the package.
	assert.Regexp(t, `^lib/python3\.[0-9]+/os\.py$`, filepath.ToSlash(homeLandmark))
	assert.Empty(t, defaultHome(), "a test binary in a temporary directory is no bundle")
}

func writeFile(t *testing.T, p string) {
	t.Helper()
	require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
	require.NoError(t, os.WriteFile(p, nil, 0o644))
}
