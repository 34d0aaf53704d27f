package bundle

import (
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// cc runs the C compiler; the fixtures are real ELF files made by the
// toolchain cgo uses.
func cc(t *testing.T, dir string, args ...string) {
	t.Helper()
	gcc, err := exec.LookPath("gcc")
	if err != nil {
		t.Skip("no gcc to build the ELF fixtures")
	}
	cmd := exec.Command(gcc, args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "gcc %s: %s", strings.Join(args, " "), out)
}

func writeText(t *testing.T, path, text string) {
	t.Helper()
	require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
	require.NoError(t, os.WriteFile(path, []byte(text), 0o644))
}

// fixture is a program linked with a long absolute RUNPATH to the
// directory holding its library, and a plugin it opens with dlopen whose
// own dependency is found only through the program's search path.
type fixture struct {
	libDir  string // the original library directory (the RUNPATH)
	app     string // main program: prints dep_value() and the plugin's value
	plugin  string // needs libdep2.so, has no search path
	libdep  string // has no search path
	libdep2 string
}

func buildFixture(t *testing.T) fixture {
	t.Helper()
	src := t.TempDir()
	lib := filepath.Join(src, "a-rather-long-directory-name-as-in-a-build-cache", "lib")
	require.NoError(t, os.MkdirAll(lib, 0o755))
	writeText(t, filepath.Join(src, "dep.c"), "int dep_value(void) { return 42; }\n")
	writeText(t, filepath.Join(src, "dep2.c"), "int dep2_value(void) { return 7; }\n")
	writeText(t, filepath.Join(src, "plugin.c"), "int dep2_value(void);\nint plugin_value(void) { return dep2_value(); }\n")
	writeText(t, filepath.Join(src, "app.c"), `#include <dlfcn.h>
#include <stdio.h>
int dep_value(void);
int main(int argc, char **argv) {
    int p = -1;
    if (argc > 1) {
        void *h = dlopen(argv[1], RTLD_NOW);
        if (h == NULL) { fprintf(stderr, "%s\n", dlerror()); return 2; }
        int (*f)(void) = (int (*)(void))dlsym(h, "plugin_value");
        p = f();
    }
    printf("%d %d\n", dep_value(), p);
    return 0;
}
`)
	cc(t, src, "-shared", "-fPIC", "-Wl,-soname,libdep.so", "-o", filepath.Join(lib, "libdep.so"), "dep.c")
	cc(t, src, "-shared", "-fPIC", "-Wl,-soname,libdep2.so", "-o", filepath.Join(lib, "libdep2.so"), "dep2.c")
	cc(t, src, "-shared", "-fPIC", "-o", filepath.Join(lib, "plugin.so"), "plugin.c", "-L"+lib, "-ldep2")
	cc(t, src, "-o", filepath.Join(src, "app"), "app.c", "-L"+lib, "-ldep", "-ldl", "-Wl,--enable-new-dtags,-rpath,"+lib)
	return fixture{libDir: lib, app: filepath.Join(src, "app"), plugin: filepath.Join(lib, "plugin.so"),
		libdep: filepath.Join(lib, "libdep.so"), libdep2: filepath.Join(lib, "libdep2.so")}
}

func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "LD_") {
			env = append(env, kv)
		}
	}
	return env
}

func TestReadDynamic(t *testing.T) {
	fx := buildFixture(t)
	info, err := ReadDynamic(fx.app)
	require.NoError(t, err)
	assert.Contains(t, info.Needed, "libdep.so")
	assert.Contains(t, info.Needed, "libc.so.6")
	assert.Equal(t, fx.libDir, info.SearchPath)
	assert.Equal(t, elf.DT_RUNPATH, info.SearchTag)
	require.NotEmpty(t, info.GlibcVersions, "printf and dlopen come with GLIBC_ versions")
	for i := 1; i < len(info.GlibcVersions); i++ {
		assert.True(t, versionLess(info.GlibcVersions[i], info.GlibcVersions[i-1]), "highest first: %v", info.GlibcVersions)
	}

	lib, err := ReadDynamic(fx.libdep)
	require.NoError(t, err)
	assert.Equal(t, "libdep.so", lib.Soname)
	assert.Empty(t, lib.SearchPath)
	assert.Equal(t, elf.DynTag(0), lib.SearchTag)

	text := filepath.Join(t.TempDir(), "text")
	writeText(t, text, "#!/bin/sh\n")
	_, err = ReadDynamic(text)
	assert.ErrorIs(t, err, ErrNotELF)
	_, err = ReadDynamic(filepath.Join(t.TempDir(), "missing"))
	assert.ErrorIs(t, err, os.ErrNotExist)
	assert.True(t, IsELF(fx.app))
	assert.False(t, IsELF(text))
}

