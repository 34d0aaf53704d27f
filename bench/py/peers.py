#!/usr/bin/env python3
"""The peers of `subinterp bench` and `subinterp microbench`: how CPython's
own ways of running Python in parallel do on the workloads of workloads.py
(which sits beside this file), and what CPython itself offers for the jobs
microbench times (interpreter create+close, a call round trip), timed in a
python3.X of the same build the Go side embeds.

Usage: python3.X peers.py PLAN_JSON
       python3.X peers.py -            (the plan comes on standard input)

The plan (every key but "mode" may be missing or null):

  {"mode": "threads",             one of the modes below
   "workers": [1, 2],             pool sizes, each a case (default [1];
                                  [] means no throughput rows)
   "repeat": 5,                   timed runs per case (default 1)
   "workloads": [{"name": "nbody", "size": 123, "tasks": 8}, ...],
                                  (default []; an entry's size defaults to
                                  FULL_SIZES[name], its tasks to 8)
   "startup_samples": 3,          fresh 1-worker pools timed (default 0)
   "roundtrip": {"payloads": [1024, 1048576], "samples": 2000},
                                  (default: none; payloads default to
                                  [1024, 1048576], samples to 2000)
   "latency": {"samples": 5000}}  latency modes only: timed rounds
                                  (default: the mode's own, see LATENCY)

Output: one JSON object per line on stdout, flushed at once; progress goes
to stderr.

  {"kind": "hello", "mode": M, "available": true, "python": "3.13.15"}
      or {"kind": "hello", "mode": M, "available": false, "reason": ...}
      and exit 0 when this Python lacks the mode.
  {"kind": "result", "workload": W, "workers": N, "tasks": T,
   "wall_seconds": [...], "digest": ..., "rss_mb_per_worker": x,
   "pss_mb_per_worker": x}
      one per worker count and workload (sequential: workers 1 only). The
      pool is made and warmed once per worker count; each timed run maps
      task indexes 0..T-1 over it and collects every result. "digest" is
      workloads.digest of the last run's results; for "transfer" a task's
      result is str(len(echoed)) once the echo proved equal to the
      payload. A case that fails instead carries "error": "Type: message"
      and no timings, and the run goes on (with a new pool if the old one
      broke).
  {"kind": "startup", "ms": [...]}
      when startup_samples > 0 (not for sequential or multiprocessing-pipe):
      per sample, from just before a new 1-worker pool is made until its
      first task("tiny", 0, 0) result is in (after one such pool that is
      not counted: see startup()). Or "error" instead of "ms".
  {"kind": "roundtrip", "payload_bytes": B, "microseconds": median,
   "samples": n}
      per payload size when "roundtrip" is given (not for sequential):
      echo(payload) to a warm 1-worker pool and back, one at a time;
      payloads of 64 KiB or more take max(20, samples // 20) samples. Or
      "error" instead of the figures.
  {"kind": "latency", "name": M, "what": ..., "median_us": x, "p99_us": x,
   "n": n, "site": true}
      the one line of a latency mode: n operations, each timed on its own
      with time.perf_counter_ns after max(n // 20, 1) untimed ones (20 at
      least for process-pool); "site" is false under python -S.
  {"kind": "done"}

Modes:
  sequential                  the tasks in a loop in this process (the
                              workers list is ignored: one row, workers 1)
  threads                     ThreadPoolExecutor(N).map
  multiprocessing-fork        multiprocessing.get_context(M).Pool(N)
  multiprocessing-forkserver    .map_async(..., chunksize=1) and wait, M
  multiprocessing-spawn         the start method (map() with a watch for
                                workers that die: see _wait)
  process-pool-executor       ProcessPoolExecutor(N).map(..., chunksize=1)
                              with this Python's default start method
  subinterp-interpreters      subinterp.interpreters.InterpreterPoolExecutor(N),
                              subinterp's drop-in for 3.14's, driven as
                              cpython-interpreters drives that one: only
                              inside subinterp's embedded runtime (`subinterp
                              bench` runs this file there), unavailable in a
                              plain python3.X
  cpython-interpreters        3.14+: InterpreterPoolExecutor(N); 3.13: N
                              test.support.interpreters interpreters, each
                              run by one thread of a ThreadPoolExecutor(N)
  threads-free-threaded       as threads, and sequential-free-threaded as
  sequential-free-threaded    sequential, but only in a free-threaded build
                              (--disable-gil, python3.13t) with the GIL off:
                              unavailable otherwise; a case after which the
                              GIL is on (an extension without Py_mod_gil
                              was imported) fails instead of reporting
                              figures of a GIL build
  multiprocessing-pipe        round trip only: a fork child echoing over a
                              multiprocessing.Pipe() (send_bytes/recv_bytes)
Every pool gets warmed before it is timed: each worker has run a task.

Latency modes (microbench; one "latency" line each, nothing else):
  interp-create               _interpreters.create() + destroy() of an
                              isolated interpreter (run python -S to skip
                              `import site` in the new interpreters too)
  process-pool                ProcessPoolExecutor(max_workers=1)
                              .submit(identity, 1).result() to a warm worker
  thread-queue                round trip to a worker thread through two
                              queue.Queue
  interp-call                 _interpreters.call(id, func) on a warm
                              interpreter (3.13+)
  interp-exec                 _interpreters.exec(id, "pass") on a warm
                              interpreter
A latency mode this Python lacks says so in its hello line.

Memory: rss_mb_per_worker / pss_mb_per_worker are, for process modes, the
mean VmRSS (/proc/PID/status) and Pss (/proc/PID/smaps_rollup) of the
worker processes after the timed runs; for in-process modes (threads,
subinterp-interpreters, cpython-interpreters), how much this process grew from before the pool was
made to after it was warmed, divided by the worker count; 0 for
sequential. null where /proc cannot tell.

An unknown mode or a malformed plan: a message on stderr and exit 2.
SIGTERM or SIGINT: the pools are torn down, worker processes killed, and
the script exits with 128 + the signal number. Worker processes also exit
on their own within a quarter second of their parent's death, so even a
SIGKILL leaves none behind (but stderr may then carry their complaints).
"""

