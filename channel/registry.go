package channel

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/subinterp/subinterp/internal/handoff"
)

// Registry holds every channel of one runtime: it gives out ids, finds
// channels by id (for interpreters, which name channels by id), and owns
// the pools of waiters. The runtime creates one with NewRegistry; it is
// safe for concurrent use.
type Registry struct {
	mu     sync.Mutex
	lastID ID
	chans  map[ID]*channel
	// cause is why Close closed the Registry; nil while open. Written
	// under mu before Close shuts any channel down, so whoever sees a
	// channel shut down by Close also sees it.
	cause atomic.Pointer[error]

	recvPool sync.Pool // *recvWaiter
	sendPool sync.Pool // *sendWaiter
}

// NewRegistry returns an empty Registry.
func NewRegistry() *Registry {
	r := &Registry{chans: make(map[ID]*channel)}
	r.recvPool.New = func() any { return &recvWaiter{sig: handoff.NewSignal()} }
	r.sendPool.New = func() any { return &sendWaiter{sig: handoff.NewSignal()} }
	return r
}

func (r *Registry) getRecvWaiter() *recvWaiter { return r.recvPool.Get().(*recvWaiter) }

// putRecvWaiter recycles w. Only call it once w's signal has no pending
// notification and no channel can reach w any more.
func (r *Registry) putRecvWaiter(w *recvWaiter) {
	w.idx, w.msg, w.closed = 0, Message{}, false
	w.state.Store(wWaiting)
	r.recvPool.Put(w)
}

func (r *Registry) getSendWaiter() *sendWaiter { return r.sendPool.Get().(*sendWaiter) }

func (r *Registry) putSendWaiter(w *sendWaiter) {
	w.msg = Message{}
	w.queueOnly = false
	w.state.Store(0)
	r.sendPool.Put(w)
}

// Create makes a channel and returns its ends, each with one binding owned
// by the caller (Release both when done; the channel is freed when every
// binding of both ends is gone).
func (r *Registry) Create(opts Options) (*RecvChannel, *SendChannel, error) {
	if opts.Capacity < 0 {
		return nil, nil, fmt.Errorf("channel: negative Capacity %d", opts.Capacity)
	}
	if opts.MaxBytes < 0 {
		return nil, nil, fmt.Errorf("channel: negative MaxBytes %d", opts.MaxBytes)
	}
	if opts.Fallback != FallbackNone && opts.Fallback != FallbackPickle {
		return nil, nil, fmt.Errorf("channel: unknown %v", opts.Fallback)
	}
	if opts.Tag < 0 || opts.Tag > 255 {
		return nil, nil, fmt.Errorf("channel: Tag %d out of range 0..255", opts.Tag)
	}
	maxBytes := opts.MaxBytes
	if maxBytes == 0 {
		maxBytes = DefaultMaxBytes
	}
	c := &channel{
		reg:      r,
		capacity: opts.Capacity,
		maxBytes: maxBytes,
		fallback: opts.Fallback,
		tag:      opts.Tag,
		nrecv:    1,
		nsend:    1,
	}
	r.mu.Lock()
	if cause := r.closeCause(); cause != nil {
		r.mu.Unlock()
		return nil, nil, fmt.Errorf("channel: registry closed: %w", cause)
	}
	r.lastID++
	c.id = r.lastID
	c.recvEnd = RecvChannel{end{c: c, id: c.id}}
	c.sendEnd = SendChannel{end{c: c, id: c.id, send: true}}
	r.chans[c.id] = c
	r.mu.Unlock()
	return &c.recvEnd, &c.sendEnd, nil
}

func (r *Registry) get(id ID) *channel {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.chans[id]
}

func (r *Registry) remove(c *channel) {
	r.mu.Lock()
	if r.chans[c.id] == c {
		delete(r.chans, c.id)
	}
	r.mu.Unlock()
}

// Lookup returns the ends of channel id, closed or not, without binding
// them (Bind an end to keep the channel alive). A channel every end of
// which was released is gone: ErrNotFound.
func (r *Registry) Lookup(id ID) (*RecvChannel, *SendChannel, error) {
	c := r.get(id)
	if c == nil {
		return nil, nil, &chanError{id: id, kind: ErrNotFound, msg: "not found", cause: r.closeCause()}
	}
	return &c.recvEnd, &c.sendEnd, nil
}

