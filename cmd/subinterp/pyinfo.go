package main

import (
	"bufio"
	"context"
	"debug/elf"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/subinterp/subinterp/cpython"
)

// pythonInfo describes the CPython build this binary runs on.
type pythonInfo struct {
	// Version is the full version, e.g. "3.13.15".
	Version string `json:"version"`
	// Prefix is sys.prefix.
	Prefix string `json:"prefix"`
	// Debug reports a --with-pydebug build.
	Debug bool `json:"debug"`
	// LibPython is the shared libpython mapped into this process ("" if
	// none was found: a static build, or no /proc).
	LibPython string `json:"libpython"`
	// Executable is this program, the one that links libpython.
	Executable string `json:"executable"`
	// Linked is the libpython the executable names as a needed library
	// (ELF DT_NEEDED), and RPath where it tells the loader to look
	// (DT_RUNPATH or DT_RPATH), if any.
	Linked string   `json:"linked"`
	RPath  []string `json:"rpath"`
	// PythonBinary is the python3.X of the same build (pythonBinary), used
	// to run the benchmark peers ("" if it does not exist).
	PythonBinary string `json:"python_binary"`
}

// describePython collects pythonInfo from the running runtime.
func describePython(ctx context.Context, rt *cpython.Runtime) (pythonInfo, error) {
	info := pythonInfo{Version: rt.Version(), Debug: rt.Debug(), LibPython: findLibpython()}
	prefix, err := sysPrefix(ctx, rt)
	if err != nil {
		return info, err
	}
	info.Prefix = prefix
	if exe, err := os.Executable(); err == nil {
		info.Executable = exe
		info.Linked, info.RPath = linkedLibpython(exe)
	}
	info.PythonBinary = pythonBinary(prefix, info.Version, info.Debug)
	return info, nil
}

// sysPrefix returns the runtime's sys.prefix.
func sysPrefix(ctx context.Context, rt *cpython.Runtime) (string, error) {
	v, err := rt.Main().Eval(ctx, "__import__('sys').prefix")
	if err != nil {
		return "", fmt.Errorf("reading sys.prefix: %w", err)
	}
	prefix, ok := v.(string)
	if !ok {
		return "", fmt.Errorf("sys.prefix is %T, not a string", v)
	}
	return prefix, nil
}

// pythonBinary returns the python3.X program of the CPython build with
// this prefix, version and flavour, or "" if the prefix has none. A debug
// build's own binary comes first: a source build installs it as
// python3.X, but Debian's python3.X-dbg installs python3.Xd next to the
// release python3.X.
func pythonBinary(prefix, version string, debug bool) string {
	name := "python" + cpython.MajorMinor(version)
	candidates := []string{name}
	if debug {
		candidates = []string{name + "d", name}
	}
	for _, c := range candidates {
		bin := filepath.Join(prefix, "bin", c)
		if st, err := os.Stat(bin); err == nil && st.Mode().IsRegular() && st.Mode()&0o111 != 0 {
			return bin
		}
	}
	return ""
}

// findLibpython returns the path of the first mapping in /proc/self/maps
// whose file name contains "libpython", or "".
func findLibpython() string {
	f, err := os.Open("/proc/self/maps")
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if !strings.Contains(line, "libpython") {
			continue
		}
		// address perms offset dev inode path
		if fields := strings.Fields(line); len(fields) >= 6 {
			return strings.Join(fields[5:], " ")
		}
	}
	return ""
}

// linkedLibpython reads the ELF dynamic section of exe and returns the
// needed library whose name contains "libpython" and the run paths.
func linkedLibpython(exe string) (lib string, rpath []string) {
	f, err := elf.Open(exe)
	if err != nil {
		return "", nil
	}
	defer f.Close()
	libs, _ := f.ImportedLibraries()
	for _, l := range libs {
		if strings.Contains(l, "libpython") {
			lib = l
			break
		}
	}
	for _, tag := range []elf.DynTag{elf.DT_RUNPATH, elf.DT_RPATH} {
		paths, _ := f.DynString(tag)
		for _, p := range paths {
			rpath = append(rpath, filepath.SplitList(p)...)
		}
	}
	return lib, rpath
}

// checkExecutable reports why path is not a program this process can run.
func checkExecutable(path string) error {
	st, err := os.Stat(path)
	if err != nil {
		return err
	}
	if !st.Mode().IsRegular() || st.Mode()&0o111 == 0 {
		return fmt.Errorf("%s is not an executable file", path)
	}
	return nil
}

// subinterpCache is the per-user cache scripts/python.sh builds CPython
// into: $SUBINTERP_CACHE, else $XDG_CACHE_HOME/subinterp, else
// ~/.cache/subinterp.
func subinterpCache() string {
	if d := os.Getenv("SUBINTERP_CACHE"); d != "" {
		return d
	}
	if d := os.Getenv("XDG_CACHE_HOME"); d != "" {
		return filepath.Join(d, "subinterp")
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return ""
	}
	return filepath.Join(home, ".cache", "subinterp")
}

// cachedFreeThreadedPython finds python3.Xt of a finished free-threaded
// build of version's X.Y in subinterp's cache (what `scripts/python.sh
// --free-threaded` builds: cpython-<version>-freethreaded, marked complete
// with a .complete file), the newest first. When there is none, missing
// says so and how to get one.
func cachedFreeThreadedPython(version string) (python, missing string) {
	mm := cpython.MajorMinor(version)
	cache := subinterpCache()
	if cache != "" {
		dirs, _ := filepath.Glob(filepath.Join(cache, "cpython-"+mm+".*-freethreaded"))
		slices.SortFunc(dirs, func(a, b string) int { return compareVersions(b, a) })
		for _, d := range dirs {
			bin := filepath.Join(d, "bin", "python"+mm+"t")
			if _, err := os.Stat(filepath.Join(d, ".complete")); err != nil {
				continue
			}
			if checkExecutable(bin) == nil {
				return bin, ""
			}
		}
	}
	return "", fmt.Sprintf("no free-threaded CPython %s (python%st) in %s: build one with scripts/python.sh --free-threaded "+
		"(make bench-ft builds it on first use, ~5-10 min on 2 cores), or pass --free-threaded-python PATH", mm, mm, orNone(cache))
}

// compareVersions orders the build directories cpython-3.13.9-... before
// cpython-3.13.15-... by the numbers in their names.
func compareVersions(a, b string) int {
	na, nb := versionNumbers(filepath.Base(a)), versionNumbers(filepath.Base(b))
	return slices.Compare(na, nb)
}

// versionNumbers are the runs of digits in s, as numbers.
func versionNumbers(s string) []int {
	var out []int
	n, in := 0, false
	for _, r := range s + "." {
		if r >= '0' && r <= '9' {
			n, in = n*10+int(r-'0'), true
			continue
		}
		if in {
			out = append(out, n)
		}
		n, in = 0, false
	}
	return out
}

// orNone is s, or "(no cache directory)" when s is empty.
func orNone(s string) string {
	if s == "" {
		return "(no cache directory)"
	}
	return s
}
