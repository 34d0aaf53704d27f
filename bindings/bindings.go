// Package bindings is the C side of subinterp: the `subinterp` Python
// module every interpreter sees, and the conversion of Python objects to and
// from the wire format of package channel.
//
// Every function here that touches Python must run on the interpreter's own
// thread with that interpreter's GIL held; package cpython guarantees this.
// bindings reaches the rest of the Go side only through the Host that
// cpython installs, so it never imports cpython.
package bindings

/*
#cgo pkg-config: python3-embed
#cgo CFLAGS: -I${SRCDIR}/../include -O2 -Wall -Wno-unused-function
#include "bindings.h"
#include <stdlib.h>
*/
import "C"

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"runtime/cgo"
	"strings"
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/subinterp/subinterp/channel"
)

// InterpreterInfo describes one live interpreter for the Python module.
type InterpreterInfo struct {
	ID       int64
	Isolated bool // has its own GIL
	Whence   Whence
}

// Whence says who created an interpreter (PEP 734's Interpreter.whence).
type Whence int

const (
	// WhenceRuntime: the main interpreter.
	WhenceRuntime Whence = iota
	// WhencePython: created by Python code (subinterp.create() or
	// interpreters.create()); its Python objects own it.
	WhencePython
	// WhenceGo: created by Go code (Runtime.NewInterpreter, a Pool).
	WhenceGo
)

// Host is what the Python module needs from the Go runtime. Its blocking
// methods are called with the calling interpreter's GIL released.
type Host interface {
	// Interpreters lists every live interpreter, the main one first.
	Interpreters() []InterpreterInfo
	// Interpreter describes one interpreter by id.
	Interpreter(id int64) (InterpreterInfo, bool)
	// Channels is the runtime's channel registry.
	Channels() *channel.Registry
	// Create makes an interpreter (isolated: own GIL) and returns its id;
	// if ctx ends meanwhile it closes it again and fails. Python
	// Interpreter objects own it (InterpreterRef).
	Create(ctx context.Context, isolated bool) (int64, error)
	// InterpreterRef adds delta to the number of Python Interpreter
	// objects for interpreter id; one Python created is closed when none
	// is left (delta 0 only checks).
	InterpreterRef(id int64, delta int)
	// Run runs src in interpreter target's __main__ after binding the
	// encoded dict bind, and waits; ctx ends the wait (and interrupts the
	// code). A Python exception in target comes back as *Exception.
	// Errors wrap ErrNoInterpreter or ErrInterpreterBusy where they apply.
	Run(ctx context.Context, target int64, src string, bind []byte) error
	// CallIn calls the function fn names in interpreter target with the
	// encoded argument tuple (decoded with pickle fallback there) and
	// returns its encoded result (unshareable parts pickled: an error
	// wrapping channel.ErrNotShareable if that fails), as Run does
	// otherwise.
	CallIn(ctx context.Context, target int64, fn string, args []byte) ([]byte, error)
	// Close ends interpreter id, joining its Python threads until ctx ends.
	// Errors wrap ErrNoInterpreter or ErrInterpreterBusy where they apply.
	Close(ctx context.Context, id int64) error
	// IsRunning reports whether interpreter id runs code, and whether it
	// exists.
	IsRunning(id int64) (running, ok bool)
	// WaitContext is the context blocking calls made by Python code of
	// interpreter id on OS thread thread (PyThread_get_thread_ident) wait
	// under: for the interpreter's own thread it ends when the Go call
	// running there is cancelled or interrupted.
	WaitContext(id int64, thread uint64) context.Context
	// CodeEnded tells the runtime that the Go call running on interpreter
	// id's own thread (if thread is that thread) has no more of its code to
	// run: what follows, describing its exception, is Python code too, and
	// an interrupt raised again there would only cut the description
	// short. Called with the GIL held.
	CodeEnded(id int64, thread uint64)
	// HasHostFunc reports whether a Go function is registered as name.
	HasHostFunc(name string) bool
	// HostFuncNames lists the registered Go functions.
	HostFuncNames() []string
	// CallHost calls the Go function name for Python code of interpreter
	// caller with the encoded argument tuple and returns the encoded
	// result. Argument errors wrap ErrHostArguments.
	CallHost(ctx context.Context, caller int64, name string, args []byte) ([]byte, error)
}

