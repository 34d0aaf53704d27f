package cpython_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/subinterp/subinterp/channel"
	"github.com/subinterp/subinterp/cpython"
)

// Functions, builtins and classes that pickle saves by reference are
// written by the C encoder itself (bindings/codec.c: global_pickle) and read
// back without the unpickler (global_load). The bytes must be exactly
// pickle.dumps(obj, 4)'s, the receiver must get the very object its own
// modules hold, and everything else must still go through pickle.
func TestPickledByReference(t *testing.T) {
	sender, receiver := newInterp(t), newInterp(t)
	const setup = `
import collections, functools, json, pickle, sys
class K:
    def m(self):
        pass
def outer():
    def inner():
        pass
    return inner
`
	pyOK(t, sender, setup)
	pyOK(t, receiver, setup)
	cases := []struct {
		name, expr string
		byRef      bool // written by the encoder itself
	}{
		{"builtin", "abs", true},
		{"module function", "json.dumps", true},
		{"builtin class", "int", true},
		{"C class of another module", "collections.OrderedDict", true},
		{"class of __main__", "K", true},
		{"method by qualname", "K.m", true},
		{"bound builtin method", "{1: 2}.get", false},
		{"partial", "functools.partial(abs, 1)", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r, s, err := rt.Channels().Create(channel.Options{Fallback: channel.FallbackPickle})
			require.NoError(t, err)
			defer func() { _ = r.Release(); _ = s.Release() }()
			pyOK(t, sender, "out.send_nowait("+c.expr+")\nout.send_nowait(pickle.dumps("+c.expr+", 4))",
				cpython.WithGlobals(map[string]any{"out": s}))
			got, err := r.Recv(bg)
			require.NoError(t, err)
			want, err := r.Recv(bg)
			require.NoError(t, err)
			require.IsType(t, channel.Pickled{}, got)
			if c.byRef {
				assert.Equal(t, []byte(want.([]byte)), []byte(got.(channel.Pickled)), "the bytes pickle.dumps(%s, 4) makes", c.expr)
			}
			// The receiver gets its own object (the same one, for references).
			_, err = s.SendNowait(got)
			require.NoError(t, err)
			check := "v = inp.recv()\n"
			if c.byRef {
				check += "assert v is " + c.expr + ", v\n"
			} else {
				check += "assert type(v) is type(" + c.expr + "), v\n"
			}
			pyOK(t, receiver, check, cpython.WithGlobals(map[string]any{"inp": r}))
		})
	}
}

// The reading side keeps the unpickler's behaviour: its audit event, the
// import of a module the receiver has not imported yet, and the errors of
// a name that does not resolve there; a function its name no longer leads
// to is not a reference.
func TestPickledByReferenceEdges(t *testing.T) {
	in := newInterp(t)
	pyOK(t, in, `
from subinterp import interpreters
import subinterp, pickle, json
other = interpreters.create()

# The audit event pickle's find_class raises, raised by the fast path too.
other.exec("""
import sys
seen = []
sys.addaudithook(lambda ev, args: seen.append(args) if ev == 'pickle.find_class' else None)
""")
other.call(abs, 1)
assert ('builtins', 'abs') in other.call(eval, "seen"), other.call(eval, "seen")

# A module the receiver has not imported: the unpickler imports it.
assert not other.call(eval, "'colorsys' in sys.modules")
import colorsys
assert other.call(colorsys.rgb_to_hsv, 0.0, 0.0, 0.0) == (0.0, 0.0, 0.0)

# A name the receiver cannot resolve: the unpickler's error, as before.
def only_here(x):
    return x
try:
    other.call(only_here, 1)
except interpreters.NotShareableError as exc:
    assert "only_here" in str(exc), exc
else:
    raise AssertionError("a function the target lacks was called")

# Rebound: the name leads elsewhere, so it is not a reference; call()
# sends such a function as its code, a channel refuses it as pickle does.
def f():
    return 1
g = f
def f():
    return 2
assert not subinterp._by_reference(g) and subinterp._by_reference(f)
assert other.call(g) == 1
r, s = subinterp.create_channel(fallback="pickle")
try:
    s.send_nowait(g)
except interpreters.NotShareableError as exc:
    assert isinstance(exc.__cause__, pickle.PicklingError), repr(exc.__cause__)
else:
    raise AssertionError("a rebound function was sent by reference")

# A nested function is never a reference ("<locals>").
def outer():
    def inner():
        return 3
    return inner
assert not subinterp._by_reference(outer())
assert other.call(outer()) == 3
other.close()
`)
}
