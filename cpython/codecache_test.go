package cpython_test

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The code cache: Exec and Eval compile a source once per interpreter, and
// running cached code behaves as compiling it afresh would.
func TestCodeCacheReusesCode(t *testing.T) {
	in := newInterp(t)
	require.NoError(t, in.Exec(bg, "import sys\ncodes = []"))
	const probe = "codes.append(sys._getframe().f_code)"
	for range 3 {
		require.NoError(t, in.Exec(bg, probe))
	}
	same, err := in.Eval(bg, "len(codes) == 3 and codes[0] is codes[1] is codes[2]")
	require.NoError(t, err)
	assert.Equal(t, true, same, "the same source ran the same code object")

	// A long source is compiled every time (one-off scripts are not kept).
	long := probe + "\n" + fmt.Sprintf("# %4100s\n", "")
	require.NoError(t, in.Exec(bg, "codes.clear()"))
	for range 2 {
		require.NoError(t, in.Exec(bg, long))
	}
	fresh, err := in.Eval(bg, "codes[0] is not codes[1]")
	require.NoError(t, err)
	assert.Equal(t, true, fresh)
}

func TestCodeCacheKeepsSemantics(t *testing.T) {
	in := newInterp(t)
	// The value comes from the globals of each run, not from the first.
	for i := range 3 {
		require.NoError(t, in.Exec(bg, fmt.Sprintf("x = %d", i)))
		v, err := in.Eval(bg, "x * 10")
		require.NoError(t, err)
		assert.Equal(t, int64(i*10), v)
	}
	// One source, two start symbols: "x" as a statement returns nothing.
	require.NoError(t, in.Exec(bg, "x"))
	v, err := in.Eval(bg, "x")
	require.NoError(t, err)
	assert.Equal(t, int64(2), v)

	// Errors are not cached: each run reports its own.
	for range 2 {
		_, err := in.Eval(bg, "1 +")
		assert.ErrorContains(t, err, "SyntaxError")
		_, err = in.Eval(bg, "undefined_name")
		assert.ErrorContains(t, err, "NameError")
	}
	_, err = in.Eval(bg, "1\x00")
	assert.ErrorContains(t, err, "null bytes")

	// More distinct sources than the cache holds: every result still right.
	for i := range 600 {
		v, err := in.Eval(bg, fmt.Sprintf("%d + x", i))
		require.NoError(t, err)
		require.Equal(t, int64(i+2), v)
	}
	v, err = in.Eval(bg, "0 + x")
	require.NoError(t, err)
	assert.Equal(t, int64(2), v)
}

// Code that hides the subinterp module still gets Exec and Eval, uncached.
func TestCodeCacheWithoutModule(t *testing.T) {
	in := newInterp(t)
	require.NoError(t, in.Exec(bg, "import sys\nsys.modules['subinterp'] = None"))
	v, err := in.Eval(bg, "6 * 7")
	require.NoError(t, err)
	assert.Equal(t, int64(42), v)
	_, err = in.Eval(bg, "1 +")
	assert.ErrorContains(t, err, "SyntaxError")
}
