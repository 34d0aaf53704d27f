package channel

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fakeEnds resolves every id to an end that belongs to no registry; it is
// enough for the codec, which only needs the id back.
type fakeEnds struct{}

func (fakeEnds) ResolveEnd(kind byte, id ID) (any, error) {
	if kind == 'r' {
		return &RecvChannel{end{id: id}}, nil
	}
	return &SendChannel{end{id: id, send: true}}, nil
}

func mustBig(t testing.TB, s string) *big.Int {
	z, ok := new(big.Int).SetString(s, 0)
	require.True(t, ok, s)
	return z
}

func nested(depth int) any {
	var v any = int64(1)
	for i := 0; i < depth; i++ {
		v = []any{v}
	}
	return v
}

func TestCodecRoundTrip(t *testing.T) {
	two64 := new(big.Int).Lsh(big.NewInt(1), 64)
	cases := []struct {
		name string
		v    any
	}{
		{"none", nil},
		{"true", true},
		{"false", false},
		{"zero", int64(0)},
		{"minus one", int64(-1)},
		{"max int64", int64(math.MaxInt64)},
		{"min int64", int64(math.MinInt64)},
		{"big 2**64", two64},
		{"big -2**64", new(big.Int).Neg(two64)},
		{"big 2**63", mustBig(t, "0x8000000000000000")},
		{"big -2**63-1", mustBig(t, "-0x8000000000000001")},
		{"big huge", new(big.Int).Lsh(big.NewInt(3), 4000)},
		{"float", 1.5},
		{"nan", math.NaN()},
		{"+inf", math.Inf(1)},
		{"-inf", math.Inf(-1)},
		{"-0.0", math.Copysign(0, -1)},
		{"0.0", 0.0},
		{"smallest denormal", math.SmallestNonzeroFloat64},
		{"empty str", ""},
		{"ascii", "hello"},
		{"non-BMP", "snake \U0001F40D and \U00010348"},
		{"NUL bytes in str", "a\x00b\x00"},
		{"invalid UTF-8", "\xff\xfe\xed\xa0\x80"},
		{"lone surrogate (surrogatepass)", "\xed\xa0\x80"},
		{"empty bytes", []byte{}},
		{"bytes with NUL", []byte{0, 1, 2, 0, 255}},
		{"pickled", Pickled("\x80\x04K\x01.")},
		{"empty list", []any{}},
		{"empty tuple", Tuple{}},
		{"empty dict", Dict{}},
		{"list", []any{int64(1), "two", 3.0, nil, true}},
		{"tuple", Tuple{int64(1), Tuple{}, []any{Tuple{nil}}}},
		{"dict order kept", Dict{{"z", int64(1)}, {"a", int64(2)}, {int64(5), nil}, {Tuple{int64(1), "k"}, []any{}}}},
		{"nested containers", []any{Dict{{"k", []any{Tuple{[]byte("x"), Dict{{nil, false}}}}}}}},
		{"max depth", nested(MaxDepth)},
		{"recv end", &RecvChannel{end{id: 7}}},
		{"send end", &SendChannel{end{id: 1 << 40, send: true}}},
		{"ends in a tuple", Tuple{&RecvChannel{end{id: 1}}, &SendChannel{end{id: 1, send: true}}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			data, err := Encode(tc.v)
			require.NoError(t, err)
			got, err := Decode(data, fakeEnds{})
			require.NoError(t, err)
			assert.True(t, equalEnds(tc.v, got), "got %#v want %#v", got, tc.v)
			again, err := Encode(got)
			require.NoError(t, err)
			assert.Equal(t, data, again, "canonical re-encoding")
		})
	}
}

// equalEnds is Equal, except that ends compare by kind and id (fakeEnds
// makes new pointers).
func equalEnds(a, b any) bool {
	switch x := a.(type) {
	case *RecvChannel:
		y, ok := b.(*RecvChannel)
		return ok && x.id == y.id
	case *SendChannel:
		y, ok := b.(*SendChannel)
		return ok && x.id == y.id
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !equalEnds(x[i], y[i]) {
				return false
			}
		}
		return true
	case Tuple:
		y, ok := b.(Tuple)
		return ok && equalEnds([]any(x), []any(y))
	case Dict:
		y, ok := b.(Dict)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !equalEnds(x[i].Key, y[i].Key) || !equalEnds(x[i].Value, y[i].Value) {
				return false
			}
		}
		return true
	}
	return Equal(a, b)
}

