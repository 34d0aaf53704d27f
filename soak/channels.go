package soak

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/subinterp/subinterp/channel"
	"github.com/subinterp/subinterp/cpython"
)

// Directions of the channels scenario's traffic, the keys of
// ChannelFigures.Messages.
const (
	goToPython     = "go->python"
	pythonToGo     = "python->go"
	pythonToPython = "python->python"
	goToGo         = "go->go"
)

// Cancelled sends of the channels scenario, the keys of its Expected map:
// each round makes one of each, with nobody receiving, and checks that the
// value was withdrawn.
const (
	cancelGoToPython  = "go->python send, deadline"
	cancelGoToGo      = "go->go send, deadline"
	cancelPyTimeout   = "python send, timeout"
	cancelPyInterrupt = "python send, call cancelled"
)

// ChannelFigures are the channels scenario's own counts.
type ChannelFigures struct {
	// RoundSize messages go each way in one round, over fresh channels.
	RoundSize int   `json:"round_size"`
	Rounds    int64 `json:"rounds"`
	// Messages counts the values delivered and checked, per direction.
	Messages map[string]int64 `json:"messages"`
	// Created counts the channels the scenario created (in Go and in
	// Python): six per round.
	Created int64 `json:"created"`
	// LeftAfterRound counts channels still in the registry when the round
	// that made them had released every end.
	LeftAfterRound int64 `json:"left_after_round"`
	// OpenBefore and OpenAfter are len(rt.Channels().List()) before the
	// scenario and after it closed its interpreters.
	OpenBefore int `json:"open_before"`
	OpenAfter  int `json:"open_after"`
	// LeftBehind counts the scenario's channels still there at the end: the
	// larger of the ones known by id still in the registry and the growth
	// of the open-channel count.
	LeftBehind int `json:"left_behind"`
}

// p1Round runs in the first interpreter: it hands the second one (through
// Go) the receiving end of a channel made in Python, echoes n values from
// Go back to Go (plus one) and on to the second interpreter, then makes a
// send that nobody receives and that times out, and reports on pg.
const p1Round = `
import subinterp
pr, ps = subinterp.create_channel()
pg.send(pr)
pr.release()
for _ in range(n):
    v = gp.recv()
    pg.send(v + 1)
    ps.send(v)
ps.close()
tr, ts = subinterp.create_channel()
try:
    ts.send("never", timeout=timeout)
    timed_out = False
except TimeoutError:
    timed_out = True
pg.send((timed_out, tr.recv_nowait(None)))
for end in (tr, ts, ps):
    end.release()
del pr, ps, tr, ts, end, gp, pg
`

// p2Round runs in the second interpreter: it receives until the first one
// closes the channel.
const p2Round = `
count = total = 0
for v in pp:
    count += 1
    total += v
pp.release()
del pp
`

// roundTimeout bounds one round, so that a hang is counted, not waited
// for forever.
const roundTimeout = time.Minute

// runChannels moves values over fresh channels in every direction, round
// after round, with sends that are cancelled; every channel must be gone
// once its round released it.
func runChannels(ctx context.Context, rt *cpython.Runtime, o Options) *ScenarioReport {
	sr := &ScenarioReport{Name: Channels}
	t := newTally()
	f := &ChannelFigures{RoundSize: o.RoundSize, Messages: map[string]int64{}}
	for _, d := range []string{goToPython, pythonToGo, pythonToPython, goToGo} {
		f.Messages[d] = 0
	}
	sr.Channels = f
	f.OpenBefore = len(rt.Channels().List())
	m := newMeter(rt, o, sr, t, "messages each way")
	c := &chanRun{reg: rt.Channels(), o: o, t: t, f: f}
	var err error
	if c.p1, err = rt.NewInterpreter(cpython.IsolatedConfig()); err == nil {
		c.p2, err = rt.NewInterpreter(cpython.IsolatedConfig())
	}
	for _, in := range []*cpython.Interpreter{c.p1, c.p2} {
		if in != nil {
			in.SetInterruptGrace(interruptedSendGrace)
		}
	}
	m.begin()
	if err != nil {
		t.fail("setup: interpreter", err)
	} else {
		for {
			n := m.take(ctx, int64(o.RoundSize))
			if n == 0 {
				break
			}
			c.round(ctx, int(n))
			f.Rounds++
			m.finished(n)
			if t.total() >= maxErrors {
				sr.Aborted = fmt.Sprintf("stopped after %d errors", t.total())
				break
			}
		}
	}
	m.end()
	for _, in := range []*cpython.Interpreter{c.p1, c.p2} {
		if in != nil {
			if err := in.Close(); err != nil {
				t.fail("close", err)
			}
		}
	}
	still := 0
	for _, id := range c.suspects {
		if _, _, err := c.reg.Lookup(id); err == nil {
			still++
		}
	}
	f.OpenAfter = len(rt.Channels().List())
	f.LeftBehind = max(still, f.OpenAfter-f.OpenBefore)
	m.final()
	return sr
}

