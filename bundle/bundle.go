// Package bundle makes a Go program built against subinterp portable: it
// copies the program, the libpython it links, the standard library with its
// extension modules, the shared libraries those need (all but the C
// library) and the site-packages the user names into one directory, and
// rewrites the program's library search path to $ORIGIN/lib. The program
// then runs on any Linux system with a glibc at least as new as the
// builder's, from any directory, as any user, with no environment:
// cpython.Initialize finds the Python home next to the executable.
//
// The layout of a bundle directory:
//
//	PROGRAM                    search path (DT_RPATH) $ORIGIN/lib
//	lib/libpython3.X.so.1.0    the libpython PROGRAM links
//	lib/libssl.so.3 ...        what the extension modules need, but glibc
//	lib/python3.X/os.py ...    the standard library (the home landmark)
//	lib/python3.X/lib-dynload  its extension modules
//	lib/python3.X/site-packages  the site-packages named with Options.SitePackages
//	lib/subinterp-bundle.json  what was bundled, and what the target needs
//
// Pack turns a bundle directory into a single executable file: a small
// pure-Go launcher (package bundle/launcher) followed by the directory as a
// payload, which the launcher verifies, unpacks once into a
// content-addressed cache and executes (see Launch).
package bundle

import (
	"context"
	"debug/elf"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
)

// ErrNotEmbedding is returned for a program that does not link libpython.
var ErrNotEmbedding = errors.New("the program does not link libpython")

// ErrExists is returned when the output already exists and Force is false.
var ErrExists = errors.New("the output already exists")

// ErrNotFound is returned when a file the bundle needs (libpython, the
// standard library, a shared library) cannot be found on this machine.
var ErrNotFound = errors.New("not found")

// ManifestName is the bundle's description, under lib/.
const ManifestName = "subinterp-bundle.json"

// StdlibMode says how much of the standard library a bundle carries.
type StdlibMode string

const (
	// StdlibSlim leaves out what a service never imports: the test suite,
	// idlelib, tkinter (and _tkinter with the Tcl/Tk libraries it needs),
	// turtledemo, ensurepip, the config-3.X directory of the static build,
	// and the stdlib's own test extension modules.
	StdlibSlim StdlibMode = "slim"
	// StdlibFull copies the standard library as installed.
	StdlibFull StdlibMode = "full"
)

// PycMode says which compiled bytecode files a bundle carries.
type PycMode string

const (
	// PycPlain keeps the .pyc files that a normal run loads (no -O), so
	// imports need not compile, and drops the .opt-1/.opt-2 variants.
	PycPlain PycMode = "plain"
	// PycAll keeps every .pyc file as installed.
	PycAll PycMode = "all"
	// PycNone drops every .pyc file: smaller, but each start compiles
	// what it imports again (a bundle is usually read-only to its user).
	PycNone PycMode = "none"
)

// Options say what to bundle and where.
type Options struct {
	// Program is the built Go program (linked against libpython).
	Program string
	// Out is the bundle directory to create.
	Out string
	// Force replaces Out when it exists.
	Force bool
	// PythonPrefix is the CPython installation whose standard library is
	// bundled. Empty: the one next to the libpython the program resolves to
	// (its RUNPATH).
	PythonPrefix string
	// SitePackages are directories whose contents are copied into the
	// bundle's site-packages (packages, modules, .pth files, extension
	// modules), in order; a file present in two of them is an error.
	SitePackages []string
	// Stdlib is StdlibSlim (default) or StdlibFull.
	Stdlib StdlibMode
	// Pyc is PycPlain (default), PycAll or PycNone.
	Pyc PycMode
	// KeepDebugInfo leaves the debug information in libpython and the
	// extension modules; by default `strip --strip-debug` removes it (a
	// 30 MB libpython becomes 6 MB; symbols stay, so backtraces still name
	// functions). The program itself is never changed beyond its search
	// path.
	KeepDebugInfo bool
	// Log receives one line per step; nil discards them.
	Log io.Writer
}

// Library is a shared library the bundle carries besides libpython.
type Library struct {
	Soname string `json:"soname"`
	From   string `json:"from"` // where it was copied from
	Bytes  int64  `json:"bytes"`
	For    string `json:"for"` // the first bundled file that needed it
}

