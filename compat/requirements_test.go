package compat

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestReadRequirements(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, []byte(text), 0o644))
		return p
	}
	write("sub/more.txt", "lxml[html]>=5 ; python_version >= '3.12'\nPyYAML # again, under another spelling below\n")
	main := write("requirements.txt", `# the app's dependencies
--index-url https://example.invalid/simple
numpy==2.4.6 \
    --hash=sha256:0123
pydantic_core~=2.50
cryptography @ https://example.invalid/cryptography.whl
-r sub/more.txt
--requirement=sub/more.txt
pyyaml
orjson;sys_platform=="linux"
msgpack(>=1)
`)
	names, err := ReadRequirements(main)
	require.NoError(t, err)
	assert.Equal(t, []string{"numpy", "pydantic_core", "cryptography", "lxml", "PyYAML", "orjson", "msgpack"}, names,
		"in order, includes followed, duplicates (by normalized name) once")

	for name, tc := range map[string]struct{ text, want string }{
		"editable":       {"-e .\n", "bad.txt:1: an editable requirement (-e .) names no distribution"},
		"path":           {"numpy\n../wheels/x\n", `bad.txt:2: "../wheels/x" does not start with a distribution name`},
		"wheel file":     {"x-1.0-py3-none-any.whl\n", "is a file, not a distribution name"},
		"unknown option": {"--frobnicate\n", "bad.txt:1: unknown option --frobnicate"},
		"missing -r":     {"-r nope.txt\n", "nope.txt"},
		"-r without arg": {"-r\n", "-r needs a file name"},
		"self include":   {"-r bad.txt\n", "includes itself"},
	} {
		t.Run(name, func(t *testing.T) {
			p := write("bad.txt", tc.text)
			_, err := ReadRequirements(p)
			require.ErrorIs(t, err, ErrRequirements)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
	_, err = ReadRequirements(filepath.Join(dir, "absent.txt"))
	assert.ErrorIs(t, err, ErrRequirements)
	assert.ErrorIs(t, err, os.ErrNotExist)
}

func TestDistNames(t *testing.T) {
	assert.Equal(t, "pydantic-core", normDist("Pydantic_Core"))
	assert.Equal(t, "ruamel-yaml-clib", normDist("ruamel.yaml.clib"))
	assert.Equal(t, "pyyaml", normDist("PyYAML"))
	for _, ok := range []string{"a", "numpy", "ruamel.yaml.clib", "pydantic-core", "Foo_Bar2"} {
		assert.True(t, validDistName(ok), ok)
	}
	for _, bad := range []string{"", "-x", "x-", "a b", "x/y", "not a name!", "ünï"} {
		assert.False(t, validDistName(bad), bad)
	}
	assert.Equal(t, "PyYAML", distName(distInfo{Path: "/x/PyYAML-6.0.3.dist-info"}), "from the directory when the metadata has no name")
}
