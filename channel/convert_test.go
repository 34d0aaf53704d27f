package channel

import (
	"errors"
	"math"
	"math/big"
	"reflect"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Types for the struct rules.
type (
	Base struct {
		ID      int64  `json:"id"`
		Created string `json:"created,omitempty"`
	}
	inner struct {
		Note string `json:"note"`
	}
	Doc struct {
		Base
		inner
		Title   string            `json:"title"`
		Tags    []string          `json:"tags,omitempty"`
		Score   *float64          `json:"score"`
		Secret  string            `json:"-"`
		Dash    int               `json:"-,"`
		Plain   bool              // no tag: the Go name
		When    time.Time         `json:"when"`
		Took    time.Duration     `json:"took"`
		Meta    map[string]any    `json:"meta,omitempty"`
		Kids    []Doc             `json:"kids,omitempty"`
		Parent  *Doc              `json:"parent,omitempty"`
		Seen    map[string]bool   `json:"seen,omitempty"`
		private int               //nolint:unused // must not cross
		Counts  map[string]uint16 `json:"counts,omitempty"`
	}
	// Clash: two embedded structs both give "Kind" at the same depth, so
	// neither is used; the outer "created" wins over Base's.
	Clash struct {
		Base
		Other
		Another
		Created int `json:"created"`
	}
	Other struct {
		Kind string
	}
	Another struct {
		Kind int
	}
	// WithPtr embeds a pointer, allocated when one of its fields is set.
	WithPtr struct {
		*Base
		Name string `json:"name"`
	}
)

func TestStructEncoding(t *testing.T) {
	when := time.Date(2026, 12, 1, 22, 3, 4, 5000, time.FixedZone("x", 3600))
	score := 0.5
	doc := Doc{
		Base:  Base{ID: 7},
		inner: inner{Note: "promoted from an unexported embedded struct"},
		Title: "t", Score: &score, Secret: "never", Dash: 3, Plain: true,
		When: when, Took: 1500 * time.Millisecond,
		Kids:    []Doc{{Title: "kid"}},
		private: 1,
	}
	v, err := Normalize(&doc)
	require.NoError(t, err)
	d, ok := v.(Dict)
	require.True(t, ok, "%T", v)
	var keys []string
	for _, it := range d {
		keys = append(keys, it.Key.(string))
	}
	assert.Equal(t, []string{"id", "note", "title", "score", "-", "Plain", "when", "took", "kids"}, keys,
		"declaration order, json names, omitempty and - honoured, embedded fields promoted")
	get := func(d Dict, k string) any { v, _ := d.Get(k); return v }
	assert.Equal(t, int64(7), get(d, "id"))
	assert.Equal(t, 0.5, get(d, "score"))
	assert.Equal(t, when.UTC(), get(d, "when"))
	assert.Equal(t, time.UTC, get(d, "when").(time.Time).Location())
	assert.Equal(t, 1500*time.Millisecond, get(d, "took"))
	kid := get(d, "kids").([]any)[0].(Dict)
	assert.Equal(t, nil, get(kid, "score"), "a nil pointer is None")

	enc, err := Encode(doc)
	require.NoError(t, err)
	want, err := Encode(d)
	require.NoError(t, err)
	assert.Equal(t, want, enc, "Encode and Normalize agree")

	// Round trip: the dict converts back into the struct.
	back, err := ConvertTo(d, reflect.TypeOf(Doc{}))
	require.NoError(t, err)
	got := back.Interface().(Doc)
	doc.Secret, doc.private, doc.When = "", 0, when.UTC()
	doc.Kids[0].Kids = nil
	assert.Equal(t, doc, got)

	clash, err := Normalize(Clash{Base: Base{ID: 1, Created: "base"}, Other: Other{Kind: "x"}, Created: 2})
	require.NoError(t, err)
	assert.Equal(t, Dict{{"id", int64(1)}, {"created", int64(2)}}, clash, "ambiguous Kind dropped, the shallower created wins")

	nilEmbedded, err := Normalize(WithPtr{Name: "n"})
	require.NoError(t, err)
	assert.Equal(t, Dict{{"name", "n"}}, nilEmbedded)
	withPtr, err := ConvertTo(Dict{{"id", int64(3)}, {"name", "n"}}, reflect.TypeOf(WithPtr{}))
	require.NoError(t, err)
	assert.Equal(t, WithPtr{Base: &Base{ID: 3}, Name: "n"}, withPtr.Interface())

	var nilDoc *Doc
	v, err = Normalize(nilDoc)
	require.NoError(t, err)
	assert.Nil(t, v)
	n := 5
	pp := &n
	v, err = Normalize(&pp)
	require.NoError(t, err)
	assert.Equal(t, int64(5), v, "pointers are followed")

	self := &Doc{}
	self.Parent = self
	_, err = Encode(self)
	assert.ErrorIs(t, err, ErrNotShareable)
	assert.ErrorContains(t, err, "deeper than")
	loop := new(any)
	*loop = loop
	_, err = Normalize(loop)
	assert.ErrorContains(t, err, "pointers chained deeper")
}

func TestTimeAndSetValues(t *testing.T) {
	for _, v := range []any{
		time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(9999, 12, 31, 23, 59, 59, 999999000, time.UTC),
		time.Unix(0, 0).UTC(),
		time.Duration(0), -time.Microsecond, time.Duration(maxDurationMicros) * time.Microsecond,
		Set{}, Set{int64(1), "a", Tuple{nil, 1.5}}, FrozenSet{FrozenSet{int64(2)}},
		Dict{{time.Unix(5, 0).UTC(), time.Second}},
	} {
		data, err := Encode(v)
		require.NoError(t, err, "%#v", v)
		back, err := Decode(data, nil)
		require.NoError(t, err)
		assert.True(t, Equal(v, back), "%#v != %#v", v, back)
		again, err := Encode(back)
		require.NoError(t, err)
		assert.Equal(t, data, again)
	}
	data, err := Encode(time.Unix(1, 2000).In(time.FixedZone("y", -7200)))
	require.NoError(t, err)
	assert.Equal(t, "D\x42\x42\x0f\x00\x00\x00\x00\x00", string(data), "1000002 µs since the epoch")

	dup := Dict{{time.Unix(5, 0).UTC(), nil}, {time.Unix(5, 0).In(time.FixedZone("z", 60)), nil}}
	_, err = Encode(dup)
	assert.ErrorIs(t, err, ErrDuplicateKey, "one instant is one key in Python")

	for name, bad := range map[string]string{
		"datetime before year 1":      "D" + string([]byte{0, 0, 0, 0, 0, 0, 0, 0x80}),
		"timedelta beyond a Duration": "U" + string([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f}),
		"list in a set":               "S\x01l\x00",
		"dict in a tuple in a set":    "Z\x01t\x01d\x00",
		"truncated datetime":          "D\x00",
	} {
		_, err := Decode([]byte(bad), nil)
		assert.ErrorIs(t, err, ErrCorrupt, name)
		assert.Error(t, validate([]byte(bad), 0), name)
	}
}

func TestConvertTo(t *testing.T) {
	huge := new(big.Int).Lsh(big.NewInt(1), 70)
	when := time.Date(2026, 1, 2, 3, 4, 5, 6000, time.UTC)
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
		{"byte array", []byte("ab"), [2]byte{}, [2]byte{'a', 'b'}},
		{"memoryview to bytes", newView(NewBuffer([]byte("mv"), nil)), []byte(nil), []byte("mv")},
		{"slice from list", []any{int64(1), int64(2)}, []int(nil), []int{1, 2}},
		{"slice from tuple", Tuple{"a"}, []string(nil), []string{"a"}},
		{"array from tuple", Tuple{"a", "b"}, [2]string{}, [2]string{"a", "b"}},
		{"slice from set", Set{"a", "b"}, []string(nil), []string{"a", "b"}},
		{"slice from frozenset", FrozenSet{int64(1)}, []int(nil), []int{1}},
		{"set as map[K]struct{}", Set{"a"}, map[string]struct{}(nil), map[string]struct{}{"a": {}}},
		{"set as map[K]bool", FrozenSet{int64(4)}, map[int]bool(nil), map[int]bool{4: true}},
		{"Set from frozenset", FrozenSet{"x"}, Set(nil), Set{"x"}},
		{"map", Dict{{Key: "a", Value: int64(1)}}, map[string]int(nil), map[string]int{"a": 1}},
		{"any", Dict{{Key: int64(1), Value: nil}}, (*any)(nil), Dict{{Key: int64(1), Value: nil}}},
		{"nil slice", nil, []int(nil), []int(nil)},
		{"nil pointer", nil, (*int)(nil), (*int)(nil)},
		{"pointer", int64(3), (*int)(nil), func() *int { n := 3; return &n }()},
		{"big", huge, (*big.Int)(nil), huge},
		{"big from int64", int64(5), (*big.Int)(nil), big.NewInt(5)},
		{"tuple from list", []any{int64(1)}, Tuple(nil), Tuple{int64(1)}},
		{"time", when, time.Time{}, when},
		{"duration", time.Second, time.Duration(0), time.Second},
		{"struct, keys in any case", Dict{{"ID", int64(2)}, {"unknown", "ignored"}}, Base{}, Base{ID: 2}},
		{"struct pointer", Dict{{"id", int64(2)}}, (*Base)(nil), &Base{ID: 2}},
		{"slice of structs", []any{Dict{{"id", int64(1)}}, Dict{}}, []Base(nil), []Base{{ID: 1}, {}}},
		{"map of structs", Dict{{"a", Dict{{"id", int64(1)}}}}, map[string]Base(nil), map[string]Base{"a": {ID: 1}}},
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
		name   string
		in     any
		to     any
		msg    string
		path   string
		field  string
		python string
	}{
		{"overflow int8", int64(300), int8(0), "Python int to Go int8: 300 overflows int8", "", "", "int"},
		{"negative uint", int64(-1), uint(0), "-1 is negative, uint is not", "", "", "int"},
		{"big to int64", huge, int64(0), "overflows int64", "", "", "int"},
		{"str to int", "1", int(0), "cannot convert: Python str to Go int", "", "", "str"},
		{"float to int", 1.5, int(0), "Python float to Go int", "", "", "float"},
		{"None to int", nil, int(0), "Python None to Go int", "", "", "None"},
		{"bad item", []any{int64(1), "x"}, []int(nil), "Python str to Go int at [1]", "[1]", "", "str"},
		{"bad map value", Dict{{Key: "k", Value: "v"}}, map[string]int(nil), `Python str to Go int at ["k"]`, `["k"]`, "", "str"},
		{"bad map key", Dict{{Key: int64(1), Value: "v"}}, map[string]string(nil), `Python int to Go string at [1]: the key does not fit`, "[1]", "", "int"},
		{"list to map", []any{}, map[string]int(nil), "Python list to Go map[string]int", "", "", "list"},
		{"wrong array length", Tuple{"a"}, [2]string{}, "1 items, [2]string holds 2", "", "", "tuple"},
		{"wrong byte array length", []byte("abc"), [2]byte{}, "3 bytes", "", "", "bytes"},
		{"set to other map", Set{"a"}, map[string]int(nil), "map[K]struct{} or map[K]bool", "", "", "set"},
		{"int to time", int64(1), time.Time{}, "Python int to Go time.Time", "", "", "int"},
		{"int to duration", int64(1), time.Duration(0), "Python int to Go time.Duration", "", "", "int"},
		{"dict to time", Dict{}, time.Time{}, "Python dict to Go time.Time", "", "", "dict"},
		{"list to struct", []any{}, Base{}, "Python list to Go channel.Base", "", "", "list"},
		{"field type", Dict{{"id", "seven"}}, Base{}, `Python str to Go int64 at ["id"] (field Base.ID)`, `["id"]`, "Base.ID", "str"},
		{"None field", Dict{{"title", nil}}, Doc{}, `Python None to Go string at ["title"] (field Doc.Title)`, `["title"]`, "Doc.Title", "None"},
		{"nested field", Dict{{"kids", []any{Dict{}, Dict{{"when", "today"}}}}}, Doc{},
			`Python str to Go time.Time at ["kids"][1]["when"] (field Doc.When)`, `["kids"][1]["when"]`, "Doc.When", "str"},
		{"counts overflow", Dict{{"counts", Dict{{"a", int64(70000)}}}}, Doc{},
			`at ["counts"]["a"] (field Doc.Counts): 70000 overflows uint16`, `["counts"]["a"]`, "Doc.Counts", "int"},
		{"non-str key", Dict{{int64(1), "x"}}, Base{}, "at [1]: a struct's dict needs str keys", "[1]", "", "int"},
	}
	for _, c := range bad {
		t.Run(c.name, func(t *testing.T) {
			_, err := ConvertTo(c.in, reflect.TypeOf(c.to))
			assert.ErrorIs(t, err, ErrConvert)
			assert.ErrorContains(t, err, c.msg)
			var ce *ConvertError
			require.True(t, errors.As(err, &ce))
			assert.Equal(t, c.path, ce.Path)
			assert.Equal(t, c.field, ce.Field)
			assert.Equal(t, c.python, ce.Python)
		})
	}
	for _, typ := range []any{make(chan int), func() {}, new(func()), map[string]func(){}, struct{ F func() }{}} {
		assert.ErrorIs(t, CanConvertTo(reflect.TypeOf(typ)), ErrConvert, "%T", typ)
	}
	assert.ErrorContains(t, CanConvertTo(reflect.TypeOf(struct{ F func() }{})), "field struct { F func() }.F")
	type node struct {
		Kids []*node `json:"kids"`
	}
	assert.NoError(t, CanConvertTo(reflect.TypeOf(node{})), "recursive struct types are fine")
}

