package cpython

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sort"

	"github.com/subinterp/subinterp/channel"
)

// ErrInvalidArgument reports a Call whose arguments are out of order: a
// Kwargs or an ExecOption before a positional argument, or two Kwargs.
var ErrInvalidArgument = errors.New("subinterp: invalid call arguments")

// Kwargs are keyword arguments for Call, Pool.Call and CallAs, given as
// the last argument (only ExecOptions may follow):
//
//	in.Call(ctx, "json.dumps", doc, cpython.Kwargs{"indent": 2, "sort_keys": true})
//
// A Kwargs is never a positional dict: pass a map or channel.Dict for
// that. Values convert as positional arguments do; the keywords are
// passed in sorted order.
type Kwargs map[string]any

// callArgs is a Call's argument list taken apart.
type callArgs struct {
	positional []any
	kwargs     Kwargs
	opts       execOptions
}

// applyOption returns o with opt applied. It is apart so that only calls
// with options pay for the struct that escapes into opt.
func applyOption(o execOptions, opt ExecOption) execOptions {
	opt(&o)
	return o
}

// splitCallArgs separates a Call's positional arguments from its trailing
// Kwargs and ExecOptions.
func splitCallArgs(args []any) (callArgs, error) {
	var c callArgs
	end := len(args)
	sawKwargs := false
	for end > 0 {
		switch a := args[end-1].(type) {
		case ExecOption:
			if a == nil {
				return c, fmt.Errorf("%w: argument %d is a nil ExecOption", ErrInvalidArgument, end)
			}
			c.opts = applyOption(c.opts, a)
		case Kwargs:
			if sawKwargs {
				return c, fmt.Errorf("%w: two Kwargs (arguments %d and later); merge them into one", ErrInvalidArgument, end)
			}
			sawKwargs = true
			c.kwargs = a
		default:
			c.positional = args[:end]
			return c, c.checkPositional()
		}
		end--
	}
	return c, nil
}

// checkPositional refuses a Kwargs or ExecOption among the positional
// arguments, where it would otherwise be taken for a dict or fail as a
// func.
func (c callArgs) checkPositional() error {
	for i, a := range c.positional {
		switch a.(type) {
		case Kwargs:
			return fmt.Errorf("%w: argument %d is a Kwargs followed by positional arguments; Kwargs go last (a positional dict is a map or channel.Dict)", ErrInvalidArgument, i+1)
		case ExecOption:
			return fmt.Errorf("%w: argument %d is an ExecOption followed by positional arguments; options go last", ErrInvalidArgument, i+1)
		}
	}
	return nil
}

// encodeKwargs encodes the keyword arguments as a dict in key order, or
// returns nil if there are none.
func encodeKwargs(kw Kwargs) ([]byte, error) {
	if len(kw) == 0 {
		return nil, nil
	}
	names := make([]string, 0, len(kw))
	for name := range kw {
		names = append(names, name)
	}
	sort.Strings(names)
	d := make(channel.Dict, len(names))
	for i, name := range names {
		d[i] = channel.Item{Key: name, Value: kw[name]}
	}
	data, err := channel.Encode(d)
	if err == nil {
		return data, nil
	}
	for _, name := range names { // say which one
		if _, e := channel.Encode(kw[name]); e != nil {
			return nil, fmt.Errorf("keyword argument %q: %w", name, e)
		}
	}
	return nil, fmt.Errorf("keyword arguments: %w", err)
}

// Caller is what CallAs calls: an *Interpreter or a *Pool.
type Caller interface {
	Call(ctx context.Context, fn string, args ...any) (any, error)
}

// Evaluator is what EvalAs evaluates with: an *Interpreter or a *Pool.
type Evaluator interface {
	Eval(ctx context.Context, expr string) (any, error)
}

// CallAs is Call with the result converted to T by channel.ConvertTo: a
// dict into a struct or map, a list into a slice, a datetime into a
// time.Time, and so on (see README's table). A result that does not fit T
// gives a *channel.ConvertError naming where it did not fit, the Go field,
// the Python type and the Go type (the function has run by then: only its
// result is refused); the error of the call itself is returned as Call
// returns it. Channel ends in the result that T does not keep are
// released.
//
//	type Stats struct {
//		Words int            `json:"words"`
//		Top   []string       `json:"top"`
//		Took  time.Duration  `json:"took"`
//	}
//	s, err := cpython.CallAs[Stats](ctx, pool, "text.stats", doc)
func CallAs[T any](ctx context.Context, c Caller, fn string, args ...any) (T, error) {
	var zero T
	if isNil(c) {
		return zero, fmt.Errorf("%w: CallAs with a nil Caller", ErrNotInitialized)
	}
	v, err := c.Call(ctx, fn, args...)
	if err != nil {
		return zero, err
	}
	out, err := convertResult[T](v)
	if err != nil {
		return zero, fmt.Errorf("subinterp: result of %s: %w", fn, err)
	}
	return out, nil
}

