package cpython_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/subinterp/subinterp/channel"
	"github.com/subinterp/subinterp/cpython"
)

// pyOK runs src in in and fails the test with Python's traceback.
func pyOK(t *testing.T, in *cpython.Interpreter, src string, opts ...cpython.ExecOption) {
	t.Helper()
	err := in.Exec(bg, src, opts...)
	var rf *cpython.RunFailedError
	if errors.As(err, &rf) {
		t.Fatalf("Python failed: %s\n%s", rf.Error(), rf.Traceback)
	}
	require.NoError(t, err)
}

// pyRaises runs src and checks it raised an exception whose type name is typ
// and whose message contains msg.
func pyRaises(t *testing.T, in *cpython.Interpreter, src, typ, msg string) {
	t.Helper()
	err := in.Exec(bg, src)
	var rf *cpython.RunFailedError
	require.ErrorAs(t, err, &rf, "expected %s from:\n%s", typ, src)
	assert.Equal(t, typ, rf.Type, rf.Traceback)
	assert.Contains(t, rf.Message, msg)
}

func evalPy(t *testing.T, in *cpython.Interpreter, expr string) any {
	t.Helper()
	v, err := in.Eval(bg, expr)
	require.NoError(t, err)
	return v
}

func TestChannelBasics(t *testing.T) {
	in := newInterp(t)
	pyOK(t, in, `
import subinterp
r, s = subinterp.create_channel()
assert r.id == s.id and r.id > 0
assert isinstance(r, subinterp.RecvChannel) and isinstance(s, subinterp.SendChannel)
for i in range(5):
    assert s.send_nowait(i) is False    # nobody was waiting
assert [r.recv() for _ in range(5)] == [0, 1, 2, 3, 4]    # FIFO
assert r.recv_nowait(None) is None
assert r.recv_nowait(default="dflt") == "dflt"
try:
    r.recv_nowait()
    raise AssertionError("no ChannelEmptyError")
except subinterp.ChannelEmptyError:
    pass
assert issubclass(subinterp.ChannelEmptyError, subinterp.ChannelError)
assert issubclass(subinterp.NotShareableError, ValueError)
assert issubclass(subinterp.RunFailedError, RuntimeError)
assert (r.id, s.id) in [(a.id, b.id) for a, b in subinterp.list_all_channels()]
`)
}

// TestChannelValues: every shareable type arrives equal (not identical) in
// another interpreter.
func TestChannelValues(t *testing.T) {
	a, b := newInterp(t), newInterp(t)
	r, s, err := rt.Channels().Create(channel.Options{})
	require.NoError(t, err)
	defer r.Release()
	defer s.Release()
	values := `[None, True, False, 0, -1, 2**63 - 1, -2**63, 2**200, -2**200, 1.5, float("inf"), -0.0,
		"", "text", "\U0001F600 \x00 \ud800", b"", b"\x00\xff", (), (1, (2, "x")), [], [1, [2, [3]]],
		{}, {"b": 1, "a": [1, 2], 3: (4,), (5, 6): None}]`
	pyOK(t, a, "values = "+values+"\nfor v in values:\n    out.send_nowait(v)",
		cpython.WithGlobals(map[string]any{"out": s}))
	pyOK(t, b, `
import math
expected = `+values+`
got = [inp.recv() for _ in expected]
for e, g in zip(expected, got):
    assert type(e) is type(g), (e, g)
    if isinstance(e, float) and math.copysign(1, e) != math.copysign(1, g):
        raise AssertionError(("sign", e, g))
    assert e == g, (e, g)
assert list(got[-1]) == ["b", "a", 3, (5, 6)]    # dict order kept
`, cpython.WithGlobals(map[string]any{"inp": r}))
}

func TestChannelsAcrossInterpreters(t *testing.T) {
	main := newInterp(t)
	var out strings.Builder
	pyOK(t, main, `
import subinterp, threading
r, s = subinterp.create_channel()
workers = [subinterp.create() for _ in range(2)]
assert all(w.isolated for w in workers)
ids = []
def run(w):
    w.run("import subinterp\nout.send((subinterp.get_current().id, out.id))", channels={"out": s})
threads = [threading.Thread(target=run, args=(w,)) for w in workers]
for t in threads: t.start()
got = sorted(r.recv(timeout=10) for _ in workers)
for t in threads: t.join()
assert [g[0] for g in got] == sorted(w.id for w in workers), got
assert all(g[1] == s.id for g in got)    # the same id in every interpreter
for w in workers:
    assert not w.is_running()
    w.close()
print("ok")
`, cpython.WithStdout(&out))
	assert.Equal(t, "ok\n", out.String())
}

