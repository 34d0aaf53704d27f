package cpython_test

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"math/big"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/subinterp/subinterp/channel"
	"github.com/subinterp/subinterp/cpython"
)

func TestRuntimeBasics(t *testing.T) {
	assert.Regexp(t, `^3\.1[2-9]\.\d+`, rt.Version())
	main := rt.Main()
	require.NotNil(t, main)
	assert.True(t, main.IsMain())
	assert.Equal(t, int64(0), main.ID())
	v, err := main.Eval(bg, "6 * 7")
	require.NoError(t, err)
	assert.Equal(t, int64(42), v)

	in := newInterp(t)
	all := rt.Interpreters()
	require.GreaterOrEqual(t, len(all), 2)
	assert.True(t, all[0].IsMain(), "main interpreter first")
	assert.Contains(t, all, in)
	assert.False(t, in.IsMain())
	assert.Equal(t, cpython.IsolatedConfig(), in.Config())
}

func TestConfigs(t *testing.T) {
	iso := cpython.IsolatedConfig()
	assert.True(t, iso.OwnGIL)
	assert.False(t, iso.UseMainObmalloc)
	assert.True(t, iso.CheckMultiInterpExtensions)
	assert.True(t, iso.AllowThreads)
	assert.False(t, iso.AllowDaemonThreads || iso.AllowFork || iso.AllowExec)
	legacy := cpython.LegacyConfig()
	assert.False(t, legacy.OwnGIL)
	assert.True(t, legacy.UseMainObmalloc && legacy.AllowFork && legacy.AllowExec && legacy.AllowDaemonThreads)

	for name, cfg := range map[string]cpython.Config{
		"own GIL with main obmalloc":      {OwnGIL: true, UseMainObmalloc: true, CheckMultiInterpExtensions: true},
		"own obmalloc without ext checks": {OwnGIL: true},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := rt.NewInterpreter(cfg)
			assert.ErrorIs(t, err, cpython.ErrInvalidConfig)
		})
	}
}

func TestPythonModule(t *testing.T) {
	iso := newInterp(t)
	legacy := newInterp(t, cpython.LegacyConfig())
	for _, in := range []*cpython.Interpreter{iso, legacy} {
		require.NoError(t, in.Exec(bg, "import subinterp"))
		id, err := in.Eval(bg, "subinterp.get_current().id")
		require.NoError(t, err)
		assert.Equal(t, in.ID(), id)
		isolated, err := in.Eval(bg, "subinterp.get_current().isolated")
		require.NoError(t, err)
		assert.Equal(t, in.Config().OwnGIL, isolated)
		mainID, err := in.Eval(bg, "(subinterp.get_main().id, subinterp.get_main().isolated)")
		require.NoError(t, err)
		assert.Equal(t, channel.Tuple{int64(0), false}, mainID)
		ids, err := in.Eval(bg, "[i.id for i in subinterp.list_all()]")
		require.NoError(t, err)
		var want []any
		for _, x := range rt.Interpreters() {
			want = append(want, x.ID())
		}
		assert.Equal(t, want, ids)
		eq, err := in.Eval(bg, "subinterp.get_current() == subinterp.get_current() and subinterp.get_current() != subinterp.get_main()")
		require.NoError(t, err)
		assert.Equal(t, true, eq)
	}
	shareable, err := iso.Eval(bg, "[subinterp.is_shareable(x) for x in (1, 'a', b'b', None, (1, [2]), {1: 2}, object(), subinterp.get_main())]")
	require.NoError(t, err)
	assert.Equal(t, []any{true, true, true, true, true, true, false, false}, shareable)
	_, err = iso.Eval(bg, "subinterp.Interpreter()")
	assert.ErrorContains(t, err, "TypeError")
}

func TestExecKeepsMainNamespace(t *testing.T) {
	in := newInterp(t)
	require.NoError(t, in.Exec(bg, "counter = 1\ndef bump(n):\n    global counter\n    counter += n\n    return counter"))
	v, err := in.Call(bg, "bump", 41)
	require.NoError(t, err)
	assert.Equal(t, int64(42), v)
	v, err = in.Eval(bg, "counter")
	require.NoError(t, err)
	assert.Equal(t, int64(42), v)
}

