package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"strings"
	"sync"
	"syscall"

	"github.com/subinterp/subinterp/compat"
)

// compatSynopsis is the usage line of `subinterp compat`.
const compatSynopsis = "compat [MODULE ...] [--stdlib] [--site-packages] [--path DIR] [--venv DIR] [--requirements FILE]\n" +
	"                        [--shallow] [--all-modes] [--jobs N] [--timeout DURATION] [--about FILE]\n" +
	"                        [--json FILE|-] [--markdown FILE|-] [--html FILE|-] [--quiet]"

// compatAbout is the help text of `subinterp compat`.
const compatAbout = `
Checks whether extension modules can be imported in subinterpreters, and in
which mode: main (the main interpreter), legacy (shared GIL, extension check
off), isolated_shared_gil (extension check on, shared GIL) and
isolated_own_gil (extension check on, own GIL). Each module is imported in
each mode in a fresh child process, so a module that crashes or hangs is
reported (crash, timeout) and the check goes on. CPython's own import
machinery decides; the checker only observes it and reads how the module
initialises from its PyModuleDef.

Each module gets a verdict (own-gil, shared-gil-only, legacy-only,
main-only, broken, not_found) and a reason to act on; "(degraded)" marks a
module that imports only because it caught the failure of one of its
extension modules and went on without it. A package is judged with every
extension module file it ships, each checked on its own (--shallow: its
own import only), from the most isolated mode on until one imports
(--all-modes: in every mode), and packages are grouped by the installed distribution
they belong to (.dist-info/.egg-info: name and version). --venv checks the
distributions with extension modules of a virtual environment,
--requirements those named in a pip requirements file.

A table goes to stdout (unless an output is "-"); --json, --markdown and
--html write reports ("-" for stdout). MODULE names are dotted Python
names; anything else is refused. --path and --requirements may be
repeated.

Exit status: 0 when every module was checked, whatever the verdicts; 1 if
the check could not run; 2 on bad usage; 130 on Ctrl-C.`

// compatFlags is a parsed `subinterp compat` command line.
type compatFlags struct {
	opts      compat.Options
	jsonOut   string
	mdOut     string
	htmlOut   string
	quiet     bool
	childReq  string
	aboutFile string
}

// pathList is a repeatable --path flag.
type pathList []string

func (p *pathList) String() string     { return strings.Join(*p, ",") }
func (p *pathList) Set(s string) error { *p = append(*p, s); return nil }

// cmdCompat is `subinterp compat`.
func cmdCompat(args []string, stdout, stderr io.Writer) int {
	f, code, done := parseCompat(args, stderr)
	if done {
		return code
	}
	if f.childReq != "" {
		// A child started by a check: import one module, report, exit
		// at once (main exits with this code without finalizing).
		return compat.ChildMain(f.childReq)
	}
	return execCompat(f, stdout, stderr)
}

