package channel

import (
	"fmt"
	"sync/atomic"
)

// Buffer is memory owned by channel values, shared without copying: the
// bytes a send_buffer call copied once out of the sender, read in place by
// every receiver. It is reference counted; free (if not nil) runs exactly
// once, when the last reference is released. Its bytes must not change
// while a reference is held by anyone but the creator.
type Buffer struct {
	b    []byte
	free func()
	refs atomic.Int64
}

// NewBuffer wraps b (memory the caller hands over: Go memory, or C memory
// made into a slice, with free releasing it) in a Buffer holding one
// reference, owned by the caller.
func NewBuffer(b []byte, free func()) *Buffer {
	buf := &Buffer{b: b, free: free}
	buf.refs.Store(1)
	return buf
}

// Bytes returns the buffer's memory. It stays valid while the caller holds
// a reference.
func (b *Buffer) Bytes() []byte { return b.b }

// Len is len(b.Bytes()).
func (b *Buffer) Len() int { return len(b.b) }

// Retain adds a reference.
func (b *Buffer) Retain() {
	if b.refs.Add(1) <= 1 {
		panic("channel: Retain of a released Buffer")
	}
}

// Release drops a reference; the last one runs free. Releasing more
// references than were taken panics, like a negative sync.WaitGroup.
func (b *Buffer) Release() {
	switch n := b.refs.Add(-1); {
	case n == 0:
		if b.free != nil {
			b.free()
		}
	case n < 0:
		panic("channel: Buffer released more often than retained")
	}
}

// refCount is for tests.
func (b *Buffer) refCount() int64 { return b.refs.Load() }

// BufferView is what a receiver gets for a buffer sent out of band (codec
// tag 'B'): a read-only window on the channel-owned Buffer, holding one
// reference to it. Release it when done; after Release, Bytes returns nil.
// Sending a BufferView again (inside a value) shares the same Buffer.
type BufferView struct {
	buf      *Buffer
	released atomic.Bool
}

func newView(b *Buffer) *BufferView {
	b.Retain()
	return &BufferView{buf: b}
}

// Bytes returns the viewed memory, which must not be modified, or nil
// after Release.
func (v *BufferView) Bytes() []byte {
	if v.released.Load() {
		return nil
	}
	return v.buf.b
}

// Len is len(v.Bytes()).
func (v *BufferView) Len() int { return len(v.Bytes()) }

// Release drops the view's reference. Calling it again does nothing.
func (v *BufferView) Release() {
	if v.released.CompareAndSwap(false, true) {
		v.buf.Release()
	}
}

// String describes the view for debugging.
func (v *BufferView) String() string { return fmt.Sprintf("BufferView(%d bytes)", v.Len()) }

// endBinding is one binding of a channel end held by a value in flight,
// so that the channel cannot disappear while a message naming it is
// queued.
type endBinding struct {
	c    *channel
	send bool
}

// Message is one encoded value as it travels through a channel: the bytes
// of the wire format (see Encode) plus the out-of-band Buffers its 'B'
// tags index, and the temporary bindings of the channel ends it names.
//
// Ownership: a Message owns one reference to each of its Buffers and one
// binding per channel end it contains. SendMsg and SendMsgNowait take the
// Message over in every case (on error they release it); a Message returned
// by RecvMsg, RecvMsgNowait or SelectMsg belongs to the caller, who must
// call Release exactly once after decoding it (after binding any channel
// end it wants to keep, and after taking its own reference to any Buffer it
// keeps). Data stays valid after Release; it is Go memory the collector
// frees.
type Message struct {
	data    []byte
	x       *msgExtra // nil unless there are buffers or end bindings: keeps Message small
	checked bool      // data validated and ends bound (Go-encoded or already sent once)
}

// msgExtra holds what most messages do not have.
type msgExtra struct {
	bufs  []*Buffer
	bound []endBinding
}

func newMessage(data []byte, bufs []*Buffer, bound []endBinding, checked bool) Message {
	m := Message{data: data, checked: checked}
	if len(bufs) > 0 || len(bound) > 0 {
		m.x = &msgExtra{bufs, bound}
	}
	return m
}

func (m Message) bufs() []*Buffer {
	if m.x == nil {
		return nil
	}
	return m.x.bufs
}

func (m Message) endBindings() []endBinding {
	if m.x == nil {
		return nil
	}
	return m.x.bound
}

func (m *Message) addEndBinding(b endBinding) {
	if m.x == nil {
		m.x = &msgExtra{}
	}
	m.x.bound = append(m.x.bound, b)
}

// NewMessage makes a Message of encoded bytes, taking ownership of data:
// the caller must not modify it afterwards. Sending it validates the bytes
// and binds the channel ends they name.
func NewMessage(data []byte) Message { return Message{data: data} }

// NewMessageWithBuffers is NewMessage for data whose 'B' tags index bufs;
// the Message takes over one reference to each Buffer (the caller's
// reference from NewBuffer, or one it Retained for the purpose).
func NewMessageWithBuffers(data []byte, bufs []*Buffer) Message {
	return newMessage(data, append([]*Buffer(nil), bufs...), nil, false)
}

// Data returns the encoded bytes. Do not modify them.
func (m Message) Data() []byte { return m.data }

// Buffers returns the out-of-band buffers, indexed by the 'B' tags in Data.
// They are valid until Release; take a reference (Retain) to keep one
// longer, e.g. for a memoryview.
func (m Message) Buffers() []*Buffer { return m.bufs() }

// Release drops the Message's references to its Buffers and its bindings
// of the channel ends it names. Call it once per Message you own.
func (m Message) Release() {
	for _, b := range m.bufs() {
		b.Release()
	}
	for _, b := range m.endBindings() {
		_ = b.c.release(b.send)
	}
}

// markQueued adds delta to the queuedBindings of every channel m binds:
// +1 when m enters a channel's queue, -1 when it leaves it.
func (m Message) markQueued(delta int64) {
	for _, b := range m.endBindings() {
		b.c.queuedBindings.Add(delta)
	}
}

// collectIfOnlyQueued runs after m entered a queue. If that left a
// channel m binds held by queued values alone (m was its last holder
// outside a queue: a received Message sent on again), no release will
// ever come to look for a cycle (see channel.release), so look now.
func (m Message) collectIfOnlyQueued() {
	for _, b := range m.endBindings() {
		c := b.c
		c.lock()
		left, destroyed := c.nrecv+c.nsend, c.destroyed
		c.mu.Unlock()
		if !destroyed && int64(left) <= c.queuedBindings.Load() {
			c.reg.collectCycles(c)
		}
	}
}

// size is what counts against MaxBytes.
func (m *Message) size() int {
	n := len(m.data)
	for _, b := range m.bufs() {
		n += len(b.b)
	}
	return n
}
