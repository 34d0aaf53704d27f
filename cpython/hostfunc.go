package cpython

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"runtime/debug"
	"sort"
	"strings"

	"github.com/subinterp/subinterp/bindings"
	"github.com/subinterp/subinterp/channel"
)

// ErrFuncRegistration reports a RegisterFunc call that was refused.
var ErrFuncRegistration = errors.New("subinterp: cannot register host function")

var (
	contextType = reflect.TypeOf((*context.Context)(nil)).Elem()
	errorType   = reflect.TypeOf((*error)(nil)).Elem()
	identRE     = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
)

// hostFunc is a Go function Python code can call.
type hostFunc struct {
	name      string
	fn        reflect.Value
	wantsCtx  bool
	params    []reflect.Type // after the context, if any
	variadic  bool
	hasResult bool
	hasErr    bool
}

// RegisterFunc makes fn callable from Python code in every interpreter as
// subinterp.host.<name>(*args). Arguments convert from Python the way
// channel.ConvertTo says (an int fits any Go integer type it does not
// overflow, a list a slice, a dict a map, anything an `any`); the result
// converts back like Call's arguments. fn may take a context.Context first:
// it receives the context of the Go call running in that interpreter. It
// may return nothing, a value, an error, or a value and an error; a
// returned error raises subinterp.HostError with its message in Python,
// and so does a panic (which never crashes the process). Arguments that do
// not fit raise TypeError. fn runs on the calling interpreter's thread with
// that interpreter's GIL released, so it may block. Channel ends among the
// arguments are the caller's: Bind them to keep them past the call.
//
// name must be a Python identifier not registered before, and not a
// __dunder__ name (see isDunder); other names starting with an underscore
// are fine. fn's parameter and result types must have Python counterparts.
func (rt *Runtime) RegisterFunc(name string, fn any) error {
	if rt == nil {
		return ErrNotInitialized
	}
	if !identRE.MatchString(name) {
		return fmt.Errorf("%w: %q is not a Python identifier", ErrFuncRegistration, name)
	}
	if isDunder(name) {
		return fmt.Errorf("%w: %q: __dunder__ names are reserved for Python's special attributes, which Python looks up on subinterp.host itself (__class__, __dir__, __reduce_ex__...); a function there would shadow them", ErrFuncRegistration, name)
	}
	hf, err := newHostFunc(name, fn)
	if err != nil {
		return err
	}
	rt.funcsMu.Lock()
	defer rt.funcsMu.Unlock()
	if _, dup := rt.funcs[name]; dup {
		return fmt.Errorf("%w: %q is already registered", ErrFuncRegistration, name)
	}
	if rt.funcs == nil {
		rt.funcs = map[string]*hostFunc{}
	}
	rt.funcs[name] = hf
	return nil
}

// isDunder reports whether name is a __special__ name. Python looks such
// names up on the subinterp.host object itself (isinstance reads __class__,
// copy and pickle __reduce_ex__, help __doc__), so a host function served
// under one would break it; bindings' host_funcs_getattro never serves them.
func isDunder(name string) bool {
	return len(name) > 4 && strings.HasPrefix(name, "__") && strings.HasSuffix(name, "__")
}

func newHostFunc(name string, fn any) (*hostFunc, error) {
	v := reflect.ValueOf(fn)
	if v.Kind() != reflect.Func || v.IsNil() {
		return nil, fmt.Errorf("%w: %s: %T is not a function", ErrFuncRegistration, name, fn)
	}
	t := v.Type()
	hf := &hostFunc{name: name, fn: v, variadic: t.IsVariadic()}
	for i := 0; i < t.NumIn(); i++ {
		p := t.In(i)
		if i == 0 && p == contextType {
			hf.wantsCtx = true
			continue
		}
		check := p
		if hf.variadic && i == t.NumIn()-1 {
			check = p.Elem()
		}
		if err := channel.CanConvertTo(check); err != nil {
			return nil, fmt.Errorf("%w: %s: parameter %d: %v", ErrFuncRegistration, name, i+1, err)
		}
		hf.params = append(hf.params, p)
	}
	switch t.NumOut() {
	case 0:
	case 1:
		if t.Out(0) == errorType {
			hf.hasErr = true
		} else {
			hf.hasResult = true
		}
	case 2:
		if t.Out(1) != errorType {
			return nil, fmt.Errorf("%w: %s: a second result must be error, not %s", ErrFuncRegistration, name, t.Out(1))
		}
		hf.hasResult, hf.hasErr = true, true
	default:
		return nil, fmt.Errorf("%w: %s: at most a value and an error may be returned, not %d results", ErrFuncRegistration, name, t.NumOut())
	}
	if hf.hasResult {
		if err := channel.CanConvertTo(t.Out(0)); err != nil {
			return nil, fmt.Errorf("%w: %s: result: %v", ErrFuncRegistration, name, err)
		}
	}
	return hf, nil
}

func (rt *Runtime) hostFunc(name string) *hostFunc {
	rt.funcsMu.RLock()
	defer rt.funcsMu.RUnlock()
	return rt.funcs[name]
}

func (rt *Runtime) hostFuncNames() []string {
	rt.funcsMu.RLock()
	defer rt.funcsMu.RUnlock()
	names := make([]string, 0, len(rt.funcs))
	for name := range rt.funcs {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}

// call converts the encoded argument tuple, calls the function and encodes
// its result. Argument errors wrap bindings.ErrHostArguments.
func (hf *hostFunc) call(ctx context.Context, reg *channel.Registry, encodedArgs []byte) (_ []byte, err error) {
	decoded, err := channel.Decode(encodedArgs, reg)
	if err != nil {
		return nil, err
	}
	args, _ := decoded.(channel.Tuple)
	in, err := hf.convertArgs(args)
	if err != nil {
		return nil, err
	}
	if hf.wantsCtx {
		in = append([]reflect.Value{reflect.ValueOf(&ctx).Elem()}, in...)
	}
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic in host function %s: %v\n%s", hf.name, r, debug.Stack())
		}
	}()
	out := hf.fn.Call(in)
	if hf.hasErr {
		if e := out[len(out)-1]; !e.IsNil() {
			return nil, e.Interface().(error)
		}
	}
	var result any
	if hf.hasResult {
		result = out[0].Interface()
	}
	data, err := channel.Encode(result)
	if err != nil {
		return nil, fmt.Errorf("host function %s returned %w", hf.name, err)
	}
	return data, nil
}

func (hf *hostFunc) convertArgs(args channel.Tuple) ([]reflect.Value, error) {
	fixed := len(hf.params)
	if hf.variadic {
		fixed--
	}
	if len(args) < fixed || (!hf.variadic && len(args) > fixed) {
		want := fmt.Sprint(fixed)
		if hf.variadic {
			want = fmt.Sprintf("at least %d", fixed)
		}
		return nil, fmt.Errorf("%w: %s() takes %s arguments, got %d", bindings.ErrHostArguments, hf.name, want, len(args))
	}
	in := make([]reflect.Value, 0, len(args))
	for i, a := range args {
		typ := hf.params[min(i, len(hf.params)-1)]
		if hf.variadic && i >= fixed {
			typ = hf.params[len(hf.params)-1].Elem()
		}
		v, err := channel.ConvertTo(a, typ)
		if err != nil {
			return nil, fmt.Errorf("%w: %s() argument %d: %v", bindings.ErrHostArguments, hf.name, i+1, err)
		}
		in = append(in, v)
	}
	return in, nil
}
