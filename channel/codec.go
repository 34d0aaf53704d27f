package channel

// The wire format. Every value that crosses a channel, from Go or from any
// interpreter, crosses as these bytes; bindings/ has a C mirror of this
// file, so the format is deliberately small.
//
// A value is one tag byte followed by its payload. "uvarint" is an
// unsigned LEB128 varint exactly as Go's encoding/binary Uvarint reads and
// PutUvarint writes it: 7 bits per byte, least significant group first, the
// high bit (0x80) set on every byte but the last; at most 10 bytes, and
// always the shortest form (a final 0x00 byte after others is rejected).
//
//	tag  Python        payload
//	'N'  None          none
//	'T'  True          none
//	'F'  False         none
//	'i'  int           8 bytes: int64, two's complement, little-endian
//	'I'  int           uvarint n, then n bytes of ASCII: the value in
//	                   lowercase hex as Go's fmt "%#x" prints a *big.Int and
//	                   Python's int(s, 16) parses it: optional '-', "0x",
//	                   digits 0-9a-f with no leading zero ("-0x1f"). Only for
//	                   values outside int64; every int inside int64 must be
//	                   'i'.
//	'f'  float         8 bytes: IEEE 754 binary64 bits, little-endian (NaN
//	                   payloads, infinities and -0.0 cross unchanged)
//	's'  str           uvarint n, then n bytes. Go string bytes as they are;
//	                   Python encodes and decodes them as UTF-8 with
//	                   "surrogatepass". Not validated as UTF-8.
//	'b'  bytes         uvarint n, then n bytes
//	'p'  (pickled)     uvarint n, then n bytes of pickle data, which the
//	                   receiving interpreter unpickles (Go: Pickled)
//	'l'  list          uvarint count, then count values
//	't'  tuple         uvarint count, then count values
//	'd'  dict          uvarint count, then count pairs: key value key value...
//	                   in insertion order (Go: Dict)
//	'r'  RecvChannel   uvarint channel id (Go: *RecvChannel)
//	'w'  SendChannel   uvarint channel id (Go: *SendChannel)
//	'D'  datetime      8 bytes: int64 microseconds since 1970-01-01 00:00 UTC,
//	                   little-endian; an aware datetime (Python: tzinfo UTC;
//	                   Go: time.Time in UTC). Only years 1 to 9999.
//	'U'  timedelta     8 bytes: int64 microseconds, little-endian (Go:
//	                   time.Duration); at most what a time.Duration holds,
//	                   ±(2**63-1)//1000 µs.
//	'S'  set           uvarint count, then count hashable values (no 'l',
//	                   'd' or 'S' inside; Go: Set)
//	'Z'  frozenset     as 'S' (Go: FrozenSet)
//	'B'  memoryview    uvarint index into the Message's buffer list: an
//	                   out-of-band Buffer, received as a read-only view
//	                   (Go: *BufferView). Only inside a Message.
//	'O'  bytes         uvarint index into a call's out-of-band list: a Go
//	                   []byte the receiver copies into bytes straight from
//	                   the caller's memory. Only in call arguments
//	                   (AppendEncodeArgsOOB); never decoded by Go.
//
// Examples: None is "N"; 1 is "i\x01\x00\x00\x00\x00\x00\x00\x00";
// "hé" is "s\x03h\xc3\xa9"; (1, None) is "t\x02i\x01\0\0\0\0\0\0\0N";
// {"a": b""} is "d\x01s\x01ab\x00"; -2**64 is "I\x14-0x10000000000000000".
//
// Containers nest at most MaxDepth deep (a scalar at the top is depth 0, a
// list is 1, a list in a list 2, ...). A valid encoding is exactly one
// value with no bytes after it. The format is canonical: decoding valid
// bytes and encoding the result gives the same bytes back, except for a
// dict two of whose keys are one key in Python (1 and 1.0, say): Decode
// accepts it (Python never encodes one), Encode refuses to make one
// (ErrDuplicateKey).

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/big"
	"reflect"
	"sort"
	"time"
)

// MaxDepth is how deeply containers may nest in an encoded value. Encode
// enforces it too, which also stops it on a self-referencing structure.
const MaxDepth = 200