func TestCallResolvesNames(t *testing.T) {
	in := newInterp(t)
	require.NoError(t, in.Exec(bg, "class K:\n    @staticmethod\n    def twice(x):\n        return 2 * x\nk = K()"))
	cases := []struct {
		fn   string
		args []any
		want any
	}{
		{"json.dumps", []any{[]any{int64(1), "a"}}, `[1, "a"]`},
		{"os.path.join", []any{"a", "b"}, "a/b"},
		{"len", []any{"abc"}, int64(3)},
		{"K.twice", []any{21}, int64(42)},
		{"k.twice", []any{2}, int64(4)},
		{"collections.OrderedDict.fromkeys", []any{channel.Tuple{"x"}}, nil},
	}
	for _, c := range cases {
		t.Run(c.fn, func(t *testing.T) {
			v, err := in.Call(bg, c.fn, c.args...)
			if c.fn == "collections.OrderedDict.fromkeys" {
				// An OrderedDict is a dict subclass: not shareable as a result.
				assert.ErrorIs(t, err, cpython.ErrNotShareable)
				assert.ErrorContains(t, err, "OrderedDict")
				return
			}
			require.NoError(t, err)
			assert.Equal(t, c.want, v)
		})
	}
}

// TestValueRoundTrip sends Go values into Python and back: type and value
// survive, and Python sees the documented type.
func TestValueRoundTrip(t *testing.T) {
	in := newInterp(t)
	require.NoError(t, in.Exec(bg, "def ident(x):\n    return x\ndef tname(x):\n    return type(x).__name__"))
	big1, _ := new(big.Int).SetString("123456789012345678901234567890", 10)
	big2 := new(big.Int).Neg(new(big.Int).Lsh(big.NewInt(1), 64))
	cases := []struct {
		name   string
		in     any
		want   any // canonical form; nil means same as in
		pyType string
	}{
		{"nil", nil, nil, "NoneType"},
		{"true", true, nil, "bool"},
		{"false", false, nil, "bool"},
		{"int", 7, int64(7), "int"},
		{"negative int64", int64(math.MinInt64), nil, "int"},
		{"max int64", int64(math.MaxInt64), nil, "int"},
		{"uint64 above int64", uint64(math.MaxUint64), new(big.Int).SetUint64(math.MaxUint64), "int"},
		{"big", big1, nil, "int"},
		{"negative big", big2, nil, "int"},
		{"float", 1.5, nil, "float"},
		{"nan", math.NaN(), nil, "float"},
		{"inf", math.Inf(1), nil, "float"},
		{"-inf", math.Inf(-1), nil, "float"},
		{"negative zero", math.Copysign(0, -1), nil, "float"},
		{"string", "héllo", nil, "str"},
		{"non-BMP", "emoji 😀 𝄞", nil, "str"},
		{"embedded NUL", "a\x00b", nil, "str"},
		{"empty string", "", nil, "str"},
		{"bytes", []byte("a\x00b\xff"), nil, "bytes"},
		{"empty bytes", []byte{}, nil, "bytes"},
		{"list", []any{int64(1), "x", nil}, nil, "list"},
		{"typed slice", []string{"a", "b"}, []any{"a", "b"}, "list"},
		{"tuple", channel.Tuple{int64(1), channel.Tuple{}}, nil, "tuple"},
		{"dict order", channel.Dict{{Key: "z", Value: int64(1)}, {Key: "a", Value: int64(2)}, {Key: int64(3), Value: nil}}, nil, "dict"},
		{"go map", map[string]int{"b": 2, "a": 1}, channel.Dict{{Key: "a", Value: int64(1)}, {Key: "b", Value: int64(2)}}, "dict"},
		{"nested", []any{channel.Dict{{Key: channel.Tuple{int64(1), "k"}, Value: []any{[]byte("v"), 2.5}}}}, nil, "list"},
		{"struct", struct {
			A int `json:"a"`
			B string
		}{1, "x"}, channel.Dict{{Key: "a", Value: int64(1)}, {Key: "B", Value: "x"}}, "dict"},
		{"pointer to struct", &struct{ P *int }{}, channel.Dict{{Key: "P", Value: nil}}, "dict"},
		{"time", time.Date(2026, 12, 1, 23, 0, 0, 123456000, time.FixedZone("x", -3600)), time.Date(2026, 12, 2, 0, 0, 0, 123456000, time.UTC), "datetime"},
		{"earliest time", time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC), nil, "datetime"},
		{"latest time", time.Date(9999, 12, 31, 23, 59, 59, 999999000, time.UTC), nil, "datetime"},
		{"duration", -36*time.Hour - time.Microsecond, nil, "timedelta"},
		{"longest duration", time.Duration(math.MaxInt64 / 1000 * 1000), nil, "timedelta"},
		{"set", channel.Set{"only"}, nil, "set"},
		{"frozenset", channel.FrozenSet{channel.Tuple{int64(1)}}, nil, "frozenset"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			want := c.want
			if want == nil && c.in != nil {
				var err error
				want, err = channel.Normalize(c.in)
				require.NoError(t, err)
			}
			got, err := in.Call(bg, "ident", c.in)
			require.NoError(t, err)
			assert.True(t, channel.Equal(want, got), "got %#v, want %#v", got, want)
			typ, err := in.Call(bg, "tname", c.in)
			require.NoError(t, err)
			assert.Equal(t, c.pyType, typ)
		})
	}
	// Python-made values come back with the documented Go types.
	v, err := in.Eval(bg, "(float('nan'), -0.0, 2**70, -2**70, '\\U0001F600', b'\\x00', {'b': 1, 'a': 2}, [None, True])")
	require.NoError(t, err)
	tup := v.(channel.Tuple)
	assert.True(t, math.IsNaN(tup[0].(float64)))
	assert.True(t, math.Signbit(tup[1].(float64)))
	assert.Equal(t, "1180591620717411303424", tup[2].(*big.Int).String())
	assert.Equal(t, "-1180591620717411303424", tup[3].(*big.Int).String())
	assert.Equal(t, "😀", tup[4])
	assert.Equal(t, []byte{0}, tup[5])
	assert.Equal(t, channel.Dict{{Key: "b", Value: int64(1)}, {Key: "a", Value: int64(2)}}, tup[6])
	assert.Equal(t, []any{nil, true}, tup[7])
	// A lone surrogate is a valid Python str: it survives the trip too.
	v, err = in.Eval(bg, "ident('\\ud800x') == '\\ud800x'")
	require.NoError(t, err)
	assert.Equal(t, true, v)
}

