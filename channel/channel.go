package channel

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/subinterp/subinterp/internal/handoff"
)

// ID identifies a channel within its Registry; both ends share it. IDs
// start at 1 and are never reused by a Registry.
type ID int64

// Fallback says what the Python side does with an object that is not
// shareable: raise NotShareableError, or send it pickled (Pickled). The Go
// side only records it; see SendChannel.Fallback.
type Fallback int

const (
	// FallbackNone: unshareable objects are an error (the default).
	FallbackNone Fallback = iota
	// FallbackPickle: the sending interpreter pickles unshareable objects.
	FallbackPickle
)

// String returns "none" or "pickle".
func (f Fallback) String() string {
	switch f {
	case FallbackNone:
		return "none"
	case FallbackPickle:
		return "pickle"
	}
	return fmt.Sprintf("Fallback(%d)", int(f))
}

// DefaultMaxBytes is the per-value size limit of a channel whose
// Options.MaxBytes is 0.
const DefaultMaxBytes = 64 << 20

// Options configures a channel at creation.
type Options struct {
	// Capacity bounds the queue: 0 means unbounded; n > 0 means at most n
	// values queued, after which Send waits for room and SendNowait
	// returns ErrFull. A value handed straight to a waiting receiver never
	// counts.
	Capacity int
	// MaxBytes limits one value's encoded size plus the size of its
	// out-of-band buffers; 0 means DefaultMaxBytes. Larger values are
	// refused with ErrTooLarge.
	MaxBytes int
	// Fallback is recorded for the Python side (see Fallback).
	Fallback Fallback
	// Tag is recorded for the Python side and means nothing to Go: a PEP
	// 734 Queue keeps its default unbounditems policy there, so that a
	// Queue object made from the id in any interpreter knows it. 0..255.
	Tag int
}

// RecvChannel is the receiving end of a channel. Ends are small handles:
// the Registry hands out one *RecvChannel per channel, so pointer equality
// means the same channel. The methods are safe for concurrent use.
type RecvChannel struct{ end }

// SendChannel is the sending end of a channel; see RecvChannel.
type SendChannel struct{ end }

// end is what the two ends of a channel have in common, and carries the
// methods that work the same on either (ID, Options, Close, CloseNow,
// Bind, Release).
type end struct {
	c    *channel
	id   ID
	send bool // the sending end: Bind and Release count its bindings
}

func (*end) isChannelEnd() {}

// waiter states (recvWaiter.state)
const (
	wWaiting   int32 = iota // registered, nobody has claimed it
	wClaimed                // a sender (or Close) claimed it and is filling it in
	wDone                   // msg (or closed) filled in; a Notify follows
	wCancelled              // the receiver gave up; senders skip it
)

// recvWaiter is one blocked receiver (Recv, or Select on several
// channels). Whoever moves state from wWaiting to wClaimed fills msg (or
// sets closed) and idx, stores wDone, then calls sig.Notify. It fits one
// 64-byte cache line: the sender writes it and the receiver reads it, so
// every extra line would be one more cross-core transfer per handoff.
type recvWaiter struct {
	state  atomic.Int32
	idx    int32 // which of the Select's channels delivered
	sig    *handoff.Signal
	msg    Message
	closed bool // woken by close: no msg, ErrClosed
}

type recvNode struct {
	w   *recvWaiter
	idx int32 // index in the Select's channel list
}

// send states (sendWaiter.state, guarded by the channel's mutex)
const (
	sWaitRoom int32 = iota // in sendq: the bounded queue was full
	sQueued                // in queue
	sReceived              // a receiver took it; a Notify follows
	sDropped               // force-closed or released; a Notify follows
)

// sendWaiter is one blocking Send waiting for its value to be received.
// state only changes under the channel's mutex; the sender polls it
// without the lock while it waits.
type sendWaiter struct {
	state atomic.Int32
	sig   *handoff.Signal
	msg   Message // while sWaitRoom
	// queueOnly: SendMsgQueued, which waits for room, not for receipt.
	// Admitting it into the queue finishes its wait (state sReceived).
	queueOnly bool
}

type item struct {
	msg Message
	sw  *sendWaiter // nil for SendNowait
}

