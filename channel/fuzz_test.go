package channel

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/big"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// validate checks encoded data (with nbufs out-of-band buffers) the way
// a send checks a Message it did not encode, without building values.
func validate(data []byte, nbufs int) error {
	d := decoder{data: data, msg: true, nbufs: nbufs}
	_, err := d.top()
	return err
}

func FuzzDecode(f *testing.F) {
	seeds := []any{
		nil, true, false, int64(0), int64(-1), int64(math.MaxInt64),
		new(big.Int).Lsh(big.NewInt(1), 70), new(big.Int).Neg(new(big.Int).Lsh(big.NewInt(1), 64)),
		math.NaN(), math.Inf(-1), math.Copysign(0, -1), "", "h\xffé\U0001F40D\x00",
		[]byte{0, 1}, Pickled("\x80\x04N."), []any{int64(1), Tuple{nil, "x"}},
		Dict{{"a", Dict{{int64(1), []any{}}}}, {Tuple{}, nil}},
		&RecvChannel{end{id: 3}}, &SendChannel{end{id: 300, send: true}},
		time.Date(2026, 12, 1, 0, 0, 0, 1000, time.UTC), time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC),
		-90 * time.Minute, Set{int64(1), Tuple{"a"}}, FrozenSet{FrozenSet{}, nil},
	}
	for _, v := range seeds {
		data, err := Encode(v)
		require.NoError(f, err)
		f.Add(data)
	}
	for _, s := range []string{"", "x", "NN", "l\x05N", "s\x81\x00a", "I\x030x1", "B\x00", "t\x02B\x01B\x00", "d\x01NB\x00", "d\x02TNi\x01\x00\x00\x00\x00\x00\x00\x00N", "S\x02TF", "S\x01t\x01l\x00", "Z\x01Z\x01S\x00", "D\xff\xff\xff\xff\xff\xff\xff\xff", "U\x00\x00\x00\x00\x00\x00\x00\x80"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		v, err := Decode(data, fakeEnds{})
		verr := validate(data, 0)
		if err != nil {
			require.ErrorIs(t, err, ErrCorrupt, "fakeEnds never fails, so only corruption can")
			require.Error(t, verr, "validate must agree with Decode")
			require.Nil(t, v)
		} else {
			require.NoError(t, verr, "validate must agree with Decode")
			again, err := Encode(v)
			if errors.Is(err, ErrDuplicateKey) {
				// Valid bytes Python never makes, and Go refuses to.
				require.ErrorIs(t, err, ErrNotShareable)
			} else {
				require.NoError(t, err, "decoded %#v", v)
				require.Equal(t, data, again, "re-encoding must reproduce the input")
			}
		}

		// The same bytes as a Message with two out-of-band buffers: no
		// panic, and every reference taken is given back.
		free, freed := countingFree()
		b0, b1 := NewBuffer([]byte("zero"), free), NewBuffer([]byte("one"), free)
		m := NewMessageWithBuffers(data, []*Buffer{b0, b1})
		mv, merr := DecodeMessage(m, fakeEnds{})
		require.Equal(t, merr == nil, validate(data, 2) == nil)
		if merr == nil {
			releaseViews(mv)
		} else {
			require.ErrorIs(t, merr, ErrCorrupt)
		}
		require.Equal(t, int64(1), b0.refCount())
		require.Equal(t, int64(1), b1.refCount())
		m.Release()
		require.Equal(t, int32(2), freed.Load())
	})
}

// releaseViews releases every *BufferView inside v.
func releaseViews(v any) {
	switch x := v.(type) {
	case *BufferView:
		x.Release()
	case []any:
		for _, e := range x {
			releaseViews(e)
		}
	case Tuple:
		releaseViews([]any(x))
	case Set:
		releaseViews([]any(x))
	case FrozenSet:
		releaseViews([]any(x))
	case Dict:
		for _, it := range x {
			releaseViews(it.Key)
			releaseViews(it.Value)
		}
	}
}

// The model of one channel in FuzzChannelOps.
type modelChan struct {
	rc           *RecvChannel
	sc           *SendChannel
	capacity     int
	queue        []modelVal
	closed       bool
	destroyed    bool
	heldR, heldS int // bindings the test holds (more come from queued values)
}

type modelVal struct {
	seq    int64
	end    int // -1, or the channel whose end travels with the value
	endIsS bool
	buf    bool
}

type channelModel struct {
	t       *testing.T
	reg     *Registry
	chans   []*modelChan
	seq     int64
	bufs    int // buffers created
	freed   func() int32
	freeFn  func()
	history []string
}

