package cpython

import (
	"container/list"
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Pool design
//
// A Pool keeps Size warm interpreters and runs one task at a time on each.
// Its costs are dominated by the handoff between goroutines and pinned OS
// threads (see package internal/handoff for the measurements):
// waking a parked pinned thread costs 26-40 µs on the target VMs, a spinning
// one sees a task in well under a microsecond. The pool therefore adds no
// wake-up of its own on the fast path:
//
//   - Taking an idle interpreter and giving it back is a mutex-protected
//     push/pop on a slice; nobody parks. The idle list is a stack (LIFO): the
//     interpreter returned last is the one whose pinned thread is still
//     spinning (for handoff.DefaultBudget after its last task), so a caller
//     issuing calls back to back keeps hitting an awake thread, and the
//     interpreters that are not needed go to sleep and cost no CPU.
//   - Only callers that find every interpreter busy park: they queue FIFO
//     (a linked list of waiters, each with a one-slot channel). A returning
//     interpreter goes straight to the first waiter, never to the idle list
//     while someone waits, so a newcomer cannot overtake the queue. A waiter
//     whose context ends leaves the queue; if it was served at the same
//     moment it passes the interpreter on.
//
// Replacement. After a task the pool asks what actually happened to the
// interpreter (brokenBy, the one place that decides): a Python exception,
// SystemExit included, is an answer like any other and the interpreter
// stays; so does an interrupted call whose code unwound through our own
// KeyboardInterrupt, which leaves a healthy interpreter (and on CPython
// 3.13 every replacement leaves ~1.3 MB behind, see docs/memory.md). It is
// replaced only when it is really broken or due: its code still runs after
// the interrupt (stuck in C), the interrupted code left new Python threads
// running, someone else closed it, or it reached MaxTasksPerInterpreter.
// The caller only moves it to the retired list and starts a goroutine
// (owned by the pool, joined by Close) that creates a fresh interpreter,
// runs the prelude in it and hands it to the first waiter or the idle
// list; so the pool keeps its size and the caller's latency does not
// include creating an interpreter. If creation fails the goroutine retries
// with backoff until Close. Stats counts replacements by reason.
//
// Spares (PoolOptions.Spares). Creating an interpreter takes 10-25 ms on
// the project's VMs, nearly all of it inside CPython's
// Py_NewInterpreterFromConfig (docs/microbenchmarks.md), so with a pool of
// one a caller that comes right after a replacement still waits that long
// for the fresh interpreter. A pool with spares keeps that many more
// interpreters created and preluded, serving nobody: a vacancy takes a
// ready spare at once, and the pool creates the next spare in the
// background. Creation goroutines are generic: what one makes fills a
// vacancy if there is one, else becomes a spare, so while the pool is open
// len(members) + len(ready) + creating == size + spares. A spare's thread
// is parked (no CPU) until it serves.
//
// Stuck interpreters. A task interrupted while inside a C call that does
// not return to the eval loop (time.sleep, a socket wait) returns to its
// caller with InterruptedError.Stopped false, and the interpreter stays busy
// until the C call returns. It cannot be closed before, so it is retired
// like any other (its replacement starts at once) and stays on the retired
// list. The pool's janitor goroutine closes retired interpreters; while some
// are still running it polls them every retiredPoll and closes each once
// IsRunning reports false. With nothing retired the janitor sleeps on a
// channel and costs nothing. Close waits (bounded by its context) for them
// too.

// retiredPoll is how often the janitor looks at retired interpreters that
// still run a C call. It only runs while such interpreters exist.
const retiredPoll = 100 * time.Millisecond

// closeGrace bounds how long Close waits for interrupted tasks to return
// after its context has ended.
const closeGrace = time.Second

// Backoff for creating a replacement interpreter that failed.
const (
	replaceRetryMin = 100 * time.Millisecond
	replaceRetryMax = 5 * time.Second
)

// ErrInvalidPoolOptions is wrapped by NewPool's error for options it
// rejects (a negative Size or MaxTasksPerInterpreter).
var ErrInvalidPoolOptions = errors.New("subinterp: invalid pool options")

// PoolOptions configure a Pool. The zero value is a pool of
// runtime.NumCPU() isolated (own-GIL) interpreters.
type PoolOptions struct {
	// Name identifies the pool in error messages. Optional.
	Name string
	// Size is the number of interpreters the pool keeps. 0 means
	// runtime.NumCPU(); a negative size is an error.
	Size int
	// Config is every interpreter's configuration. Nil means
	// IsolatedConfig() (own GIL, runs in parallel with the others); it is a
	// pointer so that "not set" is distinct from any Config value. Use
	// &cfg, e.g. a LegacyConfig() for interpreters that share the main GIL.
	Config *Config
	// Prelude is Python source run in each interpreter's __main__ when it is
	// created, before it takes any task: imports, loading a model, defining
	// the functions that Call names. It runs again in every replacement. If
	// it raises in any interpreter NewPool fails with the *RunFailedError
	// (traceback included in the message) and ends every interpreter it
	// created. NewPool waits for it without a deadline.
	Prelude string
	// MaxTasksPerInterpreter retires an interpreter after it has run this
	// many tasks, replacing it with a fresh one (bounds leaks in long-lived
	// Python state). 0 means unlimited; negative is an error.
	MaxTasksPerInterpreter int
	// Stdout and Stderr receive what tasks and preludes print (an Exec's
	// WithStdout/WithStderr still wins). Nil: the Runtime's writers.
	// Writes come from the interpreters' threads, possibly several at once,
	// so a shared writer must be safe for concurrent use.
	Stdout, Stderr io.Writer
	// InterruptGrace overrides RuntimeOptions.InterruptGrace for the
	// pool's interpreters: how long a call whose context ends waits for
	// the interrupted code to stop. 0: the runtime's.
	InterruptGrace time.Duration
	// OnBackgroundError, if set, is called from a pool goroutine when the
	// pool fails to create a replacement or spare interpreter (it retries
	// with backoff). Such failures are also counted in
	// PoolStats.ReplaceErrors.
	OnBackgroundError func(error)
	// Spares is the fast-start option: how many interpreters the pool keeps
	// created and preluded beyond Size, idle and serving nobody, so that
	// replacing one (at MaxTasksPerInterpreter, or a broken one) hands the
	// next caller a ready interpreter at once instead of making it wait for
	// a new one (10-25 ms, more with a heavy prelude). Each spare used is
	// replaced in the background. NewPool does not wait for the spares: they
	// are created after it returns, and while any is missing a replacement
	// is made on demand as without spares. A spare costs an interpreter's
	// memory and no CPU while it waits. 0: none; negative is an error.
	Spares int
}

// PoolStats is a snapshot of a pool's state and counters (JSON field names
// in snake case, for health endpoints).
type PoolStats struct {
	// Size is the number of interpreters the pool keeps (PoolOptions.Size).
	// While the pool is open Busy + Idle + Starting == Size.
	Size int `json:"size"`
	// Busy counts interpreters handed to a task (running it or about to).
	Busy int `json:"busy"`
	// Idle counts interpreters ready for a task.
	Idle int `json:"idle"`
	// Starting counts replacement interpreters being created.
	Starting int `json:"starting"`
	// Queued counts callers waiting for an interpreter.
	Queued int `json:"queued"`
	// Retired counts interpreters taken out of service and not yet closed:
	// usually ones still inside a C call after an interrupt. They are not
	// part of Size.
	Retired int `json:"retired"`
	// Completed counts tasks that returned without error.
	Completed uint64 `json:"completed"`
	// Failed counts tasks that returned an error (a Python exception, an
	// interrupt, an argument that cannot be converted). Calls that never
	// reached an interpreter (closed pool, context ended while queued) are
	// in neither count.
	Failed uint64 `json:"failed"`
	// Replaced counts interpreters retired while the pool was open (broken
	// by their task, or at MaxTasksPerInterpreter); each got a replacement.
	Replaced uint64 `json:"replaced"`
	// Replacements says why, by reason; its counts add up to Replaced.
	Replacements ReplaceCounts `json:"replacements"`
	// ReplaceErrors counts failed attempts to create a replacement or a
	// spare.
	ReplaceErrors uint64 `json:"replace_errors"`
	// Spares counts ready spare interpreters (PoolOptions.Spares); they are
	// not part of Size.
	Spares int `json:"spares"`
	// SparesStarting counts spare interpreters being created.
	SparesStarting int `json:"spares_starting"`
}

// ReplaceCounts counts a pool's replacements by reason.
type ReplaceCounts struct {
	// MaxTasks: the interpreter reached PoolOptions.MaxTasksPerInterpreter.
	MaxTasks uint64 `json:"max_tasks"`
	// Stuck: its task's code still ran after the call returned (interrupted
	// inside a C call that does not return to Python).
	Stuck uint64 `json:"stuck"`
	// Threads: the interrupted task left new Python threads running.
	Threads uint64 `json:"threads"`
	// Closed: the interpreter was closed by someone other than the pool.
	Closed uint64 `json:"closed"`
}

// replaceReason is why an interpreter leaves a pool's service.
type replaceReason int

const (
	healthy replaceReason = iota
	replaceMaxTasks
	replaceStuck
	replaceThreads
	replaceClosed
)

// Pool runs Python tasks on a fixed number of warm interpreters, one task
// per interpreter at a time, queueing callers fairly when all are busy. Its
// methods are safe for concurrent use. Tasks run in the interpreters'
// __main__ modules, so state a task leaves there (or the prelude defines) is
// seen by later tasks that land on the same interpreter, not by others.
type Pool struct {
	rt       *Runtime
	name     string
	size     int
	spares   int // PoolOptions.Spares
	cfg      Config
	prelude  string
	maxTasks int
	stdout   io.Writer
	stderr   io.Writer
	onBgErr  func(error)

	mu       sync.Mutex
	state    poolState
	idle     []*member // LIFO; non-empty only while nobody waits
	waiters  list.List // of *waiter, FIFO
	members  map[*member]struct{}
	busy     int
	ready    []*member // spares, created and preluded, serving nobody
	creating int       // creation goroutines under way (vacancies and spares)
	retired  []*Interpreter

	completed, failed, replaced, replaceErrs atomic.Uint64
	// replacedBy counts replacements by replaceReason.
	replacedBy [replaceClosed + 1]atomic.Uint64
	grace      time.Duration

	drained chan struct{} // cap 1: busy reached 0 while closing
	kick    chan struct{} // cap 1: wakes the janitor
	done    chan struct{} // closed when background goroutines must stop
	// bgCtx bounds preludes run by replacement goroutines; Close cancels it.
	bgCtx    context.Context
	bgCancel context.CancelFunc
	wg       sync.WaitGroup
}

type poolState int

const (
	poolOpen    poolState = iota
	poolClosing           // Close is waiting for running tasks
	poolClosed            // background goroutines joined; interpreters being closed
)

// member is one interpreter serving the pool.
type member struct {
	in    *Interpreter
	tasks int  // only touched by the goroutine holding the member
	busy  bool // under Pool.mu
}

// waiter is a caller queued for an interpreter.
type waiter struct {
	ch   chan *member  // cap 1; receives nil when the pool closes
	elem *list.Element // nil once served or removed (under Pool.mu)
}

// NewPool creates the pool's interpreters, all at once (each on its own
// thread, so warm-up takes about one creation per core rather than the
// sum), and runs the prelude in each. If any of them fails, every
// interpreter already created is closed and the first error is returned.
func NewPool(rt *Runtime, opts PoolOptions) (*Pool, error) {
	if rt == nil {
		return nil, ErrNotInitialized
	}
	size, cfg, err := poolSettings(opts)
	if err != nil {
		return nil, err
	}
	p := &Pool{
		rt:       rt,
		name:     opts.Name,
		size:     size,
		spares:   opts.Spares,
		cfg:      cfg,
		prelude:  opts.Prelude,
		maxTasks: opts.MaxTasksPerInterpreter,
		stdout:   opts.Stdout,
		stderr:   opts.Stderr,
		onBgErr:  opts.OnBackgroundError,
		grace:    opts.InterruptGrace,
		members:  make(map[*member]struct{}, size),
		idle:     make([]*member, 0, size),
		drained:  make(chan struct{}, 1),
		kick:     make(chan struct{}, 1),
		done:     make(chan struct{}),
	}
	p.bgCtx, p.bgCancel = context.WithCancel(context.Background())
	ms, err := p.startMembers()
	if err != nil {
		return nil, err
	}
	p.mu.Lock()
	for _, m := range ms {
		p.members[m] = struct{}{}
		p.idle = append(p.idle, m)
	}
	p.topUpLocked(false)
	p.mu.Unlock()
	p.wg.Add(1)
	go p.janitor()
	return p, nil
}

// poolSettings checks opts and fills in the defaults.
func poolSettings(opts PoolOptions) (size int, cfg Config, err error) {
	size = opts.Size
	switch {
	case size < 0:
		return 0, cfg, fmt.Errorf("%w: Size %d (want 0 for runtime.NumCPU(), or more)", ErrInvalidPoolOptions, size)
	case size == 0:
		size = runtime.NumCPU()
	}
	if opts.MaxTasksPerInterpreter < 0 {
		return 0, cfg, fmt.Errorf("%w: MaxTasksPerInterpreter %d (want 0 for unlimited, or more)", ErrInvalidPoolOptions, opts.MaxTasksPerInterpreter)
	}
	if opts.Spares < 0 {
		return 0, cfg, fmt.Errorf("%w: Spares %d (want 0 for none, or more)", ErrInvalidPoolOptions, opts.Spares)
	}
	cfg = IsolatedConfig()
	if opts.Config != nil {
		cfg = *opts.Config
	}
	return size, cfg, cfg.validate()
}

// startMembers creates the pool's interpreters concurrently. If any fails,
// it closes the others and returns the first error.
func (p *Pool) startMembers() ([]*member, error) {
	ms := make([]*member, p.size)
	errs := make([]error, p.size)
	var wg sync.WaitGroup
	for i := range p.size {
		wg.Go(func() { ms[i], errs[i] = p.newMember(context.Background(), false) })
	}
	wg.Wait()
	var first error
	failed := 0
	for _, err := range errs {
		if err != nil {
			failed++
			if first == nil {
				first = err
			}
		}
	}
	if first == nil {
		return ms, nil
	}
	p.bgCancel()
	var cerrs []error
	var cmu sync.Mutex
	for _, m := range ms {
		if m == nil {
			continue
		}
		wg.Go(func() {
			if err := m.in.Close(); err != nil {
				cmu.Lock()
				cerrs = append(cerrs, err)
				cmu.Unlock()
			}
		})
	}
	wg.Wait()
	if _, rerrs := p.closeRetired(); len(rerrs) > 0 {
		cerrs = append(cerrs, rerrs...)
	}
	err := fmt.Errorf("%s: %d of %d interpreters failed to start: %w", p.prefix(), failed, p.size, first)
	if len(cerrs) > 0 {
		err = errors.Join(err, fmt.Errorf("%s: could not close the interpreters created: %w", p.prefix(), errors.Join(cerrs...)))
	}
	return nil, err
}

// prefix starts the pool's error messages.
func (p *Pool) prefix() string {
	if p.name == "" {
		return "subinterp: pool"
	}
	return fmt.Sprintf("subinterp: pool %q", p.name)
}

func (p *Pool) closedError() error {
	return fmt.Errorf("%s: %w", p.prefix(), ErrClosed)
}

// replacementWarmup runs in every replacement of a broken interpreter
// after the prelude. Formatting the first traceback in an interpreter
// imports the traceback module (~25 ms without site), and that happens on
// the path of the call that failed, e.g. inside an interrupted call's
// cancellation latency. Such replacements follow a failure, so they pay the
// import up front, off every caller's path. NewPool's own interpreters and
// renewals at MaxTasksPerInterpreter do not (it would double a bare pool's
// warm-up, and cost every renewal); add it to the prelude if wanted.
const replacementWarmup = "import traceback"

// newMember creates an interpreter and runs the prelude in it (and, if
// warm, replacementWarmup). On failure it closes the interpreter
// again (or, if that fails because the prelude is still stuck in a C call,
// leaves it on the retired list).
func (p *Pool) newMember(ctx context.Context, warm bool) (*member, error) {
	in, err := p.rt.NewInterpreter(p.cfg)
	if err != nil {
		return nil, err
	}
	in.stdout, in.stderr = p.stdout, p.stderr // before anyone else sees it
	in.SetInterruptGrace(p.grace)
	if warm {
		err = in.Exec(ctx, replacementWarmup)
	}
	if err == nil && p.prelude != "" {
		if err = in.Exec(ctx, p.prelude); err != nil {
			err = fmt.Errorf("prelude: %w", err)
			var rf *RunFailedError
			if errors.As(err, &rf) && rf.Traceback != "" {
				err = fmt.Errorf("%w\n%s", err, rf.Traceback)
			}
		}
	}
	if err != nil {
		if cerr := in.Close(); cerr != nil {
			p.mu.Lock()
			p.retired = append(p.retired, in)
			p.mu.Unlock()
		}
		return nil, err
	}
	return &member{in: in}, nil
}

// get takes an idle interpreter, or queues until one is handed over or ctx
// ends.
func (p *Pool) get(ctx context.Context) (*member, error) {
	if ctx == nil {
		return nil, errors.New("subinterp: nil context")
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	p.mu.Lock()
	if p.state != poolOpen {
		p.mu.Unlock()
		return nil, p.closedError()
	}
	if n := len(p.idle); n > 0 {
		m := p.idle[n-1]
		p.idle[n-1] = nil
		p.idle = p.idle[:n-1]
		m.busy = true
		p.busy++
		p.mu.Unlock()
		return m, nil
	}
	w := &waiter{ch: make(chan *member, 1)}
	w.elem = p.waiters.PushBack(w)
	p.mu.Unlock()

	select {
	case m := <-w.ch:
		if m == nil {
			return nil, p.closedError()
		}
		return m, nil
	case <-ctx.Done():
	}
	p.mu.Lock()
	if w.elem != nil {
		p.waiters.Remove(w.elem)
		w.elem = nil
		p.mu.Unlock()
		return nil, ctx.Err()
	}
	p.mu.Unlock()
	// Served (or the pool closed) just as ctx ended: pass the interpreter on.
	if m := <-w.ch; m != nil {
		p.giveBack(m)
	}
	return nil, ctx.Err()
}

// offerLocked hands a ready interpreter to the first waiter, or puts it on
// the idle list.
func (p *Pool) offerLocked(m *member) {
	if e := p.waiters.Front(); e != nil {
		w := p.waiters.Remove(e).(*waiter)
		w.elem = nil
		if !m.busy {
			m.busy = true
			p.busy++
		}
		w.ch <- m
		return
	}
	if m.busy {
		m.busy = false
		p.busy--
	}
	p.idle = append(p.idle, m)
	p.notifyDrainedLocked()
}

func (p *Pool) notifyDrainedLocked() {
	if p.state != poolOpen && p.busy == 0 {
		select {
		case p.drained <- struct{}{}:
		default:
		}
	}
}

// giveBack returns a healthy interpreter after a task.
func (p *Pool) giveBack(m *member) {
	p.mu.Lock()
	if p.state == poolClosed {
		// Close gave up waiting for this task: end the interpreter here.
		p.dropLocked(m)
		p.mu.Unlock()
		_ = m.in.Close() // if it fails, Runtime.Finalize ends it
		return
	}
	p.offerLocked(m)
	p.mu.Unlock()
}

func (p *Pool) dropLocked(m *member) {
	delete(p.members, m)
	if m.busy {
		m.busy = false
		p.busy--
	}
}

// retire takes an interpreter out of service, starts its replacement and
// leaves it for the janitor to close.
func (p *Pool) retire(m *member, why replaceReason) {
	p.mu.Lock()
	p.dropLocked(m)
	switch p.state {
	case poolOpen:
		p.retired = append(p.retired, m.in)
		p.replaced.Add(1)
		p.replacedBy[why].Add(1)
		if n := len(p.ready); n > 0 {
			spare := p.ready[n-1]
			p.ready[n-1] = nil
			p.ready = p.ready[:n-1]
			p.members[spare] = struct{}{}
			p.offerLocked(spare)
		}
		p.topUpLocked(why != replaceMaxTasks)
	case poolClosing:
		p.retired = append(p.retired, m.in)
		p.notifyDrainedLocked()
	case poolClosed:
		p.mu.Unlock()
		if !m.in.IsRunning() {
			_ = m.in.Close() // if it fails, Runtime.Finalize ends it
		}
		return
	}
	p.mu.Unlock()
	select {
	case p.kick <- struct{}{}:
	default:
	}
}

// topUpLocked starts creation goroutines until what the pool has and is
// making covers Size and Spares. warm is passed to newMember: true when a
// broken interpreter is being replaced.
func (p *Pool) topUpLocked(warm bool) {
	for len(p.members)+len(p.ready)+p.creating < p.size+p.spares {
		p.creating++
		p.wg.Add(1)
		go p.create(warm)
	}
}

// create creates an interpreter, runs the prelude in it and puts it in
// service (a vacancy first, else the spares), retrying with backoff until
// it succeeds or the pool closes. warm runs replacementWarmup in it: for
// replacements of broken interpreters, not for spares made ahead of time
// or routine renewals at MaxTasksPerInterpreter, which have no failure to
// follow and, before CPython 3.14, would keep the traceback module's
// ~1.4 MB each after they end (docs/memory.md).
func (p *Pool) create(warm bool) {
	defer p.wg.Done()
	delay := replaceRetryMin
	for {
		m, err := p.newMember(p.bgCtx, warm)
		p.mu.Lock()
		if p.state != poolOpen {
			p.creating--
			p.mu.Unlock()
			if m != nil {
				if err := m.in.Close(); err != nil {
					p.mu.Lock()
					p.retired = append(p.retired, m.in)
					p.mu.Unlock()
				}
			}
			return
		}
		if err == nil {
			p.creating--
			if len(p.members) < p.size {
				p.members[m] = struct{}{}
				p.offerLocked(m)
			} else {
				p.ready = append(p.ready, m)
			}
			p.mu.Unlock()
			return
		}
		p.mu.Unlock()
		p.replaceErrs.Add(1)
		if p.onBgErr != nil {
			p.onBgErr(fmt.Errorf("%s: creating a replacement interpreter: %w", p.prefix(), err))
		}
		if errors.Is(err, ErrFinalized) {
			p.mu.Lock()
			p.creating--
			p.mu.Unlock()
			return // the runtime is gone; the pool cannot recover
		}
		select {
		case <-p.done:
			p.mu.Lock()
			p.creating--
			p.mu.Unlock()
			return
		case <-time.After(delay):
		}
		delay = min(2*delay, replaceRetryMax)
	}
}

// janitor closes retired interpreters, polling the ones still stuck in a C
// call. It sleeps while there is nothing to do.
func (p *Pool) janitor() {
	defer p.wg.Done()
	timer := time.NewTimer(retiredPoll)
	timer.Stop()
	defer timer.Stop()
	for {
		select {
		case <-p.done:
			return
		case <-p.kick:
		case <-timer.C:
		}
		if n, _ := p.closeRetired(); n > 0 {
			timer.Reset(retiredPoll)
		}
	}
}

// closeRetired closes the retired interpreters that are not running and
// returns how many remain, with the errors of the last attempts.
func (p *Pool) closeRetired() (remaining int, errs []error) {
	p.mu.Lock()
	todo := slices.Clone(p.retired)
	p.mu.Unlock()
	for _, in := range todo {
		if !in.IsClosed() {
			if in.IsRunning() {
				remaining++
				errs = append(errs, fmt.Errorf("interpreter %d is still running (a C call that ignores interrupts?)", in.ID()))
				continue
			}
			// Threads its code left running are joined only briefly (one
			// join slice): the janitor looks again later.
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			if err := in.CloseContext(ctx); err != nil && !errors.Is(err, ErrClosed) {
				remaining++
				errs = append(errs, err)
				continue
			}
		}
		p.mu.Lock()
		if i := slices.Index(p.retired, in); i >= 0 {
			p.retired = slices.Delete(p.retired, i, i+1)
		}
		p.mu.Unlock()
	}
	return remaining, errs
}

// brokenBy says whether a task left its interpreter unfit for more work,
// and why, from what happened to the interpreter rather than from the
// error's type: any Python exception (SystemExit, a KeyboardInterrupt the
// code raised itself, our interrupt once the code unwound) leaves a working
// interpreter.
func brokenBy(in *Interpreter) replaceReason {
	switch {
	case in.IsClosed():
		return replaceClosed
	case in.IsRunning():
		return replaceStuck // the call returned without its code
	case in.threadsLeft.Load():
		return replaceThreads
	}
	return healthy
}

// release ends a task: counts it and gives the interpreter back or retires
// it.
func (p *Pool) release(m *member, err error) {
	if err == nil {
		p.completed.Add(1)
	} else {
		p.failed.Add(1)
	}
	m.tasks++
	why := brokenBy(m.in)
	if why == healthy && p.maxTasks > 0 && m.tasks >= p.maxTasks {
		why = replaceMaxTasks
	}
	if why != healthy {
		p.retire(m, why)
		return
	}
	p.giveBack(m)
}

// Exec runs src in the __main__ module of an idle interpreter (see
// Interpreter.Exec), waiting in the queue while all are busy. ctx bounds
// both the wait and the run: when it ends while the code runs, the code is
// interrupted (*InterruptedError); the interpreter is replaced only if the
// code did not stop or left threads behind (see PoolStats.Replacements). The pool's
// Stdout/Stderr apply unless opts say otherwise.
func (p *Pool) Exec(ctx context.Context, src string, opts ...ExecOption) error {
	m, err := p.get(ctx)
	if err != nil {
		return err
	}
	err = m.in.Exec(ctx, src, opts...)
	p.release(m, err)
	return err
}

// Eval evaluates a Python expression in an idle interpreter's __main__ and
// converts the result to Go (see Interpreter.Eval); waiting and
// cancellation are as for Exec.
func (p *Pool) Eval(ctx context.Context, expr string) (any, error) {
	m, err := p.get(ctx)
	if err != nil {
		return nil, err
	}
	v, err := m.in.Eval(ctx, expr)
	p.release(m, err)
	return v, err
}

// Call calls a Python function in an idle interpreter with Go arguments and
// returns its result converted to Go (see Interpreter.Call for how fn is
// named and for the trailing Kwargs and ExecOptions; a function the
// prelude defines is found in __main__; CallAs converts the result to a
// type of your choosing). Waiting and cancellation are as for Exec.
func (p *Pool) Call(ctx context.Context, fn string, args ...any) (any, error) {
	m, err := p.get(ctx)
	if err != nil {
		return nil, err
	}
	v, err := m.in.Call(ctx, fn, args...)
	p.release(m, err)
	return v, err
}

// Stats returns a snapshot of the pool's state and counters.
func (p *Pool) Stats() PoolStats {
	p.mu.Lock()
	// The vacancies are what creation goroutines are filling first; the
	// rest of them make spares.
	vacant := max(p.size-len(p.members), 0)
	if p.state != poolOpen {
		vacant = min(vacant, p.creating)
	}
	s := PoolStats{
		Size:           p.size,
		Busy:           p.busy,
		Idle:           len(p.idle),
		Starting:       vacant,
		Queued:         p.waiters.Len(),
		Retired:        len(p.retired),
		Spares:         len(p.ready),
		SparesStarting: max(p.creating-vacant, 0),
	}
	p.mu.Unlock()
	s.Completed = p.completed.Load()
	s.Failed = p.failed.Load()
	s.Replaced = p.replaced.Load()
	s.Replacements = ReplaceCounts{
		MaxTasks: p.replacedBy[replaceMaxTasks].Load(),
		Stuck:    p.replacedBy[replaceStuck].Load(),
		Threads:  p.replacedBy[replaceThreads].Load(),
		Closed:   p.replacedBy[replaceClosed].Load(),
	}
	s.ReplaceErrors = p.replaceErrs.Load()
	return s
}

// Close shuts the pool down. It stops taking work at once: new calls, and
// callers still queued, get ErrClosed. It waits for running tasks to
// finish; if ctx ends first it interrupts them (Interpreter.Interrupt) and
// waits up to a second more. Then it stops the pool's goroutines and closes
// every interpreter, waiting (until ctx ends) for any that is still inside a
// C call. It returns an error naming the interpreters it could not close;
// those are closed when their task returns, or by Runtime.Finalize. A
// second Close returns ErrClosed.
func (p *Pool) Close(ctx context.Context) error {
	if ctx == nil {
		return errors.New("subinterp: nil context")
	}
	if err := p.stopTaking(); err != nil {
		return err
	}
	p.waitForTasks(ctx)
	close(p.done)
	p.wg.Wait() // replacements and the janitor
	errs := p.closeInterpreters(ctx)
	if len(errs) > 0 {
		return fmt.Errorf("%s: close: %w", p.prefix(), errors.Join(errs...))
	}
	return nil
}

// stopTaking refuses new calls from now on and sends the queued callers
// away with ErrClosed.
func (p *Pool) stopTaking() error {
	p.mu.Lock()
	if p.state != poolOpen {
		p.mu.Unlock()
		return p.closedError()
	}
	p.state = poolClosing
	for e := p.waiters.Front(); e != nil; e = e.Next() {
		w := e.Value.(*waiter)
		w.elem = nil
		w.ch <- nil
	}
	p.waiters.Init()
	p.mu.Unlock()
	p.bgCancel() // interrupts preludes of replacements under way
	return nil
}

// waitForTasks lets running tasks finish; once ctx ends it interrupts them.
func (p *Pool) waitForTasks(ctx context.Context) {
	for p.anyBusy() {
		select {
		case <-p.drained:
		case <-ctx.Done():
			p.interruptUntilDrained()
			return
		}
	}
}

// interruptUntilDrained interrupts the running tasks (again every 50 ms,
// for one that had not started at the last try) and waits for them at
// most closeGrace.
func (p *Pool) interruptUntilDrained() {
	p.interruptBusy()
	grace := time.NewTimer(closeGrace)
	defer grace.Stop()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for p.anyBusy() {
		select {
		case <-p.drained:
		case <-tick.C:
			p.interruptBusy()
		case <-grace.C:
			return
		}
	}
}

func (p *Pool) anyBusy() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.busy > 0
}

// closeInterpreters closes the idle and retired interpreters (waiting,
// until ctx ends, for retired ones still inside a C call) and names those
// it could not close.
func (p *Pool) closeInterpreters(ctx context.Context) []error {
	p.mu.Lock()
	p.state = poolClosed
	idle := append(p.idle, p.ready...)
	p.idle, p.ready = nil, nil
	var orphans []*Interpreter
	for m := range p.members {
		if m.busy {
			orphans = append(orphans, m.in)
		} else {
			delete(p.members, m)
		}
	}
	p.mu.Unlock()

	var errs []error
	var emu sync.Mutex
	var wg sync.WaitGroup
	for _, m := range idle {
		wg.Go(func() {
			if err := m.in.Close(); err != nil && !errors.Is(err, ErrClosed) {
				emu.Lock()
				errs = append(errs, err)
				emu.Unlock()
			}
		})
	}
	wg.Wait()
	for {
		remaining, rerrs := p.closeRetired()
		if remaining == 0 {
			break
		}
		if ctx.Err() != nil {
			errs = append(errs, rerrs...)
			break
		}
		select {
		case <-ctx.Done():
		case <-time.After(retiredPoll):
		}
	}
	for _, in := range orphans {
		errs = append(errs, fmt.Errorf("interpreter %d still runs its task; it is closed when the task returns", in.ID()))
	}
	return errs
}

// interruptBusy interrupts the tasks of all busy interpreters.
func (p *Pool) interruptBusy() {
	p.mu.Lock()
	var busy []*Interpreter
	for m := range p.members {
		if m.busy {
			busy = append(busy, m.in)
		}
	}
	p.mu.Unlock()
	for _, in := range busy {
		_ = in.Interrupt()
	}
}
