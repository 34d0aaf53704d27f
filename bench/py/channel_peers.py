#!/usr/bin/env python3
"""Peer benchmarks for subinterp's Go-memory channels (issue 3, "Figures"),
run by hand as docs/microbenchmarks.md shows; their figures are there.

The figures our channels are compared against, measured with nothing but the
standard library of the CPython build under test:

  cpython-channel-pingpong         3.13 test.support.interpreters.channels,
                                   send() + recv() (PEP 554 default API)
  cpython-channel-pingpong-nowait  the same with send_nowait() + recv()
  cpython-queue-pingpong           3.13 test.support.interpreters.queues,
                                   put() + get()
  mp-pipe-pingpong                 multiprocessing.Pipe, send() + recv()
  mp-queue-pingpong                two multiprocessing.Queue, put() + get()
  mp-pipe-1mib                     multiprocessing.Pipe, send_bytes() of
                                   --size bytes, child recv_bytes() and counts
  cpython-channel-1mib             3.13 channels, send() of --size bytes,
                                   the other interpreter recv()s and counts

Usage:
  python3.13 bench/py/channel_peers.py NAME [--n N] [--size BYTES]
  python3.13 bench/py/channel_peers.py --list

Each invocation prints exactly one JSON object on stdout:
  latency:    {"name", "n", "median_us", "p99_us", "mean_us"}
              (one sample = one small-int round trip, timed by the main side)
  throughput: {"name", "n", "size", "gbps", "median_us_per_msg"}
              (gbps = n * size / elapsed, in GB/s = 1e9 bytes/s)
Errors go to stderr with exit status 1. A watchdog (--timeout) dumps the
stacks and exits 1 if a run hangs.

How CPython 3.13's own channels and queues block (read this before quoting
the numbers; source: Lib/test/support/interpreters/ and
Modules/_interpchannelsmodule.c of the same build):

* RecvChannel.recv(), Queue.get() and Queue.put() (when full) poll: try,
  then time.sleep(0.010), try again.  A receiver that finds nothing pays a
  whole 10 ms sleep.
* SendChannel.send() (blocking, the PEP 554 default) is different: it
  enqueues the item and then waits on a real lock that the receiver releases
  right after recv() has built the object.  In a ping-pong where both sides
  use send() the item is usually already queued when the peer comes back to
  recv(), so most round trips go through that lock handoff (tens of µs) and
  only the ones where the peer's recv() wins the race pay a 10 ms sleep:
  low median, 10 ms tail.  With send_nowait() (or queues, whose put() never
  waits for the receiver) every round trip pays the polling sleep (~10 ms).
  Both variants are provided; report both.
* For bulk data the receiver loops on recv() with nothing to do in between,
  so it finds the channel empty and sleeps 10 ms per message:
  cpython-channel-1mib is bounded at about size / 10 ms.
* Interpreter.prepare_main(q=queue) fails with "_interpqueues module not
  imported yet" unless the target interpreter imported it first; channel
  ends bind fine.  recv()/get()/put() truncate a timeout with int().
* bytes cross as one copy made in the receiving interpreter; send() returns
  only after that copy exists, so its throughput needs no extra ack.

Runs are short and the machines are shared: figures are noisy, compare runs
made back to back.
"""

import argparse
import faulthandler
import json
import math
import os
import sys
import threading
import time

# --------------------------------------------------------------------------
# helpers


class BenchError(Exception):
    """A benchmark could not run or produced a wrong result."""


class _ArgumentParser(argparse.ArgumentParser):
    def error(self, message):  # usage errors exit 1 like every failure
        self.print_usage(sys.stderr)
        self.exit(1, f"{self.prog}: error: {message}\n")


def _median(s):
    """The median of sorted s: the mean of the middle two for an even
    count, as bench/stats.go and peers.py compute it."""
    mid = len(s) // 2
    return s[mid] if len(s) % 2 else (s[mid - 1] + s[mid]) / 2


def _latency_result(name, samples_ns):
    if not samples_ns:
        raise BenchError("no samples")
    s = sorted(samples_ns)
    n = len(s)
    median = _median(s)
    p99 = s[max(0, math.ceil(0.99 * n) - 1)]  # nearest rank
    return {
        "name": name,
        "n": n,
        "median_us": round(median / 1e3, 3),
        "p99_us": round(p99 / 1e3, 3),
        "mean_us": round(sum(s) / n / 1e3, 3),
    }


