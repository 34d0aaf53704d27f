package channel

import (
	"reflect"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Go values that contain themselves, which every recursive walk over Go
// values must stop on with an error rather than overflow the stack (a
// fatal, unrecoverable error in Go).
func selfReferencing() map[string]any {
	list := []any{nil}
	list[0] = list
	tuple := Tuple{nil}
	tuple[0] = tuple
	dict := Dict{{Key: "me", Value: nil}}
	dict[0].Value = dict
	m := map[string]any{}
	m["me"] = m
	viaList := map[string]any{}
	viaList["list"] = []any{viaList}
	mutual := []any{nil}
	other := map[any]any{"back": mutual}
	mutual[0] = other
	type tree map[string]tree
	typed := tree{}
	typed["child"] = typed
	type seq []seq
	typedSeq := seq{nil}
	typedSeq[0] = typedSeq
	return map[string]any{
		"list": list, "tuple": tuple, "dict": dict, "map": m, "map via list": viaList,
		"list and map": mutual, "recursive map type": typed, "recursive slice type": typedSeq,
	}
}

func TestNormalizeStopsOnSelfReference(t *testing.T) {
	for name, v := range selfReferencing() {
		t.Run(name, func(t *testing.T) {
			n, err := Normalize(v)
			require.Error(t, err)
			assert.Nil(t, n)
			assert.ErrorIs(t, err, ErrNotShareable)
			assert.Contains(t, err.Error(), "nested deeper than 200")
			_, encErr := Encode(v)
			assert.Equal(t, encErr.Error(), err.Error(), "Normalize and Encode give the same error")
		})
	}
}

// TestNormalizeDepthMatchesEncode: Normalize accepts exactly what Encode
// accepts, at the limit and one past it, for every kind of container.
func TestNormalizeDepthMatchesEncode(t *testing.T) {
	wrap := map[string]func(any) any{
		"list":      func(v any) any { return []any{v} },
		"tuple":     func(v any) any { return Tuple{v} },
		"dict":      func(v any) any { return Dict{{Key: "k", Value: v}} },
		"map":       func(v any) any { return map[string]any{"k": v} },
		"array":     func(v any) any { return [1]any{v} },
		"dict key":  func(v any) any { return Dict{{Key: v, Value: nil}} },
		"typed map": func(v any) any { return map[int]any{1: v} },
	}
	for name, f := range wrap {
		t.Run(name, func(t *testing.T) {
			build := func(depth int) any {
				var v any = "leaf"
				for i := 0; i < depth; i++ {
					v = f(v)
				}
				return v
			}
			_, err := Normalize(build(MaxDepth))
			require.NoError(t, err)
			_, err = Encode(build(MaxDepth))
			require.NoError(t, err)

			_, err = Normalize(build(MaxDepth + 1))
			assert.ErrorIs(t, err, ErrNotShareable)
			_, err = Encode(build(MaxDepth + 1))
			assert.ErrorIs(t, err, ErrNotShareable)
		})
	}
}

func TestEqualStopsOnSelfReference(t *testing.T) {
	list := []any{nil}
	list[0] = list
	dict := Dict{{Key: "me", Value: nil}}
	dict[0].Value = dict
	assert.False(t, Equal(list, list))
	assert.False(t, Equal(dict, dict))
	assert.True(t, Equal(nested(MaxDepth), nested(MaxDepth)), "every canonical value still compares")
}

func TestConvertToStopsOnSelfReference(t *testing.T) {
	type seq []seq
	type tree map[string]tree
	list := []any{nil}
	list[0] = list
	dict := Dict{{Key: "me", Value: nil}}
	dict[0].Value = dict

	require.NoError(t, CanConvertTo(reflect.TypeOf(seq(nil))), "a recursive slice type is fine")
	require.NoError(t, CanConvertTo(reflect.TypeOf(tree(nil))), "a recursive map type is fine")
	type bad map[string][]func()
	assert.ErrorIs(t, CanConvertTo(reflect.TypeOf(bad(nil))), ErrConvert)

	_, err := ConvertTo(list, reflect.TypeOf(seq(nil)))
	assert.ErrorIs(t, err, ErrConvert)
	assert.Contains(t, err.Error(), "nested deeper than 200")
	_, err = ConvertTo(dict, reflect.TypeOf(tree(nil)))
	assert.ErrorIs(t, err, ErrConvert)
	assert.Contains(t, err.Error(), "nested deeper than 200")

	// Every value Decode can produce still converts.
	v, err := ConvertTo(nested(MaxDepth-1), reflect.TypeOf(seq(nil)))
	if assert.Error(t, err) { // the leaf int is no seq
		assert.NotContains(t, err.Error(), "deeper")
	}
	deep := any([]any{})
	for i := 1; i < MaxDepth; i++ {
		deep = []any{deep}
	}
	v, err = ConvertTo(deep, reflect.TypeOf(seq(nil)))
	require.NoError(t, err)
	assert.Equal(t, reflect.TypeOf(seq(nil)), v.Type())
}
