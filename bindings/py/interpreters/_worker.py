"""The loop each InterpreterPoolExecutor worker interpreter runs.

A module of its own, so that a worker, which imports the module that
defines the function it runs, does not import concurrent.futures (the
executor's module does) and starts faster.
"""


def worker_loop(tasks, results, initializer):
    """The loop each worker interpreter runs, until it receives None."""
    from subinterp.interpreters import _capture
    if initializer is not None:
        fn, args = initializer
        try:
            fn(*args)
        except BaseException as exc:
            results.send_nowait((None, False, (None, _capture(exc))))
            return
    for task in tasks:
        if task is None:
            return
        tid, fn, args, kwargs = task
        try:
            res = fn(*args, **kwargs)
        except BaseException as exc:
            info = _capture(exc)
            try:
                results.send_nowait((tid, False, (exc, info)))
            except Exception:  # the exception itself cannot be pickled
                results.send_nowait((tid, False, (None, info)))
            continue
        try:
            results.send_nowait((tid, True, res))
        except Exception as exc:  # NotShareableError: the result cannot travel
            results.send_nowait((tid, False, (exc, _capture(exc))))