def _throughput_result(name, size, per_msg_ns, elapsed_ns):
    n = len(per_msg_ns)
    if n == 0 or elapsed_ns <= 0:
        raise BenchError("no samples")
    median = _median(sorted(per_msg_ns))
    return {
        "name": name,
        "n": n,
        "size": size,
        "gbps": round(n * size / (elapsed_ns / 1e9) / 1e9, 4),
        "median_us_per_msg": round(median / 1e3, 3),
    }


def _check(cond, msg):
    if not cond:
        raise BenchError(msg)


_CHILD_DIED = ("channel_peers: child process died",)


def _expect_reply(name, sent, got):
    if got == _CHILD_DIED:
        raise BenchError("the child process died (see its traceback above)")
    if got != sent + 1:
        raise BenchError(f"sent {sent!r}, got back {got!r} "
                         f"(expected {sent + 1!r})")


# --------------------------------------------------------------------------
# CPython 3.13 subinterpreters (test.support.interpreters)




def _timed_sends(args, send, payload):
    """Send payload args.warmup times untimed, then args.n times timed;
    return when the timed sends started (ns) and each send's time."""
    for _ in range(args.warmup):
        send(payload)
    per_msg = []
    start = time.perf_counter_ns()
    for _ in range(args.n):
        t0 = time.perf_counter_ns()
        send(payload)
        per_msg.append(time.perf_counter_ns() - t0)
    return start, per_msg

def _pingpong(name, args, send, recv):
    """Send i and wait for its echo, args.warmup times untimed, then args.n
    times timed; return the round trips in ns."""
    for i in range(args.warmup):
        send(i)
        _expect_reply(name, i, recv())
    samples = []
    for i in range(args.n):
        t0 = time.perf_counter_ns()
        send(i)
        got = recv()
        samples.append(time.perf_counter_ns() - t0)
        _expect_reply(name, i, got)
    return samples

def _import_interpreters():
    try:
        from test.support import interpreters
        from test.support.interpreters import channels, queues
    except ImportError as exc:
        raise BenchError(
            "test.support.interpreters (with .channels and .queues) is not "
            f"importable in {sys.executable} (Python "
            f"{sys.version.split()[0]}): {exc}. Use a CPython 3.13 build with "
            "its test package installed, e.g. the python3.13 of "
            "scripts/python.sh's $SUBINTERP_PYTHON_PREFIX/bin"
        ) from exc
    return interpreters, channels, queues


class _SubInterpreter:
    """Run `code` in a new interpreter, in a daemon thread of this process.

    Interpreter.exec() blocks the calling thread, so the loop on the other
    side of the benchmark runs in its own thread.  `names` are bound in the
    interpreter's __main__ with prepare_main() (channel ends and queues are
    shareable).  `abort` is called when either side fails, to wake the other
    side (it closes channels or destroys queues); `cleanup` always runs last.
    """

    def __init__(self, interpreters, code, names, abort, cleanup, setup=None):
        self._interpreters = interpreters
        self._setup = setup
        self._code = code
        self._names = names
        self._abort = abort
        self._cleanup = cleanup
        self._interp = None
        self._thread = None
        self.error = None

    def __enter__(self):
        try:
            self._interp = self._interpreters.create()
            if self._setup:
                self._interp.exec(self._setup)
            self._interp.prepare_main(**self._names)
            self._thread = threading.Thread(
                target=self._run, name="subinterp-bench", daemon=True)
            self._thread.start()
        except BaseException:
            self._close(failed=True)
            raise
        return self

    def _run(self):
        try:
            self._interp.exec(self._code)
        except BaseException as exc:  # reported by the main thread
            self.error = exc
            self._safe_abort()

    def _safe_abort(self):
        try:
            self._abort()
        except Exception:
            pass

    def raise_if_failed(self):
        if self.error is not None:
            raise BenchError("the subinterpreter side failed:\n"
                             f"{self.error}") from self.error

    def __exit__(self, exc_type, exc, tb):
        self._close(failed=exc_type is not None)
        if exc_type is None:
            self.raise_if_failed()
        elif self.error is not None and issubclass(exc_type, Exception):
            # The main side most likely failed because the other side died
            # and aborted the channel: report the root cause.
            raise BenchError("the subinterpreter side failed:\n"
                             f"{self.error}") from self.error
        return False

    def _close(self, failed):
        if failed:
            self._safe_abort()
        stuck = False
        if self._thread is not None:
            self._thread.join(timeout=10)
            stuck = self._thread.is_alive()
        try:
            self._cleanup()
        except Exception as exc:
            if not failed:
                raise BenchError(f"cleanup failed: {exc!r}") from exc
        if stuck:
            # Cannot destroy a running interpreter, and finalizing with one
            # running is not safe: give up loudly.
            print("channel_peers: subinterpreter thread did not stop; "
                  "exiting without finalizing", file=sys.stderr, flush=True)
            os._exit(1)
        if self._interp is not None:
            self._interp.close()
            self._interp = None