// TestManySendersReceivers: 3 interpreters send, 2 receive, every value
// arrives exactly once.
func TestManySendersReceivers(t *testing.T) {
	r, s, err := rt.Channels().Create(channel.Options{})
	require.NoError(t, err)
	defer r.Release()
	defer s.Release()
	const senders, receivers, per = 3, 2, 200
	var sendWG, recvWG sync.WaitGroup
	sendErrs := make(chan error, senders)
	results := make(chan any, receivers)
	recvErrs := make(chan error, receivers)
	for i := 0; i < senders; i++ {
		in := newInterp(t)
		sendWG.Add(1)
		go func(i int) {
			defer sendWG.Done()
			sendErrs <- in.Exec(bg, fmt.Sprintf("for n in range(%d):\n    out.send((%d, n))", per, i),
				cpython.WithGlobals(map[string]any{"out": s}))
		}(i)
	}
	for i := 0; i < receivers; i++ {
		in := newInterp(t)
		recvWG.Add(1)
		go func() {
			defer recvWG.Done()
			err := in.Exec(bg, "got = []\nfor v in inp:\n    got.append(v)", cpython.WithGlobals(map[string]any{"inp": r}))
			if err == nil {
				var got any
				got, err = in.Eval(bg, "got")
				results <- got
			}
			recvErrs <- err
		}()
	}
	sendWG.Wait() // every send was received (send waits for it)
	close(sendErrs)
	for err := range sendErrs {
		require.NoError(t, err)
	}
	require.NoError(t, s.Close()) // ends the receivers' loops
	recvWG.Wait()
	close(recvErrs)
	for err := range recvErrs {
		require.NoError(t, err)
	}
	close(results)
	seen := map[string]bool{}
	for got := range results {
		for _, v := range got.([]any) {
			k := fmt.Sprint(v)
			assert.False(t, seen[k], "received twice: %s", k)
			seen[k] = true
		}
	}
	assert.Len(t, seen, senders*per)
}

func TestSendWaitsForReceiver(t *testing.T) {
	sender, receiver := newInterp(t), newInterp(t)
	r, s, err := rt.Channels().Create(channel.Options{})
	require.NoError(t, err)
	defer r.Release()
	defer s.Release()
	done := make(chan error, 1)
	go func() {
		done <- sender.Exec(bg, "out.send('hello')", cpython.WithGlobals(map[string]any{"out": s}))
	}()
	select {
	case err := <-done:
		t.Fatalf("send returned before anyone received: %v", err)
	case <-time.After(100 * time.Millisecond):
	}
	assert.Equal(t, "hello", evalPy(t, receiverWith(t, receiver, "inp", r), "inp.recv()"))
	require.NoError(t, <-done)

	// send_nowait says whether a receiver was already waiting. Nothing
	// shows when the Go receiver below has blocked, so the value goes out
	// again (with a fresh receiver) until one send finds it waiting; every
	// value sent reaches it either way.
	sender = receiverWith(t, sender, "out", s)
	got := make(chan any, 1)
	deadline := time.Now().Add(failAfter)
	for i := 0; ; i++ {
		go func() {
			v, err := r.Recv(bg)
			assert.NoError(t, err)
			got <- v
		}()
		waited := evalPy(t, sender, fmt.Sprintf("out.send_nowait(%d)", i))
		v, ok := receiveWithin(t, got, "the Go receiver to get the value")
		require.True(t, ok)
		assert.Equal(t, int64(i), v)
		if waited == true {
			break
		}
		assert.Equal(t, false, waited)
		require.True(t, time.Now().Before(deadline), "no send_nowait found the Go receiver waiting in %v", failAfter)
	}
}

func receiverWith(t *testing.T, in *cpython.Interpreter, name string, v any) *cpython.Interpreter {
	t.Helper()
	pyOK(t, in, "pass", cpython.WithGlobals(map[string]any{name: v}))
	return in
}

