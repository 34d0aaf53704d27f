package channel

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestAppendEncodeArgs: the argument tuple costs no nesting level, so an
// argument is accepted exactly when Encode accepts it.
func TestAppendEncodeArgs(t *testing.T) {
	deepest := nested(MaxDepth)
	one, err := Encode(deepest)
	require.NoError(t, err)

	got, err := AppendEncodeArgs([]byte("prefix"), []any{deepest, "x"})
	require.NoError(t, err)
	want := append([]byte("prefixt\x02"), one...)
	want = append(want, "s\x01x"...)
	assert.Equal(t, want, got)

	_, err = Decode(got[len("prefix"):], nil)
	assert.ErrorIs(t, err, ErrCorrupt, "Decode counts the tuple: such bytes are for si_decode_args only")

	got, err = AppendEncodeArgs(nil, nil)
	require.NoError(t, err)
	assert.Equal(t, "t\x00", string(got))
	shallow, err := AppendEncodeArgs(nil, []any{int64(1), Tuple{nil}})
	require.NoError(t, err)
	plain, err := Encode(Tuple{int64(1), Tuple{nil}})
	require.NoError(t, err)
	assert.Equal(t, plain, shallow, "the same bytes as the tuple's encoding")

	dst := []byte("prefix")
	got, err = AppendEncodeArgs(dst, []any{int64(1), nested(MaxDepth + 1)})
	assert.ErrorIs(t, err, ErrNotShareable)
	assert.ErrorContains(t, err, "argument 2: not shareable: containers nested deeper than 200")
	assert.Equal(t, "prefix", string(got))
}

// TestAppendEncodeArgsOOB: byte slices of OutOfBandMin bytes or more, at any
// depth, leave the encoding as 'O' tags that index oob in order, still
// referring to the caller's memory; smaller ones stay inline. Go's own
// decoder never accepts an 'O'.
func TestAppendEncodeArgsOOB(t *testing.T) {
	big1 := bytes.Repeat([]byte{1}, OutOfBandMin)
	big2 := bytes.Repeat([]byte{2}, OutOfBandMin+5)
	small := []byte("small")
	enc, oob, err := AppendEncodeArgsOOB([]byte("prefix"), []any{big1, small, []any{big2, "s"}})
	require.NoError(t, err)
	require.Len(t, oob, 2)
	assert.Same(t, &big1[0], &oob[0][0], "oob refers to the caller's slice")
	assert.Same(t, &big2[0], &oob[1][0])
	want := []byte("prefix")
	want = append(want, 't', 3, 'O', 0, 'b', 5)
	want = append(want, small...)
	want = append(want, 'l', 2, 'O', 1, 's', 1, 's')
	assert.Equal(t, want, enc)

	_, err = Decode(enc[len("prefix"):], nil)
	assert.ErrorIs(t, err, ErrCorrupt)
	assert.ErrorContains(t, err, "unknown tag 0x4f")

	// Without large slices it is AppendEncodeArgs.
	plain, err := AppendEncodeArgs(nil, []any{small, int64(1)})
	require.NoError(t, err)
	same, oob, err := AppendEncodeArgsOOB(nil, []any{small, int64(1)})
	require.NoError(t, err)
	assert.Empty(t, oob)
	assert.Equal(t, plain, same)

	// Errors name the argument and leave dst as it was.
	dst := []byte("keep")
	got, oob, err := AppendEncodeArgsOOB(dst, []any{big1, make(chan int)})
	assert.ErrorIs(t, err, ErrNotShareable)
	assert.ErrorContains(t, err, "argument 2")
	assert.Empty(t, oob)
	assert.Equal(t, "keep", string(got))
}