// Manifest describes a bundle; it is written to lib/subinterp-bundle.json.
type Manifest struct {
	Program       string    `json:"program"`
	PythonVersion string    `json:"python_version"` // "3.13"
	Debug         bool      `json:"debug"`          // a --with-pydebug libpython
	LibPython     string    `json:"libpython"`      // its soname
	Prefix        string    `json:"prefix"`         // the CPython installation it came from
	Stdlib        string    `json:"stdlib"`
	Pyc           string    `json:"pyc"`
	Stripped      bool      `json:"stripped"` // debug information removed
	SitePackages  []string  `json:"site_packages,omitempty"`
	SiteDir       string    `json:"site_dir"` // where they went, relative to the bundle
	Libraries     []Library `json:"libraries"`
	// TargetNeeds are the glibc libraries the target must provide, and
	// MinGlibc the highest symbol version any bundled file needs.
	TargetNeeds []string `json:"target_needs"`
	MinGlibc    string   `json:"min_glibc"`
	Files       int      `json:"files"`
	Bytes       int64    `json:"bytes"`
}

var libpythonRe = regexp.MustCompile(`^libpython(3\.[0-9]+)(d?)\.so`)

// Build makes the bundle directory opts.Out. It is built under a temporary
// name next to Out and renamed into place only when complete, so a failed
// or cancelled Build leaves nothing behind (and an existing Out intact).
func Build(ctx context.Context, opts Options) (*Manifest, error) {
	if opts.Stdlib == "" {
		opts.Stdlib = StdlibSlim
	}
	if opts.Pyc == "" {
		opts.Pyc = PycPlain
	}
	if opts.Stdlib != StdlibSlim && opts.Stdlib != StdlibFull {
		return nil, fmt.Errorf("bundle: stdlib mode %q: want %q or %q", opts.Stdlib, StdlibSlim, StdlibFull)
	}
	if opts.Pyc != PycPlain && opts.Pyc != PycAll && opts.Pyc != PycNone {
		return nil, fmt.Errorf("bundle: pyc mode %q: want %q, %q or %q", opts.Pyc, PycPlain, PycAll, PycNone)
	}
	if opts.Program == "" || opts.Out == "" {
		return nil, errors.New("bundle: both the program and the output directory are needed")
	}
	b := &builder{ctx: ctx, opts: opts, log: opts.Log}
	if b.log == nil {
		b.log = io.Discard
	}
	m, err := b.build()
	if err != nil {
		return nil, fmt.Errorf("bundle: %w", err)
	}
	return m, nil
}

type builder struct {
	ctx  context.Context
	opts Options
	log  io.Writer
	tmp  string // the bundle under construction
	lib  string // tmp/lib
	m    Manifest
	// progDir and progSearch are the original program's directory and its
	// search path, used to resolve what the program needs.
	progDir    string
	progSearch []string
}

func (b *builder) logf(format string, args ...any) { fmt.Fprintf(b.log, format+"\n", args...) }