func TestOutputAndGlobals(t *testing.T) {
	in := newInterp(t)
	var out, errOut bytes.Buffer
	err := in.Exec(bg, "import sys\nprint(greeting, n * 2)\nprint('oops', file=sys.stderr)",
		cpython.WithStdout(&out), cpython.WithStderr(&errOut),
		cpython.WithGlobals(map[string]any{"greeting": "hi", "n": 21}))
	require.NoError(t, err)
	assert.Equal(t, "hi 42\n", out.String())
	assert.Equal(t, "oops\n", errOut.String())
	// The redirect lasts for the call only.
	v, err := in.Eval(bg, "type(__import__('sys').stdout).__name__")
	require.NoError(t, err)
	assert.Equal(t, "TextIOWrapper", v)

	err = in.Exec(bg, "x = 1", cpython.WithGlobals(map[string]any{"bad": make(chan int)}))
	assert.ErrorIs(t, err, cpython.ErrNotShareable)
	assert.ErrorContains(t, err, "chan int")
}

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, assert.AnError }

func TestOutputWriterError(t *testing.T) {
	in := newInterp(t)
	err := in.Exec(bg, "print('x')", cpython.WithStdout(failingWriter{}))
	var rf *cpython.RunFailedError
	require.ErrorAs(t, err, &rf)
	assert.Equal(t, "OSError", rf.Type)
	assert.Contains(t, rf.Message, assert.AnError.Error())
}

