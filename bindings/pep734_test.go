package bindings

import (
	"encoding/binary"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/subinterp/subinterp/channel"
)

// TestInterpreterErrorKind: Host errors map to PEP 734's exceptions.
func TestInterpreterErrorKind(t *testing.T) {
	cases := []struct {
		err  error
		kind int
	}{
		{fmt.Errorf("%w: interpreter 9 does not exist", ErrNoInterpreter), excInterpGone},
		{fmt.Errorf("%w: busy", ErrInterpreterBusy), excInterp},
		{fmt.Errorf("result: %w", channel.ErrNotShareable), excNotShareable},
		{fmt.Errorf("anything else"), excInterp},
	}
	for _, c := range cases {
		assert.Equal(t, c.kind, interpreterErrorKind(c.err), "%v", c.err)
	}
}

// queueItem encodes a PEP 734 queue item (putter id, policy, obj).
func queueItem(t *testing.T, id, policy int64, obj any) []byte {
	t.Helper()
	data, err := channel.Encode(channel.Tuple{id, policy, obj})
	require.NoError(t, err)
	require.Equal(t, byte('t'), data[0])
	require.Equal(t, id, int64(binary.LittleEndian.Uint64(data[3:11])))
	return data
}

// TestRemovable: only UNBOUND_REMOVE items (explicit, or the queue's
// default) of interpreters that are gone are dropped; anything that is not
// a queue item is kept.
func TestRemovable(t *testing.T) {
	live := map[int64]bool{0: true, 5: true}
	cases := []struct {
		name string
		def  int
		data []byte
		drop bool
	}{
		{"remove, putter gone", unboundItem, queueItem(t, 7, unboundRemove, "x"), true},
		{"remove, putter alive", unboundItem, queueItem(t, 5, unboundRemove, "x"), false},
		{"default remove, putter gone", unboundRemove, queueItem(t, 7, -1, []any{1}), true},
		{"default replace, putter gone", unboundItem, queueItem(t, 7, -1, "x"), false},
		{"error policy, putter gone", unboundRemove, queueItem(t, 7, unboundError, "x"), false},
		{"not a queue item", unboundRemove, []byte{'i', 0, 0, 0, 0, 0, 0, 0, 0}, false},
		{"short", unboundRemove, []byte{'t', 3}, false},
	}
	for _, c := range cases {
		assert.Equal(t, c.drop, removable(c.def, live)(c.data), c.name)
	}
	for tag, want := range map[int]int{1: 1, 3: 3, 17: 1, 19: 3} {
		def, ok := unboundDefault(tag)
		assert.True(t, ok, "tag %d", tag)
		assert.Equal(t, want, def, "tag %d", tag)
	}
	for _, tag := range []int{0, 4, 16, 20} {
		_, ok := unboundDefault(tag)
		assert.False(t, ok, "tag %d", tag)
	}
}

// TestPySource: the finder's lookup serves the embedded modules and
// nothing outside them.
func TestPySource(t *testing.T) {
	src, pkg, ok := pySource("subinterp.interpreters")
	require.True(t, ok)
	assert.True(t, pkg)
	assert.Contains(t, string(src), "class Interpreter(")
	_, pkg, ok = pySource("subinterp.interpreters._queues")
	assert.True(t, ok)
	assert.False(t, pkg)
	_, _, ok = pySource("_bootstrap")
	assert.True(t, ok)
	for _, bad := range []string{"subinterp", "subinterp.", "subinterp..interpreters", "os", "subinterp.nosuch",
		"subinterp.interpreters/../_bootstrap", "subinterp.py"} {
		_, _, ok := pySource(bad)
		assert.False(t, ok, bad)
	}
}