// channel is the shared state behind a RecvChannel/SendChannel pair.
//
// Invariant: while queue is non-empty no live receiver waits in recvq (a
// sender hands a value straight to a waiting receiver instead of queueing
// it). recvq may hold stale nodes of receivers that were claimed elsewhere
// or gave up; their state makes senders skip them.
type channel struct {
	// Set at creation, read-only after: kept off the cache lines that the
	// mutex and queues bounce between cores.
	id       ID
	reg      *Registry
	capacity int
	maxBytes int
	fallback Fallback
	tag      int
	recvEnd  RecvChannel
	sendEnd  SendChannel
	_        [64]byte

	mu        sync.Mutex
	queue     ring[item]
	recvq     ring[recvNode]
	sendq     ring[*sendWaiter]
	closed    bool
	destroyed bool
	nrecv     int // bindings of the recv end
	nsend     int // bindings of the send end

	// queuedBindings counts the bindings of this channel's ends held by
	// messages waiting in a queue (queue or sendq) of any channel. It is
	// changed under the lock of the queue's channel, not this one, so it
	// is only a hint: a release that leaves no more bindings than this
	// may have left the channel reachable only from queues, and asks the
	// Registry to look for unreachable cycles (see collectCycles).
	queuedBindings atomic.Int64

	// recvParked and sendParked: the last blocked receive (send) on this
	// channel parked before it was served. The next one spins
	// handoff.AfterWakeBudget (see await).
	recvParked, sendParked atomic.Bool
}

// aftermath is what a state change leaves to do once the lock is dropped:
// wake-ups and messages to release (which may release other channels).
type aftermath struct {
	wake []*handoff.Signal
	drop []Message
}

func (a *aftermath) run() {
	for _, s := range a.wake {
		s.Notify()
	}
	for _, m := range a.drop {
		m.Release()
	}
}

func ctxOrBackground(ctx context.Context) context.Context {
	if ctx == nil {
		return context.Background()
	}
	return ctx
}

// ---- receive side ----

// popLocked takes the first queued value, marking a blocking sender's
// value received (its signal is returned for notifying), and admits
// senders waiting for room (the signal of a queue-only sender it admitted
// is returned as admitted, also for notifying).
func (c *channel) popLocked() (m Message, sig, admitted *handoff.Signal, ok bool) {
	if c.queue.len() == 0 {
		return Message{}, nil, nil, false
	}
	it := c.queue.pop()
	it.msg.markQueued(-1)
	if it.sw != nil {
		it.sw.state.Store(sReceived)
		sig = it.sw.sig
	}
	admitted = c.admitLocked()
	return it.msg, sig, admitted, true
}

// admitLocked moves senders waiting for room into the queue while there is
// room. A queue-only sender's wait ends there: its value is queued as if
// sent without waiting, and its signal is returned for notifying once the
// lock is dropped; admitLocked stops after admitting one (call it again
// while it returns a signal, when more than one slot was freed).
func (c *channel) admitLocked() (admitted *handoff.Signal) {
	for c.sendq.len() > 0 && (c.capacity == 0 || c.queue.len() < c.capacity) {
		sw := c.sendq.pop()
		if sw.queueOnly {
			c.queue.push(item{sw.msg, nil})
			sw.msg = Message{}
			// Last: the sender may be spinning on the state and owns sw
			// again once it sees sReceived.
			sw.state.Store(sReceived)
			return sw.sig
		}
		sw.state.Store(sQueued)
		c.queue.push(item{sw.msg, sw})
		sw.msg = Message{}
	}
	return admitted
}

// notifyAll wakes each non-nil signal.
func notifyAll(sigs ...*handoff.Signal) {
	for _, s := range sigs {
		if s != nil {
			s.Notify()
		}
	}
}

// tryRecv takes a queued value if there is one: ok reports it; err is
// ErrClosed on a closed, drained channel.
func (c *channel) tryRecv() (Message, bool, error) {
	c.lock()
	m, sig, admitted, ok := c.popLocked()
	closed := c.closed
	c.mu.Unlock()
	if ok {
		notifyAll(sig, admitted)
		return m, true, nil
	}
	if closed {
		return Message{}, false, c.errClosed()
	}
	return Message{}, false, nil
}

