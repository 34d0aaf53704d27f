"""InterpreterPoolExecutor: a concurrent.futures.Executor whose workers are
subinterp interpreters, each with its own GIL.

Tasks go to the workers through one Go-memory channel and results come back
through another; a worker waits for its next task in Go with its GIL
released and is woken directly by the submit, and one collector thread in
the submitting interpreter completes the futures. No polling anywhere.
"""

import concurrent.futures as _futures
import itertools as _itertools
import os as _os
import threading as _threading
import weakref as _weakref

import subinterp as _si
from . import _portable_callable
from ._worker import worker_loop as _worker_loop

__all__ = ['InterpreterPoolExecutor', 'BrokenInterpreterPool']


class BrokenInterpreterPool(_futures.BrokenExecutor):
    """Raised when a worker interpreter failed initializing."""


class InterpreterPoolExecutor(_futures.Executor):
    """Runs callables in a pool of interpreters, each with its own GIL.

    The callable, its arguments and its result are shared as subinterp
    shares values, or pickled. An exception the callable raises is raised
    from Future.result() (when it can be pickled; its __cause__ is an
    ExecutionFailed describing it as it happened), else ExecutionFailed.
    """

    _counter = _itertools.count().__next__

    def __init__(self, max_workers=None, thread_name_prefix='', initializer=None, initargs=()):
        """Initializes a new InterpreterPoolExecutor instance.

        Args:
            max_workers: The maximum number of interpreters that can be used
                to execute the given calls (default: CPUs + 4, at most 32).
            thread_name_prefix: An optional name prefix to give our threads.
            initializer: A callable used to initialize each worker
                interpreter (scripts are not supported).
            initargs: A tuple of arguments to pass to the initializer.
        """
        if max_workers is None:
            cpus = getattr(_os, 'process_cpu_count', _os.cpu_count)() or 1
            max_workers = min(32, cpus + 4)
        if max_workers <= 0:
            raise ValueError("max_workers must be greater than 0")
        if initializer is not None and not callable(initializer):
            raise TypeError("initializer must be a callable")
        self._max_workers = max_workers
        self._prefix = thread_name_prefix or f'InterpreterPoolExecutor-{self._counter()}'
        self._init = None if initializer is None else (_portable_callable(initializer), tuple(initargs))
        self._tasks_r, self._tasks_s = _si.create_channel(fallback='pickle')
        self._results_r, self._results_s = _si.create_channel(fallback='pickle')
        self._lock = _threading.Lock()
        self._futures = {}
        self._ids = _itertools.count()
        self._workers = []  # (interpreter, thread)
        self._collector = None
        self._shutdown = False
        self._broken = False

    def submit(self, fn, /, *args, **kwargs):
        """Schedule fn(*args, **kwargs) in a worker interpreter."""
        if isinstance(fn, str):
            raise TypeError('scripts not supported')
        with self._lock:
            if self._broken:
                raise BrokenInterpreterPool(self._broken)
            if self._shutdown:
                raise RuntimeError('cannot schedule new futures after shutdown')
            f = _futures.Future()
            tid = next(self._ids)
            self._futures[tid] = f
            try:
                self._tasks_s.send_nowait((tid, _portable_callable(fn), args, kwargs))
            except BaseException:
                del self._futures[tid]
                raise
            if len(self._workers) < min(self._max_workers, len(self._futures)):
                self._start_worker()
        return f

    submit.__doc__ = _futures.Executor.submit.__doc__

    def _start_worker(self):
        from . import create
        if self._collector is None:
            self._collector = _threading.Thread(
                target=_collect, args=(_weakref.ref(self), self._results_r, self._futures, self._lock),
                name=f'{self._prefix}_collector', daemon=False)
            self._collector.start()
        interp = create()
        t = _threading.Thread(target=_serve, args=(interp, self._tasks_r, self._results_s, self._init),
                              name=f'{self._prefix}_{len(self._workers)}')
        self._workers.append((interp, t))
        t.start()

    def shutdown(self, wait=True, *, cancel_futures=False):
        """Stop taking tasks; with wait, wait for the running ones and end
        the worker interpreters."""
        with self._lock:
            if self._shutdown:
                already = True
            else:
                already = False
                self._shutdown = True
            if cancel_futures:
                # Tasks still queued are withdrawn and their futures cancelled.
                while True:
                    task = self._tasks_r.recv_nowait(None)
                    if task is None:
                        break
                    f = self._futures.pop(task[0], None)
                    if f is not None:
                        f.cancel()
            workers = list(self._workers)
            if not already:
                for _ in workers:
                    self._tasks_s.send_nowait(None)
        if not wait:
            return
        for interp, t in workers:
            t.join()
        for interp, t in workers:
            try:
                interp.close()
            except Exception:
                pass
        with self._lock:
            self._workers = []
            collector, self._collector = self._collector, None
        if collector is not None:
            self._results_s.send_nowait(None)
            collector.join()

    shutdown.__doc__ = _futures.Executor.shutdown.__doc__

    def _break(self, info):
        from . import ExecutionFailed, ExcInfo
        cause = ExecutionFailed(ExcInfo(*info))
        with self._lock:
            self._broken = ('A worker interpreter failed initializing: ' + cause.excinfo.formatted)
            pending = list(self._futures.values())
            self._futures.clear()
            while self._tasks_r.recv_nowait(None) is not None:
                pass
        for f in pending:
            exc = BrokenInterpreterPool(self._broken)
            exc.__cause__ = cause
            if not f.done():
                f.set_exception(exc)


def _serve(interp, tasks, results, init):
    try:
        interp.call(_worker_loop, tasks, results, init)
    except Exception as exc:  # the interpreter could not run the loop at all
        from . import _capture
        results.send_nowait((None, False, (None, _capture(exc))))


def _collect(executor_ref, results, futures, lock):
    from . import ExecutionFailed, ExcInfo
    for item in results:
        if item is None:
            return
        tid, ok, value = item
        if tid is None:
            ex = executor_ref()
            if ex is not None:
                ex._break(value[1])
            continue
        with lock:
            f = futures.pop(tid, None)
        if f is None or not f.set_running_or_notify_cancel():
            continue
        if ok:
            f.set_result(value)
            continue
        exc, info = value
        wrapper = ExecutionFailed(ExcInfo(*info))
        if isinstance(exc, BaseException):
            exc.__cause__ = wrapper
            f.set_exception(exc)
        else:
            f.set_exception(wrapper)