func (b *builder) build() (*Manifest, error) {
	prog, err := filepath.Abs(b.opts.Program)
	if err != nil {
		return nil, err
	}
	st, err := os.Stat(prog)
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file", prog)
	}
	info, err := ReadDynamic(prog)
	if err != nil {
		return nil, err
	}
	b.progDir = filepath.Dir(prog)
	b.progSearch = expandSearch(info.SearchPath, b.progDir)
	var soname, ver string
	for _, n := range info.Needed {
		if m := libpythonRe.FindStringSubmatch(n); m != nil {
			soname, ver, b.m.Debug = n, m[1], m[2] == "d"
		}
	}
	if soname == "" {
		return nil, fmt.Errorf("%s: %w (DT_NEEDED: %s); build it with cgo after eval \"$(scripts/python.sh)\"",
			prog, ErrNotEmbedding, strings.Join(info.Needed, ", "))
	}
	b.m.Program, b.m.PythonVersion, b.m.LibPython = filepath.Base(prog), ver, soname
	if b.m.Program == "lib" || strings.HasPrefix(b.m.Program, ".") {
		return nil, fmt.Errorf("a program named %q cannot be bundled (the bundle has a lib directory and hides dot files); rename it", b.m.Program)
	}
	b.m.Stdlib, b.m.Pyc = string(b.opts.Stdlib), string(b.opts.Pyc)

	var dirs []string
	if b.opts.PythonPrefix != "" {
		dirs = append(dirs, filepath.Join(b.opts.PythonPrefix, "lib"))
	}
	dirs = append(dirs, b.progSearch...)
	dirs = append(dirs, systemLibDirs()...)
	libpython, err := findLib(soname, dirs)
	if err != nil {
		return nil, fmt.Errorf("%s needs %s: %w", prog, soname, err)
	}
	stdlib, prefix, err := findStdlib(b.opts.PythonPrefix, libpython, ver)
	if err != nil {
		return nil, err
	}
	b.m.Prefix = prefix
	b.logf("program %s links %s (%s); standard library %s", prog, soname, libpython, stdlib)

	out, err := filepath.Abs(b.opts.Out)
	if err != nil {
		return nil, err
	}
	if _, err := os.Lstat(out); err == nil && !b.opts.Force {
		return nil, fmt.Errorf("%s: %w (use --force to replace it)", out, ErrExists)
	}
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return nil, err
	}
	b.tmp, err = os.MkdirTemp(filepath.Dir(out), "."+filepath.Base(out)+".tmp-")
	if err != nil {
		return nil, err
	}
	defer func() {
		if b.tmp != "" {
			os.RemoveAll(b.tmp)
		}
	}()
	if err := os.Chmod(b.tmp, 0o755); err != nil {
		return nil, err
	}
	b.lib = filepath.Join(b.tmp, "lib")
	pyDir := filepath.Join(b.lib, "python"+ver)

	progOut := filepath.Join(b.tmp, b.m.Program)
	if err := copyFile(prog, progOut); err != nil {
		return nil, err
	}
	if err := b.setOrigin(progOut, "$ORIGIN/lib", true); err != nil {
		return nil, err
	}
	if err := copyFile(libpython, filepath.Join(b.lib, soname)); err != nil {
		return nil, err
	}
	if err := b.setOrigin(filepath.Join(b.lib, soname), "$ORIGIN", false); err != nil {
		return nil, err
	}
	if err := b.copyStdlib(stdlib, pyDir); err != nil {
		return nil, err
	}
	site, err := siteDir(stdlib, pyDir)
	if err != nil {
		return nil, err
	}
	b.m.SiteDir, _ = filepath.Rel(b.tmp, site)
	for _, sp := range b.opts.SitePackages {
		if err := b.copySitePackages(sp, site); err != nil {
			return nil, err
		}
	}
	if err := b.addLibraries(); err != nil {
		return nil, err
	}
	if !b.opts.KeepDebugInfo {
		if err := b.stripDebug(); err != nil {
			return nil, err
		}
	}
	if err := b.fixSearchPaths(); err != nil {
		return nil, err
	}
	if err := b.count(); err != nil {
		return nil, err
	}
	data, err := json.MarshalIndent(&b.m, "", "  ")
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(b.lib, ManifestName), append(data, '\n'), 0o644); err != nil {
		return nil, err
	}
	if err := b.ctx.Err(); err != nil {
		return nil, err
	}
	if err := replaceDir(b.tmp, out); err != nil {
		return nil, err
	}
	b.tmp = ""
	b.logf("bundle %s: %d files, %.1f MB", out, b.m.Files, float64(b.m.Bytes)/1e6)
	return &b.m, nil
}

// replaceDir renames the finished bundle tmp to out, moving an old out
// aside first and removing it after.
func replaceDir(tmp, out string) error {
	old := ""
	if _, err := os.Lstat(out); err == nil {
		old = tmp + ".old"
		if err := os.Rename(out, old); err != nil {
			return err
		}
	}
	if err := os.Rename(tmp, out); err != nil {
		if old != "" {
			os.Rename(old, out)
		}
		return err
	}
	if old != "" {
		return os.RemoveAll(old)
	}
	return nil
}

// setOrigin points the search path of the bundled ELF file at path to
// origin ($ORIGIN-relative). A file without a search path is left as it is
// unless required (the program: without one it cannot find libpython).
func (b *builder) setOrigin(path, origin string, required bool) error {
	err := SetSearchPath(path, origin)
	if errors.Is(err, ErrNoSearchPath) && !required {
		return nil
	}
	if errors.Is(err, ErrNoSearchPath) {
		return fmt.Errorf("%w: link the program with -Wl,-rpath,'$ORIGIN/lib' (scripts/python.sh's CGO_LDFLAGS set an rpath)", err)
	}
	return err
}