func (m *channelModel) fail(format string, args ...any) {
	m.t.Helper()
	m.t.Fatalf("%s\nafter ops:\n  %s", fmt.Sprintf(format, args...), joinLines(m.history))
}

func joinLines(s []string) string {
	out := ""
	for i, l := range s {
		if i > 0 {
			out += "\n  "
		}
		out += l
	}
	return out
}

// queuedBindings counts the queued values (in live channels) carrying an
// end of ch.
func (m *channelModel) queuedBindings(ch int, send bool) int {
	n := 0
	for _, c := range m.chans {
		for _, v := range c.queue {
			if v.end == ch && v.endIsS == send {
				n++
			}
		}
	}
	return n
}

func (m *channelModel) queuedBufs() int {
	n := 0
	for _, c := range m.chans {
		for _, v := range c.queue {
			if v.buf {
				n++
			}
		}
	}
	return n
}

// settle destroys every channel that the test's own bindings cannot
// reach: no binding at all, or only bindings held by values queued in
// channels that are unreachable themselves (a cycle).
func (m *channelModel) settle() {
	live := make([]bool, len(m.chans))
	var stack []int
	for i, c := range m.chans {
		if !c.destroyed && c.heldR+c.heldS > 0 {
			live[i] = true
			stack = append(stack, i)
		}
	}
	for len(stack) > 0 {
		i := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		for _, v := range m.chans[i].queue {
			if v.end >= 0 && !live[v.end] {
				live[v.end] = true
				stack = append(stack, v.end)
			}
		}
	}
	for i, c := range m.chans {
		if !live[i] && !c.destroyed {
			c.destroyed, c.closed, c.queue = true, true, nil
		}
	}
}

func (m *channelModel) check() {
	m.t.Helper()
	var open []ID
	for i, c := range m.chans {
		if !c.closed {
			open = append(open, c.rc.ID())
		}
		_, _, err := m.reg.Lookup(c.rc.ID())
		if c.destroyed {
			if !errors.Is(err, ErrNotFound) {
				m.fail("channel %d destroyed in the model, Lookup: %v", i, err)
			}
			continue
		}
		if err != nil {
			m.fail("channel %d: Lookup: %v", i, err)
		}
		nr, ns := c.rc.c.bindings()
		if nr != c.heldR+m.queuedBindings(i, false) || ns != c.heldS+m.queuedBindings(i, true) {
			m.fail("channel %d bindings %d/%d, model %d+%d/%d+%d", i, nr, ns,
				c.heldR, m.queuedBindings(i, false), c.heldS, m.queuedBindings(i, true))
		}
		if q := c.rc.c.queued(); q != len(c.queue) {
			m.fail("channel %d has %d queued, model %d", i, q, len(c.queue))
		}
	}
	if got := m.reg.List(); !slices.Equal(got, open) {
		m.fail("List %v, model %v", got, open)
	}
	if live := int32(m.bufs - m.queuedBufs()); m.freed() != live {
		m.fail("%d buffers freed, model %d", m.freed(), live)
	}
}

// checkValue compares a received value with the model's and gives back
// what it holds (the end's binding, the buffer view).
func (m *channelModel) checkValue(want modelVal, got any) {
	m.t.Helper()
	switch {
	case want.end >= 0:
		tup, ok := got.(Tuple)
		if !ok || len(tup) != 2 || tup[0] != want.seq {
			m.fail("got %#v, want (%d, end of %d)", got, want.seq, want.end)
		}
		// The value's binding of the end is now ours (held +1 in the
		// model, queued bindings -1); give it back at once (held -1).
		target := m.chans[want.end]
		var err error
		if want.endIsS {
			if tup[1] != any(target.sc) {
				m.fail("got end %v, want %v", tup[1], target.sc)
			}
			err = target.sc.Release()
		} else {
			if tup[1] != any(target.rc) {
				m.fail("got end %v, want %v", tup[1], target.rc)
			}
			err = target.rc.Release()
		}
		if err != nil {
			m.fail("releasing a received end: %v", err)
		}
	case want.buf:
		tup, ok := got.(Tuple)
		if !ok || len(tup) != 2 || tup[0] != want.seq {
			m.fail("got %#v, want (%d, buffer)", got, want.seq)
		}
		view := tup[1].(*BufferView)
		if string(view.Bytes()) != fmt.Sprint(want.seq) {
			m.fail("buffer holds %q, want %d", view.Bytes(), want.seq)
		}
		view.Release()
	default:
		if got != want.seq {
			m.fail("got %#v, want %d", got, want.seq)
		}
	}
}