def _close_channels(chans, ids):
    err = None
    for cid in ids:
        try:
            chans.close(cid, force=True)
        except chans.ChannelClosedError:
            pass
        except chans.ChannelNotFoundError:
            pass
        except Exception as exc:
            err = err or exc
    if err is not None:
        raise err


# Code run in the other interpreter.  Module-level so they can be read (and
# swapped in tests of the failure paths).  Any ChannelError/QueueError there
# means the main side aborted: leave quietly.

SUB_CHANNEL_PINGPONG = """\
from test.support.interpreters import channels as _ch
_send = sch.send_nowait if nowait else sch.send
try:
    while True:
        x = rch.recv()
        if x is None:
            break
        _send(x + 1)
except _ch.ChannelError:
    pass
"""

SUB_QUEUE_PINGPONG = """\
from test.support.interpreters import queues as _q
try:
    while True:
        x = q_in.get()
        if x is None:
            break
        q_out.put(x + 1)
except _q.QueueError:
    pass
"""

SUB_CHANNEL_BYTES = """\
from test.support.interpreters import channels as _ch
total = 0
try:
    while True:
        b = rch.recv()
        if b is None:
            break
        total += len(b)
    sch.send_nowait(total)
except _ch.ChannelError:
    pass
"""


def bench_cpython_channel_pingpong(args, *, nowait=False):
    name = "cpython-channel-pingpong" + ("-nowait" if nowait else "")
    interpreters, channels, _ = _import_interpreters()
    import _interpchannels

    r_ping, s_ping = channels.create()
    r_pong, s_pong = channels.create()
    ids = [s_ping.id, s_pong.id]
    send = s_ping.send_nowait if nowait else s_ping.send
    recv = r_pong.recv
    with _SubInterpreter(
            interpreters, SUB_CHANNEL_PINGPONG,
            dict(rch=r_ping, sch=s_pong, nowait=nowait),
            abort=lambda: _close_channels(_interpchannels, ids),
            cleanup=lambda: _close_channels(_interpchannels, ids)) as sub:
        samples = _pingpong(name, args, send, recv)
        send(None)  # stop the loop
    sub.raise_if_failed()
    return _latency_result(name, samples)


def bench_cpython_queue_pingpong(args):
    name = "cpython-queue-pingpong"
    interpreters, _, queues = _import_interpreters()
    import _interpqueues

    # syncobj=True: small ints are shareable, so skip the default pickling.
    q_in = queues.create(syncobj=True)
    q_out = queues.create(syncobj=True)
    ids = [q_in.id, q_out.id]

    def abort():
        for qid in ids:
            try:
                _interpqueues.destroy(qid)
            except queues.QueueNotFoundError:
                pass

    put, get = q_in.put, q_out.get
    # Normal cleanup: the queues go away when the last Queue object (and the
    # other interpreter's binding, released when it is destroyed) goes away.
    # prepare_main() with a Queue fails with "_interpqueues module not
    # imported yet" unless the target interpreter imported it first.
    with _SubInterpreter(interpreters, SUB_QUEUE_PINGPONG,
                         dict(q_in=q_in, q_out=q_out),
                         abort=abort, cleanup=lambda: None,
                         setup="import test.support.interpreters.queues"
                         ) as sub:
        samples = _pingpong(name, args, put, get)
        put(None)
    sub.raise_if_failed()
    return _latency_result(name, samples)