// ResolveEnd implements EndResolver with Lookup.
func (r *Registry) ResolveEnd(kind byte, id ID) (any, error) {
	rc, sc, err := r.Lookup(id)
	if err != nil {
		return nil, err
	}
	switch kind {
	case 'r':
		return rc, nil
	case 'w':
		return sc, nil
	}
	return nil, fmt.Errorf("channel %d: unknown end kind %q", id, kind)
}

// List returns the ids of the open (not closed) channels in creation
// order (PEP 554's list_all_channels).
func (r *Registry) List() []ID {
	r.mu.Lock()
	all := make([]*channel, 0, len(r.chans))
	for _, c := range r.chans {
		all = append(all, c)
	}
	r.mu.Unlock()
	ids := make([]ID, 0, len(all))
	for _, c := range all {
		c.lock()
		if !c.closed {
			ids = append(ids, c.id)
		}
		c.mu.Unlock()
	}
	slices.Sort(ids)
	return ids
}

// CloseAll force-closes every channel and empties the Registry: blocked
// receivers get ErrClosed, blocked senders ErrNotReceived, queued values
// are dropped and their buffers released. The Registry stays usable
// (Create works); see Close for shutting it for good.
func (r *Registry) CloseAll() {
	r.mu.Lock()
	all := make([]*channel, 0, len(r.chans))
	for _, c := range r.chans {
		all = append(all, c)
	}
	r.mu.Unlock()
	r.destroy(all)
}

// Close shuts the Registry for good, for runtime shutdown, and says why:
// every operation blocked on any of its channels returns at once, and
// every later one fails, with an error that wraps cause (test with
// errors.Is) as well as the usual sentinel (blocked receivers: ErrClosed;
// blocked senders: ErrNotReceived and ErrClosed; Bind, Release, Send and
// Recv on an end: ErrClosed; Lookup: ErrNotFound). Queued values are
// dropped and their buffers and end bindings released, and Create fails.
// A nil cause means ErrClosed. Closing again does nothing and keeps the
// first cause.
func (r *Registry) Close(cause error) {
	if cause == nil {
		cause = ErrClosed
	}
	r.mu.Lock()
	if r.cause.Load() != nil {
		r.mu.Unlock()
		return
	}
	r.cause.Store(&cause)
	all := make([]*channel, 0, len(r.chans))
	for _, c := range r.chans {
		all = append(all, c)
	}
	r.mu.Unlock()
	r.destroy(all)
}

// closeCause is the cause Close was given, or nil while the Registry is
// open.
func (r *Registry) closeCause() error {
	if p := r.cause.Load(); p != nil {
		return *p
	}
	return nil
}

// destroy force-closes the channels and takes them out of the Registry.
func (r *Registry) destroy(all []*channel) {
	for _, c := range all {
		c.lock()
		if c.destroyed {
			c.mu.Unlock()
			continue
		}
		c.nrecv, c.nsend = 0, 0
		c.destroyLocked()
	}
}

// take decodes a received Message for Go: buffers become *BufferView, ends
// keep the Message's bindings (now the caller's).
func (r *Registry) take(m Message) (any, error) {
	v, err := DecodeMessage(m, r)
	if err != nil {
		m.Release()
		return nil, err
	}
	for _, b := range m.bufs() {
		b.Release()
	}
	return v, nil
}

var errNoChannels = errors.New("channel: Select needs at least one channel")

// Select receives from whichever of chans has a value first and returns
// its index and the value (decoded as by Recv). When several are ready it
// picks one at random, so no channel starves. A closed, drained channel
// counts as ready: Select returns its index and ErrClosed, so the caller
// can drop it. If ctx ends first it returns -1 and ctx.Err(); an already
// ended ctx makes it a non-blocking poll. An error about one of chans
// (closed, not from a Registry) names its index and its channel id:
// "select: channels[1]: channel 7: closed".
func (r *Registry) Select(ctx context.Context, chans ...*RecvChannel) (index int, v any, err error) {
	i, m, err := r.SelectMsg(ctx, chans...)
	if err != nil {
		return i, nil, err
	}
	v, err = r.take(m)
	return i, v, err
}

