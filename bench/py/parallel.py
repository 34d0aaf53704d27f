"""The CPU-bound unit of work of the parallel measurements: `subinterp
doctor`'s check that own-GIL interpreters run at the same time, and the
parallel section of `subinterp microbench` (bench/parallel.go).

The Go side runs this file's source in the __main__ of each interpreter it
times, so it must load in an isolated (own-GIL) subinterpreter: no imports
at the top.
"""


def count_primes(n):
    """Count the primes below n by trial division: pure Python, CPU-bound,
    no allocation worth mentioning, no C calls that release the GIL."""
    count = 0
    for i in range(2, n):
        for d in range(2, int(i ** 0.5) + 1):
            if i % d == 0:
                break
        else:
            count += 1
    return count


def run_threads(k, n):
    """Run count_primes(n) in k threading.Thread workers of this one
    interpreter, all sharing its GIL, and wait for them."""
    import threading
    workers = [threading.Thread(target=count_primes, args=(n,)) for _ in range(k)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