func (m *channelModel) send(i int, v modelVal, val any) {
	m.t.Helper()
	c := m.chans[i]
	waiting, err := c.sc.SendNowait(val)
	switch {
	case c.closed:
		if !errors.Is(err, ErrClosed) {
			m.fail("send on closed channel %d: %v", i, err)
		}
	case c.capacity > 0 && len(c.queue) >= c.capacity:
		if !errors.Is(err, ErrFull) {
			m.fail("send on full channel %d: %v", i, err)
		}
	default:
		if err != nil || waiting {
			m.fail("send on channel %d: %v %v", i, waiting, err)
		}
		c.queue = append(c.queue, v)
	}
}

// receive applies a successful receive of v from channel i to the model.
func (m *channelModel) receive(i int, v any) {
	m.t.Helper()
	c := m.chans[i]
	want := c.queue[0]
	c.queue = c.queue[1:]
	m.checkValue(want, v)
}

func FuzzChannelOps(f *testing.F) {
	f.Add([]byte{0, 0, 0, 0, 0, 1, 3, 0, 3, 0, 3, 0})
	f.Add([]byte{1, 1, 3, 1, 2, 7, 0, 7, 3, 3, 0, 9, 7})
	f.Add([]byte{2, 6, 0, 4, 0, 0, 3, 0, 3, 0, 5, 1, 6, 1, 8, 2})
	f.Add([]byte{0, 1, 5, 7, 0, 7, 3, 8, 1, 9, 7, 0, 0, 3, 1})
	f.Add([]byte{3, 2, 0, 2, 1, 0, 2, 9, 7, 3, 0, 10, 0, 11, 1, 11, 2})
	f.Add([]byte{0, 1, 0, 7, 3, 7, 0, 6, 0, 11, 0, 11, 1})
	f.Fuzz(runChannelOps)
}