// TestGoAndPythonShareChannels: a goroutine sends to a Python receiver and
// receives from a Python sender.
func TestGoAndPythonShareChannels(t *testing.T) {
	in := newInterp(t)
	toPy, toPyS, err := rt.Channels().Create(channel.Options{})
	require.NoError(t, err)
	fromPy, fromPyS, err := rt.Channels().Create(channel.Options{})
	require.NoError(t, err)
	for _, c := range []interface{ Release() error }{toPy, toPyS, fromPy, fromPyS} {
		defer c.Release()
	}
	done := make(chan error, 1)
	go func() {
		done <- in.Exec(bg, "for v in inp:\n    out.send(v * 2)\nout.close()",
			cpython.WithGlobals(map[string]any{"inp": toPy, "out": fromPyS}))
	}()
	for i := 0; i < 100; i++ {
		require.NoError(t, toPyS.Send(bg, i))
		v, err := fromPy.Recv(bg)
		require.NoError(t, err)
		assert.Equal(t, int64(2*i), v)
	}
	require.NoError(t, toPyS.Close())
	require.NoError(t, <-done)
	_, err = fromPy.Recv(bg)
	assert.ErrorIs(t, err, channel.ErrClosed)
}

func TestSelect(t *testing.T) {
	in := newInterp(t)
	pyOK(t, in, `
import subinterp
(r1, s1), (r2, s2) = subinterp.create_channel(), subinterp.create_channel()
s2.send_nowait("two")
ch, v = subinterp.select([r1, r2], timeout=1)
assert ch is r2 and v == "two", (ch, v)
try:
    subinterp.select([r1, r2], timeout=0.01)
    raise AssertionError("no timeout")
except TimeoutError:
    pass
for bad, exc in (([], ValueError), ([s1], TypeError), ([r1], None)):
    if exc is None:
        continue
    try:
        subinterp.select(bad)
        raise AssertionError(bad)
    except exc:
        pass
`)
	// Go Select over channels Python fills.
	r1, s1, err := rt.Channels().Create(channel.Options{})
	require.NoError(t, err)
	r2, s2, err := rt.Channels().Create(channel.Options{})
	require.NoError(t, err)
	for _, c := range []interface{ Release() error }{r1, s1, r2, s2} {
		defer c.Release()
	}
	pyOK(t, in, "b.send_nowait('from python')", cpython.WithGlobals(map[string]any{"a": s1, "b": s2}))
	i, v, err := rt.Channels().Select(bg, r1, r2)
	require.NoError(t, err)
	assert.Equal(t, 1, i)
	assert.Equal(t, "from python", v)
}

func TestSendBuffer(t *testing.T) {
	in := newInterp(t)
	pyOK(t, in, `
import subinterp, array
r, s = subinterp.create_channel()
data = bytearray(range(256)) * 4096    # 1 MiB
assert s.send_buffer_nowait(data) is False
data[0] = 99                            # the channel has its own copy
mv = r.recv()
assert isinstance(mv, memoryview) and mv.readonly and mv.nbytes == 1 << 20
assert mv[0] == 0 and mv[1:4] == bytes([1, 2, 3])
try:
    mv[0] = 1
    raise AssertionError("writable")
except TypeError:
    pass
a = array.array("i", [1, 2, 3])
s.send_buffer_nowait(memoryview(a))
assert bytes(r.recv()) == a.tobytes()
s.send_buffer_nowait(b"")
assert bytes(r.recv()) == b""
mv.release()
try:
    s.send_buffer_nowait(12)
    raise AssertionError("no TypeError")
except TypeError:
    pass
`)
	// A buffer sent from Go arrives in Python as a read-only view too.
	r, s, err := rt.Channels().Create(channel.Options{})
	require.NoError(t, err)
	defer r.Release()
	defer s.Release()
	_, err = s.SendBufferNowait([]byte("from go"))
	require.NoError(t, err)
	assert.Equal(t, []byte("from go"), evalPy(t, receiverWith(t, in, "inp", r), "bytes(inp.recv())"))
}

func TestPickleFallback(t *testing.T) {
	in := newInterp(t)
	pyOK(t, in, `
import subinterp, fractions
r, s = subinterp.create_channel(fallback="pickle")
s.send_nowait(fractions.Fraction(1, 3))
assert r.recv() == fractions.Fraction(1, 3)
r2, s2 = subinterp.create_channel()
try:
    s2.send_nowait(fractions.Fraction(1, 3))
    raise AssertionError("no NotShareableError")
except subinterp.NotShareableError as e:
    assert "Fraction" in str(e), e
for bad in ("json", 1):
    try:
        subinterp.create_channel(fallback=bad)
        raise AssertionError(bad)
    except ValueError:
        pass
`)
}

