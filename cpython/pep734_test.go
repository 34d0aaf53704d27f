package cpython_test

import (
	"testing"
)

// PEP 734's documented errors, raised with CPython 3.14's types by
// subinterp.interpreters. Each case runs in a fresh interpreter with
// `interpreters`, a created interpreter `other` and helpers bound.
func TestPEP734Errors(t *testing.T) {
	const prelude = `
from subinterp import interpreters
import subinterp
other = interpreters.create()
other.exec("def ident(x):\n    return x")
def ident(x):
    return x
def raises(exc_type, fn, *args, **kwargs):
    try:
        fn(*args, **kwargs)
    except exc_type as exc:
        return exc
    raise AssertionError(f"{fn!r} did not raise {exc_type.__name__}")
`
	cases := []struct{ name, src string }{
		{"unknown interpreter", `raises(interpreters.InterpreterNotFoundError, interpreters.Interpreter, 10**6)`},
		{"negative id", `raises(ValueError, interpreters.Interpreter, -1)`},
		{"non-int id", `raises(TypeError, interpreters.Interpreter, "1")`},
		{"closed interpreter: exec", `
other.close()
raises(interpreters.InterpreterNotFoundError, other.exec, "pass")
raises(interpreters.InterpreterNotFoundError, other.call, ident, 1)
raises(interpreters.InterpreterNotFoundError, other.prepare_main, x=1)
raises(interpreters.InterpreterNotFoundError, other.is_running)
raises(interpreters.InterpreterNotFoundError, other.close)
assert issubclass(interpreters.InterpreterNotFoundError, interpreters.InterpreterError)
assert issubclass(interpreters.InterpreterError, RuntimeError)  # PEP 554's run() raised RuntimeError`},
		{"running interpreter", `
import threading
q = interpreters.create_queue()
other.prepare_main(q=q)
t = threading.Thread(target=other.exec, args=("q.get()",))
t.start()
while not other.is_running():
    pass
exc = raises(interpreters.InterpreterError, other.exec, "pass")
assert "running" in str(exc), exc
raises(interpreters.InterpreterError, other.close)
q.put(None)
t.join()`},
		{"calling into itself", `
me = interpreters.get_current()
exc = raises(interpreters.InterpreterError, me.call, ident, 1)
assert "itself" in str(exc), exc
raises(interpreters.InterpreterError, me.exec, "pass")
raises(interpreters.InterpreterError, me.close)`},
		{"main interpreter close", `raises(interpreters.InterpreterError, interpreters.get_main().close)`},
		{"unshareable argument", `
import threading
exc = raises(interpreters.NotShareableError, other.call, ident, threading.Lock())
assert isinstance(exc, ValueError) and exc.__cause__ is not None`},
		{"unshareable result", `raises(interpreters.NotShareableError, other.call, eval, "(lambda: x for x in ())")`},
		{"argument that only unpickles here", `
class Local:
    pass
raises(interpreters.NotShareableError, other.call, ident, Local())`},
		{"closure", `
def outer():
    y = 1
    def inner():
        return y
    return inner
raises(interpreters.NotShareableError, other.call, outer())`},
		{"exception in the callee", `
exc = raises(interpreters.ExecutionFailed, other.call, eval, "1/0")
assert exc.excinfo.type.__name__ == "ZeroDivisionError", exc.excinfo
assert exc.excinfo.msg == "division by zero"
assert "ZeroDivisionError" in exc.excinfo.errdisplay
exc = raises(interpreters.ExecutionFailed, other.exec, "raise KeyError('k')")
assert exc.excinfo.formatted == "KeyError: 'k'", exc.excinfo.formatted`},
		{"bad script", `
raises(TypeError, other.exec, 10)
raises(interpreters.ExecutionFailed, other.exec, "def (")
raises(ValueError, other.exec, lambda x: x)`},
		{"prepare_main without names", `raises(ValueError, other.prepare_main)`},
		{"full queue", `
q = interpreters.create_queue(1)
q.put(1)
raises(interpreters.QueueFull, q.put_nowait, 2)
raises(interpreters.QueueFull, q.put, 2, timeout=0.01)
raises(interpreters.QueueFull, q.put, 2, block=False)
assert q.qsize() == 1 and q.full()`},
		{"empty queue", `
q = interpreters.create_queue()
raises(interpreters.QueueEmpty, q.get_nowait)
raises(interpreters.QueueEmpty, q.get, timeout=0.01)
raises(interpreters.QueueEmpty, q.get, block=False)
import queue
assert issubclass(interpreters.QueueEmpty, queue.Empty) and issubclass(interpreters.QueueFull, queue.Full)`},
		{"bad timeouts", `
q = interpreters.create_queue()
raises(ValueError, q.get, timeout=-1)
raises(ValueError, q.put, 1, timeout=-1)
raises(TypeError, q.get, timeout="1")`},
		{"unknown queue", `
from subinterp.interpreters import _queues
raises(_queues.QueueNotFoundError, interpreters.Queue, 10**6)
raises(TypeError, interpreters.Queue, "1")`},
		{"bad unbounditems", `
raises(NotImplementedError, interpreters.create_queue, unbounditems=object())
q = interpreters.create_queue()
raises(NotImplementedError, q.put, 1, unbounditems=42)
assert q.qsize() == 0`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			in := newInterp(t)
			pyOK(t, in, prelude)
			pyOK(t, in, c.src)
			pyOK(t, in, "other.close() if other.id in [i.id for i in interpreters.list_all()] else None")
		})
	}
}