// runChannelOps interprets ops as operations on three channels and checks
// every result against a model.
func runChannelOps(t *testing.T, ops []byte) {
	{
		if len(ops) == 0 {
			return
		}
		if len(ops) > 400 {
			ops = ops[:400]
		}
		free, freed := countingFree()
		m := &channelModel{t: t, reg: NewRegistry(), freeFn: free, freed: freed.Load}
		for i := 0; i < 3; i++ {
			capacity := int(ops[0]>>(2*i)) & 3
			rc, sc, err := m.reg.Create(Options{Capacity: capacity})
			require.NoError(t, err)
			m.chans = append(m.chans, &modelChan{rc: rc, sc: sc, capacity: capacity, heldR: 1, heldS: 1})
		}
		ops = ops[1:]
		done, cancel := context.WithCancel(context.Background())
		cancel()

		for len(ops) >= 2 {
			op, arg := ops[0]%12, int(ops[1])
			ops = ops[2:]
			i := arg % 3
			c := m.chans[i]
			m.history = append(m.history, fmt.Sprintf("op %d arg %d (channel %d)", op, arg, i))
			switch op {
			case 0: // send_nowait an int
				m.seq++
				m.send(i, modelVal{seq: m.seq, end: -1}, m.seq)
			case 1: // send_nowait a channel end
				target, isS := (arg/3)%3, (arg/9)%2 == 1
				tc := m.chans[target]
				var end any = tc.rc
				if isS {
					end = tc.sc
				}
				m.seq++
				if tc.destroyed {
					_, err := c.sc.SendNowait(Tuple{m.seq, end})
					if !errors.Is(err, ErrClosed) {
						m.fail("sending an end of a destroyed channel: %v", err)
					}
					break
				}
				m.send(i, modelVal{seq: m.seq, end: target, endIsS: isS}, Tuple{m.seq, end})
			case 2: // send_nowait a buffer
				m.seq++
				buf := NewBuffer([]byte(fmt.Sprint(m.seq)), m.freeFn)
				m.bufs++
				m.send(i, modelVal{seq: m.seq, end: -1, buf: true}, Tuple{m.seq, buf})
				buf.Release()
			case 3: // recv_nowait
				v, ok, err := c.rc.RecvNowait()
				switch {
				case len(c.queue) > 0:
					if !ok || err != nil {
						m.fail("recv on channel %d with %d queued: %v %v", i, len(c.queue), ok, err)
					}
					m.receive(i, v)
				case c.closed:
					if ok || !errors.Is(err, ErrClosed) {
						m.fail("recv on closed empty channel %d: %v %v", i, ok, err)
					}
				default:
					if ok || err != nil {
						m.fail("recv on empty channel %d: %v %v", i, ok, err)
					}
				}
			case 4: // close
				if err := c.rc.Close(); err != nil {
					m.fail("close %d: %v", i, err)
				}
				c.closed = true
			case 5: // close now, not forced
				err := c.sc.CloseNow(false)
				if len(c.queue) > 0 {
					if !errors.Is(err, ErrNotEmpty) {
						m.fail("CloseNow(false) on non-empty %d: %v", i, err)
					}
				} else {
					if err != nil {
						m.fail("CloseNow(false) on empty %d: %v", i, err)
					}
					c.closed = true
				}
			case 6: // close now, forced
				if err := c.sc.CloseNow(true); err != nil {
					m.fail("CloseNow(true) %d: %v", i, err)
				}
				c.closed, c.queue = true, nil
			case 7: // release one end
				isS := (arg/3)%2 == 1
				held := &c.heldR
				release := c.rc.Release
				if isS {
					held, release = &c.heldS, c.sc.Release
				}
				if *held == 0 && !c.destroyed && m.queuedBindings(i, isS) > 0 {
					break // would release a binding that a queued value owns
				}
				err := release()
				if c.destroyed || *held == 0 {
					if !errors.Is(err, ErrClosed) {
						m.fail("release of an unbound end of %d: %v", i, err)
					}
					break
				}
				if err != nil {
					m.fail("release %d: %v", i, err)
				}
				*held--
			case 8: // bind one end
				isS := (arg/3)%2 == 1
				bind, held := c.rc.Bind, &c.heldR
				if isS {
					bind, held = c.sc.Bind, &c.heldS
				}
				err := bind()
				if c.destroyed {
					if !errors.Is(err, ErrClosed) {
						m.fail("bind on destroyed %d: %v", i, err)
					}
					break
				}
				if err != nil {
					m.fail("bind %d: %v", i, err)
				}
				*held++
			case 9: // select with zero timeout over a subset
				var set []*RecvChannel
				var idx []int
				for k := 0; k < 3; k++ {
					if (arg>>k)&1 == 1 {
						set, idx = append(set, m.chans[k].rc), append(idx, k)
					}
				}
				if len(set) == 0 {
					break
				}
				ready := false
				for _, k := range idx {
					if len(m.chans[k].queue) > 0 || m.chans[k].closed {
						ready = true
					}
				}
				j, v, err := m.reg.Select(done, set...)
				if !ready {
					if !errors.Is(err, context.Canceled) || j != -1 {
						m.fail("select on nothing ready: %d %v", j, err)
					}
					break
				}
				if j < 0 || j >= len(set) {
					m.fail("select index %d of %d (%v)", j, len(set), err)
				}
				k := idx[j]
				if len(m.chans[k].queue) > 0 {
					if err != nil {
						m.fail("select on ready %d: %v", k, err)
					}
					m.receive(k, v)
				} else if !m.chans[k].closed || !errors.Is(err, ErrClosed) {
					m.fail("select chose %d (closed %v, empty): %v", k, m.chans[k].closed, err)
				}
			case 10: // blocking send with an ended context: withdrawn at once
				m.seq++
				err := c.sc.Send(done, m.seq)
				if c.closed {
					if !errors.Is(err, ErrClosed) {
						m.fail("send on closed %d: %v", i, err)
					}
				} else if !errors.Is(err, ErrNotReceived) || !errors.Is(err, context.Canceled) {
					m.fail("send with an ended context on %d: %v", i, err)
				}
			case 11: // raw message naming an end, via SendMsgNowait
				target := (arg / 3) % 3
				tc := m.chans[target]
				data, err := Encode(Tuple{m.seq + 1, tc.rc})
				require.NoError(t, err)
				m.seq++
				if tc.destroyed {
					_, err := c.sc.SendMsgNowait(NewMessage(data))
					if !errors.Is(err, ErrNotFound) {
						m.fail("message naming a destroyed channel: %v", err)
					}
					break
				}
				m.send2(i, modelVal{seq: m.seq, end: target}, data)
			}
			m.settle()
			m.check()
		}

		// Tear down: every buffer freed, the registry empty.
		m.reg.CloseAll()
		require.Equal(t, int32(m.bufs), freed.Load(), "every buffer freed")
		require.Empty(t, m.reg.List())
	}
}

// send2 is send for a raw Message.
func (m *channelModel) send2(i int, v modelVal, data []byte) {
	m.t.Helper()
	c := m.chans[i]
	waiting, err := c.sc.SendMsgNowait(NewMessage(data))
	switch {
	case c.closed:
		if !errors.Is(err, ErrClosed) {
			m.fail("send on closed channel %d: %v", i, err)
		}
	case c.capacity > 0 && len(c.queue) >= c.capacity:
		if !errors.Is(err, ErrFull) {
			m.fail("send on full channel %d: %v", i, err)
		}
	default:
		if err != nil || waiting {
			m.fail("send on channel %d: %v %v", i, waiting, err)
		}
		c.queue = append(c.queue, v)
	}
}