// findStdlib returns the standard library directory for CPython 3.X and
// the prefix it belongs to: under prefix/lib when a prefix is given, else
// next to libpython (prefix/lib/libpython...) or one level up (Debian's
// /usr/lib/<multiarch>/libpython... with /usr/lib/python3.X).
func findStdlib(prefix, libpython, ver string) (stdlib, foundPrefix string, err error) {
	var candidates []string
	if prefix != "" {
		candidates = []string{filepath.Join(prefix, "lib", "python"+ver)}
	} else {
		libDir := filepath.Dir(libpython)
		candidates = []string{filepath.Join(libDir, "python"+ver), filepath.Join(filepath.Dir(libDir), "python"+ver)}
	}
	for _, c := range candidates {
		if isFile(filepath.Join(c, "os.py")) {
			if !isDir(filepath.Join(c, "lib-dynload")) {
				return "", "", fmt.Errorf("%s has no lib-dynload directory: %w", c, ErrNotFound)
			}
			return c, filepath.Dir(filepath.Dir(c)), nil
		}
	}
	return "", "", fmt.Errorf("the standard library of CPython %s (os.py in %s): %w; give the prefix with --python-prefix",
		ver, strings.Join(candidates, " or "), ErrNotFound)
}

// siteDir is where the named site-packages go: lib/python3.X/site-packages,
// or dist-packages for a Debian-patched CPython, whose site module looks
// only there (and in lib/python3/dist-packages) under the home.
func siteDir(stdlib, pyDir string) (string, error) {
	data, err := os.ReadFile(filepath.Join(stdlib, "site.py"))
	if err != nil {
		return "", fmt.Errorf("the standard library has no site.py: %w", err)
	}
	if strings.Contains(string(data), `"dist-packages"`) { // upstream's site.py never names it
		return filepath.Join(pyDir, "dist-packages"), nil
	}
	return filepath.Join(pyDir, "site-packages"), nil
}

// slimSkip reports whether the slim standard library leaves out rel (a
// path relative to lib/python3.X).
func slimSkip(rel string, isDir bool) bool {
	first, rest, _ := strings.Cut(rel, string(filepath.Separator))
	switch first {
	case "test", "idlelib", "tkinter", "turtledemo", "ensurepip":
		return true
	case "lib-dynload":
		if isDir || rest == "" {
			return false
		}
		for _, p := range []string{"_tkinter.", "_test", "_xxtestfuzz.", "xxlimited", "xxsubtype.", "_ctypes_test."} {
			if strings.HasPrefix(rest, p) {
				return true
			}
		}
	}
	return strings.HasPrefix(first, "config-")
}

// copyStdlib copies the standard library, never the installation's own
// site-packages (only what Options.SitePackages names goes in).
func (b *builder) copyStdlib(src, dst string) error {
	return filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if err := b.ctx.Err(); err != nil {
			return err
		}
		rel, err := filepath.Rel(src, path)
		if err != nil {
			return err
		}
		if rel == "site-packages" || rel == "dist-packages" {
			return fs.SkipDir
		}
		if b.opts.Stdlib == StdlibSlim && rel != "." && slimSkip(rel, d.IsDir()) {
			if d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		if d.IsDir() && d.Name() == "__pycache__" && b.opts.Pyc == PycNone {
			return fs.SkipDir
		}
		if !d.IsDir() && strings.HasSuffix(path, ".pyc") && b.opts.Pyc == PycPlain &&
			(strings.Contains(d.Name(), ".opt-1.") || strings.Contains(d.Name(), ".opt-2.")) {
			return nil
		}
		return copyEntry(path, filepath.Join(dst, rel), d)
	})
}

// copySitePackages merges the directory src into dst; a file that is
// already there is an error.
func (b *builder) copySitePackages(src, dst string) error {
	st, err := os.Stat(src)
	if err != nil {
		return fmt.Errorf("site-packages: %w", err)
	}
	if !st.IsDir() {
		return fmt.Errorf("site-packages: %s is not a directory", src)
	}
	abs, _ := filepath.Abs(src)
	b.m.SitePackages = append(b.m.SitePackages, abs)
	return filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if err := b.ctx.Err(); err != nil {
			return err
		}
		rel, err := filepath.Rel(src, path)
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		if !d.IsDir() {
			if _, err := os.Lstat(target); err == nil {
				return fmt.Errorf("site-packages: %s is in two of the directories given (again in %s)", rel, src)
			}
		}
		return copyEntry(path, target, d)
	})
}