// EndResolver turns a channel end named in encoded data into its Go value.
// kind is 'r' (a *RecvChannel is expected) or 'w' (a *SendChannel). The
// Registry implements it.
type EndResolver interface {
	ResolveEnd(kind byte, id ID) (any, error)
}

// Encode returns the wire encoding (see the format above) of v. It accepts
// everything Normalize accepts and encodes v exactly as it would encode
// Normalize(v). Anything else gives an error wrapping ErrNotShareable that
// names the Go type, as do nesting deeper than MaxDepth and a dict whose
// keys Python would merge (ErrDuplicateKey). Buffers travel only inside a
// Message (EncodeMessage).
func Encode(v any) ([]byte, error) { return AppendEncode(make([]byte, 0, initialBuf), v) }

// initialBuf is the first allocation for an encoding: a scalar fits.
const initialBuf = 24

// AppendEncode appends the encoding of v to dst (see Encode). On error it
// returns dst unchanged in length.
func AppendEncode(dst []byte, v any) ([]byte, error) {
	e := encoder{buf: dst}
	if err := e.enc(v, 0); err != nil {
		return dst, err
	}
	return e.buf, nil
}

// AppendEncodeArgs appends to dst the encoding of Tuple(args), the
// argument tuple of a call into Python, with one difference: the tuple
// does not count toward MaxDepth, so an argument may nest exactly as
// deeply as a value passed to Encode (it would otherwise lose one level
// to a tuple the caller never wrote). The receiver must decode it with
// the same rule (bindings' si_decode_args does); Decode counts the tuple
// and refuses an argument at the limit. Errors are Encode's, saying which
// argument (from 1); on error it returns dst unchanged in length.
func AppendEncodeArgs(dst []byte, args []any) ([]byte, error) {
	enc, _, err := appendArgs(dst, args, false)
	return enc, err
}

// AppendEncodeArgsOOB is AppendEncodeArgs that leaves byte slices of
// OutOfBandMin bytes or more out of the encoding: each becomes an 'O' tag
// indexing oob, which still refers to the caller's memory. A receiver that
// is given oob alongside the encoding copies each one once, into the
// Python object, instead of twice (into the encoding, then out of it).
func AppendEncodeArgsOOB(dst []byte, args []any) (enc []byte, oob [][]byte, err error) {
	return appendArgs(dst, args, true)
}

func appendArgs(dst []byte, args []any, oob bool) ([]byte, [][]byte, error) {
	e := encoder{buf: dst, oob: oob}
	e.buf = append(e.buf, 't')
	e.buf = binary.AppendUvarint(e.buf, uint64(len(args)))
	for i, a := range args {
		if err := e.enc(a, 0); err != nil {
			return dst, nil, fmt.Errorf("argument %d: %w", i+1, err)
		}
	}
	return e.buf, e.oobBytes, nil
}

// EncodeMessage encodes v into a Message. Unlike Encode it accepts *Buffer
// and *BufferView values (encoded as 'B', the Message taking its own
// reference to the Buffer; the caller keeps its own), and it binds every
// channel end in v for as long as the Message lives (see Message), so the
// channel cannot vanish while the value is in flight. The caller owns the
// result: send it, or Release it.
func EncodeMessage(v any) (Message, error) {
	e := encoder{buf: make([]byte, 0, initialBuf), msg: true}
	if err := e.enc(v, 0); err != nil {
		newMessage(nil, e.bufs, e.bound, false).Release()
		return Message{}, err
	}
	return newMessage(e.buf, e.bufs, e.bound, true), nil
}

type encoder struct {
	buf   []byte
	msg   bool // Message mode: buffers allowed, ends bound
	bufs  []*Buffer
	bound []endBinding
	// oob: large byte slices go to oobBytes as 'O' tags
	// (AppendEncodeArgsOOB).
	oob      bool
	oobBytes [][]byte
}

func notShareable(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrNotShareable}, args...)...)
}