// TestSetSearchPathMakesAMovableLayout moves the program and its libraries
// into a bundle layout, deletes the originals and runs the program: the
// rewritten DT_RPATH serves the program's own library and also the
// dependency of a plugin it opens with dlopen (which a DT_RUNPATH would
// not).
func TestSetSearchPathMakesAMovableLayout(t *testing.T) {
	fx := buildFixture(t)
	b := t.TempDir()
	for src, dst := range map[string]string{
		fx.app: "app", fx.libdep: "lib/libdep.so", fx.libdep2: "lib/libdep2.so", fx.plugin: "plugins/plugin.so",
	} {
		require.NoError(t, copyFile(src, filepath.Join(b, dst)))
	}
	require.NoError(t, os.RemoveAll(filepath.Dir(fx.libDir)))
	app := filepath.Join(b, "app")
	run := func() (string, error) {
		cmd := exec.Command(app, filepath.Join(b, "plugins", "plugin.so"))
		cmd.Env = cleanEnv()
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	out, err := run()
	require.Error(t, err, "before the rewrite the program cannot find libdep.so: %s", out)

	require.NoError(t, SetSearchPath(app, "$ORIGIN/lib"))
	info, err := ReadDynamic(app)
	require.NoError(t, err)
	assert.Equal(t, "$ORIGIN/lib", info.SearchPath)
	assert.Equal(t, elf.DT_RPATH, info.SearchTag)
	out, err = run()
	require.NoError(t, err, out)
	assert.Equal(t, "42 7\n", out)
}

func TestSetSearchPathRefusals(t *testing.T) {
	fx := buildFixture(t)
	text := filepath.Join(t.TempDir(), "text")
	writeText(t, text, "not an ELF file at all, but long enough to have a header's worth of bytes in it\n")
	cases := []struct {
		name    string
		file    string
		newPath string
		want    error
	}{
		{"longer than the old path", fx.app, strings.Repeat("x", len(fx.libDir)+1), ErrNoRoom},
		{"no search path to rewrite", fx.libdep, "$ORIGIN", ErrNoSearchPath},
		{"not ELF", text, "$ORIGIN", ErrNotELF},
		{"a NUL byte", fx.app, "$ORIGIN\x00/lib", nil},
		{"missing file", filepath.Join(t.TempDir(), "missing"), "$ORIGIN", os.ErrNotExist},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before, _ := os.ReadFile(c.file)
			err := SetSearchPath(c.file, c.newPath)
			require.Error(t, err)
			if c.want != nil {
				assert.ErrorIs(t, err, c.want)
			}
			after, _ := os.ReadFile(c.file)
			assert.Equal(t, before, after, "the file must be left unchanged")
		})
	}
}

func TestSetSearchPathExactFit(t *testing.T) {
	fx := buildFixture(t)
	newPath := strings.Repeat("y", len(fx.libDir))
	require.NoError(t, SetSearchPath(fx.app, newPath))
	info, err := ReadDynamic(fx.app)
	require.NoError(t, err)
	assert.Equal(t, newPath, info.SearchPath)
	assert.Contains(t, info.Needed, "libdep.so", "the other names are intact")
}

func TestVersionLess(t *testing.T) {
	for _, c := range []struct {
		a, b string
		less bool
	}{
		{"2.9", "2.34", true}, {"2.34", "2.9", false}, {"2.2.5", "2.3", true}, {"2.3", "2.3.4", true},
		{"2.34", "2.34", false}, {"3.0", "2.99", false},
	} {
		assert.Equal(t, c.less, versionLess(c.a, c.b), "%s < %s", c.a, c.b)
	}
	assert.True(t, IsGlibc("libc.so.6"))
	assert.False(t, IsGlibc("libssl.so.3"))
}
