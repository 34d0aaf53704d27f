package bindings_test

import (
	"context"
	"math"
	"math/big"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/subinterp/subinterp/channel"
	"github.com/subinterp/subinterp/cpython"
	"github.com/subinterp/subinterp/internal/testutil"
)

// These tests drive the C codec (codec.c) and the error mapping of the
// module from a live interpreter, one wire-format case at a time: every
// Python type in, every Go type out, and each refusal with the type it
// names. The runtime comes from package cpython, which owns the threads
// that may call into bindings.

var rt *cpython.Runtime

func TestMain(m *testing.M) {
	testutil.Main(m, func() (func() error, error) {
		var err error
		rt, err = cpython.Initialize(cpython.RuntimeOptions{NoSite: true})
		if err != nil {
			return nil, err
		}
		return rt.Finalize, nil
	})
}

var bg = context.Background()

func interp(t *testing.T) *cpython.Interpreter {
	t.Helper()
	in, err := rt.NewInterpreter(cpython.IsolatedConfig())
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, in.Close()) })
	return in
}

// TestPythonToGo: what each Python value becomes in Go.
func TestPythonToGo(t *testing.T) {
	in := interp(t)
	big2to100, _ := new(big.Int).SetString("1267650600228229401496703205376", 10)
	cases := []struct {
		expr string
		want any
	}{
		{"None", nil},
		{"True", true},
		{"-7", int64(-7)},
		{"2**100", big2to100},
		{"-(2**63)", int64(math.MinInt64)},
		{"1.5", 1.5},
		{"'é\\x00z'", "é\x00z"},
		{"b'\\x00\\xff'", []byte{0, 0xff}},
		{"[1, [2, None]]", []any{int64(1), []any{int64(2), nil}}},
		{"(1, 'a')", channel.Tuple{int64(1), "a"}},
		{"{'b': 1, 'a': (2,)}", channel.Dict{{Key: "b", Value: int64(1)}, {Key: "a", Value: channel.Tuple{int64(2)}}}},
	}
	for _, c := range cases {
		t.Run(c.expr, func(t *testing.T) {
			got, err := in.Eval(bg, c.expr)
			require.NoError(t, err)
			assert.True(t, channel.Equal(c.want, got), "got %#v, want %#v", got, c.want)
		})
	}
	// Floats that compare oddly keep their bits.
	v, err := in.Eval(bg, "float('-0.0')")
	require.NoError(t, err)
	assert.True(t, math.Signbit(v.(float64)))
	v, err = in.Eval(bg, "float('nan')")
	require.NoError(t, err)
	assert.True(t, math.IsNaN(v.(float64)))
}

// TestGoToPython: what each Go value becomes in Python (its repr).
func TestGoToPython(t *testing.T) {
	in := interp(t)
	cases := []struct {
		arg  any
		repr string
	}{
		{nil, "None"},
		{false, "False"},
		{uint8(255), "255"},
		{big.NewInt(0).Lsh(big.NewInt(1), 70), "1180591620717411303424"},
		{float32(0.5), "0.5"},
		{"x\x00y", "'x\\x00y'"},
		{[]byte("ab"), "b'ab'"},
		{[]int{1, 2}, "[1, 2]"},
		{[2]string{"a", "b"}, "['a', 'b']"},
		{channel.Tuple{1, "a"}, "(1, 'a')"},
		{map[string]int{"b": 2, "a": 1}, "{'a': 1, 'b': 2}"},
	}
	for _, c := range cases {
		t.Run(c.repr, func(t *testing.T) {
			got, err := in.Call(bg, "repr", c.arg)
			require.NoError(t, err)
			assert.Equal(t, c.repr, got)
		})
	}
}

// TestRefusals: values that cannot cross say which type they are.
func TestRefusals(t *testing.T) {
	in := interp(t)
	for _, expr := range []string{"object()", "complex(1, 2)", "type('Sub', (int,), {})(1)", "type('S', (set,), {})()",
		"__import__('datetime').datetime(2020, 1, 1)", "__import__('datetime').date(2020, 1, 1)"} {
		t.Run(expr, func(t *testing.T) {
			_, err := in.Eval(bg, expr)
			require.ErrorIs(t, err, cpython.ErrNotShareable)
		})
	}
	_, err := in.Call(bg, "repr", make(chan int))
	require.ErrorIs(t, err, cpython.ErrNotShareable)
	assert.Contains(t, err.Error(), "chan int")
}

// TestModuleErrors: Go errors of channel operations come out of Python as
// the PEP 554 exception types (channelErrorKind).
func TestModuleErrors(t *testing.T) {
	in := interp(t)
	src := `
import subinterp
def catch(f):
    try:
        f()
    except Exception as e:
        return type(e).__name__
    return "no error"
r, w = subinterp.create_channel()
got = [
    catch(lambda: r.recv(timeout=0.001)),
    catch(lambda: w.send(object())),
    catch(lambda: r.recv_nowait()),
]
w.close()
got.append(catch(lambda: w.send(1)))
`
	require.NoError(t, in.Exec(bg, src))
	got, err := in.Eval(bg, "got")
	require.NoError(t, err)
	assert.Equal(t, []any{"TimeoutError", "NotShareableError", "ChannelEmptyError", "ChannelClosedError"}, got)
}