// chanRun is the state of one channels scenario.
type chanRun struct {
	reg    *channel.Registry
	o      Options
	t      *tally
	f      *ChannelFigures
	p1, p2 *cpython.Interpreter
	// suspects are channels found still in the registry after their round.
	suspects []channel.ID
}

// interruptedSendGrace is how long an interrupted send may take to unwind
// before its call gives up on it. The scenario checks that the value is
// withdrawn and nothing leaks, not how fast: an abandoned call would leave
// its interpreter busy and the channel bound, and on a loaded machine a
// debug CPython's first KeyboardInterrupt (which imports traceback to say
// where it stopped) has taken longer than the default 250 ms.
const interruptedSendGrace = 10 * time.Second

// shortDeadline is a cancelled send's deadline: 1-5 ms.
func shortDeadline() time.Duration { return time.Millisecond + rand.N(4*time.Millisecond) }

// round is one round of n messages each way. The first failure ends it
// and is counted by kind (the interrupted calls and sends it causes are
// not); every end the round bound is released either way.
func (c *chanRun) round(ctx context.Context, n int) {
	rctx, cancel := context.WithTimeout(ctx, roundTimeout)
	defer cancel()
	var ends []interface{ Release() error }
	var ids []channel.ID
	defer func() {
		for _, e := range ends {
			if err := e.Release(); err != nil {
				c.t.fail("release", err)
			}
		}
		for _, id := range ids {
			if _, _, err := c.reg.Lookup(id); err == nil {
				c.f.LeftAfterRound++
				c.suspects = append(c.suspects, id)
			}
		}
	}()
	var failed atomic.Bool
	var once sync.Once
	fail := func(what string, err error) {
		once.Do(func() {
			failed.Store(true)
			c.t.fail(what, err)
		})
		cancel()
	}
	create := func() (*channel.RecvChannel, *channel.SendChannel, bool) {
		r, s, err := c.reg.Create(channel.Options{})
		if err != nil {
			fail("create", err)
			return nil, nil, false
		}
		c.f.Created++
		ends = append(ends, r, s)
		ids = append(ids, r.ID())
		return r, s, true
	}
	gpR, gpS, ok1 := create()
	pgR, pgS, ok2 := create()
	ggR, ggS, ok3 := create()
	xR, xS, ok4 := create()
	if !ok1 || !ok2 || !ok3 || !ok4 {
		return
	}

	// The interpreters and a goroutine run their halves while this one runs
	// Go's; a failure anywhere cancels the rest.
	var wg sync.WaitGroup
	defer func() {
		cancel()
		wg.Wait()
	}()
	wg.Go(func() {
		err := c.p1.Exec(rctx, p1Round, cpython.WithGlobals(map[string]any{
			"gp": gpR, "pg": pgS, "n": n, "timeout": shortDeadline().Seconds(),
		}))
		if err != nil {
			fail("python 1", err)
		}
	})

	// Python→Go: first the end the second interpreter receives on.
	v, err := pgR.Recv(rctx)
	if err != nil {
		fail("python->go: handover", err)
		return
	}
	pr, ok := v.(*channel.RecvChannel)
	if !ok {
		fail("python->go: handover", fmt.Errorf("received %T, want a RecvChannel", v))
		return
	}
	ends = append(ends, pr)
	ids = append(ids, pr.ID())
	c.f.Created += 2 // pr's channel and the one p1 times out on
	wg.Go(func() {
		if err := c.p2.Exec(rctx, p2Round, cpython.WithGlobals(map[string]any{"pp": pr})); err != nil {
			fail("python 2", err)
		}
	})
	wg.Go(func() {
		for i := range int64(n) {
			if err := ggS.Send(rctx, i); err != nil {
				fail("go->go: send", err)
				return
			}
		}
	})

	for i := range int64(n) {
		if err := gpS.Send(rctx, i); err != nil {
			fail("go->python", err)
			return
		}
		v, err := pgR.Recv(rctx)
		if err != nil {
			fail("python->go", err)
			return
		}
		if v != i+1 {
			fail("python->go", fmt.Errorf("received %v, want %d", v, i+1))
			return
		}
		c.f.Messages[goToPython]++
		c.f.Messages[pythonToGo]++
		w, err := ggR.Recv(rctx)
		if err != nil {
			fail("go->go", err)
			return
		}
		if w != i {
			fail("go->go", fmt.Errorf("received %v, want %d", w, i))
			return
		}
		c.f.Messages[goToGo]++
	}

	// The first interpreter's report on its timed-out send.
	v, err = pgR.Recv(rctx)
	if err != nil {
		fail("python->go: report", err)
		return
	}
	wg.Wait()
	if failed.Load() {
		return
	}
	if rep, ok := v.(channel.Tuple); !ok || len(rep) != 2 {
		c.t.fail(cancelPyTimeout, fmt.Errorf("report %v", v))
	} else if rep[0] != true {
		c.t.fail(cancelPyTimeout, errors.New("send returned without a receiver"))
	} else if rep[1] != nil {
		c.t.fail(cancelPyTimeout, fmt.Errorf("a timed-out send was delivered: %v", rep[1]))
	} else {
		c.t.expect(cancelPyTimeout)
	}
	switch got, err := c.p2.Eval(rctx, "(count, total)"); {
	case err != nil:
		c.t.fail("python->python: result", err)
	case !equalTuple(got, int64(n), int64(n)*int64(n-1)/2):
		c.t.fail("python->python", fmt.Errorf("received (count, sum) %v, want (%d, %d): lost or duplicated", got, n, n*(n-1)/2))
	default:
		c.f.Messages[pythonToPython] += int64(n)
	}

	// Sends nobody receives, withdrawn when their deadline passes.
	c.cancelledSend(rctx, cancelGoToPython, gpS, gpR)
	c.cancelledSend(rctx, cancelGoToGo, ggS, ggR)
	c.interruptedSend(rctx, xS, xR)
}