// parseCompat parses and checks the command line; done means exit with
// code now. Flags and module names may come in any order.
func parseCompat(args []string, stderr io.Writer) (f compatFlags, code int, done bool) {
	fs := newFlagSet("compat", compatSynopsis, compatAbout, stderr)
	fs.BoolVar(&f.opts.Stdlib, "stdlib", false, "check every builtin and extension module of the Python's standard library")
	fs.BoolVar(&f.opts.SitePackages, "site-packages", false, "check every top-level module in site-packages that is or contains an extension")
	var paths pathList
	fs.Var(&paths, "path", "check every top-level module in `DIR` (and put DIR on sys.path); repeatable")
	var reqs pathList
	fs.StringVar(&f.opts.Venv, "venv", "", "run every check in the virtual environment `DIR` (made with the CPython this program links) and check its distributions with extension modules")
	fs.Var(&reqs, "requirements", "check the installed distributions named in the pip requirements file `FILE`; repeatable")
	fs.BoolVar(&f.opts.Shallow, "shallow", false, "check only the modules named or listed, not the extension modules inside packages")
	fs.BoolVar(&f.opts.AllModes, "all-modes", false, "import the extension modules inside packages in every mode, not only until one imports")
	fs.StringVar(&f.aboutFile, "about", "", "add the text of `FILE` to the reports (how and where they were measured)")
	fs.IntVar(&f.opts.Jobs, "jobs", runtime.NumCPU(), "run `N` child processes at once")
	fs.DurationVar(&f.opts.Timeout, "timeout", compat.DefaultTimeout, "give up on one import after `DURATION` (status timeout)")
	fs.StringVar(&f.jsonOut, "json", "", "write the report as JSON to `FILE` (- for stdout)")
	fs.StringVar(&f.mdOut, "markdown", "", "write the report as Markdown to `FILE` (- for stdout)")
	fs.StringVar(&f.htmlOut, "html", "", "write the report as a self-contained HTML page to `FILE` (- for stdout)")
	fs.BoolVar(&f.quiet, "quiet", false, "no progress or summary on stderr")
	fs.StringVar(&f.childReq, "internal-child", "", "run as a check child with this request")

	var names []string
	rest := args
	for {
		if code, done := parseFlags(fs, rest); done {
			return f, code, true
		}
		left := fs.Args()
		// After "--" everything is a module name.
		if n := len(rest) - len(left); n > 0 && rest[n-1] == "--" {
			names = append(names, left...)
			break
		}
		if len(left) == 0 {
			break
		}
		names = append(names, left[0])
		rest = left[1:]
	}
	if f.childReq != "" {
		return f, exitOK, false
	}
	f.opts.Modules, f.opts.Paths = names, paths

	usage := func(format string, args ...any) (compatFlags, int, bool) {
		return f, usageError(stderr, "compat", format, args...), true
	}
	for _, n := range names {
		if !compat.ValidModuleName(n) {
			return usage("%q is not a module name (dotted Python identifiers only, e.g. json or xml.etree)", n)
		}
	}
	for _, p := range paths {
		st, err := os.Stat(p)
		switch {
		case err != nil:
			return usage("--path %s: %v", p, errors.Unwrap(err))
		case !st.IsDir():
			return usage("--path %s is not a directory", p)
		}
	}
	for _, r := range reqs {
		dists, err := compat.ReadRequirements(r)
		if err != nil {
			return usage("--requirements: %v", strings.TrimPrefix(err.Error(), compat.ErrRequirements.Error()+": "))
		}
		if len(dists) == 0 {
			return usage("--requirements %s names no distribution", r)
		}
		f.opts.Distributions = append(f.opts.Distributions, dists...)
	}
	if f.aboutFile != "" {
		b, err := os.ReadFile(f.aboutFile)
		if err != nil {
			return usage("--about: %v", err)
		}
		f.opts.About = strings.TrimSpace(string(b))
	}
	if f.opts.Jobs < 1 {
		return usage("--jobs must be at least 1 (got %d)", f.opts.Jobs)
	}
	if f.opts.Timeout <= 0 {
		return usage("--timeout must be positive (got %v)", f.opts.Timeout)
	}
	if len(names) == 0 && !f.opts.Stdlib && !f.opts.SitePackages && len(paths) == 0 && f.opts.Venv == "" && len(reqs) == 0 {
		return usage("nothing to check: name MODULEs, or give --stdlib, --site-packages, --path DIR, --venv DIR or --requirements FILE")
	}
	dashes := 0
	for _, o := range []string{f.jsonOut, f.mdOut, f.htmlOut} {
		if o == "-" {
			dashes++
		}
	}
	if dashes > 1 {
		return usage("only one of --json, --markdown and --html can write to stdout (-)")
	}
	return f, exitOK, false
}

// output is one report file: its flag, its path ("" when not asked for,
// "-" for stdout) and the function that writes it.
type output struct {
	flag, path string
	write      func(io.Writer, *compat.Report) error
}

// checkOutputs lists the report files and checks, before the check runs,
// that each path can be written (checkWritable).
func checkOutputs(f compatFlags) ([]*output, error) {
	outs := []*output{
		{flag: "--json", path: f.jsonOut, write: compat.WriteJSON},
		{flag: "--markdown", path: f.mdOut, write: compat.WriteMarkdown},
		{flag: "--html", path: f.htmlOut, write: compat.WriteHTML},
	}
	for _, o := range outs {
		if o.path == "" || o.path == "-" {
			continue
		}
		if err := checkWritable(o.path); err != nil {
			return nil, fmt.Errorf("%s: %w", o.flag, err)
		}
	}
	return outs, nil
}

// errStdoutClosed stops a check whose stdout reader went away.
var errStdoutClosed = errors.New("stdout was closed (broken pipe)")