func (c *channel) recvMsg(ctx context.Context) (Message, error) {
	ctx = ctxOrBackground(ctx)
	c.lock()
	if m, sig, admitted, ok := c.popLocked(); ok {
		c.mu.Unlock()
		notifyAll(sig, admitted)
		return m, nil
	}
	if c.closed {
		c.mu.Unlock()
		return Message{}, c.errClosed()
	}
	if err := ctx.Err(); err != nil {
		c.mu.Unlock()
		return Message{}, err
	}
	w := c.reg.getRecvWaiter()
	c.recvq.push(recvNode{w, 0})
	c.mu.Unlock()

	if err := await(ctx, w.sig, w.done, &c.recvParked); err != nil {
		if w.state.CompareAndSwap(wWaiting, wCancelled) {
			c.lock()
			c.removeWaiterLocked(w)
			c.mu.Unlock()
			c.reg.putRecvWaiter(w)
			return Message{}, err
		}
		// Claimed while the context ended: the value is ours and is
		// being filled in. Taking it loses nothing.
		_ = await(nil, w.sig, w.done, nil)
	}
	m, closed := w.msg, w.closed
	c.reg.putRecvWaiter(w)
	if closed {
		return Message{}, c.errClosed()
	}
	return m, nil
}

func (c *channel) removeWaiterLocked(w *recvWaiter) {
	for i := 0; i < c.recvq.len(); {
		if c.recvq.at(i).w == w {
			c.recvq.removeAt(i)
			continue
		}
		i++
	}
}

// failReceiversLocked wakes every waiting receiver with ErrClosed.
func (c *channel) failReceiversLocked(a *aftermath) {
	for c.recvq.len() > 0 {
		n := c.recvq.pop()
		if n.w.state.CompareAndSwap(wWaiting, wClaimed) {
			n.w.idx = n.idx
			n.w.closed = true
			n.w.state.Store(wDone)
			a.wake = append(a.wake, n.w.sig)
		}
	}
}

// ---- send side ----

// prepare checks the size, and for a Message not yet checked validates the
// bytes and binds the channel ends they name.
func (c *channel) prepare(m *Message) error {
	if n := m.size(); n > c.maxBytes {
		return errf(c.id, ErrTooLarge, "value is %d bytes, over the limit of %d", n, c.maxBytes)
	}
	if m.checked {
		return nil
	}
	d := decoder{data: m.data, msg: true, nbufs: len(m.bufs()), reg: c.reg}
	_, err := d.top()
	for _, b := range d.bound {
		m.addEndBinding(b) // on error too: releasing m unbinds them
	}
	if err != nil {
		return fmt.Errorf("channel %d: %w", c.id, err)
	}
	m.checked = true
	return nil
}

// deliverLocked hands m to the first live waiting receiver, if any, and
// returns its signal to notify once the lock is dropped.
func (c *channel) deliverLocked(m Message) (*handoff.Signal, bool) {
	for c.recvq.len() > 0 {
		n := c.recvq.pop()
		if n.w.state.CompareAndSwap(wWaiting, wClaimed) {
			n.w.idx = n.idx
			n.w.msg = m
			n.w.state.Store(wDone)
			return n.w.sig, true
		}
	}
	return nil, false
}

func (c *channel) sendMsgNowait(m Message) (bool, error) {
	if err := c.prepare(&m); err != nil {
		m.Release()
		return false, err
	}
	c.lock()
	if c.closed {
		c.mu.Unlock()
		m.Release()
		return false, c.errClosed()
	}
	if sig, ok := c.deliverLocked(m); ok {
		c.mu.Unlock()
		sig.Notify()
		return true, nil
	}
	if c.capacity > 0 && c.queue.len() >= c.capacity {
		c.mu.Unlock()
		m.Release()
		return false, errf(c.id, ErrFull, "full (capacity %d)", c.capacity)
	}
	c.queue.push(item{m, nil})
	m.markQueued(1)
	c.mu.Unlock()
	m.collectIfOnlyQueued()
	return false, nil
}