func TestBadInput(t *testing.T) {
	in := newInterp(t)
	runFailed := func(t *testing.T, err error) *cpython.RunFailedError {
		t.Helper()
		var rf *cpython.RunFailedError
		require.ErrorAs(t, err, &rf)
		return rf
	}
	t.Run("syntax error", func(t *testing.T) {
		rf := runFailed(t, in.Exec(bg, "x = 1\ndef f(:\n  pass"))
		assert.Equal(t, "SyntaxError", rf.Type)
		assert.Contains(t, rf.Message, "line 2")
	})
	t.Run("exception with traceback", func(t *testing.T) {
		rf := runFailed(t, in.Exec(bg, "def inner():\n    return 1 / 0\ndef outer():\n    inner()\nouter()"))
		assert.Equal(t, "ZeroDivisionError", rf.Type)
		assert.Equal(t, "division by zero", rf.Message)
		assert.Contains(t, rf.Traceback, "Traceback (most recent call last)")
		assert.Contains(t, rf.Traceback, "in outer")
		assert.Contains(t, rf.Traceback, "in inner")
		assert.Contains(t, rf.Traceback, "line 2")
	})
	t.Run("custom exception type", func(t *testing.T) {
		rf := runFailed(t, in.Exec(bg, "import json\njson.loads('{')"))
		assert.Equal(t, "json.decoder.JSONDecodeError", rf.Type)
	})
	t.Run("sys.exit", func(t *testing.T) {
		rf := runFailed(t, in.Exec(bg, "import sys\nsys.exit(3)"))
		assert.Equal(t, "SystemExit", rf.Type)
		assert.Equal(t, "3", rf.Message)
		v, err := in.Eval(bg, "'still alive'")
		require.NoError(t, err)
		assert.Equal(t, "still alive", v)
	})
	t.Run("fork in isolated interpreter", func(t *testing.T) {
		rf := runFailed(t, in.Exec(bg, "import os\nos.fork()"))
		assert.Equal(t, "RuntimeError", rf.Type)
		assert.Contains(t, rf.Message, "fork")
	})
	t.Run("exec in isolated interpreter", func(t *testing.T) {
		rf := runFailed(t, in.Exec(bg, "import os\nos.execv('/bin/true', ['true'])"))
		assert.Equal(t, "RuntimeError", rf.Type)
		assert.Contains(t, rf.Message, "exec")
	})
	t.Run("subprocess in isolated interpreter", func(t *testing.T) {
		// CPython lets subprocess fork+exec in a child even with AllowExec
		// false (it gates os.exec* in this process); only preexec_fn, which
		// would run Python in the child, is refused.
		v, err := in.Eval(bg, "__import__('subprocess').run(['true']).returncode")
		require.NoError(t, err)
		assert.Equal(t, int64(0), v)
		rf := runFailed(t, in.Exec(bg, "import subprocess\nsubprocess.run(['true'], preexec_fn=print)"))
		assert.Equal(t, "RuntimeError", rf.Type)
		assert.Contains(t, rf.Message, "preexec_fn")
	})
	t.Run("daemon thread in isolated interpreter", func(t *testing.T) {
		rf := runFailed(t, in.Exec(bg, "import threading\nthreading.Thread(target=print, daemon=True).start()"))
		assert.Equal(t, "RuntimeError", rf.Type)
		assert.Contains(t, rf.Message, "daemon")
	})
	t.Run("NUL byte in source", func(t *testing.T) {
		rf := runFailed(t, in.Exec(bg, "x = 1\x00\nraise SystemExit"))
		assert.Equal(t, "SyntaxError", rf.Type)
		assert.Contains(t, rf.Message, "null bytes")
		_, err := in.Eval(bg, "1\x00")
		assert.Equal(t, "SyntaxError", runFailed(t, err).Type)
	})
	t.Run("deep recursion", func(t *testing.T) {
		rf := runFailed(t, in.Exec(bg, "def r(n):\n    return r(n + 1)\nr(0)"))
		assert.Equal(t, "RecursionError", rf.Type)
	})
	t.Run("unsupported Go argument", func(t *testing.T) {
		for _, arg := range []any{make(chan int), func() {}, struct{ C chan int }{}, &struct{ F func() }{}} {
			_, err := in.Call(bg, "print", arg)
			assert.ErrorIs(t, err, cpython.ErrNotShareable)
			assert.ErrorContains(t, err, strings.TrimPrefix(fmt.Sprintf("%T", arg), "*"))
		}
	})
	t.Run("missing module", func(t *testing.T) {
		_, err := in.Call(bg, "no_such_module.f")
		rf := runFailed(t, err)
		assert.Equal(t, "ModuleNotFoundError", rf.Type)
		assert.Contains(t, rf.Message, "no_such_module")
	})
	t.Run("missing attribute", func(t *testing.T) {
		_, err := in.Call(bg, "json.no_such_function")
		rf := runFailed(t, err)
		assert.Equal(t, "AttributeError", rf.Type)
		assert.Contains(t, rf.Message, "no_such_function")
	})
	t.Run("missing name", func(t *testing.T) {
		_, err := in.Call(bg, "no_such_name")
		assert.Equal(t, "NameError", runFailed(t, err).Type)
	})
	t.Run("invalid function name", func(t *testing.T) {
		_, err := in.Call(bg, "json..dumps")
		assert.Equal(t, "ValueError", runFailed(t, err).Type)
	})
	t.Run("broken module import is not 'missing'", func(t *testing.T) {
		require.NoError(t, in.Exec(bg, "import sys, types\nm = types.ModuleType('brokenmod')\nsys.modules['brokenmod'] = None"))
		_, err := in.Call(bg, "brokenmod.f")
		assert.Equal(t, "ModuleNotFoundError", runFailed(t, err).Type)
	})
	t.Run("unshareable result", func(t *testing.T) {
		_, err := in.Eval(bg, "object()")
		assert.ErrorIs(t, err, cpython.ErrNotShareable)
		assert.ErrorContains(t, err, "object")
		_, err = in.Eval(bg, "[1, {2: lambda: 3}]")
		assert.ErrorIs(t, err, cpython.ErrNotShareable)
		assert.ErrorContains(t, err, "function")
		require.NoError(t, in.Exec(bg, "l = []\nl.append(l)"))
		_, err = in.Eval(bg, "l")
		assert.ErrorIs(t, err, cpython.ErrNotShareable)
		assert.ErrorContains(t, err, "deeper")
	})
	t.Run("cancelled context before the call", func(t *testing.T) {
		ctx, cancel := context.WithCancel(bg)
		cancel()
		err := in.Exec(ctx, "ran = True")
		assert.ErrorIs(t, err, context.Canceled)
		_, err = in.Eval(bg, "ran")
		assert.Equal(t, "NameError", runFailed(t, err).Type, "the code must not have run")
		_, err = in.Call(ctx, "len", "x")
		assert.ErrorIs(t, err, context.Canceled)
	})
	t.Run("nil context", func(t *testing.T) {
		var nilCtx context.Context
		assert.ErrorContains(t, in.Exec(nilCtx, "pass"), "nil context")
	})
	// After all of that the interpreter still works.
	v, err := in.Eval(bg, "'ok'")
	require.NoError(t, err)
	assert.Equal(t, "ok", v)
}