// host is installed once by the runtime singleton (cpython.Initialize): C
// callbacks have no other way to find it.
var host atomic.Pointer[Host]

// SetHost installs the Host the Python module calls back into.
func SetHost(h Host) { host.Store(&h) }

func currentHost() Host {
	if h := host.Load(); h != nil {
		return *h
	}
	return nil
}

var registered atomic.Bool

// Register adds the subinterp module to CPython's table of builtin modules,
// which every interpreter imports from. It must run before Py_Initialize.
func Register() error {
	if registered.Swap(true) {
		return nil
	}
	name := C.CString("subinterp")
	// CPython keeps the name pointer for the life of the process.
	if C.PyImport_AppendInittab(name, (*[0]byte)(C.PyInit_subinterp)) != 0 {
		return errors.New("subinterp: cannot register the builtin module")
	}
	return nil
}

// Exception is a Python exception taken off the interpreter.
type Exception struct {
	Type      string // qualified name, e.g. "ZeroDivisionError", "json.decoder.JSONDecodeError"
	Message   string // str(exc)
	Traceback string // traceback.format_exception(exc), joined
}

func (e *Exception) Error() string {
	if e.Message == "" {
		return e.Type
	}
	return e.Type + ": " + e.Message
}

// takeException removes the pending Python exception and describes it.
func takeException() *Exception {
	if h := currentHost(); h != nil {
		h.CodeEnded(int64(C.PyInterpreterState_GetID(C.PyInterpreterState_Get())), uint64(C.PyThread_get_thread_ident()))
	}
	var typ, msg, tb *C.PyObject
	if C.si_error_info(&typ, &msg, &tb) < 0 {
		return &Exception{Type: "SystemError", Message: "error return without exception set"}
	}
	return &Exception{Type: takeStr(typ), Message: takeStr(msg), Traceback: takeStr(tb)}
}

// takeStr reads a str and releases the reference.
func takeStr(o *C.PyObject) string {
	if o == nil {
		return ""
	}
	defer C.si_decref(o)
	return pyString(o)
}

// cstr passes Go string bytes to C without a copy; C must not keep them.
func cstr(s string) (*C.char, C.Py_ssize_t) {
	if len(s) == 0 {
		return (*C.char)(unsafe.Pointer(&zero)), 0
	}
	return (*C.char)(unsafe.Pointer(unsafe.StringData(s))), C.Py_ssize_t(len(s))
}

func cbytes(b []byte) (*C.char, C.Py_ssize_t) {
	if len(b) == 0 {
		return (*C.char)(unsafe.Pointer(&zero)), 0
	}
	return (*C.char)(unsafe.Pointer(&b[0])), C.Py_ssize_t(len(b))
}

var zero byte

// Exec runs src in __main__ after binding the names in bind (an encoded
// channel.Dict, or nil). A Python exception comes back as *Exception.
func Exec(src string, bind []byte) error {
	s, n := cstr(src)
	b, bn := cbytes(bind)
	if C.si_exec(s, n, b, bn) < 0 {
		return takeException()
	}
	return nil
}

// Eval evaluates expr in __main__ and returns the encoded result.
func Eval(expr string) ([]byte, error) {
	s, n := cstr(expr)
	res := C.si_eval(s, n)
	if res == nil {
		return nil, takeException()
	}
	return encodeAndRelease(res, "result")
}

