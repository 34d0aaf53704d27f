package channel

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/maphash"
	"math"
	"math/big"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"
)

// ErrDuplicateKey reports a dict (a Dict, or a Go map with interface
// keys) two of whose keys are one key in Python: Python's dict treats
// keys that compare equal as the same key (1, 1.0 and True; 0, 0.0, -0.0
// and False; (1,) and (1.0,); the same str twice), so sending such a dict
// would silently keep one value and drop the others. Encode, Normalize
// and every Send refuse it instead; errors wrapping ErrDuplicateKey also
// wrap ErrNotShareable and name both keys.
var ErrDuplicateKey = errors.New("duplicate dict key")

// duplicateKeyError names the two keys that would merge.
type duplicateKeyError struct {
	first, second any
}

// Error names both keys as Python would print them, with their types.
func (e *duplicateKeyError) Error() string {
	return fmt.Sprintf("%v: %v: %s and %s are the same key in Python", ErrNotShareable, ErrDuplicateKey,
		keyText(e.first), keyText(e.second))
}

// Unwrap returns ErrDuplicateKey and ErrNotShareable.
func (e *duplicateKeyError) Unwrap() []error { return []error{ErrDuplicateKey, ErrNotShareable} }

// keysMayCollide reports whether a Go map with keys of type t can hold two
// keys that Python sees as one. Distinct Go bools, integers, strings or
// floats (0.0 and -0.0 are one Go key; NaNs are never equal in Python
// either) stay distinct in Python, and arrays become lists, which Python
// refuses as keys anyway; interface keys can mix types.
func keysMayCollide(t reflect.Type) bool { return t.Kind() == reflect.Interface }

// pairwiseKeys is the dict size up to which checkKeys compares every pair
// rather than hashing: cheaper for the small dicts most values carry.
const pairwiseKeys = 8

// checkKeys returns a duplicateKeyError for the first two keys of d (in
// order of the later one) that are one key in Python. The keys must be
// canonical (see Normalize) or *Buffer/*BufferView.
func checkKeys(d Dict) error {
	n := len(d)
	if n < 2 {
		return nil
	}
	if n <= pairwiseKeys {
		for j := 1; j < n; j++ {
			for i := 0; i < j; i++ {
				if keyEqual(d[i].Key, d[j].Key) {
					return &duplicateKeyError{d[i].Key, d[j].Key}
				}
			}
		}
		return nil
	}
	type hashed struct {
		h   uint64
		idx int
	}
	hs := make([]hashed, 0, n)
	var h maphash.Hash
	h.SetSeed(keySeed)
	for i, it := range d {
		h.Reset()
		if keyHash(&h, it.Key) {
			hs = append(hs, hashed{h.Sum64(), i})
		}
	}
	slices.SortFunc(hs, func(a, b hashed) int {
		if a.h != b.h {
			if a.h < b.h {
				return -1
			}
			return 1
		}
		return a.idx - b.idx
	})
	first, second := -1, -1
	for g := 0; g < len(hs); {
		end := g + 1
		for end < len(hs) && hs[end].h == hs[g].h {
			end++
		}
		// Within a group of equal hashes, find the earliest-ending pair.
		for j := g + 1; j < end; j++ {
			if second >= 0 && hs[j].idx > second {
				break
			}
			for i := g; i < j; i++ {
				if keyEqual(d[hs[i].idx].Key, d[hs[j].idx].Key) {
					first, second = hs[i].idx, hs[j].idx
					break
				}
			}
		}
		g = end
	}
	if second >= 0 {
		return &duplicateKeyError{d[first].Key, d[second].Key}
	}
	return nil
}

// keySeed seeds the key hashes; fixed for the process.
var keySeed = maphash.MakeSeed()

