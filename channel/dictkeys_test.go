package channel

import (
	"errors"
	"fmt"
	"math"
	"math/big"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestDuplicateDictKeys: keys that Python's dict treats as one key are
// refused by Encode, Normalize, EncodeMessage and Send, naming both keys,
// instead of arriving as a smaller dict.
func TestDuplicateDictKeys(t *testing.T) {
	two64 := new(big.Int).Lsh(big.NewInt(1), 64)
	cases := []struct {
		name string
		v    any
		msg  string // both keys, as Python prints them
	}{
		{"int and float", map[any]any{int64(1): "a", 1.0: "b"}, "1.0 (float) and 1 (int)"},
		{"int and bool", map[any]any{1: "a", true: "b"}, "1 (int) and True (bool)"},
		{"zero, false and -0.0", Dict{{0, "a"}, {false, "b"}, {math.Copysign(0, -1), "c"}}, "0 (int) and False (bool)"},
		{"float and -0.0", Dict{{0.0, "a"}, {math.Copysign(0, -1), "b"}}, "0.0 (float) and -0.0 (float)"},
		{"Go int types", Dict{{int8(7), 1}, {uint64(7), 2}}, "7 (int) and 7 (int)"},
		{"big int and float", Dict{{two64, 1}, {math.Ldexp(1, 64), 2}}, "18446744073709551616 (int) and 1.8446744073709552e+19 (float)"},
		{"inf twice", Dict{{math.Inf(1), 1}, {math.Inf(1), 2}}, "inf (float) and inf (float)"},
		{"fractional float", Dict{{0.5, 1}, {float32(0.5), 2}}, "0.5 (float) and 0.5 (float)"},
		{"same str twice", Dict{{"k", 1}, {"k", 2}}, `"k" (str) and "k" (str)`},
		{"same bytes twice", Dict{{[]byte("k"), 1}, {[]byte("k"), 2}}, `b"k" (bytes) and b"k" (bytes)`},
		{"None twice", Dict{{nil, 1}, {nil, 2}}, "None (None) and None (None)"},
		{"tuples", Dict{{Tuple{1, "x"}, 1}, {Tuple{1.0, "x"}, 2}}, `(1, "x") (tuple) and (1.0, "x") (tuple)`},
		{"one-tuples", Dict{{Tuple{true}, 1}, {Tuple{int64(1)}, 2}}, "(True,) (tuple) and (1,) (tuple)"},
		{"nested dict", []any{Dict{{"outer", Dict{{1, 1}, {1.0, 2}}}}}, "1 (int) and 1.0 (float)"},
		{"late pair in a big dict", bigDictWith(Item{"s40", 1}), `"s40" (str) and "s40" (str)`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Encode(tc.v)
			require.Error(t, err)
			assert.ErrorIs(t, err, ErrDuplicateKey)
			assert.ErrorIs(t, err, ErrNotShareable)
			assert.Contains(t, err.Error(), tc.msg)

			_, nerr := Normalize(tc.v)
			require.Error(t, nerr)
			assert.ErrorIs(t, nerr, ErrDuplicateKey)
			assert.Equal(t, err.Error(), nerr.Error())

			m, merr := EncodeMessage(tc.v)
			assert.ErrorIs(t, merr, ErrDuplicateKey)
			assert.Equal(t, Message{}, m)

			_, rc, sc := newChan(t, Options{})
			_, serr := sc.SendNowait(tc.v)
			assert.ErrorIs(t, serr, ErrDuplicateKey)
			_, ok, _ := rc.RecvNowait()
			assert.False(t, ok, "nothing was sent")
		})
	}
}

// bigDictWith is a dict too big for the pairwise check whose only
// duplicate is extra, against key 40.
func bigDictWith(extra Item) Dict {
	d := Dict{}
	for i := 0; i < 100; i++ {
		d = append(d, Item{fmt.Sprintf("s%d", i), i}, Item{int64(i) + 1000, i})
	}
	return append(d, extra)
}

