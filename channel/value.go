package channel

import (
	"errors"
	"fmt"
	"math"
	"math/big"
	"reflect"
	"sort"
	"time"
)

// ErrNotShareable reports a value that cannot cross between interpreters
// (or between Go and Python). Errors wrapping it name the offending type.
var ErrNotShareable = errors.New("not shareable")

// Tuple is a Python tuple. A Go []any becomes a Python list; wrap it in
// Tuple to get a tuple instead.
type Tuple []any

// Set is a Python set: its items in Python's iteration order (which is
// arbitrary). Items must be hashable in Python: no lists, dicts or sets
// (a FrozenSet is fine), and no two may be one item in Python (1 and 1.0).
type Set []any

// FrozenSet is a Python frozenset; the rules of Set apply.
type FrozenSet []any

// Item is one key/value pair of a Dict.
type Item struct {
	Key   any
	Value any
}

// Dict is a Python dict as an ordered list of pairs: Python dicts keep
// insertion order, and their keys (ints, tuples, ...) do not all fit a Go
// map key, so a slice is the faithful representation.
type Dict []Item

// Get returns the value stored under key, compared with Equal.
func (d Dict) Get(key any) (any, bool) {
	for _, it := range d {
		if Equal(it.Key, key) {
			return it.Value, true
		}
	}
	return nil, false
}

// Normalize turns a Go value into its canonical shareable form, the form
// every conversion to Python and every channel works with:
//
//	Go value                                  canonical form   Python type
//	nil                                       nil              None
//	bool                                      bool             bool
//	int, int8..int64, uint8..uint32           int64            int
//	uint, uint64 (above MaxInt64: *big.Int)   int64/*big.Int   int
//	*big.Int, big.Int                         int64/*big.Int   int
//	float32, float64                          float64          float
//	string                                    string           str
//	[]byte                                    []byte           bytes
//	Tuple                                     Tuple            tuple
//	[]any, any other slice or array           []any            list
//	Dict                                      Dict             dict
//	map[K]V (keys sorted for a stable order)  Dict             dict
//	struct, *struct (see below)               Dict             dict
//	*T (any other pointer)                    what T gives     (None if nil)
//	Set, FrozenSet                            unchanged        set, frozenset
//	time.Time (whole µs, years 1-9999)        time.Time (UTC)  datetime.datetime (aware, UTC)
//	time.Duration (whole µs)                  time.Duration    datetime.timedelta
//	*RecvChannel, *SendChannel (channel ends) unchanged        RecvChannel, SendChannel
//	Pickled (bytes the receiver unpickles)    unchanged        the unpickled object
//
// A struct becomes a dict keyed by its exported fields' names, as
// encoding/json names them: the `json` tag's name if any, fields tagged
// "-" left out, ",omitempty" fields left out when empty (false, 0, "", a
// nil pointer or interface, an empty slice, map or array), the fields of
// embedded structs promoted (and json's rules when two fields claim one
// name), in declaration order. Python has no sub-microsecond times: a
// time.Time or time.Duration that is not a whole number of microseconds
// is an error (Truncate or Round it first), as is a time outside the
// years Python's datetime holds (1 to 9999).
//
// Integers that fit int64 are always int64; only larger ones are *big.Int.
// Normalize copies slices, byte slices and big integers, so the caller may
// reuse what it passed. Anything else (channels, funcs, structs, pointers)
// gives an error wrapping ErrNotShareable that names the Go type, and so
// does nesting deeper than MaxDepth (as Encode: this is also what stops a
// value that contains itself), and so do dict keys that Python would see
// as one key (see ErrDuplicateKey).
func Normalize(v any) (any, error) { return normalize(v, 0) }