// fixSearchPaths rewrites every absolute search path of the bundled ELF
// files (libpython's installation puts one into each extension module) to
// the bundle's lib directory, relative to $ORIGIN: a bundle must never
// load anything from the machine it was built on. Search paths already
// relative to $ORIGIN (wheels' vendored libraries) stay.
func (b *builder) fixSearchPaths() error {
	return b.walkELF(func(path string, info *DynamicInfo) error {
		if info.SearchPath == "" || strings.HasPrefix(info.SearchPath, "$ORIGIN") || strings.HasPrefix(info.SearchPath, "${ORIGIN}") {
			return nil
		}
		rel, err := filepath.Rel(filepath.Dir(path), b.lib)
		if err != nil {
			return err
		}
		origin := "$ORIGIN"
		if rel != "." {
			origin += "/" + filepath.ToSlash(rel)
		}
		return b.setOrigin(path, origin, false)
	})
}

// addLibraries copies the shared libraries the bundled ELF files need,
// transitively, except glibc's, which the target provides.
func (b *builder) addLibraries() error {
	needs := map[string]bool{}
	versions := map[string]bool{}
	for {
		added := false
		err := b.walkELF(func(path string, info *DynamicInfo) error {
			for _, v := range info.GlibcVersions {
				versions[v] = true
			}
			for _, n := range info.Needed {
				if IsGlibc(n) {
					needs[n] = true
					continue
				}
				if isFile(filepath.Join(b.lib, n)) || b.inOwnSearchPath(path, info, n) {
					continue
				}
				from, err := findLib(n, append(append([]string{}, b.progSearch...), systemLibDirs()...))
				if err != nil {
					rel, _ := filepath.Rel(b.tmp, path)
					return fmt.Errorf("%s needs %s: %w (leave the module out, or install the library here)", rel, n, err)
				}
				if err := copyFile(from, filepath.Join(b.lib, n)); err != nil {
					return err
				}
				if err := b.setOrigin(filepath.Join(b.lib, n), "$ORIGIN", false); err != nil {
					return err
				}
				st, _ := os.Stat(from)
				rel, _ := filepath.Rel(b.tmp, path)
				b.m.Libraries = append(b.m.Libraries, Library{Soname: n, From: from, Bytes: st.Size(), For: rel})
				b.logf("library %s from %s (for %s)", n, from, rel)
				added = true
			}
			return nil
		})
		if err != nil {
			return err
		}
		if !added {
			break
		}
	}
	for n := range needs {
		b.m.TargetNeeds = append(b.m.TargetNeeds, n)
	}
	sort.Strings(b.m.TargetNeeds)
	sort.Slice(b.m.Libraries, func(i, j int) bool { return b.m.Libraries[i].Soname < b.m.Libraries[j].Soname })
	for v := range versions {
		if b.m.MinGlibc == "" || versionLess(b.m.MinGlibc, v) {
			b.m.MinGlibc = v
		}
	}
	return nil
}

// stripDebug removes the debug information from every bundled ELF file
// that has some, except the program.
func (b *builder) stripDebug() error {
	strip, err := exec.LookPath("strip")
	if err != nil {
		return fmt.Errorf("removing debug information needs strip (binutils): %w; or keep it (--keep-debug-info)", err)
	}
	err = b.walkELF(func(path string, _ *DynamicInfo) error {
		if path == filepath.Join(b.tmp, b.m.Program) || !hasDebugInfo(path) {
			return nil
		}
		out, err := exec.CommandContext(b.ctx, strip, "--strip-debug", "--preserve-dates", path).CombinedOutput()
		if err != nil {
			return fmt.Errorf("strip --strip-debug %s: %w: %s", path, err, strings.TrimSpace(string(out)))
		}
		return nil
	})
	b.m.Stripped = err == nil
	return err
}

func hasDebugInfo(path string) bool {
	f, err := elf.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	return f.Section(".debug_info") != nil
}

