package channel

import (
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