func TestChannelBadInput(t *testing.T) {
	in := newInterp(t)
	pyOK(t, in, "import subinterp\nr, s = subinterp.create_channel(max_bytes=1000)")
	cases := []struct{ name, src, typ, msg string }{
		{"unshareable object names its type", "s.send_nowait(object())", "subinterp.NotShareableError", "object"},
		{"unshareable nested", "s.send_nowait([1, {2: open}])", "subinterp.NotShareableError", "builtin_function_or_method"},
		{"too large", "s.send_nowait(b'x' * 2000)", "ValueError", "1000"},
		{"negative timeout", "r.recv(timeout=-1)", "ValueError", "non-negative"},
		{"nan timeout", "r.recv(timeout=float('nan'))", "ValueError", "non-negative"},
		{"non-number timeout", "r.recv(timeout='1')", "TypeError", "number"},
		{"send timeout type", "s.send(1, timeout=[])", "TypeError", "number"},
		{"recv_nowait empty", "r.recv_nowait()", "subinterp.ChannelEmptyError", "empty"},
		{"negative capacity", "subinterp.create_channel(capacity=-1)", "ValueError", ">= 0"},
		{"run non-string", "subinterp.get_current().run(b'pass')", "TypeError", "str"},
		{"run non-channel values", "subinterp.create().run('pass', channels={'x': 1})", "ValueError", "not a channel end"},
		{"run non-dict channels", "subinterp.create().run('pass', channels=[s])", "ValueError", "dict"},
		// InterpreterError is a RuntimeError, as PEP 554 documented.
		{"close the current interpreter", "subinterp.get_current().close()", "subinterp.InterpreterError", "itself"},
		{"close the main interpreter", "subinterp.get_main().close()", "subinterp.InterpreterError", "main"},
		{"run the current interpreter", "subinterp.get_current().run('pass')", "subinterp.InterpreterError", "running"},
		{"run a closed interpreter", "i = subinterp.create(); i.close(); i.run('pass')", "subinterp.InterpreterNotFoundError", "does not exist"},
		{"send timeout is not received", "s.send(1, timeout=0.01)", "TimeoutError", "not received"},
		{"instantiate a channel end", "subinterp.RecvChannel()", "TypeError", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { pyRaises(t, in, c.src, c.typ, c.msg) })
	}
	// Nothing was lost: the timed-out send was withdrawn, the channel is
	// empty and still works.
	pyOK(t, in, "assert r.recv_nowait('empty') == 'empty'\ns.send_nowait(7)\nassert r.recv() == 7")

	t.Run("closed channel", func(t *testing.T) {
		pyOK(t, in, `
r, s = subinterp.create_channel()
s.send_nowait("queued")
try:
    r.close()
    raise AssertionError("closing with a queued object must refuse")
except subinterp.ChannelNotEmptyError:
    pass
s.close()
for call in (lambda: s.send_nowait(1), lambda: s.send(1)):
    try:
        call()
        raise AssertionError("send on closed")
    except subinterp.ChannelClosedError:
        pass
assert r.recv() == "queued"     # receivers drain what was queued
try:
    r.recv()
    raise AssertionError("recv on closed and drained")
except subinterp.ChannelClosedError:
    pass
assert list(r) == []            # iteration ends on a closed channel
`)
	})
	t.Run("released end", func(t *testing.T) {
		pyOK(t, in, `
r, s = subinterp.create_channel()
with s:
    s.send_nowait(1)
for call in (lambda: s.send_nowait(2), lambda: s.close()):
    try:
        call()
        raise AssertionError("use after release")
    except subinterp.ChannelClosedError:
        pass
assert "released" in repr(s)
r.release()
try:
    r.recv()
    raise AssertionError("recv after release")
except subinterp.ChannelClosedError:
    pass
`)
	})
	t.Run("unknown channel id from Go", func(t *testing.T) {
		_, _, err := rt.Channels().Lookup(987654)
		assert.ErrorIs(t, err, channel.ErrNotFound)
	})
	t.Run("running interpreter cannot be closed", func(t *testing.T) {
		pyOK(t, in, `
import threading
(gor, gos), (doner, dones) = subinterp.create_channel(), subinterp.create_channel()
w = subinterp.create()
th = threading.Thread(target=w.run, args=("go.recv()\ndone.send_nowait(1)",), kwargs={"channels": {"go": gor, "done": dones}})
th.start()
while not w.is_running():
    pass
try:
    w.close()
    raise AssertionError("closed a running interpreter")
except RuntimeError as e:
    assert "running" in str(e), e
gos.send(1)
doner.recv()
th.join()
w.close()
try:
    w.run("pass")
    raise AssertionError("ran a closed interpreter")
except RuntimeError as e:
    assert "does not exist" in str(e), e
`)
	})
}

