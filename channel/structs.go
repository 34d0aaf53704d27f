package channel

import (
	"fmt"
	"reflect"
	"strings"
	"sync"
	"time"
)

// Go structs cross as dicts keyed by their fields' json names, the
// convention Go programs already use for "this struct as a JSON object";
// Python has no struct type of its own that every receiver would know.
// The rules are encoding/json's, so that a struct that marshals to a JSON
// object with some keys becomes a dict with the same keys:
//
//   - only exported fields; the key is the `json` tag's name, else the
//     field's name; a field tagged "-" is left out;
//   - ",omitempty" leaves a field out when it is false, 0, "", a nil
//     pointer or interface, or an empty slice, map or array;
//   - the fields of an embedded struct (or pointer to one) without a tag
//     name are promoted, as if declared in the outer struct; a nil
//     embedded pointer contributes nothing;
//   - when several fields claim one name, the shallowest wins, then the
//     one with a tag; if that leaves a tie, none of them is used.
//
// Converting a dict back into a struct matches keys to names exactly,
// then without regard to case (as encoding/json does); keys that name no
// field are ignored, and fields no key names keep their zero value.

// structField is one key of a struct's dict.
type structField struct {
	name      string // the dict key
	goName    string // Outer.Field, for errors
	index     []int  // reflect field index path, through embedded structs
	typ       reflect.Type
	omitEmpty bool
	tagged    bool
}

// structInfo is what structFields learns about a struct type once.
type structInfo struct {
	fields []structField
	byName map[string]int
	folded map[string]int // strings.ToLower(name) -> index; -1 when ambiguous
}

var structCache sync.Map // reflect.Type -> *structInfo

// structFields returns the fields of struct type t that cross, in
// declaration order (promoted fields where their embedded struct is).
func structFields(t reflect.Type) ([]structField, error) {
	info, err := structInfoOf(t)
	if err != nil {
		return nil, err
	}
	return info.fields, nil
}

func structInfoOf(t reflect.Type) (*structInfo, error) {
	if v, ok := structCache.Load(t); ok {
		return v.(*structInfo), nil
	}
	fields := collectFields(t)
	info := &structInfo{fields: fields, byName: map[string]int{}, folded: map[string]int{}}
	for i, f := range fields {
		info.byName[f.name] = i
		low := strings.ToLower(f.name)
		if _, dup := info.folded[low]; dup {
			info.folded[low] = -1
		} else {
			info.folded[low] = i
		}
	}
	v, _ := structCache.LoadOrStore(t, info)
	return v.(*structInfo), nil
}

// collectFields walks t and its embedded structs breadth first, as
// encoding/json does, and applies the dominance rules above.
func collectFields(t reflect.Type) []structField {
	type pending struct {
		typ   reflect.Type
		index []int
	}
	var all []structField
	visited := map[reflect.Type]bool{}
	level := []pending{{typ: t}}
	for len(level) > 0 {
		var next []pending
		for _, p := range level {
			if visited[p.typ] {
				continue // an embedding cycle through pointers
			}
			visited[p.typ] = true
			for i := 0; i < p.typ.NumField(); i++ {
				sf := p.typ.Field(i)
				ft := sf.Type
				if sf.Anonymous {
					if ft.Kind() == reflect.Pointer {
						if !sf.IsExported() {
							// reflect cannot reach through an unexported
							// pointer (nor set it when converting back).
							continue
						}
						ft = ft.Elem()
					}
					if !sf.IsExported() && ft.Kind() != reflect.Struct {
						continue
					}
				} else if !sf.IsExported() {
					continue
				}
				tag := sf.Tag.Get("json")
				if tag == "-" {
					continue
				}
				name, opts, _ := strings.Cut(tag, ",")
				index := append(append([]int(nil), p.index...), i)
				if sf.Anonymous && name == "" && ft.Kind() == reflect.Struct && !isSpecialStruct(ft) {
					next = append(next, pending{typ: ft, index: index})
					continue
				}
				tagged := name != ""
				if !tagged {
					name = sf.Name
				}
				all = append(all, structField{
					name:      name,
					goName:    typeName(p.typ) + "." + sf.Name,
					index:     index,
					typ:       sf.Type,
					omitEmpty: hasOption(opts, "omitempty"),
					tagged:    tagged,
				})
			}
		}
		level = next
	}
	// Dominance: for each name keep the shallowest field, then the tagged
	// one; a tie drops the name altogether.
	keep := make([]structField, 0, len(all))
	for i, f := range all {
		winner, tie := i, false
		for j, g := range all {
			if j == i || g.name != f.name {
				continue
			}
			switch {
			case len(g.index) < len(all[winner].index),
				len(g.index) == len(all[winner].index) && g.tagged && !all[winner].tagged:
				winner, tie = j, false
			case len(g.index) == len(all[winner].index) && g.tagged == all[winner].tagged && j != winner:
				tie = true
			}
		}
		if winner == i && !tie {
			keep = append(keep, f)
		}
	}
	// Declaration order: sort by index path.
	sortByIndex(keep)
	return keep
}

// typeName is t's name as errors show it: "Doc", or the type literal of
// an unnamed struct.
func typeName(t reflect.Type) string {
	if t.Name() != "" {
		return t.Name()
	}
	return t.String()
}

func sortByIndex(fs []structField) {
	less := func(a, b []int) bool {
		for k := 0; k < len(a) && k < len(b); k++ {
			if a[k] != b[k] {
				return a[k] < b[k]
			}
		}
		return len(a) < len(b)
	}
	for i := 1; i < len(fs); i++ {
		for j := i; j > 0 && less(fs[j].index, fs[j-1].index); j-- {
			fs[j], fs[j-1] = fs[j-1], fs[j]
		}
	}
}

