"""PEP 734's interpreters API (CPython 3.14's concurrent.interpreters) on
subinterp: a drop-in, ``from subinterp import interpreters``, on every
CPython subinterp supports.

The Interpreter objects are the subinterp module's own (one object serves
PEP 554's run() and PEP 734's exec()/call()), and queues are subinterp's
Go-memory channels. Where subinterp goes beyond CPython on purpose (lists,
dicts and big ints are shareable; timeouts below a second), it keeps doing
so; docs/python-api.md lists every difference.
"""

import sys as _sys
import threading as _threading
import types as _types
import weakref as _weakref

import subinterp as _si
from subinterp import (
    InterpreterError, InterpreterNotFoundError, NotShareableError,
)
from ._queues import create as create_queue, Queue, QueueEmpty, QueueFull

__all__ = [
    'get_current', 'get_main', 'create', 'list_all', 'is_shareable',
    'Interpreter',
    'InterpreterError', 'InterpreterNotFoundError', 'ExecutionFailed', 'ExcInfo',
    'NotShareableError',
    'create_queue', 'Queue', 'QueueEmpty', 'QueueFull',
    'InterpreterPoolExecutor',
]


_EXEC_FAILURE_STR = """
{superstr}

Uncaught in the interpreter:

{formatted}
""".strip()


class ExecutionFailed(InterpreterError):
    """An unhandled exception happened during execution.

    This is raised from Interpreter.exec() and Interpreter.call(); its
    excinfo describes the exception (which itself stayed behind).
    """

    def __init__(self, excinfo):
        msg = excinfo.formatted
        if not msg:
            if excinfo.type and excinfo.msg:
                msg = f'{excinfo.type.__name__}: {excinfo.msg}'
            else:
                msg = excinfo.type.__name__ or excinfo.msg
        super().__init__(msg)
        self.excinfo = excinfo

    def __str__(self):
        try:
            formatted = self.excinfo.errdisplay
        except Exception:
            return super().__str__()
        if not formatted:
            return super().__str__()
        return _EXEC_FAILURE_STR.format(superstr=super().__str__(), formatted=formatted)


class ExcInfo:
    """A snapshot of an exception raised in another interpreter.

    type: a namespace with the class's __name__, __qualname__ and
    __module__; msg: str(exc); formatted: the "Type: message" line;
    errdisplay: the full traceback as the interpreter would print it.
    """

    __slots__ = ('type', 'msg', 'formatted', 'errdisplay')

    def __init__(self, name, qualname, module, msg, formatted, errdisplay):
        self.type = _types.SimpleNamespace(__name__=name, __qualname__=qualname, __module__=module)
        self.msg = msg
        self.formatted = formatted
        self.errdisplay = errdisplay

    def __repr__(self):
        return (f'ExcInfo(type={self.type.__qualname__!r}, msg={self.msg!r}, '
                f'formatted={self.formatted!r})')

    def __eq__(self, other):
        if not isinstance(other, ExcInfo):
            return NotImplemented
        return ((self.type.__name__, self.type.__qualname__, self.type.__module__,
                 self.msg, self.formatted, self.errdisplay) ==
                (other.type.__name__, other.type.__qualname__, other.type.__module__,
                 other.msg, other.formatted, other.errdisplay))

    __hash__ = None


def is_shareable(obj):
    """Return whether obj passes between interpreters without pickling:
    subinterp's shareable values (lists, dicts and big ints included),
    channel ends, and queues and channel objects of this package (which
    travel by id)."""
    # A class attribute, not isinstance: importlib.reload() of the queues or
    # channels module makes new classes.
    return _si.is_shareable(obj) or getattr(type(obj), '_shared_by_id', False)


def create():
    """Return a new (idle) Python interpreter, with its own GIL."""
    return _si.create()


def list_all():
    """Return all existing interpreters."""
    return _si.list_all()


def get_current():
    """Return the currently running interpreter."""
    return _si.get_current()


def get_main():
    """Return the main interpreter."""
    return _si.get_main()


_WHENCE_TO_STR = {
    'runtime': 'runtime init',
    'stdlib': '_interpreters module',
    'capi': 'C-API',
}

_known = _weakref.WeakValueDictionary()