// TestDistinctDictKeys: keys Python keeps apart still cross, big dicts
// (the hashed check) as well as small ones.
func TestDistinctDictKeys(t *testing.T) {
	nan := math.NaN()
	cases := map[string]any{
		"str and bytes":        Dict{{"k", 1}, {[]byte("k"), 2}},
		"int and str":          Dict{{int64(1), 1}, {"1", 2}},
		"NaNs":                 Dict{{nan, 1}, {nan, 2}, {math.Float64frombits(math.Float64bits(nan) | 1), 3}},
		"tuples with NaN":      Dict{{Tuple{nan}, 1}, {Tuple{nan}, 2}},
		"nearby floats":        Dict{{1.0, 1}, {math.Nextafter(1, 2), 2}},
		"big and int64 edge":   Dict{{int64(math.MaxInt64), 1}, {new(big.Int).Add(big.NewInt(math.MaxInt64), big.NewInt(1)), 2}},
		"2**63 float vs int64": Dict{{int64(math.MaxInt64), 1}, {math.Ldexp(1, 63), 2}},
		"tuple lengths":        Dict{{Tuple{}, 1}, {Tuple{nil}, 2}, {Tuple{nil, nil}, 3}},
		"inf signs":            Dict{{math.Inf(1), 1}, {math.Inf(-1), 2}},
		"pickled twice":        Dict{{Pickled("x"), 1}, {Pickled("x"), 2}}, // Go cannot know their equality
		"Go map of strings":    map[string]int{"a": 1, "b": 2},
		"Go map of floats":     map[float64]int{nan: 1, math.NaN(): 2, 0: 3},
		"big dict":             bigDictWith(Item{"s-new", 1}),
	}
	for name, v := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := Encode(v)
			require.NoError(t, err)
			_, err = Normalize(v)
			require.NoError(t, err)
		})
	}
}

// TestDuplicateKeysInMessage: ends and buffers are keys too. Two bindings
// of one channel end are one key; a buffer and bytes with the same
// contents are one key in Python (a read-only memoryview hashes and
// compares as its bytes).
func TestDuplicateKeysInMessage(t *testing.T) {
	_, rc, sc := newChan(t, Options{})
	buf := NewBuffer([]byte("k"), nil)
	defer buf.Release()
	view := newView(buf)
	defer view.Release()
	bad := map[string]Dict{
		"same recv end": {{rc, 1}, {rc, 2}},
		"buffer twice":  {{buf, 1}, {view, 2}},
		"buffer, bytes": {{[]byte("k"), 1}, {buf, 2}},
	}
	for name, d := range bad {
		t.Run(name, func(t *testing.T) {
			m, err := EncodeMessage(d)
			assert.ErrorIs(t, err, ErrDuplicateKey)
			assert.Equal(t, Message{}, m)
			r, s := rc.c.bindings()
			assert.Equal(t, 1, r, "no binding left behind")
			assert.Equal(t, 1, s)
			assert.Equal(t, int64(2), buf.refCount(), "no buffer reference left behind")
		})
	}
	m, err := EncodeMessage(Dict{{rc, 1}, {sc, 2}, {[]byte("x"), 3}, {buf, 4}})
	require.NoError(t, err, "a recv end and a send end are different keys")
	m.Release()
}

func TestDuplicateKeyErrorUnwraps(t *testing.T) {
	_, err := Encode(Dict{{"a", 1}, {"a", 2}})
	var target *duplicateKeyError
	require.True(t, errors.As(err, &target))
	assert.Equal(t, "a", target.first)
	assert.Equal(t, `not shareable: duplicate dict key: "a" (str) and "a" (str) are the same key in Python`, err.Error())
}

// TestMixedKeyOrderIsStable: Go map keys of different types that print
// alike are still put in one order, not Go's random iteration order.
func TestMixedKeyOrderIsStable(t *testing.T) {
	m := map[any]any{"1": "str", int64(1): "int", 2.5: "float", "2.5": "str"}
	first, err := Encode(m)
	require.NoError(t, err)
	for range 50 {
		again, err := Encode(m)
		require.NoError(t, err)
		require.Equal(t, first, again)
	}
	n, err := Normalize(m)
	require.NoError(t, err)
	assert.Equal(t, Dict{{int64(1), "int"}, {"1", "str"}, {2.5, "float"}, {"2.5", "str"}}, n)
}
