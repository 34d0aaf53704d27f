package cpython_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/subinterp/subinterp/cpython"
)

// TestPoolRenewalSkipsWarmup: an interpreter renewed at
// MaxTasksPerInterpreter does not import the traceback module up front, as
// replacements of broken interpreters do: before CPython 3.14 each renewal
// would keep it (~1.4 MB) after it ends (docs/memory.md).
func TestPoolRenewalSkipsWarmup(t *testing.T) {
	p, err := cpython.NewPool(rt, cpython.PoolOptions{Size: 1, MaxTasksPerInterpreter: 1})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, p.Close(bg)) })
	_, err = p.Eval(bg, "1") // the first interpreter's only task
	require.NoError(t, err)
	require.EqualValues(t, 1, p.Stats().Replacements.MaxTasks, "renewed at MaxTasksPerInterpreter")
	imported, err := p.Eval(bg, "'traceback' in __import__('sys').modules") // in the renewal
	require.NoError(t, err)
	assert.Equal(t, false, imported, "the renewal imported traceback")
}