class Interpreter(_si.Interpreter):
    """A single Python interpreter.

    Attributes:

    "id" - the unique process-global ID number for the interpreter
    "whence" - indicates where the interpreter was created

    The same object as subinterp.Interpreter's (PEP 554's run() works on it).
    """

    def __new__(cls, id, /, _whence=None, _ownsref=None):
        # There is only one instance for any given ID.
        if not isinstance(id, int):
            raise TypeError(f'id must be an int, got {id!r}')
        id = int(id)
        if id < 0:
            raise ValueError(f'id must be a non-negative int, got {id!r}')
        try:
            return _known[id]
        except KeyError:
            pass
        self = super().__new__(cls, id)  # InterpreterNotFoundError if none
        return _known.setdefault(id, self)

    def __init__(self, id, /, _whence=None, _ownsref=None):
        pass

    def __repr__(self):
        return f'{type(self).__name__}({self.id})'

    def __reduce__(self):
        return (Interpreter, (self.id,))

    @property
    def _id(self):
        return self.id

    @property
    def whence(self):
        return _WHENCE_TO_STR[_si._whence(self.id)]

    def prepare_main(self, ns=None, /, **kwargs):
        """Bind the given values into the interpreter's __main__.

        Shareable values are copied as subinterp shares them; other values
        are pickled (NotShareableError if pickling fails). Nothing is bound
        if any value fails.
        """
        ns = dict(ns, **kwargs) if ns is not None else kwargs
        if not ns:
            raise ValueError('prepare_main() needs at least one name to bind')
        for name in ns:
            if not isinstance(name, str):
                raise TypeError(f'names must be str, not {type(name).__name__}')
        self._invoke('subinterp.interpreters._run_prepare_main', (ns,))

    def exec(self, code, /):
        """Run the given source code in the interpreter.

        This is essentially the same as calling the builtin "exec" with this
        interpreter, using the __dict__ of its __main__ module as both
        globals and locals. code is a str, or a function (or code object)
        that takes no arguments and has no closure: its body runs.

        There is no return value. If the code raises an unhandled exception
        then an ExecutionFailed exception is raised, which summarizes the
        unhandled exception.

        This blocks the current Python thread until done, with its GIL
        released.
        """
        ok, value = self._invoke_raw('subinterp.interpreters._run_exec', _portable_script(code))
        if not ok:
            # Raised here, not in a helper: the traceback of an uncaught
            # failure shows one frame of this module, as CPython's does.
            excinfo = ExcInfo(*value)
            raise ExecutionFailed(excinfo)

    def call(self, callable, /, *args, **kwargs):
        """Call the object in the interpreter with given args/kwargs.

        The callable, arguments and return value are shared as subinterp
        shares values, or pickled; a function that cannot be pickled by
        reference is sent as its code when it has no closure. If the
        callable raises an exception then ExecutionFailed is raised, whose
        excinfo describes it.
        """
        return self._invoke('subinterp.interpreters._run_call',
                            (_portable_callable(callable), args, kwargs))

    def call_in_thread(self, callable, /, *args, **kwargs):
        """Return a new thread that calls the object in the interpreter.

        The return value and any raised exception are discarded.
        """
        fn = _portable_callable(callable)
        t = _threading.Thread(target=self._invoke,
                              args=('subinterp.interpreters._run_call', (fn, args, kwargs)))
        t.start()
        return t

    def _invoke(self, trampoline, args):
        ok, value = self._invoke_raw(trampoline, args)
        if ok:
            return value
        raise ExecutionFailed(ExcInfo(*value))

    def _invoke_raw(self, trampoline, args):
        """(True, result) or (False, the excinfo fields)."""
        try:
            return _si._call(self.id, trampoline, args)
        except _si.RunFailedError as exc:
            # The trampoline catches everything the callable raises: what
            # fails outside it is rebuilding the arguments over there (an
            # object that unpickles only here), as CPython 3.14 reports it.
            raise NotShareableError(f'cannot rebuild the arguments in interpreter {self.id}: '
                                    f'{exc.__cause__ or exc}') from exc


_si._set_interpreter_class(Interpreter)



# ---- sending functions and scripts ------------------------------------

_by_reference = _weakref.WeakKeyDictionary()  # function -> pickles by reference


def _pickles_by_reference(fn):
    try:
        return _by_reference[fn]
    except (KeyError, TypeError):
        pass
    import pickle
    try:
        pickle.dumps(fn)
        ok = True
    except Exception:
        ok = False
    try:
        _by_reference[fn] = ok
    except TypeError:
        pass
    return ok


class _Code:
    """A function without a closure, sent as its marshalled code (for
    functions pickle cannot find by name: lambdas, nested functions)."""

    __slots__ = ('fn',)

    def __init__(self, fn):
        self.fn = fn

    def __reduce__(self):
        import marshal
        fn = self.fn
        return (_rebuild_function, (marshal.dumps(fn.__code__), fn.__name__, fn.__qualname__,
                                    fn.__defaults__, fn.__kwdefaults__))


def _rebuild_function(code, name, qualname, defaults, kwdefaults):
    import marshal
    fn = _types.FunctionType(marshal.loads(code), _sys.modules['__main__'].__dict__, name, defaults)
    fn.__qualname__ = qualname
    fn.__kwdefaults__ = kwdefaults
    return fn