// SelectMsg is Select returning the encoded Message, which the caller
// owns.
func (r *Registry) SelectMsg(ctx context.Context, chans ...*RecvChannel) (int, Message, error) {
	ctx = ctxOrBackground(ctx)
	n := len(chans)
	if n == 0 {
		return -1, Message{}, errNoChannels
	}
	for i, rc := range chans {
		if _, err := rc.ch(); err != nil {
			return -1, Message{}, selectErr(i, err)
		}
	}
	start := 0
	if n > 1 {
		start = rand.IntN(n)
	}
	for k := 0; k < n; k++ {
		i := (start + k) % n
		m, ok, err := chans[i].c.tryRecv()
		if err != nil {
			return i, Message{}, selectErr(i, err)
		}
		if ok {
			return i, m, nil
		}
	}
	if err := ctx.Err(); err != nil {
		return -1, Message{}, err
	}

	w := r.getRecvWaiter()
	registered := 0 // chans[(start+k)%n] for k < registered hold a node of w
	for k := 0; k < n; k++ {
		i := (start + k) % n
		c := chans[i].c
		c.lock()
		if c.queue.len() > 0 || c.closed {
			// Ready meanwhile. Claim ourselves unless a sender already did.
			if !w.state.CompareAndSwap(wWaiting, wClaimed) {
				c.mu.Unlock()
				break
			}
			m, sig, admitted, ok := c.popLocked()
			c.mu.Unlock()
			notifyAll(sig, admitted)
			r.unregister(w, chans, start, registered)
			r.putRecvWaiter(w)
			if !ok {
				return i, Message{}, selectErr(i, c.errClosed())
			}
			return i, m, nil
		}
		c.recvq.push(recvNode{w, int32(i)})
		c.mu.Unlock()
		registered = k + 1
	}

	if err := await(ctx, w.sig, w.done, nil); err != nil {
		if w.state.CompareAndSwap(wWaiting, wCancelled) {
			r.unregister(w, chans, start, registered)
			r.putRecvWaiter(w)
			return -1, Message{}, err
		}
		_ = await(nil, w.sig, w.done, nil) // claimed: the value is ours
	}
	r.unregister(w, chans, start, registered)
	i, m, closed := int(w.idx), w.msg, w.closed
	r.putRecvWaiter(w)
	if closed {
		return i, Message{}, selectErr(i, chans[i].c.errClosed())
	}
	return i, m, nil
}

// selectErr says which of Select's channels err is about: its message
// names the channel id, this adds the index, which is what a caller
// holding a list of channels needs to drop the right one.
func selectErr(i int, err error) error { return fmt.Errorf("select: channels[%d]: %w", i, err) }

func (r *Registry) unregister(w *recvWaiter, chans []*RecvChannel, start, registered int) {
	for k := 0; k < registered; k++ {
		c := chans[(start+k)%len(chans)].c
		c.lock()
		c.removeWaiterLocked(w)
		c.mu.Unlock()
	}
}