func (e *encoder) enc(v any, depth int) error {
	switch x := v.(type) {
	case nil:
		e.buf = append(e.buf, 'N')
	case bool:
		if x {
			e.buf = append(e.buf, 'T')
		} else {
			e.buf = append(e.buf, 'F')
		}
	case int64:
		e.int(x)
	case int:
		e.int(int64(x))
	case int32:
		e.int(int64(x))
	case int16:
		e.int(int64(x))
	case int8:
		e.int(int64(x))
	case uint8:
		e.int(int64(x))
	case uint16:
		e.int(int64(x))
	case uint32:
		e.int(int64(x))
	case uint:
		e.uint(uint64(x))
	case uint64:
		e.uint(x)
	case float64:
		e.float(x)
	case float32:
		e.float(float64(x))
	case string:
		e.buf = append(e.buf, 's')
		e.buf = binary.AppendUvarint(e.buf, uint64(len(x)))
		e.buf = append(e.buf, x...)
	case []byte:
		if e.oob && len(x) >= OutOfBandMin {
			e.buf = append(e.buf, 'O')
			e.buf = binary.AppendUvarint(e.buf, uint64(len(e.oobBytes)))
			e.oobBytes = append(e.oobBytes, x)
			break
		}
		e.bytes('b', x)
	case Pickled:
		e.bytes('p', x)
	case *big.Int:
		if x == nil {
			return notShareable("nil *big.Int")
		}
		e.big(x)
	case big.Int:
		e.big(&x)
	case Tuple:
		return e.seq('t', x, depth)
	case []any:
		return e.seq('l', x, depth)
	case time.Time:
		t, err := checkTime(x)
		if err != nil {
			return err
		}
		e.fixed('D', uint64(timeMicros(t)))
	case time.Duration:
		d, err := checkDuration(x)
		if err != nil {
			return err
		}
		e.fixed('U', uint64(int64(d/time.Microsecond)))
	case Set:
		return e.set('S', x, depth)
	case FrozenSet:
		return e.set('Z', x, depth)
	case Dict:
		if depth >= MaxDepth {
			return tooDeep()
		}
		if err := checkEncodedKeys(x, depth); err != nil {
			return err
		}
		e.buf = append(e.buf, 'd')
		e.buf = binary.AppendUvarint(e.buf, uint64(len(x)))
		for _, it := range x {
			if err := e.enc(it.Key, depth+1); err != nil {
				return err
			}
			if err := e.enc(it.Value, depth+1); err != nil {
				return err
			}
		}
	case *RecvChannel:
		if x == nil {
			return notShareable("nil *RecvChannel")
		}
		return e.end('r', x.id, x.c, false)
	case *SendChannel:
		if x == nil {
			return notShareable("nil *SendChannel")
		}
		return e.end('w', x.id, x.c, true)
	case *Buffer:
		if x == nil {
			return notShareable("nil *Buffer")
		}
		return e.buffer(x)
	case *BufferView:
		if x == nil || x.released.Load() {
			return notShareable("nil or released *BufferView")
		}
		return e.buffer(x.buf)
	default:
		return e.reflect(reflect.ValueOf(v), depth)
	}
	return nil
}

func tooDeep() error {
	return notShareable("containers nested deeper than %d (a self-referencing value?)", MaxDepth)
}

func (e *encoder) int(x int64) {
	e.buf = append(e.buf, 'i')
	e.buf = binary.LittleEndian.AppendUint64(e.buf, uint64(x))
}

func (e *encoder) uint(x uint64) {
	if x > math.MaxInt64 {
		e.big(new(big.Int).SetUint64(x))
		return
	}
	e.int(int64(x))
}

// fixed appends a tag and an 8-byte little-endian payload.
func (e *encoder) fixed(tag byte, x uint64) {
	e.buf = append(e.buf, tag)
	e.buf = binary.LittleEndian.AppendUint64(e.buf, x)
}

// set encodes a Set or FrozenSet, refusing items Python could not hold in
// one.
func (e *encoder) set(tag byte, x []any, depth int) error {
	items, err := normSet(x, depth)
	if err != nil {
		return err
	}
	return e.seq(tag, items, depth)
}

func (e *encoder) float(x float64) {
	e.buf = append(e.buf, 'f')
	e.buf = binary.LittleEndian.AppendUint64(e.buf, math.Float64bits(x))
}

func (e *encoder) bytes(tag byte, b []byte) {
	e.buf = append(e.buf, tag)
	e.buf = binary.AppendUvarint(e.buf, uint64(len(b)))
	e.buf = append(e.buf, b...)
}

