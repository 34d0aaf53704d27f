package cpython_test

import (
	"bytes"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/subinterp/subinterp/channel"
	"github.com/subinterp/subinterp/cpython"
)

// Large byte arguments cross a Call out of band (one copy, into the Python
// object): Python gets bytes of its own, and Go gets a result slice of its
// own, at every size around the threshold and at any depth.
func TestCallLargeBytes(t *testing.T) {
	in := newInterp(t)
	require.NoError(t, in.Exec(bg, "kept = []\ndef keep(*args):\n    kept.append(args)\n    return args\n"+
		"def describe(*args):\n    return [(type(a).__name__, len(a), a[:1], a[-1:]) if isinstance(a, bytes) else type(a).__name__ for a in args]"))

	fill := func(n int, b byte) []byte { return bytes.Repeat([]byte{b}, n) }
	for _, n := range []int{0, 1, channel.OutOfBandMin - 1, channel.OutOfBandMin, channel.OutOfBandMin + 1, 1 << 20} {
		arg := fill(n, 'a')
		v, err := in.Call(bg, "describe", arg, []any{fill(n, 'b')}, "tail")
		require.NoError(t, err, n)
		first, last := []byte(nil), []byte(nil)
		if n > 0 {
			first, last = []byte("a"), []byte("a")
		}
		assert.Equal(t, []any{channel.Tuple{"bytes", int64(n), first, last}, "list", "str"}, v, n)
	}

	// Python's copy does not see later changes to the Go slice, and the Go
	// result does not see later changes on either side.
	arg := fill(1<<20, 'x')
	res, err := in.Call(bg, "keep", arg, arg)
	require.NoError(t, err)
	for i := range arg {
		arg[i] = 'y'
	}
	same, err := in.Eval(bg, "kept[-1][0] == kept[-1][1] == b'x' * (1 << 20) and kept[-1][0] is not kept[-1][1]")
	require.NoError(t, err)
	assert.Equal(t, true, same)
	out := res.(channel.Tuple)
	require.Len(t, out, 2)
	assert.True(t, bytes.Equal(fill(1<<20, 'x'), out[0].([]byte)))
	out[0].([]byte)[0] = 'z'
	assert.Equal(t, byte('x'), out[1].([]byte)[0], "each result slice has its own memory")

	// A pool call takes the same path.
	p, err := cpython.NewPool(rt, cpython.PoolOptions{Size: 1, Prelude: "def size(b):\n    return len(b)"})
	require.NoError(t, err)
	defer func() { assert.NoError(t, p.Close(bg)) }()
	v, err := p.Call(bg, "size", fill(3<<20, 'p'))
	require.NoError(t, err)
	assert.Equal(t, int64(3<<20), v)
}

// An 'O' tag that names no out-of-band slice is a corrupt encoding, an
// error and not a crash; a good one still works after it.
func TestCallOutOfBandIndexChecked(t *testing.T) {
	in := newInterp(t)
	big := bytes.Repeat([]byte{'q'}, 10)
	for _, c := range []struct {
		name string
		args []byte
		oob  [][]byte
	}{
		{"index past the list", []byte{'t', 1, 'O', 1}, [][]byte{big}},
		{"no list at all", []byte{'t', 1, 'O', 0}, nil},
		{"truncated index", []byte{'t', 1, 'O'}, [][]byte{big}},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := in.CallEncodedForTest(bg, "len", c.args, c.oob)
			var rf *cpython.RunFailedError
			require.ErrorAs(t, err, &rf)
			assert.Equal(t, "ValueError", rf.Type)
			assert.Contains(t, rf.Message, "corrupt value encoding")
		})
	}
	require.NoError(t, in.CallEncodedForTest(bg, "len", []byte{'t', 1, 'O', 0}, [][]byte{big}))
}

// Results of every size own their memory although the buffers of their
// encodings are recycled (call-sized ones too): results kept from earlier
// calls do not change when later calls reuse those buffers, in Call and
// Eval alike.
func TestResultsOutliveRecycledBuffers(t *testing.T) {
	in := newInterp(t)
	require.NoError(t, in.Exec(bg, "def ident(x):\n    return x"))
	sizes := []int{1, 255, 256, 1000, 4 << 10, 4<<10 + 1, 64 << 10}
	var kept [][]byte
	var want [][]byte
	for round := range 3 {
		for i, n := range sizes {
			fill := byte('a' + (round*len(sizes)+i)%26)
			arg := bytes.Repeat([]byte{fill}, n)
			v, err := in.Call(bg, "ident", arg)
			require.NoError(t, err)
			kept, want = append(kept, v.([]byte)), append(want, arg)

			v, err = in.Eval(bg, "b'"+string(fill)+"' * "+strconv.Itoa(n))
			require.NoError(t, err)
			kept, want = append(kept, v.([]byte)), append(want, arg)
		}
	}
	for i := range kept {
		assert.True(t, bytes.Equal(want[i], kept[i]), "result %d (%d bytes) changed after later calls", i, len(want[i]))
	}
}