// EvalAs is Eval with the result converted to T, as CallAs does.
func EvalAs[T any](ctx context.Context, e Evaluator, expr string) (T, error) {
	var zero T
	if isNil(e) {
		return zero, fmt.Errorf("%w: EvalAs with a nil Evaluator", ErrNotInitialized)
	}
	v, err := e.Eval(ctx, expr)
	if err != nil {
		return zero, err
	}
	out, err := convertResult[T](v)
	if err != nil {
		return zero, fmt.Errorf("subinterp: result of %q: %w", expr, err)
	}
	return out, nil
}

// isNil reports a nil interface or a nil pointer in one (a nil *Pool).
func isNil(x any) bool {
	if x == nil {
		return true
	}
	v := reflect.ValueOf(x)
	return v.Kind() == reflect.Pointer && v.IsNil()
}

// convertResult converts a decoded result to T and releases the channel
// ends it carried that the converted value does not hold.
func convertResult[T any](v any) (T, error) {
	var zero T
	t := reflect.TypeFor[T]()
	rv, err := channel.ConvertTo(v, t)
	if err != nil {
		releaseEnds(v, nil)
		return zero, err
	}
	var out T // set through reflection: rv.Interface().(T) panics on a nil interface
	reflect.ValueOf(&out).Elem().Set(rv)
	if hasEnds(v) {
		kept := map[uintptr]bool{}
		collectEnds(reflect.ValueOf(&out).Elem(), kept, 0)
		releaseEnds(v, kept)
	}
	return out, nil
}

// hasEnds reports whether a canonical value holds a channel end.
func hasEnds(v any) bool {
	found := false
	walkCanonical(v, func(any) { found = true }, 0)
	return found
}

// releaseEnds releases every channel end in canonical value v that kept
// does not hold.
func releaseEnds(v any, kept map[uintptr]bool) {
	walkCanonical(v, func(end any) {
		if !kept[reflect.ValueOf(end).Pointer()] {
			_ = end.(interface{ Release() error }).Release()
		}
	}, 0)
}

// walkCanonical calls fn for each channel end in canonical value v.
func walkCanonical(v any, fn func(any), depth int) {
	if depth > channel.MaxDepth {
		return
	}
	switch x := v.(type) {
	case *channel.RecvChannel, *channel.SendChannel:
		fn(x)
	case []any:
		for _, e := range x {
			walkCanonical(e, fn, depth+1)
		}
	case channel.Tuple:
		walkCanonical([]any(x), fn, depth)
	case channel.Set:
		walkCanonical([]any(x), fn, depth)
	case channel.FrozenSet:
		walkCanonical([]any(x), fn, depth)
	case channel.Dict:
		for _, it := range x {
			walkCanonical(it.Key, fn, depth+1)
			walkCanonical(it.Value, fn, depth+1)
		}
	}
}

var (
	recvEndType = reflect.TypeOf((*channel.RecvChannel)(nil))
	sendEndType = reflect.TypeOf((*channel.SendChannel)(nil))
)

// collectEnds adds to kept (by address) every channel end a converted
// value holds. It reads fields by reflection without Interface, so the
// fields of unexported embedded structs count too.
func collectEnds(rv reflect.Value, kept map[uintptr]bool, depth int) {
	if depth > 2*channel.MaxDepth+2 || !rv.IsValid() {
		return
	}
	if rv.Type() == recvEndType || rv.Type() == sendEndType {
		if !rv.IsNil() {
			kept[rv.Pointer()] = true
		}
		return
	}
	switch rv.Kind() {
	case reflect.Interface, reflect.Pointer:
		if !rv.IsNil() {
			collectEnds(rv.Elem(), kept, depth+1)
		}
	case reflect.Slice, reflect.Array:
		for i := 0; i < rv.Len(); i++ {
			collectEnds(rv.Index(i), kept, depth+1)
		}
	case reflect.Map:
		iter := rv.MapRange()
		for iter.Next() {
			collectEnds(iter.Key(), kept, depth+1)
			collectEnds(iter.Value(), kept, depth+1)
		}
	case reflect.Struct:
		for i := 0; i < rv.NumField(); i++ {
			collectEnds(rv.Field(i), kept, depth+1)
		}
	}
}