// bigText is x in the 'I' text form: "%#x", e.g. "-0x1f".
func bigText(x *big.Int) string {
	t := x.Text(16)
	if t[0] == '-' {
		return "-0x" + t[1:]
	}
	return "0x" + t
}

func (e *encoder) big(x *big.Int) {
	if x.IsInt64() {
		e.int(x.Int64())
		return
	}
	t := bigText(x)
	e.buf = append(e.buf, 'I')
	e.buf = binary.AppendUvarint(e.buf, uint64(len(t)))
	e.buf = append(e.buf, t...)
}

func (e *encoder) seq(tag byte, x []any, depth int) error {
	if depth >= MaxDepth {
		return tooDeep()
	}
	e.buf = append(e.buf, tag)
	e.buf = binary.AppendUvarint(e.buf, uint64(len(x)))
	for _, it := range x {
		if err := e.enc(it, depth+1); err != nil {
			return err
		}
	}
	return nil
}

func (e *encoder) end(tag byte, id ID, c *channel, send bool) error {
	if e.msg {
		if c == nil {
			return fmt.Errorf("channel %d: end not from a Registry: %w", id, ErrNotFound)
		}
		if err := c.bind(send); err != nil {
			return err
		}
		e.bound = append(e.bound, endBinding{c, send})
	}
	e.buf = append(e.buf, tag)
	e.buf = binary.AppendUvarint(e.buf, uint64(id))
	return nil
}

func (e *encoder) buffer(b *Buffer) error {
	if !e.msg {
		return notShareable("a Buffer travels only inside a Message (EncodeMessage, Send)")
	}
	idx := -1
	for i, have := range e.bufs {
		if have == b {
			idx = i
			break
		}
	}
	if idx < 0 {
		b.Retain()
		idx = len(e.bufs)
		e.bufs = append(e.bufs, b)
	}
	e.buf = append(e.buf, 'B')
	e.buf = binary.AppendUvarint(e.buf, uint64(idx))
	return nil
}

// value encodes a value reached by reflection (a field, an element):
// plain scalars and ordinary structs directly, without boxing them into
// an interface, everything else as enc does.
func (e *encoder) value(rv reflect.Value, depth int) error {
	t := rv.Type()
	if isPlainScalar(t) || t.Kind() == reflect.Struct && !isSpecialStruct(t) {
		return e.reflect(rv, depth)
	}
	return e.enc(rv.Interface(), depth)
}

// isPlainScalar reports a bool, integer, float or string type that
// encodes by its kind alone (time.Duration is an integer with a wire
// form of its own).
func isPlainScalar(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.Bool, reflect.String, reflect.Float32, reflect.Float64,
		reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return t != durationType
	}
	return false
}