// Call calls the object fn names ("json.dumps", "pkg.mod.func", or a name in
// __main__ or builtins) with the encoded argument tuple, whose 'O' tags
// index oob (channel.AppendEncodeArgsOOB), and keyword arguments (an
// encoded channel.Dict with str keys, or nil for none), and returns the
// encoded result.
func Call(fn string, args []byte, oob [][]byte, kwargs []byte) ([]byte, error) {
	f, fn2 := cstr(fn)
	a, an := cbytes(args)
	k, kn := cbytes(kwargs)
	// C reads the out-of-band slices where they are, through an array in
	// Go memory: the cgo rules allow the Go pointers in it while pinned.
	var pins runtime.Pinner
	defer pins.Unpin()
	var refs []C.si_buf
	if len(oob) > 0 {
		refs = make([]C.si_buf, len(oob))
		for i, b := range oob {
			if len(b) == 0 {
				continue // {NULL, 0}: PyBytes_FromStringAndSize makes b""
			}
			pins.Pin(&b[0])
			refs[i] = C.si_buf{ptr: (*C.char)(unsafe.Pointer(&b[0])), len: C.Py_ssize_t(len(b))}
		}
	}
	var refsPtr *C.si_buf
	if len(refs) > 0 {
		refsPtr = &refs[0]
	}
	res := C.si_call(f, fn2, a, an, refsPtr, C.int(len(refs)), k, kn)
	if res == nil {
		return nil, takeException()
	}
	return encodeAndRelease(res, "result of "+fn)
}

// CallPickled is Call for the PEP 734 layer's trampolines (fn names one
// of subinterp.interpreters' functions, resolved once per interpreter), with
// no keyword arguments: the result's unshareable parts are pickled (an
// error wrapping channel.ErrNotShareable when that fails).
func CallPickled(fn string, args []byte) ([]byte, error) {
	f, fn2 := cstr(fn)
	a, an := cbytes(args)
	res := C.si_call_trampoline(f, fn2, a, an)
	if res == nil {
		return nil, takeException()
	}
	defer C.si_decref(res)
	return encodeObject(res, true, "result of "+fn)
}

// encodeAndRelease encodes obj and releases the reference. what names the
// object in a not-shareable error.
//
// A result is bound for Go, so bytearray and memoryview objects in it
// become bytes ([]byte): Go has one byte-slice type for all three.
func encodeAndRelease(obj *C.PyObject, what string) ([]byte, error) {
	defer C.si_decref(obj)
	data, rc := encodeWith(obj, C.SI_ENC_BYTES_LIKE, getCallBuf)
	if rc < 0 {
		return nil, encodeError(rc, what)
	}
	return data, nil
}

// encodeObject writes a Python object in channel's wire format. With
// pickle set, objects outside the shareable set are pickled. A
// not-shareable object gives an error wrapping channel.ErrNotShareable.
func encodeObject(obj *C.PyObject, pickle bool, what string) ([]byte, error) {
	data, rc := encode(obj, pickle)
	if rc < 0 {
		return nil, encodeError(rc, what)
	}
	return data, nil
}

// encodeRaw encodes obj for the Python-facing paths: on failure it returns
// false and leaves the Python exception set.
func encodeRaw(obj *C.PyObject, pickle bool) ([]byte, bool) {
	data, rc := encode(obj, pickle)
	return data, rc >= 0
}

// encode runs the C encoder's two passes: size, then write into Go memory.
func encode(o *C.PyObject, pickle bool) ([]byte, C.Py_ssize_t) {
	flags := C.int(0)
	if pickle {
		flags = C.SI_ENC_PICKLE
	}
	return encodeFlags(o, flags)
}

// encodeFlags is encode with the C encoder's flags (SI_ENC_*).
func encodeFlags(o *C.PyObject, flags C.int) ([]byte, C.Py_ssize_t) {
	return encodeWith(o, flags, getBuf)
}

// encodeWith is encodeFlags writing into a buffer from alloc.
func encodeWith(o *C.PyObject, flags C.int, alloc func(int) []byte) ([]byte, C.Py_ssize_t) {
	var side *C.PyObject
	size := C.si_encoded_size(o, flags, &side)
	if size < 0 {
		return nil, size
	}
	buf := alloc(int(size))
	p, _ := cbytes(buf)
	if rc := C.si_encode_into(o, flags, side, p, size); rc < 0 {
		return nil, rc
	}
	return buf, size
}

// Large encodings are recycled: a Python receiver copies everything out of
// a message while decoding it, so its buffer can carry the next large
// value. That spares the zeroing of a fresh buffer, the page faults of
// fresh memory and the garbage collection of the old one (measured: 1 MiB
// sends spent ~30% of their time on these).
const pooledMin = 64 << 10