def bench_cpython_channel_bytes(args):
    name = "cpython-channel-1mib"
    interpreters, channels, _ = _import_interpreters()
    import _interpchannels

    size = args.size
    payload = os.urandom(size)
    r_data, s_data = channels.create()
    r_res, s_res = channels.create()
    ids = [s_data.id, s_res.id]
    send = s_data.send
    with _SubInterpreter(
            interpreters, SUB_CHANNEL_BYTES, dict(rch=r_data, sch=s_res),
            abort=lambda: _close_channels(_interpchannels, ids),
            cleanup=lambda: _close_channels(_interpchannels, ids)) as sub:
        # send() returns once the receiver has built its copy: no ack needed.
        start, per_msg = _timed_sends(args, send, payload)
        elapsed = time.perf_counter_ns() - start
        send(None)
        total = r_res.recv(timeout=args.timeout)
        expected = (args.warmup + args.n) * size
        _check(total == expected,
               f"receiver counted {total} bytes, expected {expected}")
    sub.raise_if_failed()
    return _throughput_result(name, size, per_msg, elapsed)


# --------------------------------------------------------------------------
# multiprocessing peers (spawn: a clean child, same on every platform)


def _mp_context():
    import multiprocessing
    return multiprocessing.get_context("spawn")


def _child_watchdog(timeout):
    # If the parent vanishes without closing its end, do not linger forever.
    faulthandler.dump_traceback_later(timeout, exit=True)


def _child_pipe_pingpong(conn, timeout):
    _child_watchdog(timeout)
    try:
        while True:
            x = conn.recv()
            if x is None:
                break
            conn.send(x + 1)
    except (EOFError, BrokenPipeError, ConnectionResetError):
        pass
    finally:
        conn.close()


def _child_queue_pingpong(q_in, q_out, timeout):
    _child_watchdog(timeout)
    while True:
        x = q_in.get()
        if x is None:
            break
        q_out.put(x + 1)
    q_out.close()
    q_out.join_thread()


def _child_pipe_bytes(conn, timeout):
    _child_watchdog(timeout)
    total = 0
    try:
        while True:
            b = conn.recv_bytes()
            if not b:  # b"" ends the run
                break
            total += len(b)
        conn.send(total)
    except (EOFError, BrokenPipeError, ConnectionResetError):
        pass
    finally:
        conn.close()


class _Child:
    """Start a child process; always join it, terminate it on failure.

    `on_death`, if given, is called from a watcher thread when the child
    exits before __exit__ (used to wake a parent blocked in Queue.get(),
    which, unlike a Pipe, never sees EOF).  The watcher sleeps in wait()
    without the GIL, so it costs the timed loop nothing.
    """

    def __init__(self, ctx, target, args, on_death=None):
        self._proc = ctx.Process(target=target, args=args, daemon=True)
        self._on_death = on_death
        self._done = False

    def __enter__(self):
        self._proc.start()
        if self._on_death is not None:
            threading.Thread(target=self._watch, name="child-watch",
                             daemon=True).start()
        return self

    def _watch(self):
        from multiprocessing.connection import wait
        wait([self._proc.sentinel])
        if not self._done:
            self._on_death()

    def __exit__(self, exc_type, exc, tb):
        self._done = True
        p = self._proc
        if exc_type is not None:
            p.terminate()
        p.join(timeout=10)
        if p.is_alive():
            p.kill()
            p.join()
            if exc_type is None:
                raise BenchError("child process did not exit")
        elif exc_type is None and p.exitcode != 0:
            raise BenchError(f"child process exited with {p.exitcode}")
        return False


def bench_mp_pipe_pingpong(args):
    name = "mp-pipe-pingpong"
    ctx = _mp_context()
    parent, child = ctx.Pipe()
    try:
        with _Child(ctx, _child_pipe_pingpong, (child, args.timeout)):
            child.close()  # the child holds its own copy
            send, recv = parent.send, parent.recv
            samples = _pingpong(name, args, send, recv)
            send(None)
    except EOFError as exc:
        raise BenchError("the child closed the pipe early (see its "
                         "traceback above)") from exc
    finally:
        parent.close()
    return _latency_result(name, samples)