// reflect encodes the kinds Normalize handles by reflection, with the same
// results, but bounded by MaxDepth.
func (e *encoder) reflect(rv reflect.Value, depth int) error {
	switch rv.Kind() {
	case reflect.Invalid:
		e.buf = append(e.buf, 'N')
	case reflect.Pointer:
		target, err := derefChain(rv)
		if err != nil {
			return err
		}
		if !target.IsValid() {
			e.buf = append(e.buf, 'N')
			return nil
		}
		return e.enc(target.Interface(), depth)
	case reflect.Struct:
		if depth >= MaxDepth {
			return tooDeep()
		}
		fields, err := structFields(rv.Type())
		if err != nil {
			return err
		}
		n := 0
		for _, f := range fields {
			if _, ok := f.value(rv); ok {
				n++
			}
		}
		e.buf = append(e.buf, 'd')
		e.buf = binary.AppendUvarint(e.buf, uint64(n))
		for _, f := range fields {
			fv, ok := f.value(rv)
			if !ok {
				continue
			}
			e.buf = append(e.buf, 's')
			e.buf = binary.AppendUvarint(e.buf, uint64(len(f.name)))
			e.buf = append(e.buf, f.name...)
			if err := e.value(fv, depth+1); err != nil {
				return f.wrap(err)
			}
		}
	case reflect.Bool:
		return e.enc(rv.Bool(), depth)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		e.int(rv.Int())
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		e.uint(rv.Uint())
	case reflect.Float32, reflect.Float64:
		e.float(rv.Float())
	case reflect.String:
		x := rv.String()
		e.buf = append(e.buf, 's')
		e.buf = binary.AppendUvarint(e.buf, uint64(len(x)))
		e.buf = append(e.buf, x...)
	case reflect.Slice, reflect.Array:
		if rv.Kind() == reflect.Slice && rv.Type().Elem().Kind() == reflect.Uint8 {
			e.bytes('b', rv.Bytes())
			return nil
		}
		if depth >= MaxDepth {
			return tooDeep()
		}
		e.buf = append(e.buf, 'l')
		e.buf = binary.AppendUvarint(e.buf, uint64(rv.Len()))
		for i := 0; i < rv.Len(); i++ {
			if err := e.value(rv.Index(i), depth+1); err != nil {
				return err
			}
		}
	case reflect.Map:
		if depth >= MaxDepth {
			return tooDeep()
		}
		items := make(Dict, 0, rv.Len())
		iter := rv.MapRange()
		for iter.Next() {
			k, err := normalize(iter.Key().Interface(), depth+1)
			if err != nil {
				return err
			}
			items = append(items, Item{k, iter.Value().Interface()})
		}
		sort.SliceStable(items, func(i, j int) bool { return lessKey(items[i].Key, items[j].Key) })
		if keysMayCollide(rv.Type().Key()) {
			if err := checkKeys(items); err != nil {
				return err
			}
		}
		e.buf = append(e.buf, 'd')
		e.buf = binary.AppendUvarint(e.buf, uint64(len(items)))
		for _, it := range items {
			if err := e.enc(it.Key, depth+1); err != nil {
				return err
			}
			if err := e.enc(it.Value, depth+1); err != nil {
				return err
			}
		}
	default:
		return notShareable("Go type %s", rv.Type())
	}
	return nil
}

// Decode parses one encoded value (see the format above) into its
// canonical Go form (the types Normalize returns), resolving channel ends
// through ends (which may be nil if data names none). It never panics:
// bad input (unknown tag, truncated payload, a length beyond the input,
// a non-minimal varint, a non-canonical 'I', nesting deeper than MaxDepth,
// trailing bytes, a 'B' outside a Message) gives an error wrapping
// ErrCorrupt. Strings and byte slices are copies; data may be reused.
func Decode(data []byte, ends EndResolver) (any, error) {
	d := decoder{data: data, ends: ends, build: true}
	return d.top()
}

// OutOfBandMin is the size from which AppendEncodeArgsOOB leaves a byte
// slice out of the encoding: below it, the copy into the encoding costs
// less than the bookkeeping that would avoid it.
const OutOfBandMin = 64 << 10

// DecodeMessage is Decode for a Message: its 'B' tags become *BufferView
// values, each holding its own reference to the Buffer (Release them).
// The Message itself is unchanged and still needs its own Release.
func DecodeMessage(m Message, ends EndResolver) (any, error) {
	d := decoder{data: m.data, ends: ends, build: true, msg: true, bufs: m.bufs()}
	return d.top()
}

type decoder struct {
	data  []byte
	off   int
	ends  EndResolver
	build bool // build values (else only validate)
	msg   bool // 'B' allowed
	bufs  []*Buffer
	nbufs int       // when !build
	reg   *Registry // when !build: bind every end named, into bound
	bound []endBinding
	views []*BufferView
	inSet int // > 0 while reading a set's items, which must be hashable
}

func (d *decoder) corrupt(format string, args ...any) error {
	return fmt.Errorf("%w: at byte %d: %s", ErrCorrupt, d.off, fmt.Sprintf(format, args...))
}

func (d *decoder) top() (any, error) {
	v, err := d.value(0)
	if err == nil && d.off != len(d.data) {
		err = d.corrupt("%d bytes after the value", len(d.data)-d.off)
	}
	if err != nil {
		for _, bv := range d.views {
			bv.Release()
		}
		return nil, err
	}
	return v, nil
}

func (d *decoder) uvarint() (uint64, error) {
	x, n := binary.Uvarint(d.data[d.off:])
	if n <= 0 {
		if n == 0 {
			return 0, d.corrupt("truncated varint")
		}
		return 0, d.corrupt("varint overflows 64 bits")
	}
	if n > 1 && d.data[d.off+n-1] == 0 {
		return 0, d.corrupt("non-minimal varint")
	}
	d.off += n
	return x, nil
}