var bigBufs sync.Pool // *[]byte, cap >= pooledMin

func getBuf(n int) []byte {
	if n >= pooledMin {
		if p, _ := bigBufs.Get().(*[]byte); p != nil && cap(*p) >= n {
			return (*p)[:n]
		}
	}
	return make([]byte, n)
}

// putBuf recycles a buffer nothing refers to any more.
func putBuf(b []byte) {
	if cap(b) >= pooledMin {
		putBig(b)
	}
}

// putBig is apart from putBuf so that only large buffers pay for the
// slice header that escapes into the pool: in putBuf itself, &b would move
// b to the heap on every call.
//
//go:noinline
func putBig(b []byte) { bigBufs.Put(&b) }

// A call's own encodings (its arguments, its result) are recycled from
// callBufMin bytes up, as buffers of callBufCap: a call of a few hundred
// bytes to a few KiB otherwise left three buffers of garbage behind (its
// arguments, the result's encoding, the result), and on a small heap Go
// then collected every few milliseconds, each collection stopping the
// spinning threads of every call in flight: a 1 KiB Call took 7.4 µs at
// the default GOGC and 3.0 µs at GOGC=400. Only the call path recycles
// these (RecycleBuffer): its buffers never leave subinterp, whereas a
// channel message's bytes may be a Go sender's (NewMessage takes them
// over, but the sender may still read them), so putBuf keeps to the large
// message buffers it always recycled.
const (
	callBufMin = 256
	callBufCap = 4 << 10
)

var callBufs sync.Pool // *[]byte, cap == callBufCap

// getCallBuf is getBuf for a call's result.
func getCallBuf(n int) []byte {
	if n < callBufMin || n > callBufCap {
		return getBuf(n)
	}
	if p, _ := callBufs.Get().(*[]byte); p != nil {
		return (*p)[:n]
	}
	return make([]byte, n, callBufCap)
}

// ScratchBuffer returns an empty buffer to encode a call's arguments into:
// a recycled large one when there is one (so a large encoding neither
// grows a fresh slice step by step nor faults in fresh pages), else a
// recycled call-sized one, else nil. Give it back with RecycleBuffer once
// nothing refers to it.
func ScratchBuffer() []byte {
	if p, _ := bigBufs.Get().(*[]byte); p != nil {
		return (*p)[:0]
	}
	if p, _ := callBufs.Get().(*[]byte); p != nil {
		return (*p)[:0]
	}
	return nil
}

// RecycleBuffer hands back a call's encoding (from ScratchBuffer, or an
// Exec, Eval or Call result) that nothing refers to any more — one whose
// values have been copied out by a decoder — so that the next encoding
// can reuse it. Buffers of other sizes are left to the collector.
func RecycleBuffer(b []byte) {
	if cap(b) == callBufCap {
		putCall(b)
		return
	}
	putBuf(b)
}

// putCall is apart from RecycleBuffer for the reason putBig is.
//
//go:noinline
func putCall(b []byte) { callBufs.Put(&b) }

func encodeError(rc C.Py_ssize_t, what string) error {
	exc := takeException()
	if rc == C.SI_ERR_NOT_SHAREABLE {
		return fmt.Errorf("%s: %w: %s", what, channel.ErrNotShareable, exc.Message)
	}
	return exc
}

// goWriter is an io.Writer lent to Python for one call. Python objects may
// outlive the call, so the object owns the handle and the writer is closed
// (further writes raise ValueError in Python) when the call ends.
type goWriter struct {
	mu     sync.Mutex
	w      io.Writer
	closed bool
}

func (g *goWriter) close() {
	g.mu.Lock()
	g.closed = true
	g.mu.Unlock()
}