// sendMsg sends m and waits until it is received, or, with queueOnly, only
// until it is queued (waiting for room in a full bounded channel).
func (c *channel) sendMsg(ctx context.Context, m Message, queueOnly bool) error {
	ctx = ctxOrBackground(ctx)
	if err := c.prepare(&m); err != nil {
		m.Release()
		return err
	}
	c.lock()
	if c.closed {
		c.mu.Unlock()
		m.Release()
		return c.errClosed()
	}
	if sig, ok := c.deliverLocked(m); ok {
		c.mu.Unlock()
		sig.Notify()
		return nil
	}
	if err := ctx.Err(); err != nil {
		c.mu.Unlock()
		m.Release()
		return &notReceivedError{c.id, err}
	}
	if queueOnly && (c.capacity == 0 || c.queue.len() < c.capacity) {
		c.queue.push(item{m, nil})
		m.markQueued(1)
		c.mu.Unlock()
		m.collectIfOnlyQueued()
		return nil
	}
	sw := c.reg.getSendWaiter()
	sw.queueOnly = queueOnly
	if c.capacity > 0 && c.queue.len() >= c.capacity {
		sw.state.Store(sWaitRoom)
		sw.msg = m
		c.sendq.push(sw)
	} else {
		sw.state.Store(sQueued)
		c.queue.push(item{m, sw})
	}
	m.markQueued(1)
	c.mu.Unlock()
	m.collectIfOnlyQueued()

	if werr := await(ctx, sw.sig, sw.done, &c.sendParked); werr != nil {
		c.lock()
		if !sw.done() {
			withdrawn, admitted := c.withdrawLocked(sw)
			c.mu.Unlock()
			notifyAll(admitted)
			withdrawn.Release()
			c.reg.putSendWaiter(sw)
			return &notReceivedError{c.id, werr}
		}
		c.mu.Unlock() // received or dropped just now: report that
	}
	state := sw.state.Load()
	c.reg.putSendWaiter(sw)
	if state == sReceived {
		return nil
	}
	return &notReceivedError{c.id, c.errClosed()}
}

// withdrawLocked takes a not-yet-received value back out of the channel;
// admitted is the signal of a queue-only sender admitted into the room it
// left (see admitLocked).
func (c *channel) withdrawLocked(sw *sendWaiter) (m Message, admitted *handoff.Signal) {
	switch sw.state.Load() {
	case sWaitRoom:
		for i := 0; i < c.sendq.len(); i++ {
			if c.sendq.at(i) == sw {
				c.sendq.removeAt(i)
				m := sw.msg
				sw.msg = Message{}
				m.markQueued(-1)
				return m, nil
			}
		}
	case sQueued:
		for i := 0; i < c.queue.len(); i++ {
			if c.queue.at(i).sw == sw {
				it := c.queue.removeAt(i)
				it.msg.markQueued(-1)
				return it.msg, c.admitLocked()
			}
		}
	}
	panic("channel: withdrawn value not found") // unreachable: state says where it is
}

// ---- close, bind, release ----

// shutdownLocked closes the channel and drops everything in it: queued
// values are released, blocking senders get ErrNotReceived, receivers
// ErrClosed.
func (c *channel) shutdownLocked(a *aftermath) {
	c.closed = true
	for c.queue.len() > 0 {
		it := c.queue.pop()
		it.msg.markQueued(-1)
		if it.sw != nil {
			it.sw.state.Store(sDropped)
			a.wake = append(a.wake, it.sw.sig)
		}
		a.drop = append(a.drop, it.msg)
	}
	c.dropWaitingSendersLocked(a)
	c.failReceiversLocked(a)
}

func (c *channel) dropWaitingSendersLocked(a *aftermath) {
	for c.sendq.len() > 0 {
		sw := c.sendq.pop()
		sw.msg.markQueued(-1)
		a.drop = append(a.drop, sw.msg)
		sw.msg = Message{}
		// Last: a sender that sees sDropped (it may be spinning on the
		// state, not waiting for the wake) owns sw again and recycles it.
		sw.state.Store(sDropped)
		a.wake = append(a.wake, sw.sig)
	}
}

// close is the draining close.
func (c *channel) close() error {
	var a aftermath
	c.lock()
	if !c.closed {
		c.closed = true
		c.dropWaitingSendersLocked(&a)
		if c.queue.len() == 0 {
			c.failReceiversLocked(&a)
		}
	}
	c.mu.Unlock()
	a.run()
	return nil
}