def _portable_callable(fn, _FunctionType=_types.FunctionType, _by_reference=_si._by_reference):
    # _si._by_reference answers for the functions pickle finds by name at
    # C speed; only the others ask pickle itself (cached per function).
    if (type(fn) is _FunctionType and fn.__closure__ is None and not _by_reference(fn)
            and not _pickles_by_reference(fn)):
        return _Code(fn)
    return fn


def _portable_script(code):
    if isinstance(code, str):
        return ('s', code)
    if isinstance(code, _types.FunctionType):
        if code.__closure__:
            raise ValueError('a function passed to exec() must not have a closure')
        code = code.__code__
    if isinstance(code, _types.CodeType):
        if code.co_argcount or code.co_posonlyargcount or code.co_kwonlyargcount or (code.co_flags & 0x0C):
            raise ValueError('a function passed to exec() must take no arguments')
        import marshal
        return ('c', marshal.dumps(code))
    raise TypeError(f'exec() takes a str, a function or a code object, not {type(code).__name__}')


# ---- run in the target interpreter (resolved by name by _si._call) ----

def _capture(exc):
    import traceback
    # The trampoline's own frame is not the user's concern.
    if exc.__traceback__ is not None and exc.__traceback__.tb_frame.f_code in _TRAMPOLINES:
        exc.__traceback__ = exc.__traceback__.tb_next
    t = type(exc)
    try:
        msg = str(exc)
    except Exception:
        msg = '<exception str() failed>'
    try:
        formatted = ''.join(traceback.format_exception_only(exc)).strip()
        errdisplay = ''.join(traceback.format_exception(exc)).rstrip('\n')
    except Exception:
        formatted = f'{t.__name__}: {msg}' if msg else t.__name__
        errdisplay = ''
    return (t.__name__, t.__qualname__, t.__module__, msg, formatted, errdisplay)


def _flush():
    for f in (_sys.stdout, _sys.stderr):
        try:
            if f is not None:
                f.flush()
        except Exception:
            pass


def _frame_builtin(fn, args, kwargs):
    """dir(), eval() and exec() called directly run relative to __main__, as
    in CPython (where no Python frame is current when they run)."""
    main = _sys.modules['__main__'].__dict__
    if fn is dir and not args and not kwargs:
        return True, sorted(main)
    if (fn is eval or fn is exec) and len(args) == 1 and not kwargs:
        return True, fn(args[0], main)
    return False, None


_FRAME_BUILTINS = frozenset((dir, eval, exec))


def _run_call(fn, args, kwargs, *, _capture=_capture,
              _FunctionType=_types.FunctionType, _portable_callable=_portable_callable,
              _BuiltinFunctionType=_types.BuiltinFunctionType, _frame_builtin=_frame_builtin,
              _FRAME_BUILTINS=_FRAME_BUILTINS):
    # No flush here (exec() flushes): sys.stdout is line-buffered, and a
    # flush per call costs more than a small call itself.
    try:
        done = False
        if type(fn) is _BuiltinFunctionType and fn in _FRAME_BUILTINS:
            done, res = _frame_builtin(fn, args, kwargs)
        if not done:
            res = fn(*args, **kwargs)
    except BaseException as exc:
        return (False, _capture(exc))
    if type(res) is _FunctionType:
        res = _portable_callable(res)
    return (True, res)


def _run_exec(kind, script, *, _capture=_capture, _flush=_flush, _sys=_sys):
    main = _sys.modules['__main__'].__dict__
    try:
        if kind == 's':
            code = compile(script, '<string>', 'exec')
        else:
            import marshal
            code = marshal.loads(script)
        exec(code, main)
    except BaseException as exc:
        return (False, _capture(exc))
    finally:
        _flush()
    return (True, None)


def _run_prepare_main(ns):
    _sys.modules['__main__'].__dict__.update(ns)
    return (True, None)


def _in_main(fn):
    """fn with __main__'s globals: code that needs the caller's frame
    (eval, exec, globals()) sees __main__, as in CPython, not this module."""
    main = _sys.modules.get('__main__')
    if main is None:
        return fn
    moved = _types.FunctionType(fn.__code__, main.__dict__, fn.__name__, fn.__defaults__)
    moved.__kwdefaults__ = fn.__kwdefaults__
    return moved


_TRAMPOLINES = {_run_call.__code__, _run_exec.__code__}
_run_call = _in_main(_run_call)


def __getattr__(name):
    # The executor imports concurrent.futures: only on first use.
    if name == 'InterpreterPoolExecutor':
        from ._executor import InterpreterPoolExecutor
        globals()[name] = InterpreterPoolExecutor
        return InterpreterPoolExecutor
    raise AttributeError(f'module {__name__!r} has no attribute {name!r}')
