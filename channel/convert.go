package channel

import (
	"errors"
	"fmt"
	"math"
	"math/big"
	"reflect"
	"strconv"
	"strings"
	"time"
)

// ErrConvert reports a value that does not fit the Go type asked for.
// Errors wrapping it from ConvertTo are *ConvertError.
var ErrConvert = errors.New("cannot convert")

// ConvertError says which part of a value did not fit which Go type, and
// why. errors.Is(err, ErrConvert) holds.
type ConvertError struct {
	// Path locates the value inside the whole, in Python's notation:
	// "" for the whole value, `["docs"][2]["title"]` for a part of it (a
	// struct field is the dict key it is read from).
	Path string
	// Field is the Go struct field the value was for ("Doc.Title"), the
	// innermost one if several; "" when not a field's.
	Field string
	// Python is the Python type of the value ("str", "dict", "None").
	Python string
	// Go is the Go type the value did not fit.
	Go reflect.Type
	// Reason says why, when it is more than a type mismatch ("300
	// overflows int8").
	Reason string
}

// Error reads "cannot convert Python str to Go int at ["docs"][2]["n"]
// (field Doc.N)", followed by the reason if there is one.
func (e *ConvertError) Error() string {
	var b strings.Builder
	b.WriteString(ErrConvert.Error())
	b.WriteString(": Python ")
	b.WriteString(e.Python)
	b.WriteString(" to Go ")
	if e.Go != nil {
		b.WriteString(e.Go.String())
	}
	if e.Path != "" {
		b.WriteString(" at ")
		b.WriteString(e.Path)
	}
	if e.Field != "" {
		b.WriteString(" (field ")
		b.WriteString(e.Field)
		b.WriteString(")")
	}
	if e.Reason != "" {
		b.WriteString(": ")
		b.WriteString(e.Reason)
	}
	return b.String()
}

// Unwrap returns ErrConvert.
func (e *ConvertError) Unwrap() error { return ErrConvert }

// within prefixes e's path with the segment that led to it.
func (e *ConvertError) within(segment string) *ConvertError {
	e.Path = segment + e.Path
	return e
}

// keySegment is the path segment of a dict key: ["name"], [1], [None].
func keySegment(k any) string {
	if s, ok := k.(string); ok {
		return "[" + strconv.Quote(s) + "]"
	}
	return "[" + keyRepr(k) + "]"
}

var (
	bigIntType    = reflect.TypeOf((*big.Int)(nil))
	recvType      = reflect.TypeOf((*RecvChannel)(nil))
	sendType      = reflect.TypeOf((*SendChannel)(nil))
	viewType      = reflect.TypeOf((*BufferView)(nil))
	tupleType     = reflect.TypeOf(Tuple(nil))
	dictType      = reflect.TypeOf(Dict(nil))
	setType       = reflect.TypeOf(Set(nil))
	frozenSetType = reflect.TypeOf(FrozenSet(nil))
	bytesType     = reflect.TypeOf([]byte(nil))
)

// CanConvertTo reports whether ConvertTo supports Go type t at all (as a
// parameter type of a function called from Python, say), and if not, why.
// Recursive types (type Tree map[string]Tree, type Node struct{ Kids
// []*Node }) are supported.
func CanConvertTo(t reflect.Type) error { return canConvertTo(t, nil) }

// canConvertTo is CanConvertTo; seen holds the composite types being
// checked further up, where a recursive type meets itself again.
func canConvertTo(t reflect.Type, seen map[reflect.Type]bool) error {
	switch t {
	case bigIntType, recvType, sendType, viewType, tupleType, dictType, setType, frozenSetType, bytesType, timeType, durationType:
		return nil
	}
	switch t.Kind() {
	case reflect.Interface:
		if t.NumMethod() == 0 {
			return nil
		}
	case reflect.Bool, reflect.String, reflect.Float32, reflect.Float64,
		reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return nil
	case reflect.Slice, reflect.Array, reflect.Map, reflect.Pointer, reflect.Struct:
		if seen[t] {
			return nil // checked where it first appeared
		}
		if seen == nil {
			seen = make(map[reflect.Type]bool)
		}
		seen[t] = true
		switch t.Kind() {
		case reflect.Map:
			if err := canConvertTo(t.Key(), seen); err != nil {
				return err
			}
		case reflect.Struct:
			fields, err := structFields(t)
			if err != nil {
				return err
			}
			for _, f := range fields {
				if err := canConvertTo(f.typ, seen); err != nil {
					return fmt.Errorf("field %s: %w", f.goName, err)
				}
			}
			return nil
		}
		return canConvertTo(t.Elem(), seen)
	}
	return fmt.Errorf("%w: Go type %s has no Python counterpart", ErrConvert, t)
}