func TestCodecExactBytes(t *testing.T) {
	cases := []struct {
		v    any
		want string
	}{
		{nil, "N"},
		{true, "T"},
		{false, "F"},
		{1, "i\x01\x00\x00\x00\x00\x00\x00\x00"},
		{int64(-2), "i\xfe\xff\xff\xff\xff\xff\xff\xff"},
		{1.0, "f\x00\x00\x00\x00\x00\x00\xf0\x3f"},
		{"hé", "s\x03h\xc3\xa9"},
		{[]byte("ab"), "b\x02ab"},
		{Tuple{1, nil}, "t\x02i\x01\x00\x00\x00\x00\x00\x00\x00N"},
		{[]any{}, "l\x00"},
		{Dict{{"a", []byte{}}}, "d\x01s\x01ab\x00"},
		{new(big.Int).Neg(new(big.Int).Lsh(big.NewInt(1), 64)), "I\x14-0x10000000000000000"},
		{uint64(math.MaxUint64), "I\x120xffffffffffffffff"},
		{&RecvChannel{end{id: 300}}, "r\xac\x02"},
		{&SendChannel{end{id: 1, send: true}}, "w\x01"},
		{Pickled("x"), "p\x01x"},
		{strings.Repeat("a", 200)[:128], "s\x80\x01" + strings.Repeat("a", 128)},
	}
	for _, tc := range cases {
		got, err := Encode(tc.v)
		require.NoError(t, err, "%#v", tc.v)
		assert.Equal(t, []byte(tc.want), got, "%#v", tc.v)
	}
}

func TestEncodeMatchesNormalize(t *testing.T) {
	type myString string
	type myInts []int
	cases := []any{
		int8(-5), int16(300), int32(-70000), uint8(200), uint16(65000), uint32(4000000000),
		uint(7), uint64(math.MaxUint64), uintptr(9),
		float32(1.25), myString("named"), myInts{1, 2, 3},
		[3]int{1, 2, 3}, [2]byte{1, 2}, []uint8{9},
		map[string]int{"b": 2, "a": 1, "c": 3},
		map[int]any{3: "x", -1: []string{"y"}},
		*big.NewInt(5), big.NewInt(-5),
		[]string{"a", "b"},
	}
	for _, v := range cases {
		n, err := Normalize(v)
		require.NoError(t, err, "%#v", v)
		want, err := Encode(n)
		require.NoError(t, err)
		got, err := Encode(v)
		require.NoError(t, err, "%#v", v)
		assert.Equal(t, want, got, "%T %#v", v, v)
	}
}

func TestEncodeErrors(t *testing.T) {
	selfList := []any{nil}
	selfList[0] = selfList
	selfMap := map[string]any{}
	selfMap["me"] = selfMap
	type point struct {
		X, Y int
		F    func() `json:"f"`
	}
	cases := []struct {
		name string
		v    any
		msg  string
	}{
		{"struct with a func field", point{1, 2, nil}, `field point.F (key "f"): not shareable: Go type func()`},
		{"func", func() {}, "func"},
		{"go chan", make(chan int), "chan int"},
		{"pointer to a chan", new(chan int), "chan int"},
		{"nested struct", []any{1, Dict{{"k", point{}}}}, "point.F"},
		{"sub-µs time", time.Unix(0, 1), "sub-microsecond"},
		{"year 10000", time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC), "years 1 to 9999"},
		{"sub-µs duration", time.Nanosecond, "sub-microsecond"},
		{"list in a set", Set{[]any{}}, "cannot be an item of a set"},
		{"dict in a tuple in a frozenset", FrozenSet{Tuple{Dict{}}}, "cannot be an item of a set"},
		{"set items one in Python", Set{int64(1), 1.0}, "same key"},
		{"nil big", (*big.Int)(nil), "nil *big.Int"},
		{"self list", selfList, "deeper"},
		{"self map", selfMap, "deeper"},
		{"too deep", nested(MaxDepth + 1), "deeper"},
		{"buffer outside message", NewBuffer([]byte("x"), nil), "Buffer"},
		{"nil end", (*RecvChannel)(nil), "nil"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Encode(tc.v)
			require.Error(t, err)
			assert.ErrorIs(t, err, ErrNotShareable)
			assert.Contains(t, err.Error(), tc.msg)
		})
	}
}

func TestAppendEncode(t *testing.T) {
	dst := []byte("prefix")
	out, err := AppendEncode(dst, int64(1))
	require.NoError(t, err)
	assert.Equal(t, "prefixi\x01\x00\x00\x00\x00\x00\x00\x00", string(out))
	out, err = AppendEncode(dst, func() {})
	require.Error(t, err)
	assert.Equal(t, "prefix", string(out))
}