import os
import signal
import sys
import threading
import time

# Everything at the top level of this file (imports and definitions only)
# also runs in the worker processes of the spawn and forkserver modes,
# which import this file as __mp_main__; keep it light.

_ORPHAN_POLL_SECONDS = 0.25


def _worker_init():
    """Initializer of every worker process.

    SIGINT is ignored, so a Ctrl-C in a terminal (which reaches the whole
    process group) is handled by the coordinating process alone, which
    then tears the pool down. SIGTERM is reset to its default, because fork
    children inherit the coordinator's handler. And a daemon thread ends
    the worker once its parent is gone: a multiprocessing worker waits on a
    pipe whose write end it shares with its siblings, so it never sees EOF
    and would otherwise live on after a SIGKILL of the coordinator (for
    forkserver workers the parent is the fork server, which exits when the
    coordinator does).
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    parent = os.getppid()
    if parent == 1:
        os._exit(1)  # orphaned already: the coordinator died meanwhile

    def watch():
        while os.getppid() == parent:
            time.sleep(_ORPHAN_POLL_SECONDS)
        os._exit(1)

    threading.Thread(target=watch, name="orphan-watch", daemon=True).start()


def _warm(i):
    """Warm-up task for worker processes: imports workloads, runs the tiny
    task, and returns this worker's pid. The short sleep keeps a worker
    that is up already from taking every warm-up task, so the
    coordinator can wait until each worker has run one."""
    import workloads

    workloads.task("tiny", 0, i)
    time.sleep(0.002)
    return os.getpid()


def _identity(x):
    """What the process-pool latency peer calls in its worker: at the top
    level, so that a worker started by spawn or forkserver finds it."""
    return x


def _pipe_child(conn, parent_end):
    """The multiprocessing-pipe child: echo every message until EOF."""
    _worker_init()
    parent_end.close()  # or EOF would never come when the parent exits
    import workloads

    try:
        while True:
            conn.send_bytes(workloads.echo(conn.recv_bytes()))
    except (EOFError, OSError):
        pass


if __name__ == "__main__":
    # workloads.py sits beside this file; spawn and forkserver children get
    # this sys.path from multiprocessing, so they find it too.
    _HERE = os.path.dirname(os.path.abspath(__file__))
    if sys.path[0] != _HERE:
        sys.path.insert(0, _HERE)

    import json
    import math
    import platform
    import queue
    import statistics
    from functools import partial

    import workloads

    _MAIN_PID = os.getpid()
    _BIG_PAYLOAD = 64 * 1024
    _PROBE_TIMEOUT = 30.0  # seconds a health check of a pool may take

    class PlanError(Exception):
        """The plan is malformed."""

    class Stopped(BaseException):
        """SIGTERM or SIGINT arrived. A BaseException, so the per-case
        `except Exception` handlers let it through to the teardown."""

        def __init__(self, signum):
            super().__init__(signum)
            self.signum = signum

    def _on_signal(signum, frame):
        """First SIGTERM/SIGINT: unwind (pools are torn down on the way
        out). A second one while that runs: leave at once; the workers'
        orphan watch ends them."""
        if os.getpid() != _MAIN_PID:
            os._exit(128 + signum)  # a fork child that inherited this handler
        signal.signal(signal.SIGTERM, _exit_now)
        signal.signal(signal.SIGINT, _exit_now)
        raise Stopped(signum)

    def _exit_now(signum, frame):
        """Second-signal handler: exit without cleanup."""
        os._exit(128 + signum)

    def emit(obj):
        """Print one protocol line and flush it."""
        sys.stdout.write(json.dumps(obj) + "\n")
        sys.stdout.flush()

    def note(msg):
        """Human progress, on stderr."""
        sys.stderr.write("peers.py: %s\n" % msg)
        sys.stderr.flush()

    def error_text(exc):
        """'Type: message' of an exception, on one line. For a failure
        inside a CPython interpreter, the original exception is named
        rather than the ExecutionFailed wrapper (whose text is a whole
        traceback)."""
        info = getattr(exc, "excinfo", None)
        if info is not None and getattr(info, "type", None) is not None:
            name = getattr(info.type, "__name__", None) or str(info.type)
            text = "%s: %s" % (name, info.msg)
        else:
            text = "%s: %s" % (type(exc).__name__, exc)
        return " ".join(text.split())

    # -- memory ---------------------------------------------------------

    def _proc_kb(path, key):
        """The value in kB of a "Key:   123 kB" line of a /proc file, or
        None when it cannot be read."""
        try:
            with open(path) as f:
                for line in f:
                    if line.startswith(key):
                        return int(line.split()[1])
        except (OSError, ValueError, IndexError):
            pass
        return None

    def rss_kb(pid="self"):
        """VmRSS of a process in kB (None if unreadable)."""
        return _proc_kb("/proc/%s/status" % pid, "VmRSS:")

    def pss_kb(pid="self"):
        """Pss of a process in kB (None if unreadable)."""
        return _proc_kb("/proc/%s/smaps_rollup" % pid, "Pss:")

    def mean_mb(values):
        """Mean of kB values in MiB, rounded; None when any is unknown."""
        if not values or any(v is None for v in values):
            return None
        return round(sum(values) / len(values) / 1024, 2)

    def wait_single_threaded(limit=2.0):
        """Wait until this process has one OS thread again.

        A pool's helper threads are joined when it shuts down, but the OS
        thread can take a moment longer to go; forking before then would
        make 3.12+ warn that fork() in a multi-threaded process may
        deadlock (and the warning would be right).
        """
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            threads = _proc_kb("/proc/self/status", "Threads:")
            if threads is None or threads <= 1:
                return
            time.sleep(0.001)

    # -- backends ---------------------------------------------------------
    #
    # A backend is one pool of workers. Each offers:
    #   run_tasks(name, size, count) -> [str]     task() of indexes 0..count-1
    #   run_echo(payloads) -> [bytes]             echo() of each payload
    #   call_tiny() -> str                        one task("tiny", 0, 0)
    #   echo_one(payload) -> bytes                one echo, waited for
    #   warm()                                    every worker runs a task
    #   healthy() -> bool                         still usable after an error?
    #   worker_pids() -> [int] or None            None: workers are in-process
    #   close() / terminate()                     orderly / immediate teardown

    class SequentialBackend:
        """No pool: tasks run one after another in this process."""

        in_process = True

        def __init__(self, workers):
            pass

        @staticmethod
        def unavailable():
            return None

        def run_tasks(self, name, size, count):
            return [workloads.task(name, size, i) for i in range(count)]

        def run_echo(self, payloads):
            return [workloads.echo(p) for p in payloads]

        def call_tiny(self):
            return workloads.task("tiny", 0, 0)

        def echo_one(self, payload):
            return workloads.echo(payload)

        def warm(self):
            pass

        def healthy(self):
            return True

        def worker_pids(self):
            return None

        def close(self):
            pass

        terminate = close

    class ThreadsBackend:
        """concurrent.futures.ThreadPoolExecutor(N) in this process."""

        in_process = True

        # What a pool thread calls for one task and one echo. The 3.13
        # interpreters backend, whose threads each drive an interpreter,
        # replaces them and keeps the rest.
        _task = staticmethod(workloads.task)
        _echo = staticmethod(workloads.echo)

        def __init__(self, workers):
            from concurrent.futures import ThreadPoolExecutor

            self.workers = workers
            self.pool = ThreadPoolExecutor(workers)

        @staticmethod
        def unavailable():
            return None

        def run_tasks(self, name, size, count):
            return list(self.pool.map(partial(self._task, name, size), range(count)))

        def run_echo(self, payloads):
            return list(self.pool.map(self._echo, payloads))

        def call_tiny(self):
            return self.pool.submit(self._task, "tiny", 0, 0).result()

        def echo_one(self, payload):
            return self.pool.submit(self._echo, payload).result()

        def warm(self):
            # Threads (and in the interpreter backends, interpreters) start
            # lazily: many tasks at once start all N before any is idle.
            self.run_tasks("tiny", 0, 4 * self.workers)

        def healthy(self):
            from concurrent.futures import wait

            try:
                done, _ = wait([self.pool.submit(self._task, "tiny", 0, 0)],
                               timeout=_PROBE_TIMEOUT)
                return bool(done) and list(done)[0].exception() is None
            except Exception:
                return False

        def worker_pids(self):
            return None

        def close(self):
            self.pool.shutdown(wait=True)

        def terminate(self):
            # Threads cannot be killed: drop the queued tasks; the running
            # ones end within one task's time.
            self.pool.shutdown(wait=True, cancel_futures=True)

    def _free_threading_missing():
        """Why this Python cannot run the free-threaded modes, or None."""
        import sysconfig

        if not sysconfig.get_config_var("Py_GIL_DISABLED"):
            return ("%s (CPython %s) is not a free-threaded build: it was not "
                    "configured with --disable-gil" % (sys.executable, platform.python_version()))
        if _gil_enabled():
            return ("the GIL is enabled in this free-threaded build (PYTHON_GIL=1 "
                    "or -X gil=1?); unset it to measure free-threading")
        return None

    def _gil_enabled():
        """Whether the GIL is on (always, before 3.13)."""
        check = getattr(sys, "_is_gil_enabled", None)
        return True if check is None else check()

    class FreeThreadedSequentialBackend(SequentialBackend):
        """sequential in a free-threaded build: the single-thread cost of
        free-threading, next to sequential in the GIL build."""

        free_threaded = True

        @staticmethod
        def unavailable():
            return _free_threading_missing()

    class FreeThreadedThreadsBackend(ThreadsBackend):
        """threads in a free-threaded build: ThreadPoolExecutor(N) whose
        threads run Python in parallel, sharing every object."""

        free_threaded = True

        @staticmethod
        def unavailable():
            return _free_threading_missing()

    def child_pids():
        """The pids of the worker processes of this process's one pool.

        multiprocessing.active_children() is the public list of the
        processes this process started: here, just the pool's workers (not
        the fork server or resource tracker, which are not Process
        objects)."""
        import multiprocessing

        return [p.pid for p in multiprocessing.active_children()]

    def _process_warm(run_warm, workers, pids):
        """Run rounds of _warm tasks until every worker process has run one
        (or 60 s passed: then go on, warm or not). The pids are asked for
        after each round: a ProcessPoolExecutor starts its processes as
        tasks arrive."""
        seen = set()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            seen.update(run_warm(4 * workers))
            want = set(pids())
            if len(want) >= workers and want <= seen:
                return
        note("warning: not every worker ran a warm-up task")

    class MultiprocessingBackend:
        """multiprocessing.get_context(METHOD).Pool(N); map(chunksize=1)."""

        in_process = False
        method = None  # set by the subclasses below

        def __init__(self, workers):
            import multiprocessing

            self.workers = workers
            if self.method == "fork":
                wait_single_threaded()
            ctx = multiprocessing.get_context(self.method)
            self.pool = ctx.Pool(workers, initializer=_worker_init)
            self.broken = False
            # The workers as started; see _wait.
            self.pids = set(self.worker_pids())

        @classmethod
        def unavailable(cls):
            import multiprocessing

            if cls.method not in multiprocessing.get_all_start_methods():
                return "start method %r is not available on this platform" % cls.method
            return None

        def _wait(self, pending):
            """The result of a map_async/apply_async. A worker that dies
            (killed, out of memory) is replaced by multiprocessing.Pool, but
            its task is lost and the wait would never end; so a wait that
            takes a while checks the workers now and then, and gives up
            with an error, marking the pool broken, once one is gone."""
            while True:
                pending.wait(0.25)
                if pending.ready():
                    return pending.get()
                if set(self.worker_pids()) != self.pids:
                    self.broken = True
                    raise RuntimeError("a worker process died; its task is lost")

        def run_tasks(self, name, size, count):
            return self._wait(self.pool.map_async(partial(workloads.task, name, size),
                                                  range(count), chunksize=1))

        def run_echo(self, payloads):
            return self._wait(self.pool.map_async(workloads.echo, payloads, chunksize=1))

        def call_tiny(self):
            return self._wait(self.pool.apply_async(workloads.task, ("tiny", 0, 0)))

        def echo_one(self, payload):
            return self._wait(self.pool.apply_async(workloads.echo, (payload,)))

        def warm(self):
            _process_warm(
                lambda n: self._wait(self.pool.map_async(_warm, range(n), chunksize=1)),
                self.workers, self.worker_pids)

        def healthy(self):
            if self.broken:
                return False
            try:
                self.pool.map_async(_warm, range(self.workers), chunksize=1).get(_PROBE_TIMEOUT)
                return True
            except Exception:
                return False

        def worker_pids(self):
            return child_pids()

        def close(self):
            self.pool.close()
            self.pool.join()

        def terminate(self):
            self.pool.terminate()
            self.pool.join()

    class ForkBackend(MultiprocessingBackend):
        method = "fork"

    class ForkserverBackend(MultiprocessingBackend):
        method = "forkserver"

    class SpawnBackend(MultiprocessingBackend):
        method = "spawn"

    class ProcessPoolExecutorBackend:
        """concurrent.futures.ProcessPoolExecutor(N) with this Python's
        default start method; map(chunksize=1)."""

        in_process = False

        def __init__(self, workers):
            import multiprocessing
            from concurrent.futures import ProcessPoolExecutor

            self.workers = workers
            if multiprocessing.get_start_method() == "fork":
                wait_single_threaded()
            self.pool = ProcessPoolExecutor(workers, initializer=_worker_init)

        @staticmethod
        def unavailable():
            return None

        def run_tasks(self, name, size, count):
            return list(self.pool.map(partial(workloads.task, name, size), range(count),
                                      chunksize=1))

        def run_echo(self, payloads):
            return list(self.pool.map(workloads.echo, payloads, chunksize=1))

        def call_tiny(self):
            return self.pool.submit(workloads.task, "tiny", 0, 0).result()

        def echo_one(self, payload):
            return self.pool.submit(workloads.echo, payload).result()

        def warm(self):
            _process_warm(lambda n: list(self.pool.map(_warm, range(n), chunksize=1)),
                          self.workers, self.worker_pids)

        def healthy(self):
            try:
                self.pool.submit(_warm, 0).result(_PROBE_TIMEOUT)
                return True
            except Exception:
                return False

        def worker_pids(self):
            return child_pids()

        def close(self):
            self.pool.shutdown(wait=True)

        def terminate(self):
            kill = getattr(self.pool, "terminate_workers", None)  # 3.14+
            if kill is not None:
                kill()
            else:
                import multiprocessing

                for p in multiprocessing.active_children():
                    p.terminate()
            self.pool.shutdown(wait=True, cancel_futures=True)

    # The code every 3.13 worker interpreter runs once: make workloads
    # importable and bind the functions that run a task and an echo. The
    # inputs arrive in __main__ through prepare_main(); the result goes
    # back through the interpreter's own cross-interpreter queue, _results
    # (also bound by prepare_main), as a shareable str or bytes, which is
    # copied rather than pickled (syncobj=True).
    _INTERP_SETUP = """\
