package cpython_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/subinterp/subinterp/channel"
	"github.com/subinterp/subinterp/cpython"
)

// depthHelpers builds and measures nested values on the Python side, the
// same shapes goNested builds in Go.
const depthHelpers = `
def build(kind, n, empty):
    wrap = {"list": lambda v: [v], "tuple": lambda v: (v,), "dict": lambda v: {"k": v}}[kind]
    v = {"list": [], "tuple": (), "dict": {}}[kind] if empty else 1
    for _ in range(n - 1 if empty else n):
        v = wrap(v)
    return v

def depth(v):
    n = 0
    while isinstance(v, (list, tuple, dict)):
        n += 1
        if not v:
            return n, None
        v = v["k"] if isinstance(v, dict) else v[0]
    return n, v
`

// goNested is n containers of kind nested in one another, around the int 1
// or (empty) with the innermost container empty.
func goNested(kind string, n int, empty bool) any {
	wrap := map[string]func(any) any{
		"list":  func(v any) any { return []any{v} },
		"tuple": func(v any) any { return channel.Tuple{v} },
		"dict":  func(v any) any { return channel.Dict{{Key: "k", Value: v}} },
	}[kind]
	var v any = int64(1)
	if empty {
		v = map[string]any{"list": []any{}, "tuple": channel.Tuple{}, "dict": channel.Dict{}}[kind]
		n--
	}
	for i := 0; i < n; i++ {
		v = wrap(v)
	}
	return v
}

// TestNestingLimitEverywhere: a value exactly channel.MaxDepth containers
// deep crosses every way a value crosses (Encode, Call argument, Call and
// Eval result, a channel in either direction), and one level more is
// refused everywhere with a not-shareable error: the implicit argument
// tuple of Call costs no level, and the C encoder and decoder count as the
// Go codec does.
func TestNestingLimitEverywhere(t *testing.T) {
	in := newInterp(t)
	pyOK(t, in, depthHelpers)
	rc, sc, err := rt.Channels().Create(channel.Options{})
	require.NoError(t, err)
	defer rc.Release()
	defer sc.Release()

	for _, kind := range []string{"list", "tuple", "dict"} {
		for _, empty := range []bool{false, true} {
			leaf := any(int64(1))
			if empty {
				leaf = nil
			}
			t.Run(fmt.Sprintf("%s/empty=%v/at the limit", kind, empty), func(t *testing.T) {
				n := channel.MaxDepth
				v := goNested(kind, n, empty)
				want := channel.Tuple{int64(n), leaf}

				_, err := channel.Encode(v)
				require.NoError(t, err, "Encode")

				got, err := in.Call(bg, "depth", v)
				require.NoError(t, err, "Call argument")
				assert.Equal(t, want, got, "Call argument")

				got, err = in.Call(bg, "build", kind, n, empty)
				require.NoError(t, err, "Call result")
				assert.True(t, channel.Equal(v, got), "Call result")

				got, err = in.Eval(bg, fmt.Sprintf("build(%q, %d, %v)", kind, n, pyBool(empty)))
				require.NoError(t, err, "Eval result")
				assert.True(t, channel.Equal(v, got), "Eval result")

				_, err = sc.SendNowait(v)
				require.NoError(t, err, "Go send")
				pyOK(t, in, fmt.Sprintf("assert depth(inp.recv_nowait()) == (%d, %s)", n, pyLeaf(empty)),
					cpython.WithGlobals(map[string]any{"inp": rc}))

				pyOK(t, in, fmt.Sprintf("out.send_nowait(build(%q, %d, %v))", kind, n, pyBool(empty)),
					cpython.WithGlobals(map[string]any{"out": sc}))
				got, err = rc.Recv(bg)
				require.NoError(t, err, "Python send")
				assert.True(t, channel.Equal(v, got), "Python send")
			})

			t.Run(fmt.Sprintf("%s/empty=%v/one level over", kind, empty), func(t *testing.T) {
				n := channel.MaxDepth + 1
				v := goNested(kind, n, empty)

				_, err := channel.Encode(v)
				assert.ErrorIs(t, err, channel.ErrNotShareable, "Encode")

				_, err = in.Call(bg, "depth", v)
				assert.ErrorIs(t, err, channel.ErrNotShareable, "Call argument")
				assert.ErrorContains(t, err, "argument 1: not shareable: containers nested deeper than 200")

				_, err = in.Call(bg, "build", kind, n, empty)
				assert.ErrorIs(t, err, channel.ErrNotShareable, "Call result")
				assert.ErrorContains(t, err, "containers nested deeper than 200")

				_, err = in.Eval(bg, fmt.Sprintf("build(%q, %d, %v)", kind, n, pyBool(empty)))
				assert.ErrorIs(t, err, channel.ErrNotShareable, "Eval result")

				_, err = sc.SendNowait(v)
				assert.ErrorIs(t, err, channel.ErrNotShareable, "Go send")

				err = in.Exec(bg, fmt.Sprintf("out.send_nowait(build(%q, %d, %v))", kind, n, pyBool(empty)),
					cpython.WithGlobals(map[string]any{"out": sc}))
				var rf *cpython.RunFailedError
				if assert.True(t, errors.As(err, &rf), "Python send: %v", err) {
					assert.Equal(t, "subinterp.NotShareableError", rf.Type)
					assert.Contains(t, rf.Message, "containers nested deeper than 200")
				}
				_, ok, err := rc.RecvNowait()
				require.NoError(t, err)
				assert.False(t, ok, "nothing crossed")
			})
		}
	}
}

func pyBool(b bool) string {
	if b {
		return "True"
	}
	return "False"
}

func pyLeaf(empty bool) string {
	if empty {
		return "None"
	}
	return "1"
}