// collectCycles frees the channels that only queued values keep alive,
// looking from start: a channel left with no more bindings than queued
// values hold (see channel.release and Message.collectIfOnlyQueued).
//
// Bindings are reference counts, and a value in a queue binds the ends it
// contains (see Message), so a channel whose end waits in its own queue,
// or two channels each holding the other's end, would keep each other
// alive for ever once nothing else holds them. This is CPython's cycle
// detection on a small scale, over the channels reachable from start
// through queued values (whatever became unreachable when start lost its
// last outside binding is among them): with those channels locked (so no
// binding or queue among them changes meanwhile), subtract from each
// channel's bindings the ones held by values queued in the set; a channel
// with bindings left is held from outside the set (an interpreter, Go
// code, a value being sent or received right now, a value queued in
// another channel). Everything reachable from those through queued values
// stays; the rest is unreachable and is destroyed as if its last binding
// had been released.
//
// Only the set is locked and scanned, not the whole Registry: handing a
// channel's end over through another channel and dropping one's own
// binding (a common way to pass a channel full of data along) ends here,
// and must not cost time in proportion to every channel and every queued
// value of the runtime, nor stop them all meanwhile.
func (r *Registry) collectCycles(start *channel) {
	set := map[*channel]bool{start: true}
	// Find the set without holding two locks, then lock it and check that
	// it still holds everything reachable from start; values that moved
	// meanwhile make us look again. A set that keeps changing (ends
	// forwarded between channels all the time) is rare and settled by
	// adding every channel of the Registry, which only a channel created
	// meanwhile can escape.
	r.discover(set, []*channel{start})
	for attempt := 0; ; attempt++ {
		if attempt >= 3 {
			r.mu.Lock()
			for _, c := range r.chans {
				set[c] = true
			}
			r.mu.Unlock()
		}
		locked := make([]*channel, 0, len(set))
		for c := range set {
			locked = append(locked, c)
		}
		// One order for everyone who locks more than one channel. Nothing
		// else holds two channel locks at once, and nothing takes r.mu
		// while holding one.
		slices.SortFunc(locked, func(a, b *channel) int { return cmp.Compare(a.id, b.id) })
		for _, c := range locked {
			c.mu.Lock()
		}
		var missing []*channel
		seen := map[*channel]bool{start: true}
		stack := []*channel{start}
		for len(stack) > 0 {
			c := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			queued(c, func(m Message) {
				for _, b := range m.endBindings() {
					switch {
					case seen[b.c]:
					case !set[b.c]:
						seen[b.c] = true
						missing = append(missing, b.c)
					default:
						seen[b.c] = true
						stack = append(stack, b.c)
					}
				}
			})
		}
		if len(missing) > 0 {
			for _, c := range locked {
				c.mu.Unlock()
			}
			for _, c := range missing {
				set[c] = true
			}
			r.discover(set, missing)
			continue
		}
		r.collectLocked(locked)
		return
	}
}

// discover adds to set every channel reachable from todo through queued
// values, locking one channel at a time: a first guess, checked later
// under the locks.
func (r *Registry) discover(set map[*channel]bool, todo []*channel) {
	for len(todo) > 0 {
		c := todo[len(todo)-1]
		todo = todo[:len(todo)-1]
		c.lock()
		queued(c, func(m Message) {
			for _, b := range m.endBindings() {
				if !set[b.c] {
					set[b.c] = true
					todo = append(todo, b.c)
				}
			}
		})
		c.mu.Unlock()
	}
}

// queued calls f (if not nil) for every Message waiting in c, whose lock
// the caller holds.
func queued(c *channel, f func(Message)) {
	if f == nil {
		return
	}
	for i := 0; i < c.queue.len(); i++ {
		f(c.queue.at(i).msg)
	}
	for i := 0; i < c.sendq.len(); i++ {
		f(c.sendq.at(i).msg)
	}
}

// collectLocked destroys the channels of locked (all locked by the caller,
// who gives up the locks to it) that no binding from outside the set can
// reach through values queued in the set.
func (r *Registry) collectLocked(locked []*channel) {
	idx := make(map[*channel]int, len(locked))
	for i, c := range locked {
		idx[c] = i
	}
	outside := make([]int, len(locked))
	for i, c := range locked {
		outside[i] = c.nrecv + c.nsend
	}
	for _, c := range locked {
		queued(c, func(m Message) {
			for _, b := range m.endBindings() {
				if j, ok := idx[b.c]; ok {
					outside[j]--
				}
			}
		})
	}
	live := make([]bool, len(locked))
	var stack []int
	for i, c := range locked {
		if outside[i] > 0 || c.destroyed {
			live[i] = true
			stack = append(stack, i)
		}
	}
	for len(stack) > 0 {
		c := locked[stack[len(stack)-1]]
		stack = stack[:len(stack)-1]
		queued(c, func(m Message) {
			for _, b := range m.endBindings() {
				if j, ok := idx[b.c]; ok && !live[j] {
					live[j] = true
					stack = append(stack, j)
				}
			}
		})
	}

	var a aftermath
	var dead []*channel
	for i, c := range locked {
		if !live[i] {
			c.shutdownLocked(&a)
			c.nrecv, c.nsend = 0, 0
			c.destroyed = true
			dead = append(dead, c)
		}
	}
	for _, c := range locked {
		c.mu.Unlock()
	}
	for _, c := range dead {
		r.remove(c)
	}
	// The dropped values release their end bindings: on the dead channels that is
	// a no-op (ErrClosed, ignored), on live ones an ordinary release.
	a.run()
}