// normalize is Normalize for a value nested depth containers deep.
func normalize(v any, depth int) (any, error) {
	switch x := v.(type) {
	case nil:
		return nil, nil
	case bool, string, int64, float64:
		return x, nil
	case time.Time:
		return checkTime(x)
	case time.Duration:
		return checkDuration(x)
	case Set:
		out, err := normSet(x, depth)
		if err != nil {
			return nil, err
		}
		return Set(out), nil
	case FrozenSet:
		out, err := normSet(x, depth)
		if err != nil {
			return nil, err
		}
		return FrozenSet(out), nil
	case int:
		return int64(x), nil
	case int32:
		return int64(x), nil
	case []byte:
		return append([]byte(nil), x...), nil
	case *big.Int:
		if x == nil {
			return nil, fmt.Errorf("%w: nil *big.Int", ErrNotShareable)
		}
		return normBig(x), nil
	case big.Int:
		return normBig(&x), nil
	case Tuple:
		out, err := normSlice([]any(x), depth)
		if err != nil {
			return nil, err
		}
		return Tuple(out), nil
	case []any:
		return normSlice(x, depth)
	case Dict:
		if depth >= MaxDepth {
			return nil, tooDeep()
		}
		out := make(Dict, len(x))
		for i, it := range x {
			k, err := normalize(it.Key, depth+1)
			if err != nil {
				return nil, err
			}
			val, err := normalize(it.Value, depth+1)
			if err != nil {
				return nil, err
			}
			out[i] = Item{k, val}
		}
		if err := checkKeys(out); err != nil {
			return nil, err
		}
		return out, nil
	case Pickled:
		return Pickled(append([]byte(nil), x...)), nil
	}
	if s, ok := v.(shareableEnd); ok {
		return s, nil
	}
	return normReflect(reflect.ValueOf(v), depth)
}

func normBig(x *big.Int) any {
	if x.IsInt64() {
		return x.Int64()
	}
	return new(big.Int).Set(x)
}

func normSlice(x []any, depth int) ([]any, error) {
	if depth >= MaxDepth {
		return nil, tooDeep()
	}
	out := make([]any, len(x))
	for i, e := range x {
		n, err := normalize(e, depth+1)
		if err != nil {
			return nil, err
		}
		out[i] = n
	}
	return out, nil
}

// normSet normalizes the items of a Set or FrozenSet and checks that
// Python can hold them as one set.
func normSet(x []any, depth int) ([]any, error) {
	out, err := normSlice(x, depth)
	if err != nil {
		return nil, err
	}
	return out, checkSetItems(out)
}

func normReflect(rv reflect.Value, depth int) (any, error) {
	switch rv.Kind() {
	case reflect.Pointer:
		target, err := derefChain(rv)
		if err != nil {
			return nil, err
		}
		if !target.IsValid() {
			return nil, nil
		}
		return normalize(target.Interface(), depth)
	case reflect.Struct:
		if depth >= MaxDepth {
			return nil, tooDeep()
		}
		fields, err := structFields(rv.Type())
		if err != nil {
			return nil, err
		}
		out := make(Dict, 0, len(fields))
		for _, f := range fields {
			fv, ok := f.value(rv)
			if !ok {
				continue
			}
			val, err := normalize(fv.Interface(), depth+1)
			if err != nil {
				return nil, f.wrap(err)
			}
			out = append(out, Item{f.name, val})
		}
		return out, nil
	case reflect.Bool:
		return rv.Bool(), nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return rv.Int(), nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		u := rv.Uint()
		if u > math.MaxInt64 {
			return new(big.Int).SetUint64(u), nil
		}
		return int64(u), nil
	case reflect.Float32, reflect.Float64:
		return rv.Float(), nil
	case reflect.String:
		return rv.String(), nil
	case reflect.Slice, reflect.Array:
		if rv.Kind() == reflect.Slice && rv.Type().Elem().Kind() == reflect.Uint8 {
			return append([]byte(nil), rv.Bytes()...), nil
		}
		if depth >= MaxDepth {
			return nil, tooDeep()
		}
		out := make([]any, rv.Len())
		for i := range out {
			n, err := normalize(rv.Index(i).Interface(), depth+1)
			if err != nil {
				return nil, err
			}
			out[i] = n
		}
		return out, nil
	case reflect.Map:
		if depth >= MaxDepth {
			return nil, tooDeep()
		}
		out := make(Dict, 0, rv.Len())
		iter := rv.MapRange()
		for iter.Next() {
			k, err := normalize(iter.Key().Interface(), depth+1)
			if err != nil {
				return nil, err
			}
			val, err := normalize(iter.Value().Interface(), depth+1)
			if err != nil {
				return nil, err
			}
			out = append(out, Item{k, val})
		}
		sort.SliceStable(out, func(i, j int) bool { return lessKey(out[i].Key, out[j].Key) })
		if keysMayCollide(rv.Type().Key()) {
			if err := checkKeys(out); err != nil {
				return nil, err
			}
		}
		return out, nil
	case reflect.Invalid:
		return nil, nil
	}
	return nil, fmt.Errorf("%w: Go type %s", ErrNotShareable, rv.Type())
}