// cancelledSend sends a value nobody receives with a 1-5 ms deadline: the
// send must fail with ErrNotReceived and the value must not be queued.
func (c *chanRun) cancelledSend(ctx context.Context, kind string, s *channel.SendChannel, r *channel.RecvChannel) {
	sctx, cancel := context.WithTimeout(ctx, shortDeadline())
	err := s.Send(sctx, "never")
	cancel()
	switch {
	case err == nil:
		c.t.fail(kind, errors.New("delivered with nobody receiving"))
	case !errors.Is(err, channel.ErrNotReceived) || !errors.Is(err, context.DeadlineExceeded):
		c.t.fail(kind, err)
	default:
		if v, ok, rerr := r.RecvNowait(); rerr != nil || ok {
			c.t.fail(kind, fmt.Errorf("withdrawn value still queued: %v %v", v, rerr))
			return
		}
		c.t.expect(kind)
	}
}

// interruptedSend makes the first interpreter send a value nobody receives
// in a call whose context ends after 1-5 ms: the call must be interrupted
// and the value withdrawn.
func (c *chanRun) interruptedSend(ctx context.Context, s *channel.SendChannel, r *channel.RecvChannel) {
	sctx, cancel := context.WithTimeout(ctx, shortDeadline())
	err := c.p1.Exec(sctx, "xs.send('never')", cpython.WithGlobals(map[string]any{"xs": s}))
	cancel()
	var ie *cpython.InterruptedError
	switch {
	case err == nil:
		c.t.fail(cancelPyInterrupt, errors.New("delivered with nobody receiving"))
	case errors.As(err, &ie) && ie.Stopped && errors.Is(err, context.DeadlineExceeded),
		errors.Is(err, context.DeadlineExceeded) && ie == nil: // expired before the call started
		if v, ok, rerr := r.RecvNowait(); rerr != nil || ok {
			c.t.fail(cancelPyInterrupt, fmt.Errorf("withdrawn value still queued: %v %v", v, rerr))
			break
		}
		c.t.expect(cancelPyInterrupt)
	default:
		c.t.fail(cancelPyInterrupt, err)
	}
	if err := c.p1.Exec(ctx, "globals().pop('xs', None)"); err != nil {
		c.t.fail("python 1: cleanup", err)
	}
}

// equalTuple reports whether v is the tuple want.
func equalTuple(v any, want ...any) bool {
	t, ok := v.(channel.Tuple)
	if !ok || len(t) != len(want) {
		return false
	}
	for i := range t {
		if t[i] != want[i] {
			return false
		}
	}
	return true
}
