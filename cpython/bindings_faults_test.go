package cpython_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"
	"weak"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/subinterp/subinterp/channel"
	"github.com/subinterp/subinterp/cpython"
)

// Faults in the bindings package (the C subinterp module and its Go
// callbacks): each test drives one through the public API.

type panicWriter struct{}

func (panicWriter) Write([]byte) (int, error) { panic("writer exploded") }

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

// TestPanickingWriter: an io.Writer that panics raises in Python like one
// that fails, instead of taking the process down, and the interpreter
// stays usable.
func TestPanickingWriter(t *testing.T) {
	for _, stream := range []struct {
		name string
		src  string
		with func(io.Writer) cpython.ExecOption
	}{
		{"stdout", "print('x')", cpython.WithStdout},
		{"stderr", "import sys\nprint('x', file=sys.stderr)", cpython.WithStderr},
	} {
		t.Run(stream.name, func(t *testing.T) {
			for _, in := range []*cpython.Interpreter{rt.Main(), newInterp(t), newInterp(t, cpython.LegacyConfig())} {
				var rf *cpython.RunFailedError
				require.ErrorAs(t, in.Exec(bg, stream.src, stream.with(failWriter{})), &rf)
				assert.Equal(t, "OSError", rf.Type)
				assert.Equal(t, "write to Go writer failed: disk full", rf.Message)

				require.ErrorAs(t, in.Exec(bg, stream.src, stream.with(panicWriter{})), &rf)
				assert.Equal(t, "OSError", rf.Type, "the same type as a failing writer")
				assert.Equal(t, "write to Go writer failed: io.Writer panicked: writer exploded", rf.Message)

				var buf bytes.Buffer
				require.NoError(t, in.Exec(bg, stream.src, stream.with(&buf)), "interpreter %d still usable", in.ID())
				assert.Equal(t, "x\n", buf.String())
			}
		})
	}
}

// writerCollected runs exec with a fresh writer and reports whether the
// writer can be collected afterwards: a cgo handle that was never deleted
// keeps it reachable for good.
func writerCollected(exec func(w io.Writer)) bool {
	wp := func() weak.Pointer[bytes.Buffer] {
		w := new(bytes.Buffer)
		exec(w)
		return weak.Make(w)
	}()
	for i := 0; i < 5 && wp.Value() != nil; i++ {
		runtime.GC()
	}
	return wp.Value() == nil
}

// TestOutputRedirectionReleasesWriters: the handles that lend Go writers to
// Python are freed when the call ends, also when the redirection fails
// before Python took them (here: the subinterp module cannot be imported).
func TestOutputRedirectionReleasesWriters(t *testing.T) {
	in := newInterp(t)
	pyOK(t, in, "import sys")
	for _, c := range []struct {
		name     string
		sabotage bool
	}{
		{"redirected", false},
		{"redirection fails", true},
	} {
		t.Run(c.name, func(t *testing.T) {
			if c.sabotage {
				pyOK(t, in, "saved = sys.modules.pop('subinterp', None); sys.modules['subinterp'] = None")
				defer pyOK(t, in, "del sys.modules['subinterp']\nif saved is not None: sys.modules['subinterp'] = saved")
			}
			for _, streams := range []string{"stdout", "stderr", "both"} {
				ok := writerCollected(func(w io.Writer) {
					var opts []cpython.ExecOption
					if streams != "stderr" {
						opts = append(opts, cpython.WithStdout(w))
					}
					if streams != "stdout" {
						opts = append(opts, cpython.WithStderr(w))
					}
					err := in.Exec(bg, "import sys\nfor f in streams: print('x', file=getattr(sys, f))", append(opts,
						cpython.WithGlobals(map[string]any{"streams": strings.Fields(strings.ReplaceAll(streams, "both", "stdout stderr"))}))...)
					if !c.sabotage {
						assert.NoError(t, err)
						return
					}
					var rf *cpython.RunFailedError
					if assert.ErrorAs(t, err, &rf) {
						assert.Equal(t, "ModuleNotFoundError", rf.Type)
						assert.Equal(t, "import of subinterp halted; None in sys.modules", rf.Message)
					}
				})
				assert.True(t, ok, "%s: the writer is still referenced (a leaked cgo handle)", streams)
			}
		})
	}
	pyOK(t, in, "import subinterp") // the module is back
}