func (c *channel) closeNow(force bool) error {
	var a aftermath
	c.lock()
	if !force && c.queue.len() > 0 {
		n := c.queue.len()
		c.mu.Unlock()
		return errf(c.id, ErrNotEmpty, "%d values still queued", n)
	}
	c.shutdownLocked(&a)
	c.mu.Unlock()
	a.run()
	return nil
}

func side(send bool) string {
	if send {
		return "send"
	}
	return "recv"
}

// errClosed is ErrClosed for c, wrapping the Registry's close cause once
// the Registry is closed.
func (c *channel) errClosed() error {
	return &chanError{id: c.id, kind: ErrClosed, msg: "closed", cause: c.reg.closeCause()}
}

// errGone is the error of Bind and Release on a destroyed channel.
func (c *channel) errGone() error {
	if cause := c.reg.closeCause(); cause != nil {
		return &chanError{id: c.id, kind: ErrClosed, msg: "closed with its registry", cause: cause}
	}
	return errf(c.id, ErrClosed, "closed: every end was released")
}

func (c *channel) bind(send bool) error {
	c.lock()
	defer c.mu.Unlock()
	if c.destroyed {
		return c.errGone()
	}
	if send {
		c.nsend++
	} else {
		c.nrecv++
	}
	return nil
}

func (c *channel) release(send bool) error {
	c.lock()
	if c.destroyed {
		c.mu.Unlock()
		return c.errGone()
	}
	n := &c.nrecv
	if send {
		n = &c.nsend
	}
	if *n == 0 {
		c.mu.Unlock()
		return errf(c.id, ErrClosed, "%s end released more often than bound", side(send))
	}
	*n--
	if left := c.nrecv + c.nsend; left > 0 {
		onlyQueued := int64(left) <= c.queuedBindings.Load()
		c.mu.Unlock()
		if onlyQueued {
			c.reg.collectCycles(c)
		}
		return nil
	}
	c.destroyLocked()
	return nil
}

// destroyLocked shuts the channel down for good, unlocks it, removes it
// from the registry and runs the aftermath.
func (c *channel) destroyLocked() {
	var a aftermath
	c.shutdownLocked(&a)
	c.destroyed = true
	c.mu.Unlock()
	c.reg.remove(c)
	a.run()
}

// ---- ends ----

func (e *end) ch() (*channel, error) {
	if e.c == nil {
		return nil, errNotFromRegistry(e.id)
	}
	return e.c, nil
}

// ch is end.ch for a *RecvChannel that may be nil, so that its own
// methods and Select report ErrNotFound for a nil end. (The methods of
// end cannot: calling one through a nil pointer panics.)
func (r *RecvChannel) ch() (*channel, error) {
	if r == nil {
		return nil, errNotFromRegistry(0)
	}
	return r.end.ch()
}

// ch is end.ch for a *SendChannel that may be nil; see RecvChannel.ch.
func (s *SendChannel) ch() (*channel, error) {
	if s == nil {
		return nil, errNotFromRegistry(0)
	}
	return s.end.ch()
}

// errNotFromRegistry is the error about an end the caller made itself (a
// zero value, or nil) rather than got from a Registry.
func errNotFromRegistry(id ID) error { return errf(id, ErrNotFound, "end not from a Registry") }

// ID returns the channel's id, shared by both ends.
func (e *end) ID() ID { return e.id }

// String returns "RecvChannel(<id>)".
func (r *RecvChannel) String() string { return fmt.Sprintf("RecvChannel(%d)", r.id) }

// String returns "SendChannel(<id>)".
func (s *SendChannel) String() string { return fmt.Sprintf("SendChannel(%d)", s.id) }

// Options returns the options the channel was created with (MaxBytes
// resolved).
func (e *end) Options() Options {
	if e.c == nil {
		return Options{}
	}
	return e.c.options()
}

func (c *channel) options() Options {
	return Options{Capacity: c.capacity, MaxBytes: c.maxBytes, Fallback: c.fallback, Tag: c.tag}
}

