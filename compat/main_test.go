package compat

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/subinterp/subinterp/internal/testutil"
)

// childEnv makes the test binary act as a check child (ChildMain) instead
// of running tests: Check re-executes it as `subinterp compat` re-executes
// itself.
const childEnv = "SUBINTERP_COMPAT_TEST_CHILD"

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) == "1" {
		os.Exit(ChildMain(os.Args[len(os.Args)-1]))
	}
	testutil.Main(m, func() (func() error, error) {
		return removeFixtures, nil
	})
}

// removeFixtures removes what fixtureDirs compiled, if anything. It
// ignores a failure: a directory left behind is litter, not a failed test.
func removeFixtures() error {
	if fixtures.root != "" {
		_ = os.RemoveAll(fixtures.root)
	}
	return nil
}

// testOptions starts children from the test binary.
func testOptions(t testing.TB) Options {
	t.Helper()
	exe, err := os.Executable()
	require.NoError(t, err)
	return Options{Command: []string{exe}, Env: []string{childEnv + "=1"}, Jobs: 2, Timeout: time.Minute}
}

// fixtures are the C extension modules of testdata, compiled once per test
// run against the headers of the Python in use: testdata/fixtures/*.c
// (with the Python modules of testdata/pkg) into main, testdata/hang/*.c
// into hang, kept apart because checking it takes a timeout.
var fixtures struct {
	once             sync.Once
	root             string
	main, hang, deep string
	py               PythonInfo
	err              error
}

func fixtureDirs(t testing.TB) (main, hang string, py PythonInfo) {
	t.Helper()
	fixtures.once.Do(func() {
		fixtures.py, fixtures.err = Describe(context.Background(), testOptions(t))
		if fixtures.err != nil {
			return
		}
		if fixtures.root, fixtures.err = os.MkdirTemp("", "compat-fixtures-"); fixtures.err != nil {
			return
		}
		fixtures.main = filepath.Join(fixtures.root, "main")
		fixtures.hang = filepath.Join(fixtures.root, "hang")
		if fixtures.err = compileAll("testdata/fixtures", fixtures.main, fixtures.py); fixtures.err != nil {
			return
		}
		if fixtures.err = compileAll("testdata/hang", fixtures.hang, fixtures.py); fixtures.err != nil {
			return
		}
		if fixtures.err = os.CopyFS(fixtures.main, os.DirFS("testdata/pkg")); fixtures.err != nil {
			return
		}
		fixtures.deep = filepath.Join(fixtures.root, "deep")
		fixtures.err = compileTree("testdata/deep", fixtures.deep, fixtures.py)
	})
	require.NoError(t, fixtures.err)
	return fixtures.main, fixtures.hang, fixtures.py
}

// deepFixtures is testdata/deep built: packages with extension modules
// inside (a lazy import, a swallowed ImportError, a shim package, an
// extension that never imports) and their .dist-info/.egg-info metadata,
// broken ones included.
func deepFixtures(t testing.TB) (string, PythonInfo) {
	t.Helper()
	_, _, py := fixtureDirs(t)
	return fixtures.deep, py
}

// compileTree copies the tree src to dst, compiling each .c file into an
// extension module in the same directory (so testdata/deep/pkg/_ext.c is
// the extension module pkg._ext).
func compileTree(src, dst string, py PythonInfo) error {
	return filepath.WalkDir(src, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, path)
		if err != nil {
			return err
		}
		out := filepath.Join(dst, rel)
		switch {
		case d.IsDir():
			return os.MkdirAll(out, 0o755)
		case strings.HasSuffix(path, ".c"):
			out = strings.TrimSuffix(out, ".c") + py.ExtSuffix
			cmd := exec.Command("gcc", "-shared", "-fPIC", "-O1", "-Wall", "-Werror", "-I"+py.Include, "-o", out, path)
			if b, err := cmd.CombinedOutput(); err != nil {
				return fmt.Errorf("compiling %s: %v\n%s", path, err, b)
			}
			return nil
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(out, data, 0o644)
	})
}

// compileAll compiles every .c file of src into an extension module in dst,
// with gcc and the include directory the Python reports (its pyconfig.h
// says whether it is a debug build, so the headers must be its own).
func compileAll(src, dst string, py PythonInfo) error {
	srcs, err := filepath.Glob(filepath.Join(src, "*.c"))
	if err != nil || len(srcs) == 0 {
		return fmt.Errorf("no C fixtures in %s (%v)", src, err)
	}
	if err := os.MkdirAll(dst, 0o755); err != nil {
		return err
	}
	var wg sync.WaitGroup
	errs := make([]error, len(srcs))
	for i, file := range srcs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out := filepath.Join(dst, strings.TrimSuffix(filepath.Base(file), ".c")+py.ExtSuffix)
			cmd := exec.Command("gcc", "-shared", "-fPIC", "-O1", "-Wall", "-Werror", "-I"+py.Include, "-o", out, file)
			if b, err := cmd.CombinedOutput(); err != nil {
				errs[i] = fmt.Errorf("compiling %s: %v\n%s", file, err, b)
			}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}