// checkEncodedKeys is checkKeys for the keys of a Dict being encoded,
// which may be any Go value Encode accepts: keys of other Go types are
// compared in their canonical form.
func checkEncodedKeys(d Dict, depth int) error {
	if len(d) < 2 {
		return nil
	}
	keys := d
	for i, it := range d {
		if isKeyForm(it.Key) {
			continue
		}
		keys = make(Dict, len(d))
		copy(keys, d[:i])
		for j := i; j < len(d); j++ {
			k := d[j].Key
			if !isKeyForm(k) {
				var err error
				if k, err = normalize(k, depth+1); err != nil {
					// Encoding the key reports the problem; a key
					// that cannot be sent cannot collide either.
					k = unequalKey{}
				}
			}
			keys[j] = Item{Key: k}
		}
		break
	}
	return checkKeys(keys)
}

// isKeyForm reports whether keyEqual and keyHash take k as it is.
func isKeyForm(k any) bool {
	switch k.(type) {
	case nil, bool, int64, float64, string, []byte, *big.Int, *RecvChannel, *SendChannel, *Buffer, *BufferView, time.Time, time.Duration:
		return true
	}
	return false
}

// unequalKey stands for a key that equals no other.
type unequalKey struct{}

// numKey is a number as Python's == sees it: integral values (bools,
// ints, integral floats) as an int, other floats as themselves.
type numKey struct {
	kind byte // 'i': i; 'I': b (outside int64); 'f': f (not integral)
	i    int64
	b    *big.Int
	f    float64
}

// twoTo63 is 2**63, the first float64 above every int64.
const twoTo63 = 1 << 63

// number returns k as a numKey if it is a Python number that equals
// something: NaN equals nothing (each decoded NaN is its own object, and
// Python's dict compares identity before ==).
func number(k any) (numKey, bool) {
	switch x := k.(type) {
	case bool:
		if x {
			return numKey{kind: 'i', i: 1}, true
		}
		return numKey{kind: 'i'}, true
	case int64:
		return numKey{kind: 'i', i: x}, true
	case *big.Int:
		if x.IsInt64() {
			return numKey{kind: 'i', i: x.Int64()}, true
		}
		return numKey{kind: 'I', b: x}, true
	case float64:
		switch {
		case math.IsNaN(x):
			return numKey{}, false
		case math.IsInf(x, 0) || x != math.Trunc(x):
			return numKey{kind: 'f', f: x}, true
		case -twoTo63 <= x && x < twoTo63:
			return numKey{kind: 'i', i: int64(x)}, true
		}
		b, _ := new(big.Float).SetFloat64(x).Int(nil) // exact: x is integral
		return numKey{kind: 'I', b: b}, true
	}
	return numKey{}, false
}

// bytesLike returns the contents of a bytes key: Python's bytes and
// read-only memoryviews (how buffers arrive) are equal when their bytes
// are, and hash alike.
func bytesLike(k any) ([]byte, bool) {
	switch x := k.(type) {
	case []byte:
		return x, true
	case *Buffer:
		return x.Bytes(), true
	case *BufferView:
		return x.Bytes(), x.Bytes() != nil
	}
	return nil, false
}

// keyEqual reports whether a and b are one dict key in Python.
func keyEqual(a, b any) bool {
	if x, ok := number(a); ok {
		y, ok := number(b)
		if !ok || x.kind != y.kind {
			return false
		}
		switch x.kind {
		case 'i':
			return x.i == y.i
		case 'I':
			return x.b.Cmp(y.b) == 0
		}
		return x.f == y.f
	}
	if x, ok := bytesLike(a); ok {
		y, ok := bytesLike(b)
		return ok && string(x) == string(y)
	}
	switch x := a.(type) {
	case nil:
		return b == nil
	case string:
		y, ok := b.(string)
		return ok && x == y
	case Tuple:
		y, ok := b.(Tuple)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !keyEqual(x[i], y[i]) {
				return false
			}
		}
		return true
	case time.Time:
		y, ok := b.(time.Time)
		return ok && x.Equal(y)
	case time.Duration:
		y, ok := b.(time.Duration)
		return ok && x == y
	case *RecvChannel:
		y, ok := b.(*RecvChannel)
		return ok && x.id == y.id
	case *SendChannel:
		y, ok := b.(*SendChannel)
		return ok && x.id == y.id
	}
	// Lists and dicts are unhashable (Python refuses them as keys);
	// pickled objects define their own equality, which Go cannot know.
	return false
}