import sys
if {here!r} not in sys.path:
    sys.path.insert(0, {here!r})
import workloads

def _run_task():
    _results.put_nowait(workloads.task(name, size, index), syncobj=True)

def _run_echo():
    global payload
    data, payload = payload, None  # do not keep the input alive
    _results.put_nowait(workloads.echo(data), syncobj=True)
"""

    # The high-level queues module has to be imported in a worker
    # interpreter before a queue can be handed to it (prepare_main fails
    # with "_interpqueues module not imported yet" otherwise). On 3.13 it
    # lives in the test package, whose test/support/__init__.py imports
    # unittest, logging, inspect, dataclasses and more: about 100 ms per
    # interpreter, which would swamp the start-up figure with the cost of
    # the test suite rather than of the interpreters API. So the worker
    # interpreters get empty stand-ins for the `test` and `test.support`
    # packages (pointing at the real directories), and then import
    # test.support.interpreters.queues itself, unchanged (3.14 moved this
    # code out of the test package, as concurrent.interpreters). The
    # coordinating interpreter imports the real thing.
    _INTERP_QUEUES_IMPORT = """\
import sys
if "test.support" not in sys.modules:
    import os, types
    for _name in ("test", "test.support"):
        _pkg = types.ModuleType(_name)
        _pkg.__path__ = [os.path.join({stdlib!r}, *_name.split("."))]
        sys.modules[_name] = _pkg
    del os, types, _name, _pkg