func TestClosedAndRunning(t *testing.T) {
	in, err := rt.NewInterpreter(cpython.IsolatedConfig())
	require.NoError(t, err)

	// Close while running: ErrRunning, and the run is unaffected. The run
	// waits for a value Go sends only after the checks.
	require.NoError(t, in.Exec(bg, "pass", cpython.WithGlobals(nil)))
	r, s, err := rt.Channels().Create(channel.Options{})
	require.NoError(t, err)
	defer r.Release()
	defer s.Release()
	done := make(chan error, 1)
	go func() {
		done <- in.Exec(bg, "got = inp.recv()", cpython.WithGlobals(map[string]any{"inp": r}))
	}()
	require.True(t, spinUntil(t, "the Exec to start", in.IsRunning))
	assert.ErrorIs(t, in.Close(), cpython.ErrRunning)
	assert.ErrorIs(t, in.Exec(bg, "pass"), cpython.ErrRunning, "one call at a time")
	sendCtx, cancel := context.WithTimeout(bg, failAfter)
	defer cancel()
	require.NoError(t, s.Send(sendCtx, "go"))
	err, ok := receiveWithin(t, done, "the Exec to end")
	require.True(t, ok)
	require.NoError(t, err)
	assert.False(t, in.IsRunning())
	assert.Equal(t, "go", evalPy(t, in, "got"), "the run was unaffected")

	require.NoError(t, in.Close())
	assert.True(t, in.IsClosed())
	assert.ErrorIs(t, in.Exec(bg, "pass"), cpython.ErrClosed)
	_, err = in.Call(bg, "len", "x")
	assert.ErrorIs(t, err, cpython.ErrClosed)
	_, err = in.Eval(bg, "1")
	assert.ErrorIs(t, err, cpython.ErrClosed)
	assert.ErrorIs(t, in.Close(), cpython.ErrClosed)
	assert.NotContains(t, rt.Interpreters(), in)

	assert.ErrorIs(t, rt.Main().Close(), cpython.ErrMainInterpreter)
}

