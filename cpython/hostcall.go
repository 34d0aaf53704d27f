package cpython

import (
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/subinterp/subinterp/internal/handoff"
)

// Host functions run on worker goroutines, not on the goroutine of the
// cgo callback that Python's call arrives on, for two reasons:
//
//   - runtime.Goexit (t.FailNow, require in tests) in a callback goroutine
//     hangs the interpreter's thread or kills the process; on a worker it
//     ends only the worker, and the call raises HostError like a panic.
//   - Close and Finalize called from inside a host function must see that
//     they were, or they would wait for the very interpreter (or thread)
//     that waits for them. Goroutines have no public identity, and reading
//     one from runtime.Stack costs ~3 µs: a worker reads its own once, when
//     it starts.
//
// A worker spins for a while after each call before it parks (see
// internal/handoff), so host calls in a row find one awake, as calls to
// pinned threads do; an idle worker costs no CPU after that.

// hostCall is one host function call in progress.
type hostCall struct {
	name   string
	interp int64 // the interpreter whose Python code called it
}

// hostJob is one call handed to a worker.
type hostJob struct {
	call   hostCall
	run    func()
	goexit bool // the function called runtime.Goexit
	done   *handoff.Signal
}

type hostWorker struct {
	pool *hostWorkers
	goid uint64
	wake *handoff.Signal
	done *handoff.Signal // the caller of the current job waits on it
	job  atomic.Pointer[hostJob]
}

// hostWorkers is the runtime's set of host-function workers.
type hostWorkers struct {
	mu      sync.Mutex
	idle    []*hostWorker       // LIFO: the last one back is still spinning
	running map[uint64]hostCall // by worker goroutine id
	stopped bool
	wg      sync.WaitGroup
}

// run runs fn on a worker for call and waits. It reports whether fn ended
// its goroutine with runtime.Goexit instead of returning (a panic must be
// recovered inside fn).
func (p *hostWorkers) run(call hostCall, fn func()) (goexit bool) {
	p.mu.Lock()
	var w *hostWorker
	if n := len(p.idle); n > 0 {
		w = p.idle[n-1]
		p.idle = p.idle[:n-1]
	}
	j := &hostJob{call: call, run: fn}
	budget := callerSpin
	if w == nil {
		w = &hostWorker{pool: p, wake: handoff.NewSignal(), done: handoff.NewSignal()}
		j.done = w.done
		p.wg.Add(1)
		w.job.Store(j)
		p.mu.Unlock()
		go w.serve()
	} else {
		p.mu.Unlock()
		j.done = w.done
		w.job.Store(j)
		budget = handoff.NextBudget(w.wake.Notify())
	}
	_ = j.done.Wait(nil, budget)
	return j.goexit
}

func (w *hostWorker) serve() {
	defer w.pool.wg.Done()
	w.goid = currentGoroutineID()
	idle := idleSpin
	for {
		j := w.job.Swap(nil)
		if j == nil {
			w.pool.mu.Lock()
			stopped := w.pool.stopped
			w.pool.mu.Unlock()
			if stopped {
				return
			}
			w.wake.Wait(nil, idle)
			continue
		}
		w.runJob(j)
		w.pool.mu.Lock()
		delete(w.pool.running, w.goid)
		if !w.pool.stopped {
			w.pool.idle = append(w.pool.idle, w)
		}
		stopped := w.pool.stopped
		w.pool.mu.Unlock()
		idle = handoff.NextBudget(j.done.Notify())
		if stopped {
			return
		}
	}
}

// runJob runs one job; if the function calls runtime.Goexit, the worker
// ends here, after reporting it.
func (w *hostWorker) runJob(j *hostJob) {
	w.pool.mu.Lock()
	if w.pool.running == nil {
		w.pool.running = map[uint64]hostCall{}
	}
	w.pool.running[w.goid] = j.call
	w.pool.mu.Unlock()
	returned := false
	defer func() {
		if !returned {
			w.pool.mu.Lock()
			delete(w.pool.running, w.goid)
			w.pool.mu.Unlock()
			j.goexit = true
			j.done.Notify()
		}
	}()
	j.run()
	returned = true
}

// callOfCaller returns the host function call the calling goroutine is
// running, if it is a worker's.
func (p *hostWorkers) callOfCaller() (hostCall, bool) {
	p.mu.Lock()
	n := len(p.running)
	p.mu.Unlock()
	if n == 0 {
		return hostCall{}, false
	}
	id := currentGoroutineID()
	p.mu.Lock()
	defer p.mu.Unlock()
	c, ok := p.running[id]
	return c, ok
}

// stop ends the idle workers and joins every worker. Finalize calls it once
// no interpreter is left to call a host function.
func (p *hostWorkers) stop() {
	p.mu.Lock()
	p.stopped = true
	idle := p.idle
	p.idle = nil
	p.mu.Unlock()
	for _, w := range idle {
		w.wake.Notify()
	}
	p.wg.Wait()
}

// currentGoroutineID reads the calling goroutine's id from the first line
// of its stack trace ("goroutine 123 [running]:").
func currentGoroutineID() uint64 {
	var buf [32]byte
	n := runtime.Stack(buf[:], false)
	const prefix = len("goroutine ")
	var id uint64
	for _, c := range buf[min(prefix, n):n] {
		if c < '0' || c > '9' {
			break
		}
		id = id*10 + uint64(c-'0')
	}
	return id
}
