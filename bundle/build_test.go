package bundle

import (
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

// fakePython is an installation laid out like a CPython prefix, with a
// real (tiny) libpython3.99 and extension modules, and a program linked
// against it with an absolute RUNPATH, as scripts/python.sh links.
type fakePython struct {
	prefix  string
	program string
	mtime   time.Time // of lib/python3.99/os.py
}

func buildFakePython(t *testing.T) fakePython {
	t.Helper()
	src := t.TempDir()
	prefix := filepath.Join(t.TempDir(), "cpython-3.99.0-release-in-a-long-cache-path")
	lib := filepath.Join(prefix, "lib")
	std := filepath.Join(lib, "python3.99")
	dyn := filepath.Join(std, "lib-dynload")
	require.NoError(t, os.MkdirAll(dyn, 0o755))
	rpath := "-Wl,--enable-new-dtags,-rpath," + lib
	writeText(t, filepath.Join(src, "py.c"), "int Py_Fake(void) { return 3; }\n")
	writeText(t, filepath.Join(src, "extra.c"), "int extra_value(void) { return 4; }\n")
	writeText(t, filepath.Join(src, "mod.c"), "int extra_value(void);\nint PyInit__fake(void) { return extra_value(); }\n")
	writeText(t, filepath.Join(src, "prog.c"), "#include <stdio.h>\nint Py_Fake(void);\nint main(void) { printf(\"fake %d\\n\", Py_Fake()); return 0; }\n")
	cc(t, src, "-shared", "-fPIC", "-Wl,-soname,libpython3.99.so.1.0", rpath, "-o", filepath.Join(lib, "libpython3.99.so.1.0"), "py.c")
	require.NoError(t, os.Symlink("libpython3.99.so.1.0", filepath.Join(lib, "libpython3.99.so")))
	cc(t, src, "-shared", "-fPIC", "-Wl,-soname,libextra.so.1", "-o", filepath.Join(lib, "libextra.so.1"), "extra.c")
	require.NoError(t, os.Symlink("libextra.so.1", filepath.Join(lib, "libextra.so")))
	cc(t, src, "-shared", "-fPIC", rpath, "-o", filepath.Join(dyn, "_fake.cpython-399-x86_64-linux-gnu.so"), "mod.c", "-L"+lib, "-lextra")
	cc(t, src, "-shared", "-fPIC", rpath, "-o", filepath.Join(dyn, "_tkinter.cpython-399-x86_64-linux-gnu.so"), "extra.c")
	cc(t, src, "-o", filepath.Join(src, "prog"), "prog.c", "-L"+lib, "-lpython3.99", rpath)
	for _, f := range []string{
		"os.py", "site.py", "json/__init__.py", "json/__pycache__/__init__.cpython-399.pyc",
		"json/__pycache__/__init__.cpython-399.opt-1.pyc", "json/__pycache__/__init__.cpython-399.opt-2.pyc",
		"test/test_os.py", "idlelib/idle.py", "tkinter/__init__.py", "turtledemo/x.py", "ensurepip/__init__.py",
		"config-3.99-x86_64-linux-gnu/Makefile", "site-packages/installed_here.py", "lib-dynload/_testcapi.cpython-399-x86_64-linux-gnu.so",
	} {
		writeText(t, filepath.Join(std, f), "# "+f+"\n")
	}
	mtime := time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC)
	require.NoError(t, os.Chtimes(filepath.Join(std, "os.py"), mtime, mtime))
	return fakePython{prefix: prefix, program: filepath.Join(src, "prog"), mtime: mtime}
}