// TestCloseWaitsForThreads: Close joins a non-daemon thread that is still
// running when Close begins, so everything the thread does has happened by
// the time Close returns, and the interpreter (with the thread's channel
// ends) is gone. The thread writes to a channel, not to a captured stdout:
// a call's writer is closed when the call returns, and what a thread prints
// later goes to the interpreter's default stdout.
func TestCloseWaitsForThreads(t *testing.T) {
	in, err := rt.NewInterpreter(cpython.IsolatedConfig())
	require.NoError(t, err)
	goR, goS, err := rt.Channels().Create(channel.Options{})
	require.NoError(t, err)
	outR, outS, err := rt.Channels().Create(channel.Options{})
	require.NoError(t, err)
	defer outR.Release()
	var stdout bytes.Buffer
	require.NoError(t, in.Exec(bg, `
import threading
def work():
    word = go.recv()  # Go sends it once Close has begun
    for i in range(3):
        out.send_nowait(f"{word} {i}")
    out.send_nowait("thread done")
threading.Thread(target=work).start()
print("started")
`, cpython.WithGlobals(map[string]any{"go": goR, "out": outS}), cpython.WithStdout(&stdout)))
	assert.Equal(t, "started\n", stdout.String())
	// From here only the interpreter holds the thread's ends: the channels
	// outlive it only by Go's bindings of goS and outR.
	require.NoError(t, goR.Release())
	require.NoError(t, outS.Release())

	closed := make(chan error, 1)
	go func() { closed <- in.Close() }()
	if !spinUntil(t, "Close to take the interpreter", func() bool { return in.IsRunning() || in.IsClosed() }) {
		return
	}
	sendCtx, cancel := context.WithTimeout(bg, failAfter)
	defer cancel()
	require.NoError(t, goS.Send(sendCtx, "line"), "the thread is alive to receive while Close runs")
	require.NoError(t, goS.Release())
	err, ok := receiveWithin(t, closed, "Close to join the thread")
	require.True(t, ok)
	require.NoError(t, err, "Close joins non-daemon threads")
	assert.True(t, in.IsClosed())

	var got []any
	for {
		v, ok, err := outR.RecvNowait()
		require.NoError(t, err)
		if !ok {
			break
		}
		got = append(got, v)
	}
	assert.Equal(t, []any{"line 0", "line 1", "line 2", "thread done"}, got,
		"all the thread's output is there when Close returns")
	ids := map[channel.ID]bool{}
	for _, id := range rt.Channels().List() {
		ids[id] = true
	}
	assert.False(t, ids[goS.ID()], "the interpreter and its thread are gone with their channel ends")
}

