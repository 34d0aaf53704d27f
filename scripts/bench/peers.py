#!/usr/bin/env python3
"""Benchmark peers for `subinterp bench`: what CPython itself offers for the
same jobs, timed in the real python3.X binary of the same build.

Usage: python3.X scripts/bench/peers.py NAME [--n N] [--warmup W]

NAME is one of:
  interp-create  _interpreters.create() + _interpreters.destroy() of an
                 isolated interpreter (run with -S to skip `import site`
                 in the new interpreters too)
  process-pool   ProcessPoolExecutor(max_workers=1).submit(identity, 1)
                 .result() round trip to a warm worker process
  thread-queue   round trip to a worker thread through two queue.Queue
  interp-call    _interpreters.call(id, func) on a warm interpreter
  interp-exec    _interpreters.exec(id, "pass") on a warm interpreter
  all            each of the above in turn

Each measurement prints one JSON object on a line of its own:
  {"name": ..., "what": ..., "median_us": ..., "p99_us": ..., "n": ...,
   "python": "3.13.15", "site": true}
or, when the peer cannot run here, {"name": ..., "skipped": "<why>"}.
Every operation is timed on its own with time.perf_counter_ns; warm-up
rounds are not counted. Standard library only.
"""

import argparse
import json
import math
import platform
import queue
import sys
import threading
import time

try:
    import _interpreters  # 3.13+
except ImportError:  # 3.12 calls it _xxsubinterpreters
    try:
        import _xxsubinterpreters as _interpreters
    except ImportError:
        _interpreters = None


def identity(x):
    """The function every round trip calls."""
    return x


def noop():
    """A function with no arguments and no free variables, as
    _interpreters.call requires."""
    return None


def summary(name, what, samples_ns):
    """The JSON record for a list of timings in nanoseconds."""
    s = sorted(samples_ns)
    n = len(s)
    med = s[n // 2] if n % 2 else (s[n // 2 - 1] + s[n // 2]) / 2
    p99 = s[min(max(math.ceil(0.99 * n) - 1, 0), n - 1)]
    return {
        "name": name,
        "what": what,
        "median_us": med / 1000,
        "p99_us": p99 / 1000,
        "n": n,
        "python": platform.python_version(),
        "site": not sys.flags.no_site,
    }


def timed(op, n, warmup):
    """Run op warmup + n times and return the last n durations in ns."""
    clock = time.perf_counter_ns
    for _ in range(warmup):
        op()
    out = []
    for _ in range(n):
        t0 = clock()
        op()
        out.append(clock() - t0)
    return out


def need_interpreters():
    """Return a reason the _interpreters peers cannot run, or None."""
    if _interpreters is None:
        return "this Python has no _interpreters module (needs CPython >= 3.12)"
    return None


def interp_create(n, warmup):
    """create + destroy of an isolated interpreter."""
    why = need_interpreters()
    if why:
        return {"name": "interp-create", "skipped": why}

    def op():
        iid = _interpreters.create()
        _interpreters.destroy(iid)

    return summary("interp-create", "_interpreters.create()+destroy()", timed(op, n, warmup))


def process_pool(n, warmup):
    """submit(identity, 1).result() to a one-process pool."""
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(max_workers=1) as pool:
        samples = timed(lambda: pool.submit(identity, 1).result(), n, max(warmup, 20))
    return summary("process-pool", "ProcessPoolExecutor(1).submit(identity, 1).result()", samples)


def thread_queue(n, warmup):
    """Round trip through a request and a response queue.Queue."""
    req, resp = queue.Queue(), queue.Queue()

    def worker():
        while True:
            x = req.get()
            if x is None:
                return
            resp.put(identity(x))

    t = threading.Thread(target=worker)
    t.start()

    def op():
        req.put(1)
        resp.get()

    try:
        samples = timed(op, n, warmup)
    finally:
        req.put(None)
        t.join()
    return summary("thread-queue", "queue.Queue put/get round trip to a thread", samples)


def interp_call(n, warmup):
    """_interpreters.call of a no-argument function."""
    why = need_interpreters()
    if why:
        return {"name": "interp-call", "skipped": why}
    if not hasattr(_interpreters, "call"):
        return {"name": "interp-call", "skipped": "_interpreters.call needs CPython >= 3.13"}
    iid = _interpreters.create()
    try:
        samples = timed(lambda: _interpreters.call(iid, noop), n, warmup)
    finally:
        _interpreters.destroy(iid)
    return summary("interp-call", "_interpreters.call(id, noop)", samples)


def interp_exec(n, warmup):
    """_interpreters.exec of the code "pass"."""
    why = need_interpreters()
    if why:
        return {"name": "interp-exec", "skipped": why}
    run = getattr(_interpreters, "exec", None) or getattr(_interpreters, "run_string")
    iid = _interpreters.create()
    try:
        samples = timed(lambda: run(iid, "pass"), n, warmup)
    finally:
        _interpreters.destroy(iid)
    return summary("interp-exec", '_interpreters.exec(id, "pass")', samples)


# PEERS maps each NAME to its function and default number of timed rounds.
PEERS = {
    "interp-create": (interp_create, 30),
    "process-pool": (process_pool, 5000),
    "thread-queue": (thread_queue, 20000),
    "interp-call": (interp_call, 20000),
    "interp-exec": (interp_exec, 20000),
}


def main(argv):
    """Parse argv, run the peers, print their JSON lines."""
    p = argparse.ArgumentParser(
        prog="peers.py",
        description="Time CPython's own peers of subinterp's measurements.",
    )
    p.add_argument("name", choices=sorted(PEERS) + ["all"])
    p.add_argument("--n", type=int, default=0, help="timed rounds (default: per peer)")
    p.add_argument("--warmup", type=int, default=-1, help="untimed rounds first (default: n/20)")
    args = p.parse_args(argv)
    if args.n < 0:
        p.error("--n must not be negative")
    names = sorted(PEERS) if args.name == "all" else [args.name]
    for name in names:
        fn, default_n = PEERS[name]
        n = args.n or default_n
        warmup = args.warmup if args.warmup >= 0 else max(n // 20, 1)
        print(json.dumps(fn(n, warmup)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