func runClean(t *testing.T, path string) (string, error) {
	t.Helper()
	cmd := exec.Command(path)
	cmd.Env = cleanEnv()
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func TestBuildMakesASelfContainedDirectory(t *testing.T) {
	fp := buildFakePython(t)
	site := t.TempDir()
	writeText(t, filepath.Join(site, "mypkg", "__init__.py"), "X = 1\n")
	out := filepath.Join(t.TempDir(), "out")
	m, err := Build(context.Background(), Options{Program: fp.program, Out: out, SitePackages: []string{site}, KeepDebugInfo: true})
	require.NoError(t, err)

	assert.Equal(t, "prog", m.Program)
	assert.Equal(t, "3.99", m.PythonVersion)
	assert.Equal(t, "libpython3.99.so.1.0", m.LibPython)
	assert.Equal(t, fp.prefix, m.Prefix)
	assert.False(t, m.Debug)
	require.Len(t, m.Libraries, 1)
	assert.Equal(t, "libextra.so.1", m.Libraries[0].Soname)
	assert.Contains(t, m.TargetNeeds, "libc.so.6")
	assert.NotEmpty(t, m.MinGlibc)

	search := func(rel string) string {
		info, err := ReadDynamic(filepath.Join(out, rel))
		require.NoError(t, err)
		return info.SearchPath
	}
	assert.Equal(t, "$ORIGIN/lib", search("prog"))
	assert.Equal(t, "$ORIGIN", search("lib/libpython3.99.so.1.0"))
	assert.Equal(t, "$ORIGIN/../..", search("lib/python3.99/lib-dynload/_fake.cpython-399-x86_64-linux-gnu.so"))

	std := filepath.Join(out, "lib", "python3.99")
	for _, keep := range []string{"os.py", "json/__init__.py", "json/__pycache__/__init__.cpython-399.pyc", "site-packages/mypkg/__init__.py"} {
		assert.FileExists(t, filepath.Join(std, keep))
	}
	for _, drop := range []string{"test", "idlelib", "tkinter", "turtledemo", "ensurepip", "config-3.99-x86_64-linux-gnu",
		"site-packages/installed_here.py", "json/__pycache__/__init__.cpython-399.opt-1.pyc",
		"lib-dynload/_tkinter.cpython-399-x86_64-linux-gnu.so", "lib-dynload/_testcapi.cpython-399-x86_64-linux-gnu.so"} {
		assert.NoFileExists(t, filepath.Join(std, drop))
		assert.NoDirExists(t, filepath.Join(std, drop))
	}
	st, err := os.Stat(filepath.Join(std, "os.py"))
	require.NoError(t, err)
	assert.True(t, st.ModTime().Equal(fp.mtime), "the .pyc files need their sources' mtimes: %v", st.ModTime())

	data, err := os.ReadFile(filepath.Join(out, "lib", ManifestName))
	require.NoError(t, err)
	var onDisk Manifest
	require.NoError(t, json.Unmarshal(data, &onDisk))
	assert.Equal(t, *m, onDisk)

	// The bundle runs with its source installation gone.
	require.NoError(t, os.RemoveAll(fp.prefix))
	got, err := runClean(t, filepath.Join(out, "prog"))
	require.NoError(t, err, got)
	assert.Equal(t, "fake 3\n", got)
	leftovers, _ := filepath.Glob(filepath.Join(filepath.Dir(out), ".*"))
	assert.Empty(t, leftovers)
}

func TestBuildModes(t *testing.T) {
	fp := buildFakePython(t)
	cases := []struct {
		name         string
		opts         Options
		present, not []string
	}{
		{"full stdlib", Options{Stdlib: StdlibFull}, []string{"test/test_os.py", "idlelib/idle.py", "config-3.99-x86_64-linux-gnu/Makefile",
			"lib-dynload/_tkinter.cpython-399-x86_64-linux-gnu.so"}, []string{"site-packages/installed_here.py"}},
		{"all pyc", Options{Pyc: PycAll}, []string{"json/__pycache__/__init__.cpython-399.opt-1.pyc", "json/__pycache__/__init__.cpython-399.opt-2.pyc"}, nil},
		{"no pyc", Options{Pyc: PycNone}, []string{"json/__init__.py"}, []string{"json/__pycache__"}},
		{"explicit prefix", Options{PythonPrefix: fp.prefix}, []string{"os.py"}, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "out")
			opts := c.opts
			opts.Program, opts.Out, opts.KeepDebugInfo = fp.program, out, true
			_, err := Build(context.Background(), opts)
			require.NoError(t, err)
			std := filepath.Join(out, "lib", "python3.99")
			for _, p := range c.present {
				assert.FileExists(t, filepath.Join(std, p))
			}
			for _, p := range c.not {
				_, err := os.Stat(filepath.Join(std, p))
				assert.ErrorIs(t, err, os.ErrNotExist, p)
			}
		})
	}
}

func TestBuildStripsDebugInfo(t *testing.T) {
	if _, err := exec.LookPath("strip"); err != nil {
		t.Skip("no strip (binutils)")
	}
	fp := buildFakePython(t)
	out := filepath.Join(t.TempDir(), "out")
	m, err := Build(context.Background(), Options{Program: fp.program, Out: out})
	require.NoError(t, err)
	assert.True(t, m.Stripped)
	// gcc without -g leaves no .debug_info; the flag and the search paths
	// must survive strip all the same.
	info, err := ReadDynamic(filepath.Join(out, "lib", "python3.99", "lib-dynload", "_fake.cpython-399-x86_64-linux-gnu.so"))
	require.NoError(t, err)
	assert.Equal(t, "$ORIGIN/../..", info.SearchPath)
}

