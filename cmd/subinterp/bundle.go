package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"strings"

	"github.com/subinterp/subinterp/bundle"
)

// bundleAbout is the help text of `subinterp bundle`.
const bundleAbout = `
Makes a built Go program that embeds CPython (through subinterp) run on
other machines: a directory with the program, the libpython it links, the
standard library and its extension modules, the shared libraries those need
except glibc's, and the site-packages named with --site-packages. The
program's library search path becomes $ORIGIN/lib, and cpython.Initialize
finds the Python home next to the executable, so the directory runs from
anywhere, as any user, with no options and no environment. The target needs
Linux on the same architecture with glibc at least as new as the
builder's (printed below).

With --single-file the directory is also packed into one executable: a
small pure-Go launcher that unpacks it once into
${XDG_CACHE_HOME:-$HOME/.cache}/subinterp/bundles/<sha256>/ (verified;
$SUBINTERP_BUNDLE_CACHE overrides; without a usable home, a private
directory in $TMPDIR) and then executes the program. The launcher is built
with the go command from the current directory (inside this module or one
that requires it) unless --launcher names a built one.

Exit status: 0 done; 1 failed (the step that failed leaves nothing
behind: no partial directory or file); 2 bad usage; 130 on Ctrl-C.`

// cmdBundle is `subinterp bundle`.
func cmdBundle(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("bundle", "bundle [flags] PROGRAM", bundleAbout, stderr)
	out := fs.String("out", "", "the bundle `directory` to create (default PROGRAM-bundle in the current directory)")
	single := fs.String("single-file", "", "also write a single executable `FILE` carrying the bundle")
	var sitePackages pathList
	fs.Var(&sitePackages, "site-packages", "a `directory` whose contents go into the bundle's site-packages (repeatable)")
	prefix := fs.String("python-prefix", "", "the CPython installation (`prefix` directory) whose standard library to bundle\n(default: the one next to the libpython the program links)")
	stdlib := fs.String("stdlib", string(bundle.StdlibSlim), "`mode`: slim (without test, idlelib, tkinter, turtledemo, ensurepip, config-3.X)\nor full")
	pyc := fs.String("pyc", string(bundle.PycPlain), "compiled bytecode to keep (`mode`): plain (what a run without -O loads), all, or none")
	compress := fs.String("compress", string(bundle.CompressGzip), "the single file's payload `format`: gzip, or none (bigger file, faster first start)")
	launcher := fs.String("launcher", "", "a built launcher `executable` (go build github.com/subinterp/subinterp/bundle/launcher\nwith CGO_ENABLED=0) instead of building one")
	keepDebug := fs.Bool("keep-debug-info", false, "leave the debug information in libpython and the extension modules\n(by default strip --strip-debug removes it: a 30 MB libpython becomes 6 MB)")
	force := fs.Bool("force", false, "replace the output directory and file if they exist")
	asJSON := fs.Bool("json", false, "print the bundle's manifest as JSON")
	if code, done := parseFlags(fs, args); done {
		return code
	}
	if fs.NArg() != 1 {
		return usageError(stderr, "bundle", "want exactly one PROGRAM, got %d arguments", fs.NArg())
	}
	program := fs.Arg(0)
	switch {
	case *stdlib != string(bundle.StdlibSlim) && *stdlib != string(bundle.StdlibFull):
		return usageError(stderr, "bundle", "--stdlib %q: want slim or full", *stdlib)
	case *pyc != string(bundle.PycPlain) && *pyc != string(bundle.PycAll) && *pyc != string(bundle.PycNone):
		return usageError(stderr, "bundle", "--pyc %q: want plain, all or none", *pyc)
	case *compress != string(bundle.CompressGzip) && *compress != string(bundle.CompressNone):
		return usageError(stderr, "bundle", "--compress %q: want gzip or none", *compress)
	case *single == "" && (isSet(fs, "launcher") || isSet(fs, "compress")):
		return usageError(stderr, "bundle", "--launcher and --compress apply to --single-file only")
	}
	if *out == "" {
		*out = filepath.Base(program) + "-bundle"
	}
	if *single != "" {
		if _, err := os.Lstat(*single); err == nil && !*force {
			fmt.Fprintf(stderr, "subinterp bundle: %s: %v (use --force to replace it)\n", *single, bundle.ErrExists)
			return exitFailed
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	log := stderr
	if *asJSON {
		log = io.Discard
	}
	// The launcher first: when it cannot be built, nothing is made.
	l := *launcher
	if *single != "" && l == "" {
		tmp, err := os.MkdirTemp("", "subinterp-launcher-")
		if err != nil {
			return bundleFailed(ctx, stderr, err)
		}
		defer os.RemoveAll(tmp)
		l = filepath.Join(tmp, "launcher")
		fmt.Fprintf(log, "building the launcher (%s)\n", bundle.LauncherPackage)
		if err := bundle.BuildLauncher(ctx, "go", ".", l); err != nil {
			return bundleFailed(ctx, stderr, fmt.Errorf("%w (or give a built one with --launcher)", err))
		}
	}
	m, err := bundle.Build(ctx, bundle.Options{
		Program: program, Out: *out, Force: *force, PythonPrefix: *prefix, SitePackages: sitePackages,
		Stdlib: bundle.StdlibMode(*stdlib), Pyc: bundle.PycMode(*pyc), KeepDebugInfo: *keepDebug, Log: log,
	})
	if err != nil {
		return bundleFailed(ctx, stderr, err)
	}
	var packed *bundle.Trailer
	var packedSize int64
	if *single != "" {
		packed, err = bundle.Pack(ctx, bundle.PackOptions{Dir: *out, Launcher: l, Out: *single, Compression: bundle.Compression(*compress)})
		if err != nil {
			return bundleFailed(ctx, stderr, err)
		}
		if st, err := os.Stat(*single); err == nil {
			packedSize = st.Size()
		}
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(struct {
			*bundle.Manifest
			Dir        string          `json:"dir"`
			SingleFile string          `json:"single_file,omitempty"`
			SingleSize int64           `json:"single_file_bytes,omitempty"`
			Payload    *bundle.Trailer `json:"payload,omitempty"`
		}{m, *out, *single, packedSize, packed}); err != nil {
			return bundleFailed(ctx, stderr, err)
		}
		return exitOK
	}
	printBundle(stdout, *out, m)
	if packed != nil {
		fmt.Fprintf(stdout, "single file: %s, %.1f MB (%s payload %.1f MB, sha256 %s)\n",
			*single, mb(packedSize), packed.Compression, mb(packed.Size), packed.SHA256[:16])
	}
	return exitOK
}

func bundleFailed(ctx context.Context, stderr io.Writer, err error) int {
	fmt.Fprintf(stderr, "subinterp bundle: %v\n", err)
	if ctx.Err() != nil {
		return exitInterrupted
	}
	return exitFailed
}

func mb(n int64) float64 { return float64(n) / 1e6 }

// printBundle prints what the bundle holds, by kind, and what the target
// must provide.
func printBundle(w io.Writer, dir string, m *bundle.Manifest) {
	kinds := map[string]int64{}
	root := filepath.Join(dir, "lib", "python"+m.PythonVersion)
	_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		kinds[bundleKind(dir, root, p, m)] += fi.Size()
		return nil
	})
	names := make([]string, 0, len(kinds))
	for k := range kinds {
		names = append(names, k)
	}
	sort.Slice(names, func(i, j int) bool { return kinds[names[i]] > kinds[names[j]] })
	debug := ""
	if m.Debug {
		debug = ", debug build"
	}
	fmt.Fprintf(w, "bundle: %s, %d files, %.1f MB (CPython %s%s, stdlib %s, pyc %s)\n",
		dir, m.Files, mb(m.Bytes), m.PythonVersion, debug, m.Stdlib, m.Pyc)
	for _, k := range names {
		fmt.Fprintf(w, "  %-22s %7.1f MB\n", k, mb(kinds[k]))
	}
	libs := make([]string, len(m.Libraries))
	for i, l := range m.Libraries {
		libs[i] = l.Soname
	}
	fmt.Fprintf(w, "bundled libraries: %s\n", strings.Join(libs, " "))
	fmt.Fprintf(w, "the target provides: glibc >= %s (%s)\n", m.MinGlibc, strings.Join(m.TargetNeeds, " "))
}

// bundleKind names the part of the bundle a file belongs to.
func bundleKind(dir, stdlib, p string, m *bundle.Manifest) string {
	rel, _ := filepath.Rel(dir, p)
	switch {
	case rel == m.Program:
		return "program"
	case rel == filepath.Join("lib", m.LibPython):
		return "libpython"
	case strings.HasPrefix(p, filepath.Join(stdlib, "site-packages")+string(filepath.Separator)):
		return "site-packages"
	case strings.HasPrefix(p, filepath.Join(stdlib, "lib-dynload")+string(filepath.Separator)):
		return "stdlib extensions"
	case strings.HasPrefix(p, stdlib+string(filepath.Separator)) && strings.HasSuffix(p, ".pyc"):
		return "stdlib .pyc"
	case strings.HasPrefix(p, stdlib+string(filepath.Separator)):
		return "stdlib sources"
	case strings.HasPrefix(rel, "lib"+string(filepath.Separator)) && strings.Contains(filepath.Base(p), ".so"):
		return "other libraries"
	}
	return "other"
}
