package bench

import (
	"context"
	"errors"
	"fmt"

	"github.com/subinterp/subinterp/cpython"
)

// The subinterp-interpreters mode measures subinterp.interpreters'
// InterpreterPoolExecutor with py/peers.py, exactly as cpython-interpreters
// measures CPython 3.14's own: same plan, same backend code, same
// protocol. Only the process differs: subinterp.interpreters exists in
// subinterp's embedded runtime, so the peer is this binary re-executing
// itself (Options.SelfPeer) and running peers.py there (PeerMain), in a
// fresh process as every peer is, so that its memory figures start from
// nothing too.

// errNoSelfPeer is why ModeSubinterpInterpreters cannot run without
// Options.SelfPeer.
var errNoSelfPeer = errors.New("no command runs peers.py inside subinterp's embedded runtime (Options.SelfPeer is empty)")

// peerMainSrc runs the script argv[0] as __main__ with sys.argv = argv, as
// `python3.X script args...` does, and keeps its exit status in status:
// SystemExit's int code, 0 for None, 1 (after printing it) for anything
// else.
const peerMainSrc = `
import runpy, sys
sys.argv = list(argv)
try:
    runpy.run_path(argv[0], run_name="__main__")
    status = 0
except SystemExit as exc:
    status = exc.code
    if status is None:
        status = 0
    elif not isinstance(status, int):
        print(status, file=sys.stderr)
        status = 1
finally:
    for f in (sys.stdout, sys.stderr):
        if f is not None:
            f.flush()
`

// PeerMain runs a peers.py command line, args (the script's path, then its
// arguments), in rt's main interpreter, where subinterp.interpreters can
// be imported, as a plain python3.X runs it: the script reads its plan
// from this process's stdin and writes its lines to its stdout. It
// returns the script's exit status; an error only when the script could
// not run (args empty: ErrUsage; an exception that escaped it).
func PeerMain(ctx context.Context, rt *cpython.Runtime, args []string) (int, error) {
	if len(args) == 0 {
		return 0, fmt.Errorf("%w: the peer needs the path of peers.py", ErrUsage)
	}
	main := rt.Main()
	argv := make([]any, len(args))
	for i, a := range args {
		argv[i] = a
	}
	if err := main.Exec(ctx, peerMainSrc, cpython.WithGlobals(map[string]any{"argv": argv})); err != nil {
		return 0, fmt.Errorf("bench: running %s: %w", args[0], err)
	}
	status, err := cpython.EvalAs[int](ctx, main, "status")
	if err != nil {
		return 0, fmt.Errorf("bench: the exit status of %s: %w", args[0], err)
	}
	return status, nil
}

// selfPeerCmd is how Run starts the subinterp-interpreters peer:
// command[0] with command[1:] as its first arguments, before peers.py's.
func selfPeerCmd(command []string, dir string) (peerCmd, error) {
	if len(command) == 0 {
		return peerCmd{}, errNoSelfPeer
	}
	return peerCmd{python: command[0], flags: command[1:], dir: dir}, nil
}