// One object per interpreter id, shared by both APIs, kept through pickling.
func TestPEP734Identity(t *testing.T) {
	in := newInterp(t)
	pyOK(t, in, `
import pickle, subinterp
from subinterp import interpreters
i = interpreters.create()
assert interpreters.Interpreter(i.id) is i
assert subinterp.list_all()[-1] is i
assert pickle.loads(pickle.dumps(i)) is i
assert interpreters.get_current() is subinterp.get_current()
assert i.whence == "_interpreters module" and interpreters.get_main().whence == "runtime init"
q = interpreters.create_queue()
assert interpreters.Queue(q.id) is q and pickle.loads(pickle.dumps(q)) is q
assert interpreters.is_shareable(q) and interpreters.is_shareable([1, {2: 3}])
i.run("x = 1")              # PEP 554's run() on the PEP 734 object
assert i.call(eval, "x") == 1
i.close()
`)
}

// Queues and PEP 734 channels share subinterp's channel registry but not a
// namespace, as CPython's _interpqueues and _interpchannels do not: each
// layer lists and opens only its own. (A channel counted as a queue made
// CPython 3.14's test_put_get_different_interpreters see 3 queues for 2.)
func TestPEP734QueuesAndChannelsApart(t *testing.T) {
	in := newInterp(t)
	pyOK(t, in, `
import subinterp
from subinterp.interpreters import channels, queues
r, s = channels.create()
raw_r, raw_s = subinterp.create_channel()
q = queues.create()
assert [x.id for x in queues.list_all()] == [q.id], queues.list_all()
listed = {x.id for x, _ in channels.list_all()}
assert listed == {r.id, raw_r.id}, listed
for cid in (r.id, raw_r.id):
    try:
        queues.Queue(cid)
    except queues.QueueNotFoundError:
        pass
    else:
        raise AssertionError(f"channel {cid} opened as a queue")
try:
    channels.RecvChannel(q.id).recv_nowait(None)
except channels.ChannelNotFoundError:
    pass
else:
    raise AssertionError("queue opened as a channel")
s.send_nowait(1)
assert r.recv() == 1
q.put(2)
assert q.get() == 2
`)
}

// Dropping the last Interpreter object of an interpreter Python created
// ends it at once for Python (CPython 3.14's test_destroyed_by_gc).
func TestPEP734DroppedInterpreterIsGone(t *testing.T) {
	in := newInterp(t)
	pyOK(t, in, `
import gc
from subinterp import interpreters
i = interpreters.create()
iid = i.id
del i
gc.collect()
assert iid not in [x.id for x in interpreters.list_all()]
try:
    interpreters.Interpreter(iid)
except interpreters.InterpreterNotFoundError:
    pass
else:
    raise AssertionError("still found")
`)
}

// InterpreterPoolExecutor: results, exceptions (the original type, with
// ExecutionFailed as cause), initializer failures and shutdown.
func TestPEP734Executor(t *testing.T) {
	in := newInterp(t)
	pyOK(t, in, `
from subinterp import interpreters
from subinterp.interpreters import InterpreterPoolExecutor
import concurrent.futures as cf
with InterpreterPoolExecutor(2) as ex:
    assert list(ex.map(abs, [-1, -2, 3])) == [1, 2, 3]
    f = ex.submit(eval, "1/0")
    try:
        f.result()
    except ZeroDivisionError as e:
        assert isinstance(e.__cause__, interpreters.ExecutionFailed)
    else:
        raise AssertionError("no exception")
    try:
        ex.submit("print(1)")
    except TypeError:
        pass
    else:
        raise AssertionError("scripts are not supported")
try:
    ex.submit(abs, 1)
except RuntimeError:
    pass
else:
    raise AssertionError("submit after shutdown")
ex = InterpreterPoolExecutor(1, initializer=eval, initargs=("1/0",))
f = ex.submit(abs, 1)
try:
    f.result(timeout=60)
except cf.BrokenExecutor:
    pass
else:
    raise AssertionError("initializer failure not reported")
ex.shutdown()
`)
}