// Output redirects sys.stdout and sys.stderr of the current interpreter to
// Go writers (nil keeps a stream) until the returned restore is called;
// after it, those writers are never written to again.
func Output(stdout, stderr io.Writer) (restore func(), err error) {
	var gout, gerr *goWriter
	var hout, herr cgo.Handle
	if stdout != nil {
		gout = &goWriter{w: stdout}
		hout = cgo.NewHandle(gout)
	}
	if stderr != nil {
		gerr = &goWriter{w: stderr}
		herr = cgo.NewHandle(gerr)
	}
	closeAll := func() {
		for _, g := range []*goWriter{gout, gerr} {
			if g != nil {
				g.close()
			}
		}
	}
	var saved *C.PyObject
	var adopted C.int
	rc := C.si_redirect(C.uintptr_t(hout), C.uintptr_t(herr), &saved, &adopted)
	// A handle no writer object took over is still Go's to free; the
	// others are freed by their object's deallocator.
	if hout != 0 && adopted&C.SI_ADOPTED_OUT == 0 {
		hout.Delete()
	}
	if herr != 0 && adopted&C.SI_ADOPTED_ERR == 0 {
		herr.Delete()
	}
	if rc < 0 {
		closeAll()
		return nil, takeException()
	}
	return func() {
		C.si_restore_output(saved)
		closeAll()
	}, nil
}

// FlushStdio flushes sys.stdout and sys.stderr so buffered output appears
// when a call ends.
func FlushStdio() { C.si_flush_std() }

// subinterpGoWrite writes for a Python writer object: 0 done, 1 the call
// that lent the writer has ended, 2 the io.Writer failed or panicked
// (*errmsg set).
//
//export subinterpGoWrite
func subinterpGoWrite(h C.uintptr_t, p *C.char, n C.Py_ssize_t, errmsg **C.char) C.int {
	g := cgo.Handle(h).Value().(*goWriter)
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return 1
	}
	if err := g.write(C.GoBytes(unsafe.Pointer(p), C.int(n))); err != nil {
		*errmsg = C.CString(strings.ReplaceAll(err.Error(), "\x00", ""))
		return 2
	}
	return 0
}

// write calls the io.Writer. A panic must not unwind into the C frames of
// writer_write (the process would die): it becomes an error like any other,
// which Python sees as OSError. The caller released the GIL before calling
// into Go, so returning normally leaves the thread state as C expects it.
func (g *goWriter) write(b []byte) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("io.Writer panicked: %v", r)
		}
	}()
	_, err = g.w.Write(b)
	return err
}

// subinterpGoWriterFree lets go of a writer object's handle (its
// deallocator calls it).
//
//export subinterpGoWriterFree
func subinterpGoWriterFree(h C.uintptr_t) {
	cgo.Handle(h).Delete()
}

// subinterpGoInterpRef counts Python Interpreter objects (see
// Host.InterpreterRef). It never raises: it runs from deallocators.
//
//export subinterpGoInterpRef
func subinterpGoInterpRef(id C.int64_t, delta C.int) {
	if h := currentHost(); h != nil {
		h.InterpreterRef(int64(id), int(delta))
	}
}

//export subinterpGoIsolated
func subinterpGoIsolated(id C.int64_t) C.int {
	h := currentHost()
	if h == nil {
		return -1
	}
	info, ok := h.Interpreter(int64(id))
	if !ok {
		return -1
	}
	if info.Isolated {
		return 1
	}
	return 0
}

//export subinterpGoListAll
func subinterpGoListAll(module *C.PyObject) *C.PyObject {
	h := currentHost()
	var infos []InterpreterInfo
	if h != nil {
		infos = h.Interpreters()
	}
	list := C.PyList_New(0)
	if list == nil {
		return nil
	}
	for _, info := range infos {
		iso := C.int(0)
		if info.Isolated {
			iso = 1
		}
		obj := C.si_new_interpreter_object(module, C.int64_t(info.ID), iso)
		if obj == nil {
			st := (*C.module_state)(C.PyModule_GetState(module))
			if st != nil && C.PyErr_ExceptionMatches(st.exc[C.SI_EXC_INTERP_NOT_FOUND]) != 0 {
				C.PyErr_Clear() // closed since it was listed
				continue
			}
			C.si_decref(list)
			return nil
		}
		rc := C.PyList_Append(list, obj)
		C.si_decref(obj)
		if rc < 0 {
			C.si_decref(list)
			return nil
		}
	}
	return list
}