// TestRunFailedErrorFallback: when RunFailedError or its RemoteError cause
// cannot be made (Python code replaced their __init__), run() raises a
// plain RuntimeError with the same text, the failure as its __context__,
// instead of whatever the broken constructor raised.
func TestRunFailedErrorFallback(t *testing.T) {
	in := newInterp(t)
	pyOK(t, in, `
import subinterp
inner = subinterp.create()
def broken(self, *args):
    raise LookupError("broken __init__")
def outcome():
    try:
        inner.run("raise ValueError('bad value')")
    except Exception as e:
        return (type(e).__name__, str(e), type(e.__cause__).__name__, type(e.__context__).__name__)
`)
	defer pyOK(t, in, "inner.close()")
	for _, c := range []struct {
		name  string
		patch string
		want  channel.Tuple
	}{
		{"intact", "", channel.Tuple{"RunFailedError", "ValueError: bad value", "RemoteError", "NoneType"}},
		{"RunFailedError broken", "subinterp.RunFailedError.__init__ = broken",
			channel.Tuple{"RuntimeError", "ValueError: bad value", "RemoteError", "LookupError"}},
		{"RemoteError broken", "subinterp.RemoteError.__init__ = broken",
			channel.Tuple{"RuntimeError", "ValueError: bad value", "NoneType", "LookupError"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			if c.patch != "" {
				pyOK(t, in, c.patch)
				defer pyOK(t, in, "for tp in (subinterp.RunFailedError, subinterp.RemoteError):\n    if '__init__' in vars(tp): del tp.__init__")
			}
			assert.Equal(t, c.want, evalPy(t, in, "outcome()"))
		})
	}
}

// TestChannelEndOutlivesModuleState: a send end that dies after its module's
// m_clear emptied the module state still releases its send binding, not a
// receive binding. (CPython 3.13 ends an interpreter's last channel end
// before that; the test calls m_clear through ctypes to get there.)
func TestChannelEndOutlivesModuleState(t *testing.T) {
	in := newInterp(t, cpython.LegacyConfig())
	if err := in.Exec(bg, "import ctypes"); err != nil {
		t.Skipf("no ctypes: %v", err)
	}
	r, s, err := rt.Channels().Create(channel.Options{})
	require.NoError(t, err)
	pyOK(t, in, `
import ctypes, sys
class PyModuleDef(ctypes.Structure):
    _fields_ = [("ob_refcnt", ctypes.c_ssize_t), ("ob_type", ctypes.c_void_p),
                ("m_init", ctypes.c_void_p), ("m_index", ctypes.c_ssize_t), ("m_copy", ctypes.c_void_p),
                ("m_name", ctypes.c_char_p), ("m_doc", ctypes.c_char_p), ("m_size", ctypes.c_ssize_t),
                ("m_methods", ctypes.c_void_p), ("m_slots", ctypes.c_void_p),
                ("m_traverse", ctypes.c_void_p), ("m_clear", ctypes.c_void_p), ("m_free", ctypes.c_void_p)]
ctypes.pythonapi.PyModule_GetDef.restype = ctypes.POINTER(PyModuleDef)
ctypes.pythonapi.PyModule_GetDef.argtypes = [ctypes.py_object]
mod = sys.modules.pop("subinterp")    # the end's module; later imports make a new one
definition = ctypes.pythonapi.PyModule_GetDef(mod).contents
assert definition.m_name == b"subinterp"
assert ctypes.PYFUNCTYPE(ctypes.c_int, ctypes.py_object)(definition.m_clear)(mod) == 0
del end    # the last reference: its module state is empty now
`, cpython.WithGlobals(map[string]any{"end": s}))
	require.NoError(t, s.Release(), "Go's own send binding")
	// Python's send binding is gone and Go's receive binding is intact: the
	// last release destroys the channel.
	require.NoError(t, r.Release(), "Go's receive binding must not have been released for Python's send end")
	_, _, err = rt.Channels().Lookup(r.ID())
	assert.ErrorIs(t, err, channel.ErrNotFound)
}

// TestHostFuncPrivateNames: names with a leading underscore are served like
// any other; __dunder__ names, which Python looks up on subinterp.host
// itself, are refused at registration.
func TestHostFuncPrivateNames(t *testing.T) {
	require.NoError(t, rt.RegisterFunc("_hf_private", func(x int) int { return x * 2 }))
	require.NoError(t, rt.RegisterFunc("__hf_mangled", func() string { return "ok" }))
	for _, in := range []*cpython.Interpreter{rt.Main(), newInterp(t)} {
		pyOK(t, in, `
import subinterp
h = subinterp.host
assert h._hf_private(21) == 42
assert getattr(h, "__hf_mangled")() == "ok"
assert {"_hf_private", "__hf_mangled"} <= set(dir(h))
assert isinstance(h, type(h)) and h.__class__ is type(h)
`)
	}
	for _, name := range []string{"__hf_dunder__", "__class__", "__reduce_ex__"} {
		err := rt.RegisterFunc(name, func() {})
		assert.ErrorIs(t, err, cpython.ErrFuncRegistration, name)
		assert.ErrorContains(t, err, "__dunder__ names are reserved for Python's special attributes", name)
	}
}

