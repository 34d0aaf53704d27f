package channel

import (
	"math"
	"math/big"
	"reflect"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestConvertTo(t *testing.T) {
	huge := new(big.Int).Lsh(big.NewInt(1), 70)
	ok := []struct {
		name string
		in   any
		to   any // a value of the target type
		want any
	}{
		{"int", int64(7), int(0), 7},
		{"int8 edge", int64(-128), int8(0), int8(-128)},
		{"uint64 from big", new(big.Int).SetUint64(math.MaxUint64), uint64(0), uint64(math.MaxUint64)},
		{"float from int", int64(3), float64(0), 3.0},
		{"float32", 1.5, float32(0), float32(1.5)},
		{"string", "x", "", "x"},
		{"bool", true, false, true},
		{"bytes", []byte("b"), []byte(nil), []byte("b")},
		{"slice from list", []any{int64(1), int64(2)}, []int(nil), []int{1, 2}},
		{"slice from tuple", Tuple{"a"}, []string(nil), []string{"a"}},
		{"map", Dict{{Key: "a", Value: int64(1)}}, map[string]int(nil), map[string]int{"a": 1}},
		{"any", Dict{{Key: int64(1), Value: nil}}, (*any)(nil), Dict{{Key: int64(1), Value: nil}}},
		{"nil slice", nil, []int(nil), []int(nil)},
		{"big", huge, (*big.Int)(nil), huge},
		{"big from int64", int64(5), (*big.Int)(nil), big.NewInt(5)},
		{"tuple from list", []any{int64(1)}, Tuple(nil), Tuple{int64(1)}},
	}
	for _, c := range ok {
		t.Run(c.name, func(t *testing.T) {
			typ := reflect.TypeOf(c.to)
			if p, isPtr := c.to.(*any); isPtr && p == nil {
				typ = reflect.TypeOf((*any)(nil)).Elem()
			}
			require.NoError(t, CanConvertTo(typ))
			got, err := ConvertTo(c.in, typ)
			require.NoError(t, err)
			assert.Equal(t, c.want, got.Interface())
		})
	}
	bad := []struct {
		name string
		in   any
		to   any
		msg  string
	}{
		{"overflow int8", int64(300), int8(0), "overflows int8"},
		{"negative uint", int64(-1), uint(0), "negative"},
		{"big to int64", huge, int64(0), "overflows"},
		{"str to int", "1", int(0), "str to int"},
		{"float to int", 1.5, int(0), "float to int"},
		{"None to int", nil, int(0), "None to int"},
		{"bad item", []any{int64(1), "x"}, []int(nil), "item 1"},
		{"bad map value", Dict{{Key: "k", Value: "v"}}, map[string]int(nil), "value of key str"},
		{"list to map", []any{}, map[string]int(nil), "list to map"},
	}
	for _, c := range bad {
		t.Run(c.name, func(t *testing.T) {
			_, err := ConvertTo(c.in, reflect.TypeOf(c.to))
			assert.ErrorIs(t, err, ErrConvert)
			assert.ErrorContains(t, err, c.msg)
		})
	}
	for _, typ := range []any{make(chan int), func() {}, struct{}{}, new(int), map[string]func(){}} {
		assert.ErrorIs(t, CanConvertTo(reflect.TypeOf(typ)), ErrConvert, "%T", typ)
	}
}