// Purge removes the queued values for which drop(data) returns true (data
// is the value's encoding; drop must not keep it, and runs under the
// channel's lock, so it must not call back into the channel) and returns
// how many values stay queued. Values whose blocking sender waits for
// their receipt are always kept. PEP 734 queues use it to drop the items
// of destroyed interpreters that were put with UNBOUND_REMOVE.
func (e *end) Purge(drop func(data []byte) bool) (int, error) {
	c, err := e.ch()
	if err != nil {
		return 0, err
	}
	var a aftermath
	c.lock()
	if c.destroyed {
		c.mu.Unlock()
		return 0, c.errGone()
	}
	for i := 0; i < c.queue.len(); {
		it := c.queue.at(i)
		if it.sw == nil && drop(it.msg.data) {
			c.queue.removeAt(i)
			it.msg.markQueued(-1)
			a.drop = append(a.drop, it.msg)
			continue
		}
		i++
	}
	for admitted := c.admitLocked(); admitted != nil; admitted = c.admitLocked() {
		a.wake = append(a.wake, admitted)
	}
	n := c.queue.len()
	c.mu.Unlock()
	a.run()
	return n, nil
}

// Closed reports whether the channel was closed (Close or CloseNow) or is
// gone (every end released).
func (e *end) Closed() bool {
	if e.c == nil {
		return true
	}
	c := e.c
	c.lock()
	defer c.mu.Unlock()
	return c.closed || c.destroyed
}

// Len returns how many values are queued, waiting for a receiver: values
// handed straight to a waiting receiver never count, nor do senders still
// waiting for room in a full bounded channel.
func (e *end) Len() (int, error) {
	c, err := e.ch()
	if err != nil {
		return 0, err
	}
	c.lock()
	defer c.mu.Unlock()
	if c.destroyed {
		return 0, c.errGone()
	}
	return c.queue.len(), nil
}

// Close closes the channel (both ends): senders get ErrClosed at once,
// blocking senders whose value is already queued keep waiting for it to be
// received, senders waiting for room in a full bounded queue get
// ErrNotReceived, receivers drain what is queued and then get ErrClosed.
// Closing twice is not an error. The channel stays in the Registry (Lookup
// finds it, List does not) until every end is released.
func (e *end) Close() error {
	c, err := e.ch()
	if err != nil {
		return err
	}
	return c.close()
}

// CloseNow closes the channel at once. With force false it refuses with
// ErrNotEmpty if values are queued (PEP 554's ChannelNotEmptyError) and
// changes nothing; with force true queued values are dropped (their
// blocking senders get ErrNotReceived, their buffers and ends released).
// Waiting receivers get ErrClosed.
func (e *end) CloseNow(force bool) error {
	c, err := e.ch()
	if err != nil {
		return err
	}
	return c.closeNow(force)
}

// Bind records one more holder of this end (an interpreter, or Go code
// keeping it). Every Bind needs a matching Release.
func (e *end) Bind() error {
	c, err := e.ch()
	if err != nil {
		return err
	}
	return c.bind(e.send)
}

// Release drops one binding of this end. When no binding of either end is
// left the channel closes as with CloseNow(true) and leaves the Registry.
// Releasing more often than bound gives ErrClosed.
func (e *end) Release() error {
	c, err := e.ch()
	if err != nil {
		return err
	}
	return c.release(e.send)
}

// Recv returns the next value, waiting for one if none is queued. Taking
// a value that a blocking Send is waiting on completes that Send. Channel
// ends in the value come bound for the caller, one binding per end value
// (Release them when done, like Create's). Out-of-band buffers come as
// *BufferView (Release them). After Close it returns what is still queued,
// then ErrClosed. If ctx ends first it returns ctx.Err() and nothing is
// taken.
func (r *RecvChannel) Recv(ctx context.Context) (any, error) {
	c, err := r.ch()
	if err != nil {
		return nil, err
	}
	m, err := c.recvMsg(ctx)
	if err != nil {
		return nil, err
	}
	return c.reg.take(m)
}

// RecvNowait is Recv without waiting: ok is false (with a nil error) if
// nothing is queued, and err is ErrClosed on a closed, drained channel.
func (r *RecvChannel) RecvNowait() (v any, ok bool, err error) {
	c, err := r.ch()
	if err != nil {
		return nil, false, err
	}
	m, ok, err := c.tryRecv()
	if !ok {
		return nil, false, err
	}
	v, err = c.reg.take(m)
	return v, err == nil, err
}