// length reads a byte length that must fit in the rest of the input.
func (d *decoder) length() (int, error) {
	n, err := d.uvarint()
	if err != nil {
		return 0, err
	}
	if n > uint64(len(d.data)-d.off) {
		return 0, d.corrupt("length %d beyond the input (%d bytes left)", n, len(d.data)-d.off)
	}
	return int(n), nil
}

// count reads an item count; every item takes at least per bytes.
func (d *decoder) count(per int) (int, error) {
	n, err := d.uvarint()
	if err != nil {
		return 0, err
	}
	if n > uint64((len(d.data)-d.off)/per) {
		return 0, d.corrupt("count %d beyond the input (%d bytes left)", n, len(d.data)-d.off)
	}
	return int(n), nil
}

func (d *decoder) fixed8() (uint64, error) {
	if len(d.data)-d.off < 8 {
		return 0, d.corrupt("truncated 8-byte payload")
	}
	x := binary.LittleEndian.Uint64(d.data[d.off:])
	d.off += 8
	return x, nil
}

// value reads one value (depth containers deep): its tag, then the
// payload as the format table above says.
func (d *decoder) value(depth int) (any, error) {
	if d.off >= len(d.data) {
		return nil, d.corrupt("unexpected end of input")
	}
	tag := d.data[d.off]
	d.off++
	if d.inSet > 0 && (tag == 'l' || tag == 'd' || tag == 'S') {
		d.off--
		return nil, d.corrupt("unhashable %c inside a set", tag)
	}
	switch tag {
	case 'N':
		return nil, nil
	case 'T':
		return true, nil
	case 'F':
		return false, nil
	case 'i':
		x, err := d.fixed8()
		if err != nil || !d.build {
			return nil, err
		}
		return int64(x), nil
	case 'f':
		x, err := d.fixed8()
		if err != nil || !d.build {
			return nil, err
		}
		return math.Float64frombits(x), nil
	case 'D':
		x, err := d.fixed8()
		if err != nil {
			return nil, err
		}
		if us := int64(x); us < minTimeMicros || us > maxTimeMicros {
			d.off -= 8
			return nil, d.corrupt("datetime %d µs is outside the years 1 to 9999", us)
		}
		if !d.build {
			return nil, nil
		}
		return microsTime(int64(x)), nil
	case 'U':
		x, err := d.fixed8()
		if err != nil {
			return nil, err
		}
		if us := int64(x); us < -maxDurationMicros || us > maxDurationMicros {
			d.off -= 8
			return nil, d.corrupt("timedelta %d µs is beyond a time.Duration", us)
		}
		if !d.build {
			return nil, nil
		}
		return time.Duration(int64(x)) * time.Microsecond, nil
	case 'I':
		return d.bigInt()
	case 's', 'b', 'p':
		n, err := d.length()
		if err != nil {
			return nil, err
		}
		b := d.data[d.off : d.off+n]
		d.off += n
		if !d.build {
			return nil, nil
		}
		if tag == 's' {
			return string(b), nil
		}
		b = append([]byte(nil), b...)
		if tag == 'b' {
			return b, nil
		}
		return Pickled(b), nil
	case 'l', 't', 'S', 'Z':
		return d.sequence(tag, depth)
	case 'd':
		return d.dict(depth)
	case 'r', 'w':
		return d.end(tag)
	case 'B':
		return d.buffer()
	}
	d.off--
	return nil, d.corrupt("unknown tag 0x%02x", tag)
}

// bigInt reads the payload of an 'I'.
func (d *decoder) bigInt() (any, error) {
	n, err := d.length()
	if err != nil {
		return nil, err
	}
	start := d.off
	d.off += n
	z, err := parseBig(d.data[start:d.off])
	if err != nil {
		d.off = start
		return nil, d.corrupt("%v", err)
	}
	return z, nil
}

// container checks that a container at depth may nest, and reads its item
// count, each item taking at least per bytes.
func (d *decoder) container(depth, per int) (int, error) {
	if depth >= MaxDepth {
		return 0, d.corrupt("containers nested deeper than %d", MaxDepth)
	}
	return d.count(per)
}