func TestDecodeCorrupt(t *testing.T) {
	var overflow []byte
	overflow = append(overflow, 's')
	overflow = append(overflow, bytes.Repeat([]byte{0xff}, 10)...)
	overflow = append(overflow, 0x01)
	deep := bytes.Repeat([]byte("l\x01"), MaxDepth+1)
	deep = append(deep, 'N')
	okDeep := bytes.Repeat([]byte("l\x01"), MaxDepth)
	okDeep = append(okDeep, 'N')
	_, err := Decode(okDeep, nil)
	require.NoError(t, err, "exactly MaxDepth is allowed")

	bigCase := func(text string) string {
		return "I" + string(binary.AppendUvarint(nil, uint64(len(text)))) + text
	}
	cases := []struct {
		name string
		data string
	}{
		{"empty", ""},
		{"unknown tag", "x"},
		{"trailing", "NN"},
		{"trailing after list", "l\x00\x00"},
		{"short int", "i\x01\x02"},
		{"short float", "f\x00"},
		{"str length beyond input", "s\x05abc"},
		{"bytes length huge", "b\xff\xff\xff\xff\x0f"},
		{"varint overflow", string(overflow)},
		{"truncated varint", "s\x80"},
		{"non-minimal varint", "s\x81\x00a"},
		{"non-minimal zero", "l\x80\x00"},
		{"list count beyond input", "l\x05N"},
		{"dict count beyond input", "d\x02NN"},
		{"dict missing value", "d\x01N"},
		{"list truncated item", "l\x02Ni"},
		{"too deep", string(deep)},
		{"big fits int64", bigCase("0x1")},
		{"big uppercase", bigCase("0xFFFFFFFFFFFFFFFFF")},
		{"big leading zero", bigCase("00ffffffffffffffffff")},
		{"big leading zero digit", bigCase("0x0fffffffffffffffff")},
		{"big no prefix", bigCase("fffffffffffffffff")},
		{"big underscore", bigCase("0x_fffffffffffffffff")},
		{"big plus sign", bigCase("+0xfffffffffffffffff")},
		{"big empty", bigCase("")},
		{"big just prefix", bigCase("0x")},
		{"big minus zero", bigCase("-0x0")},
		{"buffer outside message", "B\x00"},
		{"end id too large", "r\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			v, err := Decode([]byte(tc.data), fakeEnds{})
			require.Error(t, err)
			assert.ErrorIs(t, err, ErrCorrupt)
			assert.Nil(t, v)
		})
	}
}

func TestDecodeEnds(t *testing.T) {
	_, err := Decode([]byte("r\x01"), nil)
	require.Error(t, err, "no resolver")
	assert.Contains(t, err.Error(), "EndResolver")

	reg := NewRegistry()
	rc, sc, err := reg.Create(Options{})
	require.NoError(t, err)
	data, err := Encode(Tuple{rc, sc})
	require.NoError(t, err)
	v, err := Decode(data, reg)
	require.NoError(t, err)
	assert.Same(t, rc, v.(Tuple)[0])
	assert.Same(t, sc, v.(Tuple)[1])

	_, err = Decode([]byte("w\x63"), reg)
	assert.ErrorIs(t, err, ErrNotFound)
}

func TestDecodeCopies(t *testing.T) {
	data, err := Encode([]any{"str", []byte("bytes"), Pickled("pk")})
	require.NoError(t, err)
	v, err := Decode(data, nil)
	require.NoError(t, err)
	for i := range data {
		data[i] = 0
	}
	assert.True(t, Equal([]any{"str", []byte("bytes"), Pickled("pk")}, v))
}

func TestNaNPayloadKept(t *testing.T) {
	bits := uint64(0x7ff8_0000_dead_beef)
	data := binary.LittleEndian.AppendUint64([]byte{'f'}, bits)
	v, err := Decode(data, nil)
	require.NoError(t, err)
	assert.Equal(t, bits, math.Float64bits(v.(float64)))
	again, err := Encode(v)
	require.NoError(t, err)
	assert.Equal(t, data, again)
}

func TestCorruptErrorMentionsOffset(t *testing.T) {
	_, err := Decode([]byte("l\x02NX"), nil)
	require.Error(t, err)
	assert.True(t, errors.Is(err, ErrCorrupt))
	assert.Contains(t, err.Error(), "at byte 3")
}

func TestEncodeMessageCleansUpOnError(t *testing.T) {
	reg := NewRegistry()
	rc, sc, err := reg.Create(Options{})
	require.NoError(t, err)
	free, freed := countingFree()
	buf := NewBuffer([]byte("b"), free)

	_, err = EncodeMessage([]any{buf, rc, struct{ F func() }{}})
	require.ErrorIs(t, err, ErrNotShareable)
	assert.Equal(t, int64(1), buf.refCount(), "the buffer reference was given back")
	nr, _ := rc.c.bindings()
	assert.Equal(t, 1, nr, "the binding was given back")

	m, err := EncodeMessage(Tuple{buf, buf, sc})
	require.NoError(t, err)
	assert.Equal(t, int64(2), buf.refCount())
	_, ns := sc.c.bindings()
	assert.Equal(t, 2, ns)
	m.Release()
	assert.Equal(t, int64(1), buf.refCount())
	_, ns = sc.c.bindings()
	assert.Equal(t, 1, ns)

	require.NoError(t, rc.Release())
	require.NoError(t, sc.Release())
	_, err = EncodeMessage(rc)
	assert.ErrorIs(t, err, ErrClosed, "an end of a released channel cannot travel")
	_, err = EncodeMessage(&RecvChannel{end{id: 9}})
	assert.ErrorIs(t, err, ErrNotFound, "an end from no registry cannot travel")
	buf.Release()
	assert.Equal(t, int32(1), freed.Load())
}