// TestInterpreterGoneChannelLives: an interpreter that created a channel
// closes while another is blocked receiving on it; the channel keeps
// working and nothing leaks.
func TestInterpreterGoneChannelLives(t *testing.T) {
	creator, receiver := newInterp(t), newInterp(t)
	before := len(rt.Channels().List())
	pyOK(t, creator, "import subinterp\nr, s = subinterp.create_channel()")
	r, err := creator.Eval(bg, "r") // Go gets its own binding of each end
	require.NoError(t, err)
	s, err := creator.Eval(bg, "s")
	require.NoError(t, err)
	recvEnd, sendEnd := r.(*channel.RecvChannel), s.(*channel.SendChannel)
	pyOK(t, receiver, "pass", cpython.WithGlobals(map[string]any{"inp": recvEnd}))
	require.NoError(t, recvEnd.Release())

	done := make(chan any, 1)
	go func() {
		v, err := receiver.Eval(bg, "inp.recv()")
		assert.NoError(t, err)
		done <- v
	}()
	require.True(t, spinUntil(t, "the receiver's Eval to start", receiver.IsRunning))
	require.NoError(t, creator.Close()) // its end objects go, and their bindings
	require.NoError(t, sendEnd.Send(bg, "after the creator is gone"))
	v, ok := receiveWithin(t, done, "the receiver to get the value")
	require.True(t, ok)
	assert.Equal(t, "after the creator is gone", v)
	require.NoError(t, sendEnd.Release())
	pyOK(t, receiver, "inp.release()\ndel inp")
	assert.Len(t, rt.Channels().List(), before, "the channel is gone once no end is bound")
}

// TestBlockedCallsReturnOnCancel: a recv blocked in Python returns at once
// when the Go caller's context ends; so does run() and select().
func TestBlockedCallsReturnOnCancel(t *testing.T) {
	in := newInterp(t)
	// The interrupted code's unwinding is waited for however long a loaded
	// machine takes (the default grace would report Stopped false).
	in.SetInterruptGrace(failAfter)
	pyOK(t, in, "import subinterp\nr, s = subinterp.create_channel()\nw = subinterp.create()")
	for _, src := range []string{"r.recv()", "subinterp.select([r])", "s.send(1)", "w.run('import time\\nwhile True: time.sleep(0.001)')"} {
		t.Run(src, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(bg, 50*time.Millisecond)
			defer cancel()
			err := in.Exec(ctx, src)
			var ie *cpython.InterruptedError
			require.ErrorAs(t, err, &ie)
			assert.ErrorIs(t, err, context.DeadlineExceeded)
			assert.True(t, ie.Stopped)
			assert.Equal(t, "ok", evalPy(t, in, "'ok'"), "usable afterwards")
		})
	}
	// Interrupt() wakes a blocked recv too. The code says when it is about
	// to block; an Interrupt that comes a moment before the recv blocks
	// stops it all the same.
	ready, readyS, err := rt.Channels().Create(channel.Options{})
	require.NoError(t, err)
	defer ready.Release()
	defer readyS.Release()
	done := make(chan error, 1)
	go func() {
		done <- in.Exec(bg, "ready.send_nowait(True)\nr.recv()", cpython.WithGlobals(map[string]any{"ready": readyS}))
	}()
	recvCtx, cancel := context.WithTimeout(bg, failAfter)
	defer cancel()
	_, err = ready.Recv(recvCtx)
	require.NoError(t, err, "the code did not start")
	require.NoError(t, in.Interrupt())
	err, ok := receiveWithin(t, done, "Interrupt to wake the blocked recv")
	require.True(t, ok)
	assert.ErrorIs(t, err, cpython.ErrInterrupted)
	// w's own code, interrupted through the w.run above, may still be
	// unwinding on a loaded machine (it has the default grace).
	spinUntil(t, "w's interrupted code to stop", func() bool {
		v, err := in.Eval(bg, "w.is_running()")
		return err == nil && v == false
	})
	pyOK(t, in, "w.close()\ndel ready")
}

// The PEP 554 examples, each as a test.

// pepRunInThread is PEP 554's "run in a thread" example.
const pepRunInThread = `
import subinterp, threading
interp = subinterp.create()
def run():
    interp.run("print('in the thread')")
t = threading.Thread(target=run)
t.start()
t.join()
interp.close()
`

