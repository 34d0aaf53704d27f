// Package cpython embeds CPython and runs Python code in many interpreters
// at once, each with its own GIL (PEP 684), from any goroutine.
//
//	rt, err := cpython.Initialize(cpython.RuntimeOptions{}) // once per process
//	if err != nil {
//		log.Fatal(err)
//	}
//	defer rt.Finalize()
//
//	in, err := rt.NewInterpreter(cpython.IsolatedConfig()) // own GIL, own OS thread
//	if err != nil {
//		log.Fatal(err)
//	}
//	defer in.Close()
//
//	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
//	defer cancel()
//	if err := in.Exec(ctx, "def score(doc, *, weight=1): return weight * len(doc['text'].split())"); err != nil {
//		log.Fatal(err)
//	}
//	type Doc struct {
//		Text string `json:"text"` // a struct crosses as a dict keyed by json names
//	}
//	n, err := cpython.CallAs[int](ctx, in, "score", Doc{"to be or not to be"}, cpython.Kwargs{"weight": 2})
//	fmt.Println(n, err) // 12 <nil>
//
//	var rf *cpython.RunFailedError
//	_, err = in.Call(ctx, "score", "not a dict")
//	fmt.Println(errors.As(err, &rf), rf.Type) // true TypeError
//
// The pieces:
//
//   - A Runtime is CPython itself, started once per process (Initialize)
//     and ended by Finalize; it owns the channels (Channels) Go and every
//     interpreter share, and the Go functions Python may call
//     (RegisterFunc).
//   - An Interpreter runs one call at a time on its own OS thread: Exec runs
//     code in __main__, Eval evaluates an expression, Call calls a function
//     by name with Go values, a trailing Kwargs and ExecOptions
//     (WithStdout, WithStderr, WithGlobals). A call's context bounds it:
//     when it ends the Python code is interrupted (*InterruptedError).
//   - A Pool keeps warm interpreters that ran a Prelude, queues callers and
//     replaces an interpreter only when it is really broken (or at
//     MaxTasksPerInterpreter), from ready spares when PoolOptions.Spares
//     asks for them; it has the same Exec, Eval and Call.
//   - Values convert by one set of rules, package channel's: Go numbers,
//     strings, slices, maps, structs (by json tags), time.Time and
//     time.Duration become Python objects; results come back as the
//     canonical Go types (int64, string, []any, channel.Dict, ...) or, with
//     CallAs and EvalAs, as the Go type you name, with an error naming the
//     field and both types when they do not fit.
//   - An exception Python does not catch is a *RunFailedError (Type,
//     Message, Traceback); the other errors wrap the sentinels below
//     (errors.Is).
//
// # Threads
//
// CPython binds its thread state to the OS thread, and Go moves goroutines
// between OS threads. So every interpreter is served by one goroutine locked
// to its own OS thread for the interpreter's whole life (thread.go); all C-API
// calls for that interpreter happen there. Any goroutine may call an
// Interpreter's methods: a call is handed to that thread and its result
// handed back. The main interpreter has such a thread too, started by
// Initialize; Python installs no signal handlers (Go owns signals).
//
// Between calls an interpreter's thread state is detached, so Python
// threads its code started can run, and an own-GIL interpreter's GIL is
// free. The exact attach, detach, create and end sequences, checked under a
// --with-pydebug CPython, live in one C file, lifecycle.c.
//
// # A call
//
// Call("mod.f", args...) goes through these steps:
//
//  1. encode: the Go arguments become the wire format of package channel,
//     in Go memory;
//  2. hand-off: the task is stored in the thread's slot and the thread
//     woken (it spins for a while after each task, so a call soon after
//     the last one finds it awake; see internal/handoff for why);
//  3. attach: the thread takes the interpreter's GIL;
//  4. run: the C side decodes the arguments into Python objects, resolves
//     "mod.f" (importing mod if needed) and calls it;
//  5. encode: the result becomes the wire format again (an exception
//     becomes a *RunFailedError with its traceback);
//  6. hand-off back: the thread detaches and notifies the caller, which
//     was spinning, then parked;
//  7. decode: the caller turns the wire format into Go values.
//
// # Cancellation
//
// When a call's context ends, the Python code gets a KeyboardInterrupt at
// its next bytecode boundary, raised again while it keeps running; a call
// whose context ends before its code started never runs it. The call
// returns an *InterruptedError once the code has stopped, or after the
// interrupt grace (RuntimeOptions.InterruptGrace) if the code is inside a C
// call that does not return to Python: then Stopped is false and the
// interpreter stays busy until that C call returns. Python code blocked in
// Go (channel waits, run(), host functions) wakes at once.
//
// # Channel ends
//
// Channels live in Go memory (Runtime.Channels) and are shared by Go and
// every interpreter. A channel end that a result carries back to Go is
// bound to Go: Release it when done. Ends passed to Python stay valid as
// long as Python holds them.
//
// # Where Python comes from
//
// The program links the shared libpython it was built against and finds it
// through its rpath. Initialize uses RuntimeOptions.Home as the Python home
// when set; otherwise the executable's own directory when it holds
// lib/python3.X/os.py for this CPython version (the layout `subinterp
// bundle` makes, so a bundled program needs no options and no
// environment); otherwise the prefix CPython was built for. PYTHONHOME and
// the other PYTHON* variables are ignored.
//
// # More
//
// README.md has the value conversion table, the Python module and the
// limits; docs/python-api.md the Python API; internal/handoff the
// measured cost of waking threads that shapes the design.
package cpython