func hasOption(opts, want string) bool {
	for opts != "" {
		var o string
		o, opts, _ = strings.Cut(opts, ",")
		if o == want {
			return true
		}
	}
	return false
}

// isSpecialStruct reports struct types that cross as a value of their
// own rather than as a dict of fields.
func isSpecialStruct(t reflect.Type) bool { return t == timeType || t == bigIntType.Elem() }

// value returns the field's value in struct rv, and false when the field
// is left out: behind a nil embedded pointer, or empty with omitempty.
func (f structField) value(rv reflect.Value) (reflect.Value, bool) {
	v := rv
	for k, i := range f.index {
		if k > 0 && v.Kind() == reflect.Pointer {
			if v.IsNil() {
				return reflect.Value{}, false
			}
			v = v.Elem()
		}
		v = v.Field(i)
	}
	if f.omitEmpty && isEmptyValue(v) {
		return reflect.Value{}, false
	}
	return v, true
}

// wrap says which field an error is about.
func (f structField) wrap(err error) error {
	return fmt.Errorf("field %s (key %q): %w", f.goName, f.name, err)
}

// isEmptyValue is encoding/json's notion of empty, for omitempty.
func isEmptyValue(v reflect.Value) bool {
	switch v.Kind() {
	case reflect.Array, reflect.Map, reflect.Slice, reflect.String:
		return v.Len() == 0
	case reflect.Bool:
		return !v.Bool()
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return v.Int() == 0
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return v.Uint() == 0
	case reflect.Float32, reflect.Float64:
		return v.Float() == 0
	case reflect.Interface, reflect.Pointer:
		return v.IsNil()
	}
	return false
}

// derefChain follows pointers from rv to the first value that is not a
// pointer; an invalid Value stands for a nil pointer (None). A chain of
// pointers that never ends (a pointer that points to itself through
// interfaces) is an error.
func derefChain(rv reflect.Value) (reflect.Value, error) {
	for n := 0; ; n++ {
		if n > MaxDepth {
			return reflect.Value{}, notShareable("pointers chained deeper than %d (a pointer to itself?)", MaxDepth)
		}
		switch rv.Kind() {
		case reflect.Pointer, reflect.Interface:
			if rv.IsNil() {
				return reflect.Value{}, nil
			}
			rv = rv.Elem()
		default:
			return rv, nil
		}
	}
}

// Python's datetime and timedelta count microseconds, and datetime
// holds the years 1 to 9999; a Go value outside that is refused rather
// than silently rounded or clamped.
var (
	timeType     = reflect.TypeOf(time.Time{})
	durationType = reflect.TypeOf(time.Duration(0))
	minTime      = time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC)
	maxTime      = time.Date(9999, 12, 31, 23, 59, 59, 999999000, time.UTC)
)

// checkTime returns t in UTC, or an error if Python cannot hold it.
func checkTime(t time.Time) (time.Time, error) {
	if t.Nanosecond()%1000 != 0 {
		return time.Time{}, notShareable("time.Time %s has sub-microsecond precision, Python's datetime has not: Truncate or Round it to time.Microsecond first", t.Format(time.RFC3339Nano))
	}
	if t.Before(minTime) || t.After(maxTime) {
		return time.Time{}, notShareable("time.Time %s is outside the years 1 to 9999 of Python's datetime", t.Format(time.RFC3339Nano))
	}
	return t.UTC(), nil
}

// checkDuration returns d, or an error if Python cannot hold it.
func checkDuration(d time.Duration) (time.Duration, error) {
	if d%time.Microsecond != 0 {
		return 0, notShareable("time.Duration %s has sub-microsecond precision, Python's timedelta has not: Truncate or Round it to time.Microsecond first", d)
	}
	return d, nil
}

// timeMicros is t (checked by checkTime) in microseconds since the Unix
// epoch, the wire form of a datetime.
func timeMicros(t time.Time) int64 { return t.UnixMicro() }

// microsTime is the inverse of timeMicros.
func microsTime(us int64) time.Time { return time.UnixMicro(us).UTC() }

// Wire limits of datetime and timedelta, in microseconds.
var (
	minTimeMicros = minTime.UnixMicro()
	maxTimeMicros = maxTime.UnixMicro()
)

// maxDurationMicros bounds a timedelta's wire form: the microseconds
// that fit a time.Duration.
const maxDurationMicros = int64(1<<63-1) / 1000

// checkSetItems refuses set items Python could not hash, and items that
// are one item in Python, which a set would silently merge.
func checkSetItems(items []any) error {
	for _, it := range items {
		if err := checkHashable(it); err != nil {
			return err
		}
	}
	keys := make(Dict, len(items))
	for i, it := range items {
		keys[i] = Item{Key: it}
	}
	if err := checkKeys(keys); err != nil {
		return fmt.Errorf("set items: %w", err)
	}
	return nil
}

// checkHashable refuses canonical values Python cannot hash.
func checkHashable(v any) error {
	switch x := v.(type) {
	case []any, Dict, Set:
		return notShareable("a %s cannot be an item of a set (Python cannot hash it)", describe(v))
	case Tuple:
		for _, e := range x {
			if err := checkHashable(e); err != nil {
				return err
			}
		}
	case FrozenSet:
		for _, e := range x {
			if err := checkHashable(e); err != nil {
				return err
			}
		}
	}
	return nil
}
