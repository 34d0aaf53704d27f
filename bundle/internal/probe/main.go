// Command probe is the program scripts/test-bundle.sh bundles and runs in
// a bare Debian chroot: it starts CPython with no options and prints, one
// "key=value" line each, what shows that the bundle is self-contained —
// where Python found its home, that an own-GIL interpreter runs, that
// extension modules and the shared libraries they need load, and that a
// bundled site-packages module imports. `probe exit N` exits with status N
// after the checks (the launcher must pass it on).
package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/subinterp/subinterp/cpython"
)

// checks are evaluated in the main interpreter; each must print "ok".
var checks = []struct{ name, expr string }{
	{"json", `__import__("_json") and __import__("json").dumps({"a": [1, 2]})`},
	{"math", `__import__("math").sqrt(16)`},
	{"sqlite3", `(lambda c: (c.execute("select sqlite_version()").fetchone()[0], c.close())[0])(__import__("sqlite3").connect(":memory:"))`},
	{"ssl", `__import__("ssl").OPENSSL_VERSION`},
	{"hashlib", `__import__("hashlib").sha256(b"abc").hexdigest()[:16]`},
	{"zlib", `len(__import__("zlib").compress(b"x" * 1000))`},
	{"lzma", `len(__import__("lzma").compress(b"x" * 1000))`},
	{"bz2", `len(__import__("bz2").compress(b"x" * 1000))`},
	{"ctypes", `__import__("ctypes").c_int(42).value`},
	{"decimal", `str(__import__("decimal").Decimal(1) / 7)[:8]`},
	{"site_pkg", `__import__("probe_pkg").MESSAGE`},
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "probe:", err)
		os.Exit(1)
	}
	if len(os.Args) == 3 && os.Args[1] == "exit" {
		code, _ := strconv.Atoi(os.Args[2])
		os.Exit(code)
	}
}

func run() error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	rt, err := cpython.Initialize(cpython.RuntimeOptions{})
	if err != nil {
		return err
	}
	defer rt.Finalize()
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	fmt.Printf("exe_dir=%s\n", filepath.Dir(exe))
	fmt.Printf("args=%q\n", os.Args[1:])
	_, home := os.LookupEnv("HOME")
	fmt.Printf("home_set=%v\n", home)
	main := rt.Main()
	for _, e := range []struct{ key, expr string }{
		{"version", "__import__('sys').version.split()[0]"},
		{"prefix", "__import__('sys').prefix"},
		{"stdlib", "__import__('os').__file__"},
		{"dynload", "__import__('_sqlite3').__file__"},
	} {
		v, err := main.Eval(ctx, e.expr)
		if err != nil {
			return fmt.Errorf("%s: %w", e.key, err)
		}
		fmt.Printf("%s=%v\n", e.key, v)
	}
	for _, c := range checks {
		v, err := main.Eval(ctx, c.expr)
		if err != nil {
			fmt.Printf("check_%s=FAILED %v\n", c.name, err)
			continue
		}
		fmt.Printf("check_%s=ok %v\n", c.name, v)
	}
	in, err := rt.NewInterpreter(cpython.IsolatedConfig())
	if err != nil {
		return fmt.Errorf("own-GIL interpreter: %w", err)
	}
	defer in.Close()
	v, err := in.Eval(ctx, "(__import__('_json').__name__, __import__('math').factorial(10), __import__('sys').prefix)")
	if err != nil {
		return fmt.Errorf("own-GIL interpreter: %w", err)
	}
	fmt.Printf("own_gil=ok %v\n", v)
	return printLoaded()
}

// printLoaded prints where the dynamic loader took libpython and the
// libraries of the extension modules from ("lib_NAME=PATH"), from
// /proc/self/maps: in a bundle every one must be the bundle's own copy,
// even where the system has the same library.
func printLoaded() error {
	maps, err := os.ReadFile("/proc/self/maps")
	if err != nil {
		return err
	}
	seen := map[string]bool{}
	for _, line := range strings.Split(string(maps), "\n") {
		fields := strings.Fields(line)
		if len(fields) < 6 {
			continue
		}
		path := fields[len(fields)-1]
		base := filepath.Base(path)
		for _, name := range []string{"libpython", "libssl", "libcrypto", "libsqlite3", "libffi", "libz", "liblzma", "libbz2"} {
			if strings.HasPrefix(base, name+".so") || (name == "libpython" && strings.HasPrefix(base, name)) {
				if !seen[name] {
					seen[name] = true
					fmt.Printf("lib_%s=%s\n", name, path)
				}
			}
		}
	}
	return nil
}