// lessKey orders map keys so that converting a Go map is deterministic.
func lessKey(a, b any) bool {
	switch x := a.(type) {
	case string:
		if y, ok := b.(string); ok {
			return x < y
		}
	case int64:
		if y, ok := b.(int64); ok {
			return x < y
		}
	case float64:
		if y, ok := b.(float64); ok {
			return x < y
		}
	}
	sa, sb := fmt.Sprint(a), fmt.Sprint(b)
	if sa != sb {
		return sa < sb
	}
	// "1" and 1, or 1 and 1.0, print alike: order them by type, so that
	// the order (and which of two keys Python would merge an error names
	// first) does not depend on Go's random map iteration.
	return fmt.Sprintf("%T", a) < fmt.Sprintf("%T", b)
}

// Equal reports whether two canonical values are equal the way Python's ==
// sees them after a round trip: same types, same contents, NaN equal to
// NaN (a NaN that crossed is still "the same value"), 0.0 and -0.0 apart.
// Containers nested deeper than MaxDepth are never equal (no canonical
// value nests so deep), which also ends the comparison of a value that
// contains itself.
func Equal(a, b any) bool { return equal(a, b, 0) }

func equal(a, b any, depth int) bool {
	switch x := a.(type) {
	case nil:
		return b == nil
	case float64:
		y, ok := b.(float64)
		if !ok {
			return false
		}
		if math.IsNaN(x) || math.IsNaN(y) {
			return math.IsNaN(x) && math.IsNaN(y)
		}
		return x == y && math.Signbit(x) == math.Signbit(y)
	case *big.Int:
		y, ok := b.(*big.Int)
		return ok && x.Cmp(y) == 0
	case []byte:
		y, ok := b.([]byte)
		return ok && string(x) == string(y)
	case Pickled:
		y, ok := b.(Pickled)
		return ok && string(x) == string(y)
	case []any:
		y, ok := b.([]any)
		return ok && equalSlices(x, y, depth)
	case Tuple:
		y, ok := b.(Tuple)
		return ok && equalSlices(x, y, depth)
	case Dict:
		y, ok := b.(Dict)
		if !ok || len(x) != len(y) || depth >= MaxDepth {
			return false
		}
		for i := range x {
			if !equal(x[i].Key, y[i].Key, depth+1) || !equal(x[i].Value, y[i].Value, depth+1) {
				return false
			}
		}
		return true
	case Set:
		y, ok := b.(Set)
		return ok && equalSlices(x, y, depth)
	case FrozenSet:
		y, ok := b.(FrozenSet)
		return ok && equalSlices(x, y, depth)
	case time.Time:
		y, ok := b.(time.Time)
		return ok && x.Equal(y)
	case bool, int64, string:
		return a == b
	}
	return a == b
}

func equalSlices(x, y []any, depth int) bool {
	if len(x) != len(y) || depth >= MaxDepth {
		return false
	}
	for i := range x {
		if !equal(x[i], y[i], depth+1) {
			return false
		}
	}
	return true
}

// Pickled is an object the sender could only share as pickle data (see the
// "pickle" fallback of channels); the receiving interpreter unpickles it.
type Pickled []byte

// shareableEnd is implemented by channel ends, which cross as themselves.
type shareableEnd interface {
	isChannelEnd()
}