// sequence reads the payload of an 'l', 't', 'S' or 'Z' at depth.
func (d *decoder) sequence(tag byte, depth int) (any, error) {
	n, err := d.container(depth, 1)
	if err != nil {
		return nil, err
	}
	var items []any
	if d.build {
		items = make([]any, n)
	}
	isSet := tag == 'S' || tag == 'Z'
	if isSet {
		d.inSet++
	}
	for i := 0; i < n; i++ {
		v, err := d.value(depth + 1)
		if err != nil {
			return nil, err
		}
		if d.build {
			items[i] = v
		}
	}
	if isSet {
		d.inSet--
	}
	if !d.build {
		return nil, nil
	}
	switch tag {
	case 't':
		return Tuple(items), nil
	case 'S':
		return Set(items), nil
	case 'Z':
		return FrozenSet(items), nil
	}
	return items, nil
}

// dict reads the payload of a 'd' at depth.
func (d *decoder) dict(depth int) (any, error) {
	n, err := d.container(depth, 2)
	if err != nil {
		return nil, err
	}
	var items Dict
	if d.build {
		items = make(Dict, n)
	}
	for i := 0; i < n; i++ {
		k, err := d.value(depth + 1)
		if err != nil {
			return nil, err
		}
		v, err := d.value(depth + 1)
		if err != nil {
			return nil, err
		}
		if d.build {
			items[i] = Item{k, v}
		}
	}
	if !d.build {
		return nil, nil
	}
	return items, nil
}

// end reads the payload of an 'r' or 'w': resolved through d.ends when
// building, bound into d.bound when checking a Message for d.reg.
func (d *decoder) end(tag byte) (any, error) {
	start := d.off
	x, err := d.uvarint()
	if err != nil {
		return nil, err
	}
	if x > math.MaxInt64 {
		d.off = start
		return nil, d.corrupt("channel id %d out of range", x)
	}
	if !d.build {
		if d.reg != nil {
			return nil, d.bindEnd(tag, ID(x))
		}
		return nil, nil
	}
	if d.ends == nil {
		return nil, fmt.Errorf("channel %d: decoding a channel end needs an EndResolver", x)
	}
	return d.ends.ResolveEnd(tag, ID(x))
}

// buffer reads the payload of a 'B' (only inside a Message) into a view
// of the Buffer it indexes.
func (d *decoder) buffer() (any, error) {
	if !d.msg {
		d.off--
		return nil, d.corrupt("buffer reference outside a Message")
	}
	start := d.off
	x, err := d.uvarint()
	if err != nil {
		return nil, err
	}
	nbufs := d.nbufs
	if d.build {
		nbufs = len(d.bufs)
	}
	if x >= uint64(nbufs) {
		d.off = start
		return nil, d.corrupt("buffer index %d, the Message has %d", x, nbufs)
	}
	if !d.build {
		return nil, nil
	}
	v := newView(d.bufs[x])
	d.views = append(d.views, v)
	return v, nil
}

// bindEnd binds the end named in a Message being sent (see Message).
func (d *decoder) bindEnd(kind byte, id ID) error {
	target := d.reg.get(id)
	if target == nil {
		return errf(id, ErrNotFound, "not found")
	}
	send := kind == 'w'
	if err := target.bind(send); err != nil {
		return err
	}
	d.bound = append(d.bound, endBinding{target, send})
	return nil
}

// parseBig parses canonical 'I' text: -?0x[1-9a-f][0-9a-f]*, outside int64.
func parseBig(t []byte) (*big.Int, error) {
	s := t
	neg := len(s) > 0 && s[0] == '-'
	if neg {
		s = s[1:]
	}
	if len(s) < 3 || s[0] != '0' || s[1] != 'x' {
		return nil, fmt.Errorf("big int text %q: want -?0x<hex>", t)
	}
	s = s[2:]
	if s[0] == '0' {
		return nil, fmt.Errorf("big int text %q: leading zero", t)
	}
	for _, c := range s {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return nil, fmt.Errorf("big int text %q: not lowercase hex", t)
		}
	}
	z, ok := new(big.Int).SetString(string(s), 16)
	if !ok {
		return nil, fmt.Errorf("big int text %q: not hex", t)
	}
	if neg {
		z.Neg(z)
	}
	if z.IsInt64() {
		return nil, fmt.Errorf("big int %q fits int64: must be encoded as 'i'", t)
	}
	return z, nil
}