// execCompat runs the check and writes the reports.
func execCompat(f compatFlags, stdout, stderr io.Writer) int {
	outs, err := checkOutputs(f)
	if err != nil {
		return usageError(stderr, "compat", "%v", err)
	}

	exe, err := os.Executable()
	if err != nil {
		fmt.Fprintf(stderr, "subinterp compat: cannot find this program to start checks: %v\n", err)
		return exitFailed
	}
	f.opts.Command = []string{exe, "compat", "--internal-child"}

	// With SIGPIPE caught, a write to a closed stdout returns EPIPE
	// instead of killing the process before it can stop its children.
	pipeSig := make(chan os.Signal, 1)
	signal.Notify(pipeSig, syscall.SIGPIPE)
	defer signal.Stop(pipeSig)
	// Ctrl-C stops the check and its children; a process killed outright
	// takes its children along (compat starts them with Pdeathsig).
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var watchers sync.WaitGroup
	defer watchers.Wait()
	defer cancel(nil) // runs before Wait: ends the watcher
	if fd, ok := fdOf(stdout); ok && isPipe(fd) {
		watchers.Add(1)
		go func() {
			defer watchers.Done()
			if watchClosed(ctx, fd) {
				cancel(errStdoutClosed)
			}
		}()
	}

	var bar *statusLine
	if !f.quiet {
		if bar = newStatusLine(stderr); bar != nil {
			f.opts.Progress = func(p compat.Progress) {
				bar.draw(p.Done, p.Total, "modules", p.Elapsed, false, strings.Join(p.Running, " "))
			}
		}
	}
	rep, err := compat.Check(ctx, f.opts)
	bar.clear()
	switch {
	case errors.Is(context.Cause(ctx), errStdoutClosed):
		fmt.Fprintln(stderr, "subinterp compat: stopped: stdout was closed before the whole report was written")
		return exitFailed
	case err != nil && ctx.Err() != nil:
		fmt.Fprintln(stderr, "subinterp compat: interrupted")
		return exitInterrupted
	case errors.Is(err, compat.ErrInvalidOptions):
		return usageError(stderr, "compat", "%v", strings.TrimPrefix(err.Error(), compat.ErrInvalidOptions.Error()+": "))
	case err != nil:
		fmt.Fprintf(stderr, "subinterp compat: %v\n", err)
		return exitFailed
	}

	toStdout := false
	for _, o := range outs {
		var err error
		switch {
		case o.path == "":
			continue
		case o.path == "-":
			toStdout = true
			err = o.write(stdout, rep)
		default:
			err = writeFile(o.path, func(w io.Writer) error { return o.write(w, rep) })
		}
		if err != nil {
			return reportWriteError(stderr, o.flag, o.path, err)
		}
	}
	if !toStdout {
		if err := compat.WriteTable(stdout, rep); err != nil {
			return reportWriteError(stderr, "", "stdout", err)
		}
	}
	if !f.quiet {
		fmt.Fprintf(stderr, "subinterp compat: CPython %s: %s; %.1f s with %d jobs\n", rep.Python, rep.Summary(), rep.Seconds, rep.Jobs)
	}
	return exitOK
}

// reportWriteError reports a failed write of the report.
func reportWriteError(stderr io.Writer, flagName, path string, err error) int {
	if errors.Is(err, syscall.EPIPE) {
		fmt.Fprintln(stderr, "subinterp compat: stopped: stdout was closed before the whole report was written")
		return exitFailed
	}
	fmt.Fprintf(stderr, "subinterp compat: writing %s %s: %v\n", flagName, path, err)
	return exitFailed
}

// fdOf returns the file descriptor behind w, if it is an *os.File.
func fdOf(w io.Writer) (int, bool) {
	f, ok := w.(*os.File)
	if !ok || f == nil {
		return 0, false
	}
	return int(f.Fd()), true
}

func isPipe(fd int) bool {
	var st syscall.Stat_t
	return syscall.Fstat(fd, &st) == nil && st.Mode&syscall.S_IFMT == syscall.S_IFIFO
}

// watchClosed waits until the reader of the pipe fd goes away (the write
// end then reports EPOLLERR) and returns true, or until ctx ends (false).
// It lets a check whose output nobody will read stop at once, not minutes
// later when the report is written.
func watchClosed(ctx context.Context, fd int) bool {
	ep, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		return false
	}
	defer syscall.Close(ep)
	ev := syscall.EpollEvent{Events: syscall.EPOLLERR | syscall.EPOLLHUP, Fd: int32(fd)}
	if err := syscall.EpollCtl(ep, syscall.EPOLL_CTL_ADD, fd, &ev); err != nil {
		return false
	}
	events := make([]syscall.EpollEvent, 1)
	for ctx.Err() == nil {
		// A short timeout so that the watcher notices ctx ending.
		n, err := syscall.EpollWait(ep, events, 100)
		if err != nil && !errors.Is(err, syscall.EINTR) {
			return false
		}
		if n > 0 && events[0].Events&(syscall.EPOLLERR|syscall.EPOLLHUP) != 0 {
			return true
		}
	}
	return false
}