// keyHash writes k to h so that keys keyEqual calls equal hash alike, and
// reports false for a key that equals nothing (checkKeys skips it).
func keyHash(h *maphash.Hash, k any) bool {
	var scratch [9]byte
	if x, ok := number(k); ok {
		switch x.kind {
		case 'i':
			scratch[0] = 'i'
			binary.LittleEndian.PutUint64(scratch[1:], uint64(x.i))
			h.Write(scratch[:])
		case 'I':
			h.WriteByte('I')
			h.WriteString(x.b.String())
		default:
			scratch[0] = 'f'
			binary.LittleEndian.PutUint64(scratch[1:], math.Float64bits(x.f))
			h.Write(scratch[:])
		}
		return true
	}
	if x, ok := bytesLike(k); ok {
		h.WriteByte('b')
		h.Write(binary.AppendUvarint(scratch[:0], uint64(len(x))))
		h.Write(x)
		return true
	}
	switch x := k.(type) {
	case nil:
		h.WriteByte('N')
	case string:
		h.WriteByte('s')
		h.Write(binary.AppendUvarint(scratch[:0], uint64(len(x))))
		h.WriteString(x)
	case Tuple:
		h.WriteByte('t')
		h.Write(binary.AppendUvarint(scratch[:0], uint64(len(x))))
		for _, e := range x {
			if !keyHash(h, e) {
				return false
			}
		}
	case time.Time:
		scratch[0] = 'D'
		binary.LittleEndian.PutUint64(scratch[1:], uint64(x.UnixMicro()))
		h.Write(scratch[:])
	case time.Duration:
		scratch[0] = 'U'
		binary.LittleEndian.PutUint64(scratch[1:], uint64(x))
		h.Write(scratch[:])
	case *RecvChannel:
		h.WriteByte('r')
		h.Write(binary.AppendUvarint(scratch[:0], uint64(x.id)))
	case *SendChannel:
		h.WriteByte('w')
		h.Write(binary.AppendUvarint(scratch[:0], uint64(x.id)))
	default:
		return false
	}
	return true
}

// keyText shows a key as Python would print it, with its Python type.
func keyText(k any) string {
	typ := describe(k)
	switch k.(type) {
	case *Buffer, *BufferView:
		typ = "memoryview"
	}
	return keyRepr(k) + " (" + typ + ")"
}

func keyRepr(k any) string {
	switch x := k.(type) {
	case nil:
		return "None"
	case bool:
		if x {
			return "True"
		}
		return "False"
	case float64:
		switch {
		case math.IsInf(x, 1):
			return "inf"
		case math.IsInf(x, -1):
			return "-inf"
		case math.IsNaN(x):
			return "nan"
		}
		s := strconv.FormatFloat(x, 'g', -1, 64)
		if !strings.ContainsAny(s, ".e") {
			s += ".0"
		}
		return s
	case string:
		return strconv.Quote(x)
	case []byte:
		return "b" + strconv.Quote(string(x))
	case *Buffer:
		return "b" + strconv.Quote(string(x.Bytes()))
	case *BufferView:
		return "b" + strconv.Quote(string(x.Bytes()))
	case Tuple:
		parts := make([]string, len(x))
		for i, e := range x {
			parts[i] = keyRepr(e)
		}
		if len(parts) == 1 {
			return "(" + parts[0] + ",)"
		}
		return "(" + strings.Join(parts, ", ") + ")"
	}
	return fmt.Sprint(k)
}
