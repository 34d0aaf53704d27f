package channel

import (
	"errors"
	"fmt"
	"math"
	"math/big"
	"reflect"
)

// ErrConvert reports a value that does not fit the Go type asked for.
var ErrConvert = errors.New("cannot convert")

var (
	bigIntType = reflect.TypeOf((*big.Int)(nil))
	recvType   = reflect.TypeOf((*RecvChannel)(nil))
	sendType   = reflect.TypeOf((*SendChannel)(nil))
	tupleType  = reflect.TypeOf(Tuple(nil))
	dictType   = reflect.TypeOf(Dict(nil))
	bytesType  = reflect.TypeOf([]byte(nil))
)

// CanConvertTo reports whether ConvertTo supports Go type t at all (as a
// parameter type of a function called from Python, say), and if not, why.
// Recursive types (type Tree map[string]Tree) are supported.
func CanConvertTo(t reflect.Type) error { return canConvertTo(t, nil) }

// canConvertTo is CanConvertTo; seen holds the slice and map types being
// checked further up, where a recursive type meets itself again.
func canConvertTo(t reflect.Type, seen map[reflect.Type]bool) error {
	switch t {
	case bigIntType, recvType, sendType, tupleType, dictType, bytesType:
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
	case reflect.Slice, reflect.Map:
		if seen[t] {
			return nil // checked where it first appeared
		}
		if seen == nil {
			seen = make(map[reflect.Type]bool)
		}
		seen[t] = true
		if t.Kind() == reflect.Map {
			if err := canConvertTo(t.Key(), seen); err != nil {
				return err
			}
		}
		return canConvertTo(t.Elem(), seen)
	}
	return fmt.Errorf("%w: Go type %s has no Python counterpart", ErrConvert, t)
}

// ConvertTo turns a canonical value (see Normalize) into a value of Go type
// t: Python ints fit any integer type they do not overflow (and float
// types), lists and tuples fit slices, dicts fit maps, None fits
// interfaces, pointers, slices and maps (as nil). Errors wrap ErrConvert
// and say what did not fit, as does a value nested deeper than MaxDepth
// (no canonical value is; a Go value that contains itself would be).
func ConvertTo(v any, t reflect.Type) (reflect.Value, error) { return convertTo(v, t, 0) }

// convertTo is ConvertTo for a value nested depth containers deep. It
// takes None and the types with a fixed counterpart first, then goes by
// the kind of t.
func convertTo(v any, t reflect.Type, depth int) (reflect.Value, error) {
	if v == nil {
		switch t.Kind() {
		case reflect.Interface, reflect.Pointer, reflect.Slice, reflect.Map:
			return reflect.Zero(t), nil
		}
		return noFit(v, t)
	}
	switch t {
	case bigIntType, recvType, sendType, tupleType, dictType:
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
	case reflect.Slice:
		return convertSlice(v, t, depth)
	case reflect.Map:
		return convertMap(v, t, depth)
	}
	return noFit(v, t)
}

// noFit is the error for a value of the wrong Python type for t.
func noFit(v any, t reflect.Type) (reflect.Value, error) {
	return reflect.Value{}, fmt.Errorf("%w: %s to %s", ErrConvert, describe(v), t)
}

// convertSpecial converts to the types that have one Python counterpart:
// *big.Int (from any int), the channel ends, Tuple (also from a list) and
// Dict.
func convertSpecial(v any, t reflect.Type) (reflect.Value, error) {
	if t == bigIntType {
		switch x := v.(type) {
		case int64:
			return reflect.ValueOf(big.NewInt(x)), nil
		case *big.Int:
			return reflect.ValueOf(new(big.Int).Set(x)), nil
		}
		return noFit(v, t)
	}
	if reflect.TypeOf(v) == t {
		return reflect.ValueOf(v), nil
	}
	if t == tupleType {
		if l, ok := v.([]any); ok {
			return reflect.ValueOf(Tuple(l)), nil
		}
	}
	return noFit(v, t)
}