// ConvertTo turns a canonical value (see Normalize) into a value of Go
// type t:
//
//   - a Python int fits any integer type it does not overflow, and the
//     float types; a float fits the float types;
//   - a list, tuple, set or frozenset fits a slice (an array of its
//     length), item by item; bytes fit []byte (and a [N]byte of its
//     length), and so does a memoryview (*BufferView, copied);
//   - a dict fits a map, key by key, and a struct, by the fields' json
//     names (see Normalize; exact name first, then any case; keys that
//     name no field are ignored);
//   - a set or frozenset also fits a map[K]struct{} or map[K]bool (every
//     value true);
//   - a datetime fits time.Time, a timedelta time.Duration;
//   - None fits interfaces, pointers, slices and maps (as nil); any other
//     value fits a pointer to a type it fits;
//   - anything fits `any` unchanged.
//
// Errors are *ConvertError (wrapping ErrConvert), which names the place
// in the value, the Go field, the Python type and the Go type; a value
// nested deeper than MaxDepth is one too (no canonical value is; a Go
// value that contains itself would be).
func ConvertTo(v any, t reflect.Type) (reflect.Value, error) {
	out, err := convertTo(v, t, 0)
	if err != nil {
		return reflect.Value{}, err
	}
	return out, nil
}

// convertTo is ConvertTo for a value nested depth containers deep. It
// takes None and the types with a fixed counterpart first, then goes by
// the kind of t.
func convertTo(v any, t reflect.Type, depth int) (reflect.Value, *ConvertError) {
	if v == nil {
		switch t.Kind() {
		case reflect.Interface, reflect.Pointer, reflect.Slice, reflect.Map:
			return reflect.Zero(t), nil
		}
		return noFit(v, t)
	}
	switch t {
	case bigIntType, recvType, sendType, viewType, tupleType, dictType, setType, frozenSetType, timeType, durationType:
		return convertSpecial(v, t)
	}
	switch t.Kind() {
	case reflect.Interface:
		if t.NumMethod() != 0 || !reflect.TypeOf(v).AssignableTo(t) {
			return noFit(v, t)
		}
		out := reflect.New(t).Elem()
		out.Set(reflect.ValueOf(v))
		return out, nil
	case reflect.Bool:
		if b, ok := v.(bool); ok {
			return reflect.ValueOf(b).Convert(t), nil
		}
	case reflect.String:
		if s, ok := v.(string); ok {
			return reflect.ValueOf(s).Convert(t), nil
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return convertInt(v, t)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return convertUint(v, t)
	case reflect.Float32, reflect.Float64:
		return convertFloat(v, t)
	case reflect.Slice, reflect.Array:
		return convertSeq(v, t, depth)
	case reflect.Map:
		return convertMap(v, t, depth)
	case reflect.Struct:
		return convertStruct(v, t, depth)
	case reflect.Pointer:
		elem, err := convertTo(v, t.Elem(), depth)
		if err != nil {
			return reflect.Value{}, err
		}
		out := reflect.New(t.Elem())
		out.Elem().Set(elem)
		return out, nil
	}
	return noFit(v, t)
}

// noFit is the error for a value of the wrong Python type for t.
func noFit(v any, t reflect.Type) (reflect.Value, *ConvertError) {
	return reflect.Value{}, &ConvertError{Python: describe(v), Go: t}
}

// misfit is the error for a value of a fitting type that still does not
// fit, for the reason given.
func misfit(v any, t reflect.Type, format string, args ...any) (reflect.Value, *ConvertError) {
	return reflect.Value{}, &ConvertError{Python: describe(v), Go: t, Reason: fmt.Sprintf(format, args...)}
}

// convertSpecial converts to the types that have one Python counterpart:
// *big.Int (from any int), the channel ends, memoryviews, Tuple (also from
// a list), Dict, Set and FrozenSet (from either), time.Time and
// time.Duration.
func convertSpecial(v any, t reflect.Type) (reflect.Value, *ConvertError) {
	switch t {
	case bigIntType:
		switch x := v.(type) {
		case int64:
			return reflect.ValueOf(big.NewInt(x)), nil
		case *big.Int:
			return reflect.ValueOf(new(big.Int).Set(x)), nil
		}
		return noFit(v, t)
	case tupleType:
		if l, ok := v.([]any); ok {
			return reflect.ValueOf(Tuple(l)), nil
		}
	case setType:
		if s, ok := v.(FrozenSet); ok {
			return reflect.ValueOf(Set(s)), nil
		}
	case frozenSetType:
		if s, ok := v.(Set); ok {
			return reflect.ValueOf(FrozenSet(s)), nil
		}
	}
	if reflect.TypeOf(v) == t {
		return reflect.ValueOf(v), nil
	}
	return noFit(v, t)
}

// convertInt converts a Python int to a signed integer type it fits.
func convertInt(v any, t reflect.Type) (reflect.Value, *ConvertError) {
	switch x := v.(type) {
	case int64:
		out := reflect.New(t).Elem()
		if out.OverflowInt(x) {
			return misfit(v, t, "%d overflows %s", x, t)
		}
		out.SetInt(x)
		return out, nil
	case *big.Int:
		return misfit(v, t, "%s overflows %s", x, t)
	}
	return noFit(v, t)
}

// convertUint converts a non-negative Python int to an unsigned integer
// type it fits.
func convertUint(v any, t reflect.Type) (reflect.Value, *ConvertError) {
	var u uint64
	switch x := v.(type) {
	case int64:
		if x < 0 {
			return misfit(v, t, "%d is negative, %s is not", x, t)
		}
		u = uint64(x)
	case *big.Int:
		if x.Sign() < 0 || !x.IsUint64() {
			return misfit(v, t, "%s overflows %s", x, t)
		}
		u = x.Uint64()
	default:
		return noFit(v, t)
	}
	out := reflect.New(t).Elem()
	if out.OverflowUint(u) {
		return misfit(v, t, "%d overflows %s", u, t)
	}
	out.SetUint(u)
	return out, nil
}

// convertFloat converts a Python float or int64 to a float type; only a
// finite value beyond float32's range fails.
func convertFloat(v any, t reflect.Type) (reflect.Value, *ConvertError) {
	var f float64
	switch x := v.(type) {
	case float64:
		f = x
	case int64:
		f = float64(x)
	default:
		return noFit(v, t)
	}
	if t.Kind() == reflect.Float32 && !math.IsInf(f, 0) && !math.IsNaN(f) && math.Abs(f) > math.MaxFloat32 {
		return misfit(v, t, "%g overflows float32", f)
	}
	return reflect.ValueOf(f).Convert(t), nil
}

// bytesOf returns the contents of bytes or a memoryview.
func bytesOf(v any) ([]byte, bool) {
	switch x := v.(type) {
	case []byte:
		return x, true
	case *BufferView:
		b := x.Bytes()
		return b, b != nil
	}
	return nil, false
}

// convertSeq converts bytes (or a memoryview) to a byte slice or array
// type, and a list, tuple, set or frozenset (depth containers deep) to
// any slice or array type, item by item.
func convertSeq(v any, t reflect.Type, depth int) (reflect.Value, *ConvertError) {
	if t.Elem().Kind() == reflect.Uint8 {
		if b, ok := bytesOf(v); ok {
			if t.Kind() == reflect.Slice {
				return reflect.ValueOf(append([]byte(nil), b...)).Convert(t), nil
			}
			if len(b) != t.Len() {
				return misfit(v, t, "%d bytes, %s holds %d", len(b), t, t.Len())
			}
			out := reflect.New(t).Elem()
			reflect.Copy(out, reflect.ValueOf(b))
			return out, nil
		}
	}
	var items []any
	switch x := v.(type) {
	case []any:
		items = x
	case Tuple:
		items = x
	case Set:
		items = x
	case FrozenSet:
		items = x
	default:
		return noFit(v, t)
	}
	if depth >= MaxDepth {
		return tooDeepFor(v, t)
	}
	var out reflect.Value
	if t.Kind() == reflect.Slice {
		out = reflect.MakeSlice(t, len(items), len(items))
	} else {
		if len(items) != t.Len() {
			return misfit(v, t, "%d items, %s holds %d", len(items), t, t.Len())
		}
		out = reflect.New(t).Elem()
	}
	for i, item := range items {
		e, err := convertTo(item, t.Elem(), depth+1)
		if err != nil {
			return reflect.Value{}, err.within("[" + strconv.Itoa(i) + "]")
		}
		out.Index(i).Set(e)
	}
	return out, nil
}

// convertMap converts a dict (depth containers deep) to a map type, key
// by key, and a set or frozenset to a map[K]struct{} or map[K]bool.
func convertMap(v any, t reflect.Type, depth int) (reflect.Value, *ConvertError) {
	var items []any
	switch x := v.(type) {
	case Dict:
	case Set:
		items = x
	case FrozenSet:
		items = x
	default:
		return noFit(v, t)
	}
	if depth >= MaxDepth {
		return tooDeepFor(v, t)
	}
	if d, ok := v.(Dict); ok {
		out := reflect.MakeMapWithSize(t, len(d))
		for _, it := range d {
			k, err := convertTo(it.Key, t.Key(), depth+1)
			if err != nil {
				if err.Reason == "" {
					err.Reason = "the key does not fit"
				} else {
					err.Reason += " (the key)"
				}
				return reflect.Value{}, err.within(keySegment(it.Key))
			}
			val, err := convertTo(it.Value, t.Elem(), depth+1)
			if err != nil {
				return reflect.Value{}, err.within(keySegment(it.Key))
			}
			out.SetMapIndex(k, val)
		}
		return out, nil
	}
	var present reflect.Value
	switch {
	case t.Elem().Kind() == reflect.Struct && t.Elem().NumField() == 0:
		present = reflect.Zero(t.Elem())
	case t.Elem().Kind() == reflect.Bool:
		present = reflect.ValueOf(true).Convert(t.Elem())
	default:
		return misfit(v, t, "a set fits a map only as map[K]struct{} or map[K]bool")
	}
	out := reflect.MakeMapWithSize(t, len(items))
	for i, item := range items {
		k, err := convertTo(item, t.Key(), depth+1)
		if err != nil {
			return reflect.Value{}, err.within("[" + strconv.Itoa(i) + "]")
		}
		out.SetMapIndex(k, present)
	}
	return out, nil
}

// convertStruct converts a dict (depth containers deep) to a struct type,
// field by field (see Normalize for the names).
func convertStruct(v any, t reflect.Type, depth int) (reflect.Value, *ConvertError) {
	if t == timeType || t == bigIntType.Elem() {
		return noFit(v, t)
	}
	d, ok := v.(Dict)
	if !ok {
		return noFit(v, t)
	}
	if depth >= MaxDepth {
		return tooDeepFor(v, t)
	}
	info, infoErr := structInfoOf(t)
	if infoErr != nil {
		return misfit(v, t, "%v", infoErr)
	}
	out := reflect.New(t).Elem()
	for _, it := range d {
		name, ok := it.Key.(string)
		if !ok {
			return reflect.Value{}, (&ConvertError{Python: describe(it.Key), Go: t, Reason: "a struct's dict needs str keys"}).within(keySegment(it.Key))
		}
		i, ok := info.byName[name]
		if !ok {
			if i, ok = info.folded[strings.ToLower(name)]; !ok || i < 0 {
				continue
			}
		}
		f := info.fields[i]
		val, err := convertTo(it.Value, f.typ, depth+1)
		if err != nil {
			if err.Field == "" {
				err.Field = f.goName
			}
			return reflect.Value{}, err.within(keySegment(name))
		}
		dst, ferr := fieldForSet(out, f)
		if ferr != "" {
			return misfit(it.Value, f.typ, "%s", ferr)
		}
		dst.Set(val)
	}
	return out, nil
}

// fieldForSet returns the field f of struct out, allocating embedded
// struct pointers on the way.
func fieldForSet(out reflect.Value, f structField) (reflect.Value, string) {
	v := out
	for k, i := range f.index {
		if k > 0 && v.Kind() == reflect.Pointer {
			if v.IsNil() {
				if !v.CanSet() {
					return reflect.Value{}, "cannot set an embedded pointer to an unexported struct"
				}
				v.Set(reflect.New(v.Type().Elem()))
			}
			v = v.Elem()
		}
		v = v.Field(i)
	}
	return v, ""
}

func tooDeepFor(v any, t reflect.Type) (reflect.Value, *ConvertError) {
	return misfit(v, t, "containers nested deeper than %d (a value that contains itself?)", MaxDepth)
}

// describe names a canonical value's Python type.
func describe(v any) string {
	switch v.(type) {
	case nil:
		return "None"
	case bool:
		return "bool"
	case int64, *big.Int:
		return "int"
	case float64:
		return "float"
	case string:
		return "str"
	case []byte:
		return "bytes"
	case []any:
		return "list"
	case Tuple:
		return "tuple"
	case Dict:
		return "dict"
	case Set:
		return "set"
	case FrozenSet:
		return "frozenset"
	case time.Time:
		return "datetime.datetime"
	case time.Duration:
		return "datetime.timedelta"
	case *RecvChannel:
		return "RecvChannel"
	case *SendChannel:
		return "SendChannel"
	case *BufferView, *Buffer:
		return "memoryview"
	case Pickled:
		return "pickled object"
	}
	return fmt.Sprintf("%T", v)
}