func TestBuildRefusals(t *testing.T) {
	fp := buildFakePython(t)
	fx := buildFixture(t)
	noStdlib := t.TempDir()
	existing := filepath.Join(t.TempDir(), "existing")
	writeText(t, filepath.Join(existing, "keep"), "mine\n")
	siteA, siteB := t.TempDir(), t.TempDir()
	writeText(t, filepath.Join(siteA, "same.py"), "a\n")
	writeText(t, filepath.Join(siteB, "same.py"), "b\n")
	libNamed := filepath.Join(t.TempDir(), "lib")
	require.NoError(t, copyFile(fp.program, libNamed))
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	cases := []struct {
		name string
		ctx  context.Context
		opts Options
		want error
		msg  string
	}{
		{"program without libpython", nil, Options{Program: fx.app}, ErrNotEmbedding, "libdep.so"},
		{"missing program", nil, Options{Program: filepath.Join(noStdlib, "nothing")}, os.ErrNotExist, ""},
		{"no stdlib in the prefix", nil, Options{Program: fp.program, PythonPrefix: noStdlib}, ErrNotFound, "--python-prefix"},
		{"output exists", nil, Options{Program: fp.program, Out: existing}, ErrExists, "--force"},
		{"site-packages conflict", nil, Options{Program: fp.program, SitePackages: []string{siteA, siteB}}, nil, "same.py is in two"},
		{"site-packages missing", nil, Options{Program: fp.program, SitePackages: []string{filepath.Join(noStdlib, "x")}}, os.ErrNotExist, ""},
		{"bad stdlib mode", nil, Options{Program: fp.program, Stdlib: "tiny"}, nil, `stdlib mode "tiny"`},
		{"bad pyc mode", nil, Options{Program: fp.program, Pyc: "some"}, nil, `pyc mode "some"`},
		{"cancelled", cancelled, Options{Program: fp.program}, context.Canceled, ""},
		{"program named lib", nil, Options{Program: libNamed}, nil, `named "lib"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			parent := t.TempDir()
			opts := c.opts
			opts.KeepDebugInfo = true
			if opts.Out == "" {
				opts.Out = filepath.Join(parent, "out")
			}
			ctx := c.ctx
			if ctx == nil {
				ctx = context.Background()
			}
			_, err := Build(ctx, opts)
			require.Error(t, err)
			if c.want != nil {
				assert.ErrorIs(t, err, c.want)
			}
			assert.Contains(t, err.Error(), c.msg)
			if opts.Out != existing {
				_, serr := os.Stat(opts.Out)
				assert.ErrorIs(t, serr, os.ErrNotExist, "a failed build leaves no output")
			}
			left, _ := os.ReadDir(parent)
			assert.Empty(t, left, "a failed build leaves no temporary directory")
		})
	}
	data, err := os.ReadFile(filepath.Join(existing, "keep"))
	require.NoError(t, err)
	assert.Equal(t, "mine\n", string(data), "an existing output is not touched without Force")

	_, err = Build(context.Background(), Options{Program: fp.program, Out: existing, Force: true, KeepDebugInfo: true})
	require.NoError(t, err)
	assert.NoFileExists(t, filepath.Join(existing, "keep"))
	assert.FileExists(t, filepath.Join(existing, "prog"))
	left, _ := filepath.Glob(filepath.Join(filepath.Dir(existing), ".*"))
	assert.Empty(t, left, strings.Join(left, " "))
}

// TestBuildDebianSiteDir: Debian's CPython looks for packages in
// lib/python3.X/dist-packages under its home, never in site-packages.
func TestBuildDebianSiteDir(t *testing.T) {
	fp := buildFakePython(t)
	writeText(t, filepath.Join(fp.prefix, "lib", "python3.99", "site.py"),
		`sitepackages.append(os.path.join(prefix, "lib", "python3", "dist-packages"))`+"\n")
	site := t.TempDir()
	writeText(t, filepath.Join(site, "mypkg.py"), "X = 1\n")
	out := filepath.Join(t.TempDir(), "out")
	m, err := Build(context.Background(), Options{Program: fp.program, Out: out, SitePackages: []string{site}, KeepDebugInfo: true})
	require.NoError(t, err)
	assert.Equal(t, filepath.Join("lib", "python3.99", "dist-packages"), m.SiteDir)
	assert.FileExists(t, filepath.Join(out, m.SiteDir, "mypkg.py"))

	require.NoError(t, os.Remove(filepath.Join(fp.prefix, "lib", "python3.99", "site.py")))
	_, err = Build(context.Background(), Options{Program: fp.program, Out: filepath.Join(t.TempDir(), "out"), KeepDebugInfo: true})
	assert.ErrorIs(t, err, os.ErrNotExist)
	assert.ErrorContains(t, err, "site.py")
}
