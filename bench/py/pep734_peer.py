"""CPython 3.14's own concurrent.interpreters, measured as
cpython/pep734_bench_test.go measures subinterp's drop-in: Interpreter.call()
of a one-line function, a Queue put+get round trip between two
interpreters, and InterpreterPoolExecutor's wall time per task for 2,000
tiny tasks. Prints one JSON object (µs).

    scripts/sid-chroot.sh run --python 3.14 -- python3.14 bench/py/pep734_peer.py
"""
import json
import statistics
import time
from concurrent import interpreters
from concurrent.futures import InterpreterPoolExecutor


def ident(x):
    return x


def echo(q1, q2, n):
    for _ in range(n):
        q2.put(q1.get())


def median_p99(samples):
    samples = sorted(samples)
    return samples[len(samples) // 2] / 1e3, samples[len(samples) * 99 // 100] / 1e3


def main():
    target = interpreters.create()
    target.exec("def ident(x):\n    return x\ndef echo(q1, q2, n):\n    for _ in range(n):\n        q2.put(q1.get())\n")
    out = {}
    samples = []
    for i in range(2000):
        t0 = time.perf_counter_ns()
        target.call(ident, i)
        samples.append(time.perf_counter_ns() - t0)
    out['call_median_us'], out['call_p99_us'] = median_p99(samples)

    n = 200  # CPython's queues poll every 10 ms: keep the run short
    q1, q2 = interpreters.create_queue(), interpreters.create_queue()
    t = target.call_in_thread(echo, q1, q2, n)
    samples = []
    for i in range(n):
        t0 = time.perf_counter_ns()
        q1.put(i)
        q2.get()
        samples.append(time.perf_counter_ns() - t0)
    t.join()
    out['queue_median_us'], out['queue_p99_us'] = median_p99(samples)

    for workers in (1, 2):
        with InterpreterPoolExecutor(workers) as ex:
            list(ex.map(abs, range(workers * 4)))
            n = 2000
            t0 = time.perf_counter_ns()
            futs = [ex.submit(abs, -i) for i in range(n)]
            for f in futs:
                f.result()
            out[f'executor_{workers}w_us_per_task'] = (time.perf_counter_ns() - t0) / n / 1e3
    target.close()
    print(json.dumps(out, indent=1))


if __name__ == '__main__':
    main()