// TestPEPExampleRunInThread: run() works from a thread and returns, and the
// target interpreter prints "in the thread" to its own stdout (the
// runtime's), not to the caller's writer. The runtime's stdout is the
// process's, so the example runs in a process of its own whose runtime
// prints to a buffer (helperPEPRunInThread).
func TestPEPExampleRunInThread(t *testing.T) {
	runHelperProcess(t, "pep-run-in-thread")
}

// helperPEPRunInThread runs pepRunInThread in a runtime whose stdout is a
// buffer and checks where the example's output went.
func helperPEPRunInThread() error {
	var stdout bytes.Buffer
	rt, err := cpython.Initialize(cpython.RuntimeOptions{NoSite: true, Stdout: &stdout})
	if err != nil {
		return err
	}
	defer rt.Finalize()
	in, err := rt.NewInterpreter(cpython.IsolatedConfig())
	if err != nil {
		return err
	}
	var caller bytes.Buffer
	err = in.Exec(bg, pepRunInThread, cpython.WithStdout(&caller))
	var rf *cpython.RunFailedError
	if errors.As(err, &rf) {
		return fmt.Errorf("%w\n%s", err, rf.Traceback)
	}
	if err != nil {
		return err
	}
	if err := in.Close(); err != nil {
		return err
	}
	if caller.Len() != 0 {
		return fmt.Errorf("the caller's writer got %q; the target interpreter prints to its own stdout", caller.String())
	}
	if got := stdout.String(); got != "in the thread\n" {
		return fmt.Errorf("the target interpreter printed %q, want %q", got, "in the thread\n")
	}
	return nil
}

func TestPEPExampleSynchronize(t *testing.T) {
	in := newInterp(t)
	pyOK(t, in, `
import subinterp, threading
interp = subinterp.create()
r, s = subinterp.create_channel()
r2, s2 = subinterp.create_channel()
def run():
    interp.run("reader.recv()\nresult.send_nowait('did the work')", channels={"reader": r, "result": s2})
t = threading.Thread(target=run)
t.start()
s.send(b"go")        # blocks until the other interpreter received it
t.join()
assert r2.recv() == "did the work"
interp.close()
`)
}

func TestPEPExampleMarshalAndPickle(t *testing.T) {
	in := newInterp(t)
	pyOK(t, in, `
import subinterp, threading
interp = subinterp.create()
r, s = subinterp.create_channel()
r2, s2 = subinterp.create_channel()
obj = {"a": [1, 2, 3], "b": {"nested": (4.5, None)}}
import marshal, pickle
s.send_nowait(marshal.dumps(obj))
s.send_nowait(pickle.dumps(set([1, 2])))
interp.run("""
import marshal, pickle
m = marshal.loads(reader.recv())
p = pickle.loads(reader.recv())
back.send_nowait(marshal.dumps((m, sorted(p))))
""", channels={"reader": r, "back": s2})
m, p = marshal.loads(r2.recv())
assert m == obj and p == [1, 2], (m, p)
interp.close()
`)
}

func TestPEPExampleRunModuleAndScript(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "script.py"), []byte("import sys\nresult.send_nowait(('script', __name__))\n"), 0o644))
	in := newInterp(t)
	pyOK(t, in, `
import subinterp
interp = subinterp.create()
r, s = subinterp.create_channel()
interp.run("import runpy\nrunpy.run_module('json.tool', run_name='not_main')\nresult.send_nowait('module ran')", channels={"result": s})
assert r.recv() == "module ran"
interp.run("import runpy\nrunpy.run_path(SCRIPT, init_globals={'result': result}, run_name='__main__')".replace("SCRIPT", repr(script)), channels={"result": s})
assert r.recv() == ("script", "__main__")
interp.close()
`, cpython.WithGlobals(map[string]any{"script": filepath.Join(dir, "script.py")}))
}

func TestPythonSideInterpreters(t *testing.T) {
	in := newInterp(t)
	pyOK(t, in, `
import subinterp
legacy = subinterp.create(isolated=False)
assert not legacy.isolated
assert legacy in subinterp.list_all()
assert legacy.id in [i.id for i in subinterp.list_all()]
legacy.run("x = 1")
legacy.close()
assert legacy not in subinterp.list_all()
try:
    legacy.is_running()
    raise AssertionError("is_running on a closed interpreter")
except RuntimeError:
    pass
`)
	var ids []int64
	for _, i := range rt.Interpreters() {
		ids = append(ids, i.ID())
	}
	assert.True(t, sort.SliceIsSorted(ids[1:], func(a, b int) bool { return ids[1+a] < ids[1+b] }))
}