def bench_mp_queue_pingpong(args):
    name = "mp-queue-pingpong"
    ctx = _mp_context()
    q_in, q_out = ctx.Queue(), ctx.Queue()
    try:
        with _Child(ctx, _child_queue_pingpong, (q_in, q_out, args.timeout),
                    on_death=lambda: q_out.put(_CHILD_DIED)):
            put, get = q_in.put, q_out.get
            samples = _pingpong(name, args, put, get)
            put(None)
    finally:
        for q in (q_in, q_out):
            q.close()
            q.join_thread()
    return _latency_result(name, samples)


def bench_mp_pipe_bytes(args):
    name = "mp-pipe-1mib"
    ctx = _mp_context()
    size = args.size
    payload = os.urandom(size)
    parent, child = ctx.Pipe()
    try:
        with _Child(ctx, _child_pipe_bytes, (child, args.timeout)):
            child.close()
            send = parent.send_bytes
            start, per_msg = _timed_sends(args, send, payload)
            # send_bytes() returns once the data is in the socket buffer:
            # the clock stops when the child reports its count.
            send(b"")
            total = parent.recv()
            elapsed = time.perf_counter_ns() - start
            expected = (args.warmup + args.n) * size
            _check(total == expected,
                   f"child counted {total} bytes, expected {expected}")
    except EOFError as exc:
        raise BenchError("the child closed the pipe early (see its "
                         "traceback above)") from exc
    finally:
        parent.close()
    return _throughput_result(name, size, per_msg, elapsed)


# --------------------------------------------------------------------------
# registry and command line

# name -> (function, default n, default warm-up rounds)
BENCHMARKS = {
    "cpython-channel-pingpong": (bench_cpython_channel_pingpong, 50, 3),
    "cpython-channel-pingpong-nowait": (
        lambda a: bench_cpython_channel_pingpong(a, nowait=True), 50, 3),
    "cpython-queue-pingpong": (bench_cpython_queue_pingpong, 50, 3),
    "mp-pipe-pingpong": (bench_mp_pipe_pingpong, 5000, 200),
    "mp-queue-pingpong": (bench_mp_queue_pingpong, 2000, 200),
    "mp-pipe-1mib": (bench_mp_pipe_bytes, 500, 20),
    "cpython-channel-1mib": (bench_cpython_channel_bytes, 50, 2),
}
THROUGHPUT = {"mp-pipe-1mib", "cpython-channel-1mib"}


def _positive_int(text):
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}")
    if v <= 0:
        raise argparse.ArgumentTypeError(f"must be > 0: {text!r}")
    return v


def _nonneg_int(text):
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}")
    if v < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0: {text!r}")
    return v


def main(argv=None):
    p = _ArgumentParser(
        prog="channel_peers.py",
        description="Peer benchmarks (CPython channels/queues, "
                    "multiprocessing) for subinterp's channels; prints one "
                    "JSON object.")
    p.add_argument("name", nargs="?", help="benchmark name (see --list)")
    p.add_argument("--list", action="store_true",
                   help="print the benchmark names and exit")
    p.add_argument("--n", type=_positive_int, default=None,
                   help="timed iterations (default depends on the benchmark)")
    p.add_argument("--size", type=_positive_int, default=1 << 20,
                   help="message size in bytes for throughput benchmarks "
                        "(default 1048576)")
    p.add_argument("--warmup", type=_nonneg_int, default=None,
                   help="untimed iterations first (default per benchmark)")
    p.add_argument("--timeout", type=_positive_int, default=120,
                   help="watchdog: dump stacks and exit 1 after this many "
                        "seconds (default 120)")
    args = p.parse_args(argv)

    if args.list:
        for name in BENCHMARKS:
            print(name)
        return 0
    if args.name is None:
        p.error("a benchmark NAME (or --list) is required")
    if args.name not in BENCHMARKS:
        p.error(f"unknown benchmark {args.name!r}; choose from: "
                + ", ".join(BENCHMARKS))
    func, default_n, default_warmup = BENCHMARKS[args.name]
    if args.n is None:
        args.n = default_n
    if args.warmup is None:
        args.warmup = default_warmup

    faulthandler.dump_traceback_later(args.timeout, exit=True)
    try:
        result = func(args)
    except BenchError as exc:
        print(f"channel_peers: {args.name}: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"channel_peers: {args.name}: interrupted", file=sys.stderr)
        return 1
    except Exception as exc:
        import traceback
        traceback.print_exc()
        print(f"channel_peers: {args.name}: failed: "
              f"{type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    finally:
        faulthandler.cancel_dump_traceback_later()
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