// TestOmitEmptyAndNames: every kind encoding/json calls empty is left out
// under omitempty (and nothing else is), and names that differ only in
// case match exactly but not by folding.
func TestOmitEmptyAndNames(t *testing.T) {
	type allEmpty struct {
		B   bool              `json:"b,omitempty"`
		I   int8              `json:"i,omitempty"`
		U   uint              `json:"u,omitempty"`
		F   float32           `json:"f,omitempty"`
		S   string            `json:"s,omitempty"`
		P   *int              `json:"p,omitempty"`
		A   any               `json:"a,omitempty"`
		L   []int             `json:"l,omitempty"`
		M   map[string]int    `json:"m,omitempty"`
		Arr [0]int            `json:"arr,omitempty"`
		T   time.Time         `json:"t,omitempty"` // a struct is never empty (as in encoding/json)
		D   time.Duration     `json:"d,omitempty"`
		E   struct{ X int }   `json:"e,omitempty"`
		Set map[string]string `json:"set"` // no omitempty: a nil map is an empty dict
	}
	v, err := Normalize(allEmpty{})
	require.NoError(t, err)
	assert.Equal(t, Dict{{"t", time.Time{}.UTC()}, {"e", Dict{{"X", int64(0)}}}, {"set", Dict{}}}, v)
	zero := 0
	v, err = Normalize(allEmpty{B: true, I: -1, U: 1, F: 0.5, S: "s", P: &zero, A: 0, L: []int{0}, M: map[string]int{"": 0}, D: time.Microsecond})
	require.NoError(t, err)
	assert.Len(t, v, 13, "none of them is empty: %v", v)

	type cased struct {
		Name string `json:"name"`
		NAME string `json:"NAME"`
		Only string `json:"only"`
	}
	got, err := ConvertTo(Dict{{"NAME", "upper"}, {"Name", "folded: ambiguous, ignored"}, {"ONLY", "folded"}}, reflect.TypeOf(cased{}))
	require.NoError(t, err)
	assert.Equal(t, cased{NAME: "upper", Only: "folded"}, got.Interface())
}