// TestCallImportErrors: Call reports the import error of the module it
// names, not a missing attribute of its package.
func TestCallImportErrors(t *testing.T) {
	dir := t.TempDir()
	pkg := filepath.Join(dir, "bfpkg")
	require.NoError(t, os.Mkdir(pkg, 0o755))
	for name, src := range map[string]string{
		"__init__.py": "",
		"ok.py":       "def f(): return 'ok'\n",
		"sub.py":      "import bfpk\ndef f(): pass\n",     // a missing module whose name starts like the package's
		"sub2.py":     "import bfpkg.su\ndef f(): pass\n", // ... and one that starts like "bfpkg.sub2"
	} {
		require.NoError(t, os.WriteFile(filepath.Join(pkg, name), []byte(src), 0o644))
	}
	in := newInterp(t)
	pyOK(t, in, "import sys\nsys.path.insert(0, dir)", cpython.WithGlobals(map[string]any{"dir": dir}))

	v, err := in.Call(bg, "bfpkg.ok.f")
	require.NoError(t, err)
	assert.Equal(t, "ok", v)
	for fn, want := range map[string][2]string{
		"bfpkg.sub.f":    {"ModuleNotFoundError", "No module named 'bfpk'"},
		"bfpkg.sub2.f":   {"ModuleNotFoundError", "No module named 'bfpkg.su'"},
		"bfpkg.nosuch.f": {"AttributeError", "module 'bfpkg' has no attribute 'nosuch'"},
		"bfpk_nosuch.f":  {"ModuleNotFoundError", "No module named 'bfpk_nosuch'"},
	} {
		_, err := in.Call(bg, fn)
		var rf *cpython.RunFailedError
		if assert.ErrorAs(t, err, &rf, fn) {
			assert.Equal(t, want, [2]string{rf.Type, rf.Message}, fn)
		}
	}
}

// sink keeps the nil dereference below from being optimised away.
var sink int

// TestPythonCannotTakeSignals: Python code in any interpreter cannot
// install signal handlers or enable faulthandler (both take over signals Go
// relies on), by any route; reading the state still works. Afterwards Go's
// signal handling is intact: os/signal delivers SIGUSR1, and a nil
// dereference Go recovers from does not kill the process.
func TestPythonCannotTakeSignals(t *testing.T) {
	const refused = "subinterp: Go owns the process's signals; %s(...) is refused (see README, Limits)"
	for _, c := range []struct {
		name string
		in   *cpython.Interpreter
	}{
		{"main", rt.Main()},
		{"legacy", newInterp(t, cpython.LegacyConfig())},
		{"isolated", newInterp(t)},
	} {
		t.Run(c.name, func(t *testing.T) {
			for call, what := range map[string]string{
				"import signal\nsignal.signal(signal.SIGUSR1, signal.SIG_IGN)":     "signal.signal",
				"import _signal\n_signal.signal(_signal.SIGUSR1, _signal.SIG_IGN)": "signal.signal",
				"import signal\nsignal.set_wakeup_fd(-1)":                          "signal.set_wakeup_fd",
				"import signal\nsignal.siginterrupt(signal.SIGUSR1, False)":        "signal.siginterrupt",
				"import sys, _signal\ndel sys.modules['_signal']\nimport _signal as fresh\nassert fresh is not _signal\nfresh.signal(fresh.SIGUSR1, fresh.SIG_IGN)": "signal.signal",
				faulthandler + "faulthandler.enable()":                                                                  "faulthandler.enable",
				faulthandler + "faulthandler.enable(all_threads=True)":                                                  "faulthandler.enable",
				faulthandler + "import signal\nfaulthandler.register(signal.SIGUSR1)":                                   "faulthandler.register",
				faulthandler + "import sys\ndel sys.modules['faulthandler']\n" + faulthandler + "faulthandler.enable()": "faulthandler.enable",
			} {
				var rf *cpython.RunFailedError
				if assert.ErrorAs(t, c.in.Exec(bg, call), &rf, call) {
					assert.Equal(t, "RuntimeError", rf.Type, call)
					assert.Equal(t, fmt.Sprintf(refused, what), rf.Message, call)
				}
			}
			pyOK(t, c.in, faulthandler+`
import signal, tempfile
assert signal.getsignal(signal.SIGUSR1) is None    # Go's handler, not one set from Python
assert faulthandler.is_enabled() is False
with tempfile.TemporaryFile() as f:
    faulthandler.dump_traceback(f)
    f.seek(0)
    assert b"line" in f.read()
`)
		})
	}

	got := make(chan os.Signal, 1)
	signal.Notify(got, syscall.SIGUSR1)
	defer signal.Stop(got)
	require.NoError(t, syscall.Kill(os.Getpid(), syscall.SIGUSR1))
	select {
	case sig := <-got:
		assert.Equal(t, syscall.SIGUSR1, sig)
	case <-time.After(30 * time.Second):
		t.Fatal("SIGUSR1 never reached os/signal")
	}

	recovered := make(chan any, 1)
	go func() {
		defer func() { recovered <- recover() }()
		var p *int
		sink = *p
	}()
	assert.ErrorContains(t, (<-recovered).(error), "nil pointer dereference")
}

// faulthandler imports faulthandler, also in an isolated interpreter,
// where its plain import fails (it lacks per-interpreter GIL support) but
// _imp's override for tests lets it in: Python code could do that too.
const faulthandler = `import _imp
try:
    import faulthandler
except ImportError:
    _old = _imp._override_multi_interp_extensions_check(-1)
    try:
        import faulthandler
    finally:
        _imp._override_multi_interp_extensions_check(_old)
`