from test.support.interpreters import queues as _queues
"""

    class Interpreters313Backend(ThreadsBackend):
        """CPython 3.13's test.support.interpreters: N isolated (own-GIL)
        interpreters, each driven by one thread of a
        ThreadPoolExecutor(N). A task is prepare_main(name, size, index) +
        exec("_run_task()"), then get_nowait() on the interpreter's queue.

        get_nowait(), not get(): exec() has returned, so the result is
        already in the queue, and 3.13's blocking get() polls the queue
        with a 10 ms sleep, which would time the poll and not the API.
        """

        in_process = True

        def __init__(self, workers):
            import sysconfig
            from concurrent.futures import ThreadPoolExecutor
            from test.support import interpreters
            from test.support.interpreters import queues

            self.workers = workers
            self.slots = []  # (interpreter, its result queue)
            self.free = queue.SimpleQueue()
            self.local = threading.local()
            self.pool = None
            try:
                setup = (_INTERP_QUEUES_IMPORT.format(stdlib=sysconfig.get_path("stdlib"))
                         + _INTERP_SETUP.format(here=_HERE))
                for _ in range(workers):
                    interp = interpreters.create()  # isolated: its own GIL
                    results = queues.create()
                    self.slots.append((interp, results))
                    interp.exec(setup)
                    interp.prepare_main(_results=results)
                    self.free.put((interp, results))
                # Threads start lazily, one per task until N; each takes
                # an interpreter of its own for good.
                self.pool = ThreadPoolExecutor(workers, initializer=self._bind)
            except BaseException:
                self.terminate()
                raise

        @staticmethod
        def unavailable():
            try:
                import test.support.interpreters  # noqa: F401
                import test.support.interpreters.queues  # noqa: F401
            except ImportError as exc:
                if sys.version_info < (3, 13):
                    return ("CPython %d.%d has no interpreters API with queues: "
                            "test.support.interpreters.queues is new in 3.13"
                            % sys.version_info[:2])
                return "test.support.interpreters is not installed: %s" % exc
            return None

        def _bind(self):
            """ThreadPoolExecutor initializer: give this thread its
            interpreter."""
            self.local.slot = self.free.get_nowait()

        def _task(self, name, size, index):
            interp, results = self.local.slot
            interp.prepare_main(name=name, size=size, index=index)
            interp.exec("_run_task()")
            return results.get_nowait()

        def _echo(self, data):
            interp, results = self.local.slot
            interp.prepare_main(payload=data)
            interp.exec("_run_echo()")
            return results.get_nowait()

        def close(self):
            if self.pool is not None:
                self.pool.shutdown(wait=True)
            for interp, _ in self.slots:
                interp.close()
            self.slots = []

        def terminate(self):
            # Running exec() calls cannot be interrupted; they end within
            # one task's time, and an interpreter can be closed only then.
            if self.pool is not None:
                self.pool.shutdown(wait=True, cancel_futures=True)
            for interp, _ in self.slots:
                try:
                    interp.close()
                except Exception:
                    pass
            self.slots = []

    class InterpreterPoolBackend(ThreadsBackend):
        """CPython 3.14+'s concurrent.futures.InterpreterPoolExecutor(N):
        a thread per worker, each with its own interpreter; functions and
        arguments travel pickled."""

        @staticmethod
        def _executor():
            from concurrent.futures import InterpreterPoolExecutor

            return InterpreterPoolExecutor

        def __init__(self, workers):
            import site

            self.workers = workers
            # The initializer runs in each new interpreter and must travel
            # pickled: site.addsitedir pickles by reference, its argument
            # is a str, and it puts this directory on sys.path.
            self.pool = self._executor()(workers, initializer=site.addsitedir, initargs=(_HERE,))

        @staticmethod
        def unavailable():
            return None

    class SubinterpInterpretersBackend(InterpreterPoolBackend):
        """subinterp.interpreters.InterpreterPoolExecutor(N), the drop-in
        for 3.14's, with the same workloads, initializer and calls: its
        workers are interpreters of subinterp's runtime (own GIL, own OS
        thread) fed through Go-memory channels."""

        @staticmethod
        def _executor():
            from subinterp.interpreters import InterpreterPoolExecutor

            return InterpreterPoolExecutor

        @staticmethod
        def unavailable():
            try:
                import subinterp.interpreters  # noqa: F401
            except ImportError:
                return ("subinterp.interpreters exists only inside subinterp's embedded "
                        "runtime: `subinterp bench --mode subinterp-interpreters` runs "
                        "this file there")
            return None


    def _interpreters_backend():
        """The cpython-interpreters backend for this Python."""
        try:
            from concurrent.futures import InterpreterPoolExecutor  # noqa: F401
        except ImportError:
            return Interpreters313Backend
        return InterpreterPoolBackend

    class PipeBackend:
        """A fork child that echoes over a multiprocessing.Pipe(), with
        send_bytes/recv_bytes: the raw cost of moving bytes to another
        process and back, without pickling or a pool. Round trip only."""

        in_process = False

        def __init__(self, workers):
            import multiprocessing

            wait_single_threaded()
            ctx = multiprocessing.get_context("fork")
            self.conn, child_end = ctx.Pipe()
            self.proc = ctx.Process(target=_pipe_child,
                                    args=(child_end, self.conn), daemon=True)
            self.proc.start()
            child_end.close()

        @staticmethod
        def unavailable():
            import multiprocessing

            if "fork" not in multiprocessing.get_all_start_methods():
                return "the fork start method is not available on this platform"
            return None

        def echo_one(self, payload):
            self.conn.send_bytes(payload)
            return self.conn.recv_bytes()

        def warm(self):
            self.echo_one(b"x")

        def healthy(self):
            return self.proc.is_alive()

        def worker_pids(self):
            return [self.proc.pid]

        def close(self):
            self.conn.close()  # the child sees EOF and exits
            self.proc.join(5)
            if self.proc.is_alive():
                self.terminate()

        def terminate(self):
            self.conn.close()
            self.proc.terminate()
            self.proc.join()

    MODES = {
        "sequential": lambda: SequentialBackend,
        "threads": lambda: ThreadsBackend,
        "multiprocessing-fork": lambda: ForkBackend,
        "multiprocessing-forkserver": lambda: ForkserverBackend,
        "multiprocessing-spawn": lambda: SpawnBackend,
        "process-pool-executor": lambda: ProcessPoolExecutorBackend,
        "subinterp-interpreters": lambda: SubinterpInterpretersBackend,
        "cpython-interpreters": _interpreters_backend,
        "multiprocessing-pipe": lambda: PipeBackend,
        "threads-free-threaded": lambda: FreeThreadedThreadsBackend,
        "sequential-free-threaded": lambda: FreeThreadedSequentialBackend,
    }

    # -- latency peers (microbench) -----------------------------------------

    # The low-level interpreters module, imported by the latency modes
    # alone (the throughput modes' processes stay as they were).
    _interpreters = None

    def _import_interpreters():
        """Import _interpreters (3.12: _xxsubinterpreters); False if this
        Python has neither."""
        global _interpreters
        for name in ("_interpreters", "_xxsubinterpreters"):
            try:
                _interpreters = __import__(name)
                return True
            except ImportError:
                pass
        return False

    def _noop():
        """A function with no arguments and no free variables, as
        _interpreters.call requires."""
        return None

    def _timed_ns(op, n, warmup):
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

    def _need_interpreters():
        """Why the _interpreters peers cannot run here, or None."""
        if not _import_interpreters():
            return "this Python has no _interpreters module (needs CPython >= 3.12)"
        return None

    def _need_interp_call():
        """Why interp-call cannot run here, or None."""
        why = _need_interpreters()
        if why is None and not hasattr(_interpreters, "call"):
            why = "_interpreters.call needs CPython >= 3.13"
        return why

    def interp_create(n, warmup):
        """create + destroy of an isolated interpreter."""

        def op():
            iid = _interpreters.create()
            _interpreters.destroy(iid)

        return "_interpreters.create()+destroy()", _timed_ns(op, n, warmup)

    def process_pool(n, warmup):
        """submit(identity, 1).result() to a one-process pool."""
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor(max_workers=1, initializer=_worker_init) as pool:
            samples = _timed_ns(lambda: pool.submit(_identity, 1).result(), n, max(warmup, 20))
        return "ProcessPoolExecutor(1).submit(identity, 1).result()", samples

    def thread_queue(n, warmup):
        """Round trip through a request and a response queue.Queue."""
        req, resp = queue.Queue(), queue.Queue()

        def worker():
            while True:
                x = req.get()
                if x is None:
                    return
                resp.put(_identity(x))

        t = threading.Thread(target=worker)
        t.start()

        def op():
            req.put(1)
            resp.get()

        try:
            samples = _timed_ns(op, n, warmup)
        finally:
            req.put(None)
            t.join()
        return "queue.Queue put/get round trip to a thread", samples

    def interp_call(n, warmup):
        """_interpreters.call of a no-argument function."""
        iid = _interpreters.create()
        try:
            samples = _timed_ns(lambda: _interpreters.call(iid, _noop), n, warmup)
        finally:
            _interpreters.destroy(iid)
        return "_interpreters.call(id, noop)", samples

    def interp_exec(n, warmup):
        """_interpreters.exec of the code "pass"."""
        run = getattr(_interpreters, "exec", None) or getattr(_interpreters, "run_string")
        iid = _interpreters.create()
        try:
            samples = _timed_ns(lambda: run(iid, "pass"), n, warmup)
        finally:
            _interpreters.destroy(iid)
        return '_interpreters.exec(id, "pass")', samples

    # LATENCY maps each latency mode to its function, the check that says
    # why it cannot run here (None: it always can) and its default number
    # of timed rounds.
    LATENCY = {
        "interp-create": (interp_create, _need_interpreters, 30),
        "process-pool": (process_pool, None, 5000),
        "thread-queue": (thread_queue, None, 20000),
        "interp-call": (interp_call, _need_interp_call, 20000),
        "interp-exec": (interp_exec, _need_interpreters, 20000),
    }

    def nearest_rank(s, q):
        """The q-quantile of sorted s by the nearest-rank method."""
        return s[min(max(math.ceil(q * len(s)) - 1, 0), len(s) - 1)]

    def latency(mode, samples):
        """The latency line of a latency mode."""
        fn, _, _ = LATENCY[mode]
        what, ns = fn(samples, max(samples // 20, 1))
        s = sorted(ns)
        emit({"kind": "latency", "name": mode, "what": what,
              "median_us": statistics.median(s) / 1000, "p99_us": nearest_rank(s, 0.99) / 1000,
              "n": len(s), "site": not sys.flags.no_site})

    # -- the plan ---------------------------------------------------------

    def _int(value, what, minimum):
        """value as an int >= minimum, or PlanError."""
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise PlanError("%s must be an integer >= %d, got %r" % (what, minimum, value))
        return value

    def _get(obj, key, default):
        """obj[key], or default when it is missing or null (Go marshals a
        nil slice as null)."""
        value = obj.get(key)
        return default if value is None else value

    def read_plan(argv):
        """Parse and check the plan named by argv; raise PlanError."""
        if len(argv) != 1:
            raise PlanError("usage: peers.py PLAN_JSON  (or - to read it from stdin)")
        text = sys.stdin.read() if argv[0] == "-" else argv[0]
        try:
            plan = json.loads(text)
        except ValueError as exc:
            raise PlanError("the plan is not JSON: %s" % exc)
        if not isinstance(plan, dict):
            raise PlanError("the plan must be a JSON object")
        known = {"mode", "workers", "repeat", "workloads", "startup_samples", "roundtrip",
                 "latency"}
        extra = sorted(set(plan) - known)
        if extra:
            raise PlanError("unknown plan keys: %s" % ", ".join(extra))
        mode = plan.get("mode")
        if mode not in MODES and mode not in LATENCY:
            raise PlanError("unknown mode %r; modes: %s" % (mode, ", ".join([*MODES, *LATENCY])))
        workers = _get(plan, "workers", [1])
        if not isinstance(workers, list):
            raise PlanError("workers must be a list, got %r" % (workers,))
        workers = [_int(n, "each worker count", 1) for n in workers]
        repeat = _int(_get(plan, "repeat", 1), "repeat", 1)
        cases = _get(plan, "workloads", [])
        if not isinstance(cases, list):
            raise PlanError("workloads must be a list")
        checked = []
        for case in cases:
            if not isinstance(case, dict) or not isinstance(case.get("name"), str):
                raise PlanError("each workload must be an object with a string name: %r" % (case,))
            extra = sorted(set(case) - {"name", "size", "tasks"})
            if extra:
                raise PlanError("unknown workload keys: %s" % ", ".join(extra))
            name = case["name"]
            checked.append({
                "name": name,
                "size": _int(_get(case, "size", workloads.FULL_SIZES.get(name, 0)),
                             "size of " + name, 0),
                "tasks": _int(_get(case, "tasks", 8), "tasks of " + name, 1),
            })
        startup = _int(_get(plan, "startup_samples", 0), "startup_samples", 0)
        roundtrip = plan.get("roundtrip")
        if roundtrip is not None:
            if not isinstance(roundtrip, dict):
                raise PlanError("roundtrip must be an object")
            extra = sorted(set(roundtrip) - {"payloads", "samples"})
            if extra:
                raise PlanError("unknown roundtrip keys: %s" % ", ".join(extra))
            payloads = _get(roundtrip, "payloads", [1024, 1048576])
            if not isinstance(payloads, list):
                raise PlanError("roundtrip.payloads must be a list")
            roundtrip = {
                "payloads": [_int(b, "each roundtrip payload", 0) for b in payloads],
                "samples": _int(_get(roundtrip, "samples", 2000), "roundtrip.samples", 1),
            }
        latency = plan.get("latency")
        if latency is not None:
            if mode not in LATENCY:
                raise PlanError("latency is for the latency modes (%s), not %r"
                                % (", ".join(LATENCY), mode))
            if not isinstance(latency, dict):
                raise PlanError("latency must be an object")
            extra = sorted(set(latency) - {"samples"})
            if extra:
                raise PlanError("unknown latency keys: %s" % ", ".join(extra))
            latency = _int(_get(latency, "samples", LATENCY[mode][2]), "latency.samples", 1)
        elif mode in LATENCY:
            latency = LATENCY[mode][2]
        return {"mode": mode, "workers": workers, "repeat": repeat, "workloads": checked,
                "startup_samples": startup, "roundtrip": roundtrip, "latency": latency}

    # -- the measurements ---------------------------------------------------

    def prepare(backend):
        """Import what the mode needs before anything is measured, so the
        memory an in-process pool adds does not include the import of
        concurrent.futures (the start-up samples have a warm-up of their
        own)."""
        import concurrent.futures.thread  # noqa: F401

        if backend in (SequentialBackend, ThreadsBackend, InterpreterPoolBackend,
                       SubinterpInterpretersBackend, Interpreters313Backend, FreeThreadedSequentialBackend,
                       FreeThreadedThreadsBackend):
            return
        import concurrent.futures.process  # noqa: F401
        import multiprocessing.pool  # noqa: F401

    def make_pool(backend, workers):
        """A new, warmed pool: each worker has run at least one task."""
        pool = backend(workers)
        try:
            pool.warm()
        except BaseException:
            pool.terminate()
            raise
        return pool

    def timed_case(pool, case, repeat):
        """Time one workload on a warm pool; return (wall seconds, digest)."""
        name, size, count = case["name"], case["size"], case["tasks"]
        walls = []
        results = []
        clock = time.perf_counter
        for _ in range(repeat):
            if name == "transfer":
                payloads = [workloads.payload(size, i) for i in range(count)]
                t0 = clock()
                echoed = pool.run_echo(payloads)
                walls.append(clock() - t0)
                for i, (sent, back) in enumerate(zip(payloads, echoed)):
                    if back != sent:
                        raise ValueError("task %d echoed %d bytes that differ from the "
                                         "%d-byte payload" % (i, len(back), len(sent)))
                if len(echoed) != count:
                    raise ValueError("%d echoes for %d tasks" % (len(echoed), count))
                results = [str(len(b)) for b in echoed]
            else:
                t0 = clock()
                results = pool.run_tasks(name, size, count)
                walls.append(clock() - t0)
                if len(results) != count:
                    raise ValueError("%d results for %d tasks" % (len(results), count))
        return walls, workloads.digest(results)

    def memory_of_workers(pool):
        """(rss, pss) MiB per worker, mean over the worker processes."""
        pids = pool.worker_pids() or []
        return (mean_mb([rss_kb(p) for p in pids]),
                mean_mb([pss_kb(p) for p in pids]))

    def throughput(backend, mode, plan):
        """The result rows: per worker count, one pool, every workload."""
        sequential = issubclass(backend, SequentialBackend)
        if not plan["workloads"]:
            return
        counts = [1] if sequential else plan["workers"]
        for workers in counts:
            pool = None
            grown = (0.0, 0.0)  # in-process growth per worker, MiB

            def fresh_pool():
                before = (rss_kb(), pss_kb())
                new = make_pool(backend, workers)
                after = (rss_kb(), pss_kb())
                if sequential:
                    return new, (0.0, 0.0)
                # Growth below zero (the collector freed something
                # meanwhile) says no more than zero does.
                return new, tuple(
                    None if b is None or a is None else round(max(a - b, 0) / 1024 / workers, 2)
                    for b, a in zip(before, after))

            try:
                note("%s: %d worker(s)" % (mode, workers))
                try:
                    pool, grown = fresh_pool()
                except Exception as exc:
                    note("%s: making the pool failed: %s" % (mode, error_text(exc)))
                    for case in plan["workloads"]:
                        emit({"kind": "result", "workload": case["name"], "workers": workers,
                              "tasks": case["tasks"], "error": error_text(exc)})
                    continue
                for case in plan["workloads"]:
                    row = {"kind": "result", "workload": case["name"], "workers": workers,
                           "tasks": case["tasks"]}
                    try:
                        if pool is None:
                            pool, grown = fresh_pool()
                        walls, digest = timed_case(pool, case, plan["repeat"])
                        if getattr(backend, "free_threaded", False) and _gil_enabled():
                            raise RuntimeError(
                                "the GIL was enabled while this case ran (an extension "
                                "module without Py_mod_gil was imported): these would be "
                                "figures of a GIL build")
                        if pool.in_process:
                            rss, pss = grown
                        else:
                            rss, pss = memory_of_workers(pool)
                        row.update(wall_seconds=walls, digest=digest,
                                   rss_mb_per_worker=rss, pss_mb_per_worker=pss)
                        note("%s: %s x%d on %d: %.3f s" % (mode, case["name"], case["tasks"],
                                                          workers, min(walls)))
                    except Exception as exc:
                        row["error"] = error_text(exc)
                        note("%s: %s on %d failed: %s" % (mode, case["name"], workers,
                                                           row["error"]))
                        if pool is not None and not pool.healthy():
                            note("%s: the pool broke; making a new one" % mode)
                            old, pool = pool, None
                            old.terminate()
                    emit(row)
            except BaseException:
                if pool is not None:
                    pool.terminate()
                raise
            else:
                if pool is not None:
                    pool.close()

    def startup(backend, mode, samples):
        """The startup line: fresh 1-worker pools, first tiny task.

        One more pool than asked for is made first and not counted: the
        first pool of a process also pays for one-time costs (lazy imports
        inside multiprocessing, the fork server and resource tracker
        coming up) that a later pool does not, and a plan without
        throughput cases would otherwise count them in the first sample.
        """
        clock = time.perf_counter
        ms = []
        try:
            for sample in range(samples + 1):
                # Untimed: the last pool's threads may still be on their
                # way out (see wait_single_threaded); the backends that
                # fork wait for them again, at no cost by then.
                wait_single_threaded()
                t0 = clock()
                pool = backend(1)
                try:
                    pool.call_tiny()
                    took = (clock() - t0) * 1000
                except BaseException:
                    pool.terminate()
                    raise
                pool.close()
                if sample:
                    ms.append(took)
            note("%s: start-up %s ms" % (mode, ", ".join("%.1f" % m for m in ms)))
            emit({"kind": "startup", "ms": ms})
        except Exception as exc:
            emit({"kind": "startup", "error": error_text(exc)})

    def roundtrip(backend, mode, spec):
        """The roundtrip lines: echo() to a warm 1-worker pool, one at a
        time, per payload size."""
        clock = time.perf_counter
        pool = None
        try:
            for size in spec["payloads"]:
                n = spec["samples"] if size < _BIG_PAYLOAD else max(20, spec["samples"] // 20)
                line = {"kind": "roundtrip", "payload_bytes": size}
                try:
                    if pool is None:
                        pool = make_pool(backend, 1)
                    data = workloads.payload(size, 0)
                    # A few untimed echoes first: the first of a size can
                    # pay for growing buffers.
                    for _ in range(min(5, n)):
                        pool.echo_one(data)
                    times = []
                    for _ in range(n):
                        t0 = clock()
                        back = pool.echo_one(data)
                        times.append(clock() - t0)
                        if back != data:
                            raise ValueError("the echo of %d bytes differs" % size)
                    line.update(microseconds=round(statistics.median(times) * 1e6, 2),
                                samples=n)
                    note("%s: round trip of %d bytes: %.1f us" % (mode, size,
                                                                  line["microseconds"]))
                except Exception as exc:
                    line["error"] = error_text(exc)
                    if pool is not None and not pool.healthy():
                        old, pool = pool, None
                        old.terminate()
                emit(line)
        except BaseException:
            if pool is not None:
                pool.terminate()
            raise
        else:
            if pool is not None:
                pool.close()

    def kill_leftover_children():
        """Last resort on the way out after a signal: kill any worker
        process still running."""
        mp = sys.modules.get("multiprocessing")
        if mp is None:
            return
        children = mp.active_children()
        for p in children:
            p.terminate()
        for p in children:
            p.join(2)
            if p.is_alive():
                p.kill()

    def main(argv):
        """Run the plan; return the exit status."""
        try:
            signal.signal(signal.SIGTERM, _on_signal)
            signal.signal(signal.SIGINT, _on_signal)
        except RuntimeError:
            # Inside subinterp's embedded runtime (the subinterp-interpreters
            # mode), Go owns the signals and refuses signal.signal: the
            # process has no pools of processes to tear down, and is killed
            # by the bench that started it.
            pass
        try:
            try:
                plan = read_plan(argv)
            except PlanError as exc:
                sys.stderr.write("peers.py: %s\n" % exc)
                return 2
            mode = plan["mode"]
            if mode in LATENCY:
                check = LATENCY[mode][1]
                why = check() if check else None
                if why:
                    emit({"kind": "hello", "mode": mode, "available": False, "reason": why})
                    return 0
                emit({"kind": "hello", "mode": mode, "available": True,
                      "python": platform.python_version()})
                latency(mode, plan["latency"])
                emit({"kind": "done"})
                return 0
            backend = MODES[mode]()
            why = backend.unavailable()
            if why:
                emit({"kind": "hello", "mode": mode, "available": False, "reason": why})
                return 0
            emit({"kind": "hello", "mode": mode, "available": True,
                  "python": platform.python_version()})
            if backend is ProcessPoolExecutorBackend:
                import multiprocessing

                note("%s: start method %s" % (mode, multiprocessing.get_start_method()))
            prepare(backend)
            if backend is not PipeBackend:
                throughput(backend, mode, plan)
                if plan["startup_samples"] > 0 and not issubclass(backend, SequentialBackend):
                    startup(backend, mode, plan["startup_samples"])
            if plan["roundtrip"] is not None and not issubclass(backend, SequentialBackend):
                roundtrip(backend, mode, plan["roundtrip"])
            emit({"kind": "done"})
            return 0
        except Stopped as stop:
            kill_leftover_children()
            note("stopped by signal %d" % stop.signum)
            return 128 + stop.signum

    sys.exit(main(sys.argv[1:]))
