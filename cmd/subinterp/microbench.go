package main

import (
	"fmt"
	"io"
	"os"

	"github.com/subinterp/subinterp/bench"
	"github.com/subinterp/subinterp/cpython"
)

// microbenchAbout is the help text of `subinterp microbench`.
const microbenchAbout = `
Runs the project's standard measurements on the CPython build this binary
links, each next to what CPython itself offers for the same job:

  create+close  an isolated interpreter, with and without import site
                (peer: _interpreters.create()/destroy() in python3.X)
  call          Interpreter.Call round trip of an identity function on a
                warm interpreter, median and p99 (peers: a one-process
                ProcessPoolExecutor, a queue.Queue handoff to a thread,
                _interpreters.call and _interpreters.exec)
  parallel      CPU-bound throughput with 1..ncpu own-GIL interpreters,
                Python threads and shared-GIL interpreters

Peers run in python3.X of the same prefix through the peers script built
into this binary (bench/py/peers.py); when that python3.X is missing, or
lacks what a peer needs, the peer is skipped with a note. --quick takes
fewer samples and half-size work units: about 10 s on 2 cores instead of
about 25 s. Progress goes to stderr.`

// microbenchReport is what `subinterp microbench --json` prints: the build,
// then what bench measured.
type microbenchReport struct {
	Python pythonInfo `json:"python"`
	*bench.MicroReport
}

// cmdMicroBench is `subinterp microbench`.
func cmdMicroBench(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("microbench", "microbench [--json] [--quick]", microbenchAbout, stderr)
	asJSON := fs.Bool("json", false, "print the results as one JSON object")
	quick := fs.Bool("quick", false, "fewer samples and smaller work units: a rough picture in about 10 s")
	internalNoSite := fs.Bool("internal-nosite", false, "measure create+close with NoSite and print it as JSON (microbench runs itself this way)")
	internalN := fs.Int("internal-n", 30, "create+close rounds for --internal-nosite")
	if code, done := parseFlags(fs, args); done {
		return code
	}
	if fs.NArg() > 0 {
		return usageError(stderr, "microbench", "unexpected argument %q", fs.Arg(0))
	}

	m, code, ok := startMeasuring("microbench", cpython.RuntimeOptions{NoSite: *internalNoSite}, stderr)
	if !ok {
		return code
	}
	defer m.finish(*internalNoSite)
	if *internalNoSite {
		if err := bench.MicroNoSiteMain(m.ctx, m.rt, *internalN, stdout); err != nil {
			return m.fail(err)
		}
		return exitOK
	}

	info, err := describePython(m.ctx, m.rt)
	if err != nil {
		return m.fail(err)
	}
	opts := bench.MicroOptions{Quick: *quick, Python: info.PythonBinary, Progress: stderr}
	if opts.Python == "" {
		opts.NoPython = fmt.Sprintf("no python%s in %s/bin", cpython.MajorMinor(info.Version), info.Prefix)
	}
	if exe, err := os.Executable(); err == nil {
		opts.NoSiteProbe = []string{exe, "microbench", "--internal-nosite", "--internal-n"}
	}
	rep, err := bench.RunMicro(m.ctx, m.rt, opts)
	if err != nil {
		return m.fail(err)
	}
	if *asJSON {
		if err := encodeJSON(stdout, microbenchReport{Python: info, MicroReport: rep}); err != nil {
			return m.fail(err)
		}
		return exitOK
	}
	build := "release"
	if info.Debug {
		build = "debug"
	}
	bench.WriteMicroText(stdout, rep, fmt.Sprintf("CPython %s (%s build, %s)", info.Version, build, info.Prefix))
	return exitOK
}