// convertInt converts a Python int to a signed integer type it fits.
func convertInt(v any, t reflect.Type) (reflect.Value, error) {
	switch x := v.(type) {
	case int64:
		out := reflect.New(t).Elem()
		if out.OverflowInt(x) {
			return reflect.Value{}, fmt.Errorf("%w: %d overflows %s", ErrConvert, x, t)
		}
		out.SetInt(x)
		return out, nil
	case *big.Int:
		return reflect.Value{}, fmt.Errorf("%w: %s overflows %s", ErrConvert, x, t)
	}
	return noFit(v, t)
}

// convertUint converts a non-negative Python int to an unsigned integer
// type it fits.
func convertUint(v any, t reflect.Type) (reflect.Value, error) {
	var u uint64
	switch x := v.(type) {
	case int64:
		if x < 0 {
			return reflect.Value{}, fmt.Errorf("%w: %d is negative, %s is not", ErrConvert, x, t)
		}
		u = uint64(x)
	case *big.Int:
		if x.Sign() < 0 || !x.IsUint64() {
			return reflect.Value{}, fmt.Errorf("%w: %s overflows %s", ErrConvert, x, t)
		}
		u = x.Uint64()
	default:
		return noFit(v, t)
	}
	out := reflect.New(t).Elem()
	if out.OverflowUint(u) {
		return reflect.Value{}, fmt.Errorf("%w: %d overflows %s", ErrConvert, u, t)
	}
	out.SetUint(u)
	return out, nil
}

// convertFloat converts a Python float or int64 to a float type; only a
// finite value beyond float32's range fails.
func convertFloat(v any, t reflect.Type) (reflect.Value, error) {
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
		return reflect.Value{}, fmt.Errorf("%w: %g overflows float32", ErrConvert, f)
	}
	return reflect.ValueOf(f).Convert(t), nil
}

// convertSlice converts bytes to a byte slice type, and a list or tuple
// (depth containers deep) to any slice type, item by item.
func convertSlice(v any, t reflect.Type, depth int) (reflect.Value, error) {
	if t.Elem().Kind() == reflect.Uint8 {
		if b, ok := v.([]byte); ok {
			return reflect.ValueOf(b).Convert(t), nil
		}
	}
	var items []any
	switch x := v.(type) {
	case []any:
		items = x
	case Tuple:
		items = x
	default:
		return noFit(v, t)
	}
	if depth >= MaxDepth {
		return reflect.Value{}, convertTooDeep()
	}
	out := reflect.MakeSlice(t, len(items), len(items))
	for i, item := range items {
		e, err := convertTo(item, t.Elem(), depth+1)
		if err != nil {
			return reflect.Value{}, fmt.Errorf("item %d: %w", i, err)
		}
		out.Index(i).Set(e)
	}
	return out, nil
}

// convertMap converts a dict (depth containers deep) to a map type, key
// by key.
func convertMap(v any, t reflect.Type, depth int) (reflect.Value, error) {
	d, ok := v.(Dict)
	if !ok {
		return noFit(v, t)
	}
	if depth >= MaxDepth {
		return reflect.Value{}, convertTooDeep()
	}
	out := reflect.MakeMapWithSize(t, len(d))
	for _, it := range d {
		k, err := convertTo(it.Key, t.Key(), depth+1)
		if err != nil {
			return reflect.Value{}, fmt.Errorf("key %s: %w", describe(it.Key), err)
		}
		val, err := convertTo(it.Value, t.Elem(), depth+1)
		if err != nil {
			return reflect.Value{}, fmt.Errorf("value of key %s: %w", describe(it.Key), err)
		}
		out.SetMapIndex(k, val)
	}
	return out, nil
}

func convertTooDeep() error {
	return fmt.Errorf("%w: containers nested deeper than %d (a value that contains itself?)", ErrConvert, MaxDepth)
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
	case *RecvChannel:
		return "RecvChannel"
	case *SendChannel:
		return "SendChannel"
	}
	return fmt.Sprintf("%T", v)
}