// inOwnSearchPath reports whether the bundled file at path finds soname
// through its own $ORIGIN-relative search path, inside the bundle.
func (b *builder) inOwnSearchPath(path string, info *DynamicInfo, soname string) bool {
	for _, dir := range expandSearch(info.SearchPath, filepath.Dir(path)) {
		if strings.HasPrefix(dir, b.tmp+string(filepath.Separator)) && isFile(filepath.Join(dir, soname)) {
			return true
		}
	}
	return false
}

// walkELF calls fn for every ELF file in the bundle under construction.
func (b *builder) walkELF(fn func(path string, info *DynamicInfo) error) error {
	return filepath.WalkDir(b.tmp, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if err := b.ctx.Err(); err != nil {
			return err
		}
		if !d.Type().IsRegular() || !(strings.Contains(d.Name(), ".so") || path == filepath.Join(b.tmp, b.m.Program)) || !IsELF(path) {
			return nil
		}
		info, err := ReadDynamic(path)
		if errors.Is(err, ErrNotELF) {
			return nil // an object file or a static executable: nothing to load
		}
		if err != nil {
			return err
		}
		return fn(path, info)
	})
}

func (b *builder) count() error {
	b.m.Files, b.m.Bytes = 0, 0
	return filepath.WalkDir(b.tmp, func(path string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		b.m.Files++
		b.m.Bytes += fi.Size()
		return nil
	})
}

// expandSearch splits a search path and expands $ORIGIN to dir.
func expandSearch(search, dir string) []string {
	var out []string
	for _, p := range strings.Split(search, ":") {
		if p == "" {
			continue
		}
		p = strings.ReplaceAll(strings.ReplaceAll(p, "${ORIGIN}", dir), "$ORIGIN", dir)
		out = append(out, filepath.Clean(p))
	}
	return out
}

// systemLibDirs are the directories the dynamic loader searches by default
// on Debian-like systems, plus those /etc/ld.so.conf names.
func systemLibDirs() []string {
	dirs := []string{"/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu", "/lib/aarch64-linux-gnu",
		"/usr/lib/aarch64-linux-gnu", "/lib64", "/usr/lib64", "/lib", "/usr/lib", "/usr/local/lib"}
	confs, _ := filepath.Glob("/etc/ld.so.conf.d/*.conf")
	for _, c := range confs {
		data, err := os.ReadFile(c)
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(data), "\n") {
			if line = strings.TrimSpace(line); strings.HasPrefix(line, "/") {
				dirs = append(dirs, line)
			}
		}
	}
	return dirs
}

// findLib finds soname in dirs and returns the file it resolves to.
func findLib(soname string, dirs []string) (string, error) {
	for _, d := range dirs {
		p := filepath.Join(d, soname)
		if isFile(p) {
			return filepath.EvalSymlinks(p)
		}
	}
	return "", fmt.Errorf("%s in %s: %w", soname, strings.Join(dirs, ":"), ErrNotFound)
}

// copyEntry copies one directory entry met by WalkDir (a symlink is copied
// as the file it points to: a bundle holds only directories and regular
// files).
func copyEntry(src, dst string, d fs.DirEntry) error {
	if d.IsDir() {
		return os.MkdirAll(dst, 0o755)
	}
	if d.Type()&fs.ModeSymlink != 0 {
		st, err := os.Stat(src)
		if err != nil {
			return fmt.Errorf("dangling symlink %s: %w", src, err)
		}
		if st.IsDir() {
			return filepath.WalkDir(src+string(filepath.Separator), func(p string, e fs.DirEntry, err error) error {
				if err != nil {
					return err
				}
				rel, _ := filepath.Rel(src, p)
				return copyEntry(p, filepath.Join(dst, rel), e)
			})
		}
	} else if !d.Type().IsRegular() {
		return nil // sockets, fifos, devices have no place in a bundle
	}
	return copyFile(src, dst)
}

// copyFile copies a regular file (following symlinks), keeping its
// permission bits and modification time: CPython checks a .pyc against its
// source's mtime, so a changed mtime would make every import compile again.
func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	st, err := in.Stat()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, st.Mode().Perm()|0o644)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	if err := out.Close(); err != nil {
		return err
	}
	if err := os.Chmod(dst, st.Mode().Perm()|0o644); err != nil {
		return err
	}
	return os.Chtimes(dst, st.ModTime(), st.ModTime())
}

func isFile(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.Mode().IsRegular()
}

func isDir(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.IsDir()
}