func TestLegacyDaemonThreadBlocksClose(t *testing.T) {
	in, err := rt.NewInterpreter(cpython.LegacyConfig())
	require.NoError(t, err)
	require.NoError(t, in.Exec(bg, "import threading\nstop = threading.Event()\nth = threading.Thread(target=stop.wait, daemon=True)\nth.start()"))
	err = in.Close()
	assert.ErrorIs(t, err, cpython.ErrRunning)
	assert.ErrorContains(t, err, "still running")
	assert.False(t, in.IsClosed(), "the interpreter stays usable")
	require.NoError(t, in.Exec(bg, "stop.set()\nth.join()"))
	require.NoError(t, in.Close())
}

// TestStress: 8 goroutines each create, use and close 50 interpreters at
// once; the goroutine count ends where it started.
func TestStress(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	before := runtime.NumGoroutine()
	const workers, each = 8, 50
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < each; i++ {
				cfg := cpython.IsolatedConfig()
				if i%5 == 4 {
					cfg = cpython.LegacyConfig()
				}
				in, err := rt.NewInterpreter(cfg)
				if err != nil {
					errs <- err
					return
				}
				v, err := in.Call(bg, "pow", w, i)
				if err == nil && !channel.Equal(v, mustNormalize(new(big.Int).Exp(big.NewInt(int64(w)), big.NewInt(int64(i)), nil))) {
					err = assert.AnError
				}
				if cerr := in.Close(); err == nil {
					err = cerr
				}
				if err != nil {
					errs <- err
					return
				}
			}
		}(w)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	assertGoroutinesBackTo(t, before)
}

// assertGoroutinesBackTo waits (bounded) for goroutines that are ending to
// be gone, then checks none leaked.
func assertGoroutinesBackTo(t *testing.T, before int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	assert.LessOrEqual(t, runtime.NumGoroutine(), before, "leaked goroutines")
}

func mustNormalize(v any) any {
	n, err := channel.Normalize(v)
	if err != nil {
		panic(err)
	}
	return n
}

// TestStreamKeptPastItsCall: Python code may keep the sys.stdout a call lent
// it (a logging handler, say). Writing to it after the call raises
// ValueError like a closed file, and dropping it later is harmless.
func TestStreamKeptPastItsCall(t *testing.T) {
	in := newInterp(t)
	var out bytes.Buffer
	require.NoError(t, in.Exec(bg, "import sys, logging\nkept = sys.stdout\nlog = logging.getLogger('kept')\nlog.addHandler(logging.StreamHandler(sys.stdout))\nlog.warning('during')",
		cpython.WithStdout(&out)))
	assert.Equal(t, "during\n", out.String())
	_, err := in.Eval(bg, "kept.write('late')")
	var rf *cpython.RunFailedError
	require.ErrorAs(t, err, &rf)
	assert.Equal(t, "ValueError", rf.Type)
	assert.Contains(t, rf.Message, "closed file")
	var errOut bytes.Buffer
	require.NoError(t, in.Exec(bg, "log.warning('after')", cpython.WithStderr(&errOut)))
	assert.Contains(t, errOut.String(), "closed file", "logging reports the closed stream on stderr")
	assert.Equal(t, "during\n", out.String(), "nothing reaches the writer after its call")
	require.NoError(t, in.Exec(bg, "del kept\nlog.handlers.clear()\nimport gc\ngc.collect()"))
}

// TestOwnKeyboardInterrupt: KeyboardInterrupt raised by Python code itself
// is the code's error, not an interruption, even after an Interrupt() that
// found nothing running.
func TestOwnKeyboardInterrupt(t *testing.T) {
	in := newInterp(t)
	require.NoError(t, in.Interrupt(), "interrupting an idle interpreter does nothing")
	err := in.Exec(bg, "raise KeyboardInterrupt('mine')")
	var rf *cpython.RunFailedError
	require.ErrorAs(t, err, &rf)
	assert.Equal(t, "KeyboardInterrupt", rf.Type)
	assert.NotErrorIs(t, err, cpython.ErrInterrupted)
}