// RecvMsg is Recv returning the encoded Message, which the caller owns
// (see Message).
func (r *RecvChannel) RecvMsg(ctx context.Context) (Message, error) {
	c, err := r.ch()
	if err != nil {
		return Message{}, err
	}
	return c.recvMsg(ctx)
}

// RecvMsgNowait is RecvNowait returning the encoded Message, which the
// caller owns when ok.
func (r *RecvChannel) RecvMsgNowait() (Message, bool, error) {
	c, err := r.ch()
	if err != nil {
		return Message{}, false, err
	}
	return c.tryRecv()
}

// Fallback returns the channel's Fallback, which the Python side applies
// to objects it cannot share.
func (s *SendChannel) Fallback() Fallback { return s.Options().Fallback }

// Send sends v (anything Encode accepts, plus *Buffer and *BufferView
// values) and waits until a receiver has taken it (PEP 554 send). A
// waiting receiver gets it directly. If ctx ends, or the channel is
// force-closed or released, before anyone took it, the value is withdrawn
// and the error wraps ErrNotReceived and the cause (ctx.Err(), ErrClosed):
// nothing is lost and nothing arrives twice. Ends in v stay bound while v
// is in flight.
func (s *SendChannel) Send(ctx context.Context, v any) error {
	c, err := s.ch()
	if err != nil {
		return err
	}
	m, err := EncodeMessage(v)
	if err != nil {
		return fmt.Errorf("channel %d: %w", c.id, err)
	}
	return c.sendMsg(ctx, m, false)
}

// SendNowait queues v without waiting for a receiver and reports whether a
// receiver was already waiting (it got v directly). On a full bounded
// queue it returns ErrFull and v is not sent.
func (s *SendChannel) SendNowait(v any) (receiverWaiting bool, err error) {
	c, err := s.ch()
	if err != nil {
		return false, err
	}
	m, err := EncodeMessage(v)
	if err != nil {
		return false, fmt.Errorf("channel %d: %w", c.id, err)
	}
	return c.sendMsgNowait(m)
}

// SendBuffer copies b once into a new channel-owned Buffer and sends it
// (Send); the receiver gets a *BufferView over that copy.
func (s *SendChannel) SendBuffer(ctx context.Context, b []byte) error {
	c, err := s.ch()
	if err != nil {
		return err
	}
	return c.sendMsg(ctx, bufferMessage(b), false)
}

// SendBufferNowait is SendBuffer without waiting (see SendNowait).
func (s *SendChannel) SendBufferNowait(b []byte) (bool, error) {
	c, err := s.ch()
	if err != nil {
		return false, err
	}
	return c.sendMsgNowait(bufferMessage(b))
}

func bufferMessage(b []byte) Message {
	buf := NewBuffer(append([]byte(nil), b...), nil)
	return newMessage([]byte{'B', 0}, []*Buffer{buf}, nil, true)
}

// SendMsg is Send for an encoded Message, which it takes over in every
// case. An unchecked Message (NewMessage) is validated first (ErrCorrupt)
// and the channel ends it names are bound while it is in flight
// (ErrNotFound if one does not exist).
func (s *SendChannel) SendMsg(ctx context.Context, m Message) error {
	c, err := s.ch()
	if err != nil {
		m.Release()
		return err
	}
	return c.sendMsg(ctx, m, false)
}

// SendMsgQueued is SendMsg that returns once m is queued, not once it is
// received: a queue's put. In a full bounded channel it waits for room
// until ctx ends (then m is withdrawn, and the error wraps ErrNotReceived
// and ctx's error); otherwise it does not wait.
func (s *SendChannel) SendMsgQueued(ctx context.Context, m Message) error {
	c, err := s.ch()
	if err != nil {
		m.Release()
		return err
	}
	return c.sendMsg(ctx, m, true)
}

// SendMsgNowait is SendNowait for an encoded Message (see SendMsg).
func (s *SendChannel) SendMsgNowait(m Message) (bool, error) {
	c, err := s.ch()
	if err != nil {
		m.Release()
		return false, err
	}
	return c.sendMsgNowait(m)
}
