package bindings

/*
#include "bindings.h"
#include <stdlib.h>
*/
import "C"

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"runtime"
	"runtime/cgo"
	"time"
	"unsafe"

	"github.com/subinterp/subinterp/channel"
)

// The exported functions below are the Python module's way into Go. They
// run on an interpreter's thread with its GIL held, release the GIL around
// anything that may block, and report failure by setting a Python
// exception and returning NULL / -1.

func raise(kind C.int, msg string) {
	cs := C.CString(msg)
	C.si_raise(kind, cs)
	C.free(unsafe.Pointer(cs))
}

// The module's exceptions, as Go sees them (SI_EXC_* in bindings.h).
const (
	excChannel      = C.SI_EXC_CHANNEL
	excNotFound     = C.SI_EXC_NOT_FOUND
	excNotEmpty     = C.SI_EXC_NOT_EMPTY
	excNotReceived  = C.SI_EXC_NOT_RECEIVED
	excClosed       = C.SI_EXC_CLOSED
	excFull         = C.SI_EXC_FULL
	excNotShareable = C.SI_EXC_NOT_SHAREABLE
	excTimeout      = C.SI_EXC_TIMEOUT
	excInterrupted  = C.SI_EXC_INTERRUPTED
	excRuntime      = C.SI_EXC_RUNTIME
	excValue        = C.SI_EXC_VALUE
	excType         = C.SI_EXC_TYPE
	excHost         = C.SI_EXC_HOST
	excInterp       = C.SI_EXC_INTERP
	excInterpGone   = C.SI_EXC_INTERP_NOT_FOUND
)

// raiseChannelError raises the module exception channelErrorKind picks.
func raiseChannelError(err error, base context.Context) {
	kind, msg := channelErrorKind(err, base)
	raise(C.int(kind), msg)
}

// channelErrorKind maps a Go error from a channel operation to the
// module's exception and message: the one place that does. base is the
// context of the Go call running in this interpreter: if it ended, the
// wait was interrupted, which surfaces as KeyboardInterrupt so the Go side
// reports the interruption.
func channelErrorKind(err error, base context.Context) (kind int, msg string) {
	switch {
	case base != nil && base.Err() != nil:
		return excInterrupted, fmt.Sprintf("interrupted: %v", context.Cause(base))
	case errors.Is(err, context.DeadlineExceeded):
		if errors.Is(err, channel.ErrNotReceived) {
			return excTimeout, "timed out: the object was not received (it was withdrawn)"
		}
		return excTimeout, "timed out"
	case errors.Is(err, channel.ErrNotShareable):
		return excNotShareable, err.Error()
	case errors.Is(err, channel.ErrTooLarge):
		return excValue, err.Error()
	case errors.Is(err, channel.ErrNotFound):
		return excNotFound, err.Error()
	case errors.Is(err, channel.ErrNotEmpty):
		return excNotEmpty, err.Error()
	case errors.Is(err, channel.ErrFull):
		return excFull, err.Error()
	case errors.Is(err, channel.ErrNotReceived):
		return excNotReceived, err.Error()
	case errors.Is(err, channel.ErrClosed):
		return excClosed, err.Error()
	}
	return excChannel, err.Error()
}

// hostOrRaise returns the runtime's Host, or raises RuntimeError and
// returns nil when there is none (the module used outside a runtime).
func hostOrRaise() Host {
	h := currentHost()
	if h == nil {
		raise(excRuntime, "subinterp: no runtime")
	}
	return h
}

func registry() (*channel.Registry, bool) {
	h := hostOrRaise()
	if h == nil {
		return nil, false
	}
	return h.Channels(), true
}

func currentID() int64 { return int64(C.PyInterpreterState_GetID(C.PyInterpreterState_Get())) }

// callerContext is the context Python code on this thread waits under (see
// Host.WaitContext).
func callerContext(h Host) context.Context {
	return h.WaitContext(currentID(), uint64(C.PyThread_get_thread_ident()))
}

// waitContext is the context a blocking call from Python waits under: the
// Go call running in this interpreter (cancelled when its caller's context
// ends or the interpreter is interrupted), bounded by timeout seconds if
// timeout >= 0.
func waitContext(timeout C.double) (base, ctx context.Context, cancel context.CancelFunc) {
	base = context.Background()
	if h := currentHost(); h != nil {
		base = callerContext(h)
	}
	if timeout < 0 {
		return base, base, func() {}
	}
	ns := float64(timeout) * float64(time.Second)
	if ns > math.MaxInt64 {
		return base, base, func() {} // longer than any wait can last
	}
	ctx, cancel = context.WithTimeout(base, time.Duration(ns))
	return base, ctx, cancel
}

// detached runs fn with this interpreter's GIL released (the thread-state
// primitives are in include/subinterp.h).
func detached(fn func()) {
	ts := C.si_tstate_detach()
	defer C.si_tstate_attach(ts)
	fn()
}

// channelByID finds both ends of channel id in the runtime's registry, or
// raises (no runtime, or no such channel) and returns ok false.
func channelByID(id C.int64_t) (*channel.RecvChannel, *channel.SendChannel, bool) {
	reg, ok := registry()
	if !ok {
		return nil, nil, false
	}
	return lookup(reg, id)
}

func lookup(reg *channel.Registry, id C.int64_t) (*channel.RecvChannel, *channel.SendChannel, bool) {
	r, s, err := reg.Lookup(channel.ID(id))
	if err != nil {
		raiseChannelError(err, nil)
		return nil, nil, false
	}
	return r, s, true
}

//export subinterpGoCreateChannel
func subinterpGoCreateChannel(capacity, maxBytes C.Py_ssize_t, pickle, tag C.int) C.int64_t {
	reg, ok := registry()
	if !ok {
		return -1
	}
	opts := channel.Options{Capacity: int(capacity), MaxBytes: int(maxBytes), Tag: int(tag)}
	if pickle != 0 {
		opts.Fallback = channel.FallbackPickle
	}
	r, _, err := reg.Create(opts)
	if err != nil {
		raiseChannelError(err, nil)
		return -1
	}
	return C.int64_t(r.ID())
}

//export subinterpGoBind
func subinterpGoBind(id C.int64_t, send C.int) C.int {
	r, s, ok := channelByID(id)
	if !ok {
		return -1
	}
	var err error
	if send != 0 {
		err = s.Bind()
	} else {
		err = r.Bind()
	}
	if err != nil {
		raiseChannelError(err, nil)
		return -1
	}
	return 0
}

// subinterpGoRelease drops one binding. It never raises: it runs from
// deallocators, and a channel already gone needs no release.
//
//export subinterpGoRelease
func subinterpGoRelease(id C.int64_t, send C.int) {
	h := currentHost()
	if h == nil {
		return
	}
	r, s, err := h.Channels().Lookup(channel.ID(id))
	if err != nil {
		return
	}
	if send != 0 {
		_ = s.Release()
	} else {
		_ = r.Release()
	}
}

//export subinterpGoSend
func subinterpGoSend(id C.int64_t, obj *C.PyObject, timeout C.double, nowait C.int) C.int {
	_, s, ok := channelByID(id)
	if !ok {
		return -1
	}
	data, ok := encodeRaw(obj, s.Fallback() == channel.FallbackPickle)
	if !ok {
		return -1 // the encoder's exception stays set
	}
	return sendMessage(s, channel.NewMessage(data), timeout, nowait)
}

// How subinterpGoSend and sendMessage wait (their nowait argument).
const (
	sendWaitReceipt = 0 // send: until a receiver took it
	sendNowait      = 1 // send_nowait: not at all
	sendWaitQueued  = 2 // a PEP 734 queue's put: for room, not for a receiver
)

// sendMessage sends msg (which it consumes): without waiting it returns
// whether a receiver was waiting (1 or 0); else it waits, with the GIL
// released, for receipt or (sendWaitQueued) only for room in the queue.
func sendMessage(s *channel.SendChannel, msg channel.Message, timeout C.double, nowait C.int) C.int {
	if nowait == sendNowait {
		waiting, err := s.SendMsgNowait(msg)
		if err != nil {
			raiseChannelError(err, nil)
			return -1
		}
		if waiting {
			return 1
		}
		return 0
	}
	base, ctx, cancel := waitContext(timeout)
	defer cancel()
	var err error
	if nowait == sendWaitQueued && s.Options().Capacity == 0 {
		// An unbounded queue never makes put() wait: no GIL release (see
		// subinterpGoRecv for what one costs).
		err = s.SendMsgQueued(ctx, msg)
	} else if nowait == sendWaitQueued {
		detached(func() { err = s.SendMsgQueued(ctx, msg) })
	} else {
		detached(func() { err = s.SendMsg(ctx, msg) })
	}
	if err != nil {
		raiseChannelError(err, base)
		return -1
	}
	return 0
}

//export subinterpGoLen
func subinterpGoLen(id C.int64_t) C.Py_ssize_t {
	r, _, ok := channelByID(id)
	if !ok {
		return -1
	}
	var n int
	var err error
	if def, ok := unboundDefault(r.Options().Tag); ok {
		n, err = r.Purge(removable(def, liveInterpreters()))
	} else {
		n, err = r.Len()
	}
	if err != nil {
		raiseChannelError(err, nil)
		return -1
	}
	return C.Py_ssize_t(n)
}

// subinterpGoChannelInfo returns (capacity, tag, closed) of channel id.
//
// The unbound-item policies of PEP 734 (subinterp.interpreters._crossinterp).
const (
	unboundRemove = 1
	unboundError  = 2
	unboundItem   = 3
)

// unboundDefault is the default unbound policy a channel's Tag records:
// 1..3 for queues, 16+1..16+3 for the channels module's channels.
func unboundDefault(tag int) (int, bool) {
	if tag > 16 {
		tag -= 16
	}
	return tag, tag >= unboundRemove && tag <= unboundItem
}

func liveInterpreters() map[int64]bool {
	live := map[int64]bool{}
	if h := currentHost(); h != nil {
		for _, info := range h.Interpreters() {
			live[info.ID] = true
		}
	}
	return live
}

// removable picks the queued items of the PEP 734 layer, encoded as the
// tuple (putter's interpreter id, policy, obj), that were put with
// UNBOUND_REMOVE (explicitly, or -1: the channel's default def) by an
// interpreter that no longer exists: they vanish from the queue, as in
// CPython.
func removable(def int, live map[int64]bool) func([]byte) bool {
	return func(data []byte) bool {
		// 't', uvarint 3, 'i' + 8 bytes id, 'i' + 8 bytes policy, obj
		if len(data) < 20 || data[0] != 't' || data[1] != 3 || data[2] != 'i' || data[11] != 'i' {
			return false
		}
		id := int64(binary.LittleEndian.Uint64(data[3:11]))
		policy := int64(binary.LittleEndian.Uint64(data[12:20]))
		if policy == -1 {
			policy = int64(def)
		}
		return policy == unboundRemove && !live[id]
	}
}

//export subinterpGoChannelInfo
func subinterpGoChannelInfo(id C.int64_t) *C.PyObject {
	r, _, ok := channelByID(id)
	if !ok {
		return nil
	}
	opts := r.Options()
	return C.si_info_triple(C.longlong(opts.Capacity), C.longlong(opts.Tag), C.int(btoi(r.Closed())))
}

//export subinterpGoSendBuffer
func subinterpGoSendBuffer(id C.int64_t, p *C.char, n C.Py_ssize_t, timeout C.double, nowait C.int) C.int {
	buf := channel.NewBuffer(unsafe.Slice((*byte)(unsafe.Pointer(p)), int(n)), func() { C.free(unsafe.Pointer(p)) })
	msg := channel.NewMessageWithBuffers([]byte{'B', 0}, []*channel.Buffer{buf})
	reg, ok := registry()
	if !ok {
		msg.Release()
		return -1
	}
	_, s, err := reg.Lookup(channel.ID(id))
	if err != nil {
		msg.Release()
		raiseChannelError(err, nil)
		return -1
	}
	return sendMessage(s, msg, timeout, nowait)
}

//export subinterpGoRecv
func subinterpGoRecv(id C.int64_t, timeout C.double, nowait C.int, empty *C.int) *C.PyObject {
	r, _, ok := channelByID(id)
	if !ok {
		return nil
	}
	var msg channel.Message
	var err error
	if nowait != 0 {
		var got bool
		msg, got, err = r.RecvMsgNowait()
		if err == nil && !got {
			*empty = 1
			return nil
		}
		if err != nil {
			raiseChannelError(err, nil)
			return nil
		}
		return decodeMessage(msg)
	}
	// A value already queued is taken with the GIL held: releasing it
	// would let another thread of this interpreter take it, and taking it
	// back then costs an OS wake-up (tens of µs), per value, to a reader
	// that drains a busy channel (a PEP 734 executor's collector). Any
	// other outcome (empty, closed, an error) takes the waiting path, which
	// also says it as it always did.
	if m, got, err := r.RecvMsgNowait(); err == nil && got {
		return decodeMessage(m)
	}
	base, ctx, cancel := waitContext(timeout)
	defer cancel()
	detached(func() { msg, err = r.RecvMsg(ctx) })
	if err != nil {
		raiseChannelError(err, base)
		return nil
	}
	return decodeMessage(msg)
}

//export subinterpGoSelect
func subinterpGoSelect(ids *C.int64_t, n C.int, timeout C.double, index *C.int) *C.PyObject {
	reg, ok := registry()
	if !ok {
		return nil
	}
	chans := make([]*channel.RecvChannel, int(n))
	for i, id := range unsafe.Slice(ids, int(n)) {
		r, _, ok := lookup(reg, id)
		if !ok {
			return nil
		}
		chans[i] = r
	}
	base, ctx, cancel := waitContext(timeout)
	defer cancel()
	var i int
	var msg channel.Message
	var err error
	detached(func() { i, msg, err = reg.SelectMsg(ctx, chans...) })
	if err != nil {
		raiseChannelError(err, base)
		return nil
	}
	*index = C.int(i)
	return decodeMessage(msg)
}

//export subinterpGoCloseChannel
func subinterpGoCloseChannel(id C.int64_t, send C.int, force C.int) C.int {
	r, s, ok := channelByID(id)
	if !ok {
		return -1
	}
	var err error
	switch {
	case force != 0:
		err = r.CloseNow(true)
	case send != 0:
		err = s.Close() // receivers still drain what is queued
	default:
		err = r.CloseNow(false) // refuses while objects are queued: nothing is lost
	}
	if err != nil {
		raiseChannelError(err, nil)
		return -1
	}
	return 0
}

//export subinterpGoListChannels
func subinterpGoListChannels(st *C.module_state) *C.PyObject {
	reg, ok := registry()
	if !ok {
		return nil
	}
	list := C.PyList_New(0)
	if list == nil {
		return nil
	}
	for _, id := range reg.List() {
		r := C.si_new_end(st, 'r', C.int64_t(id), 1)
		if r == nil {
			if isChannelGone() {
				continue // closed since List
			}
			C.si_decref(list)
			return nil
		}
		s := C.si_new_end(st, 'w', C.int64_t(id), 1)
		if s == nil {
			C.si_decref(r)
			if isChannelGone() {
				continue
			}
			C.si_decref(list)
			return nil
		}
		pair := C.si_pair(r, s)
		C.si_decref(r)
		C.si_decref(s)
		if pair == nil || C.PyList_Append(list, pair) < 0 {
			C.si_xdecref(pair)
			C.si_decref(list)
			return nil
		}
		C.si_decref(pair)
	}
	return list
}

// isChannelGone clears and reports a pending "channel not found/closed".
func isChannelGone() bool {
	st := C.si_state()
	if st == nil {
		return false
	}
	if C.PyErr_ExceptionMatches(st.exc[C.SI_EXC_NOT_FOUND]) != 0 || C.PyErr_ExceptionMatches(st.exc[C.SI_EXC_CLOSED]) != 0 {
		C.PyErr_Clear()
		return true
	}
	return false
}

// heldBuffer is a received buffer a Python memoryview refers to.
type heldBuffer struct {
	buf    *channel.Buffer
	pinner runtime.Pinner // Go-made buffers are Go memory that C now points into
}

// decodeMessage turns a received message into a new Python object, or
// NULL with an exception set. It consumes msg.
func decodeMessage(msg channel.Message) *C.PyObject {
	defer func() {
		msg.Release()
		putBuf(msg.Data()) // the decoder copied everything out
	}()
	bufs := msg.Buffers()
	var cbufs []C.si_buf
	if len(bufs) > 0 {
		p := (*C.si_buf)(C.calloc(C.size_t(len(bufs)), C.size_t(unsafe.Sizeof(C.si_buf{}))))
		defer C.free(unsafe.Pointer(p))
		cbufs = unsafe.Slice(p, len(bufs))
		for i, b := range bufs {
			hb := &heldBuffer{buf: b}
			b.Retain()
			data := b.Bytes()
			if len(data) > 0 {
				hb.pinner.Pin(&data[0])
				cbufs[i].ptr = (*C.char)(unsafe.Pointer(&data[0]))
			}
			cbufs[i].len = C.Py_ssize_t(len(data))
			cbufs[i].handle = C.uintptr_t(cgo.NewHandle(hb))
		}
	}
	data, n := cbytes(msg.Data())
	var obj *C.PyObject
	if len(cbufs) > 0 {
		obj = C.si_decode_bufs(data, n, &cbufs[0], C.int(len(cbufs)))
	} else {
		obj = C.si_decode_bufs(data, n, nil, 0)
	}
	for i := range cbufs {
		if cbufs[i].used == 0 {
			subinterpGoBufferRelease(cbufs[i].handle)
		}
	}
	return obj
}

// subinterpGoBufferRelease lets go of a received buffer: its memory is
// freed when the last holder releases it.
//
//export subinterpGoBufferRelease
func subinterpGoBufferRelease(h C.uintptr_t) {
	hb := cgo.Handle(h).Value().(*heldBuffer)
	cgo.Handle(h).Delete()
	hb.pinner.Unpin()
	hb.buf.Release()
}

// Interpreters, from Python.

//export subinterpGoCreate
func subinterpGoCreate(isolated C.int) C.int64_t {
	h := hostOrRaise()
	if h == nil {
		return -1
	}
	var id int64
	var err error
	base := callerContext(h)
	// Creating needs the main interpreter's GIL, which this thread may hold.
	detached(func() { id, err = h.Create(base, isolated != 0) })
	if err != nil {
		if base.Err() != nil {
			raise(excInterrupted, fmt.Sprintf("interrupted: %v", context.Cause(base)))
		} else {
			raise(excRuntime, err.Error())
		}
		return -1
	}
	return C.int64_t(id)
}

//export subinterpGoRun
func subinterpGoRun(target C.int64_t, src *C.char, n C.Py_ssize_t, bind *C.PyObject) C.int {
	h := hostOrRaise()
	if h == nil {
		return -1
	}
	var bound []byte
	if bind != nil {
		var ok bool
		if bound, ok = encodeRaw(bind, false); !ok {
			return -1
		}
	}
	code := C.GoStringN(src, C.int(n))
	base := callerContext(h)
	var err error
	detached(func() { err = h.Run(base, int64(target), code, bound) })
	if err == nil {
		return 0
	}
	raiseRunError(err, base)
	return -1
}

// raiseRunError raises what a failed run() or _call() means in Python: the
// target's own exception as RunFailedError, KeyboardInterrupt when this
// interpreter's Go call was interrupted meanwhile, else interpreterErrorKind's.
func raiseRunError(err error, base context.Context) {
	var exc *Exception
	switch {
	case errors.As(err, &exc):
		ct, cm, ctb := C.CString(exc.Type), C.CString(exc.Message), C.CString(exc.Traceback)
		C.si_raise_run_failed(ct, cm, ctb)
		C.free(unsafe.Pointer(ct))
		C.free(unsafe.Pointer(cm))
		C.free(unsafe.Pointer(ctb))
	case base.Err() != nil:
		raise(excInterrupted, fmt.Sprintf("interrupted: %v", context.Cause(base)))
	default:
		raise(C.int(interpreterErrorKind(err)), err.Error())
	}
}

// Errors the Host's interpreter methods wrap, so that Python sees PEP 734's
// exception types.
var (
	// ErrNoInterpreter: the interpreter does not exist (never did, or
	// closed): InterpreterNotFoundError.
	ErrNoInterpreter = errors.New("interpreter not found")
	// ErrInterpreterBusy: the interpreter runs other code, or is the
	// caller itself: InterpreterError.
	ErrInterpreterBusy = errors.New("interpreter already running")
)

// interpreterErrorKind maps a Host error about an interpreter to the
// module's exception: the one place that does.
func interpreterErrorKind(err error) int {
	switch {
	case errors.Is(err, ErrNoInterpreter):
		return excInterpGone
	case errors.Is(err, channel.ErrNotShareable):
		return excNotShareable
	}
	return excInterp
}

//export subinterpGoCall
func subinterpGoCall(target C.int64_t, fn *C.PyObject, args *C.PyObject) *C.PyObject {
	h := hostOrRaise()
	if h == nil {
		return nil
	}
	if int64(target) == currentID() {
		raise(excInterp, fmt.Sprintf("interpreter %d cannot call into itself: it is running this code", int64(target)))
		return nil
	}
	encoded, ok := encodeRaw(args, true)
	if !ok {
		return nil // NotShareableError naming what could not be pickled
	}
	name := pyString(fn)
	base := callerContext(h)
	var result []byte
	var err error
	detached(func() { result, err = h.CallIn(base, int64(target), name, encoded) })
	if err != nil {
		raiseRunError(err, base)
		return nil
	}
	data, n := cbytes(result)
	obj := C.si_decode(data, n)
	putBuf(result)
	return obj
}

//export subinterpGoWhence
func subinterpGoWhence(id C.int64_t) C.int {
	h := currentHost()
	if h == nil {
		return -1
	}
	info, ok := h.Interpreter(int64(id))
	if !ok {
		return -1
	}
	return C.int(info.Whence)
}

//export subinterpGoClose
func subinterpGoClose(id C.int64_t) C.int {
	h := hostOrRaise()
	if h == nil {
		return -1
	}
	if int64(id) == currentID() {
		raise(excInterp, "an interpreter cannot close itself")
		return -1
	}
	var err error
	base := callerContext(h)
	detached(func() { err = h.Close(base, int64(id)) })
	if err != nil {
		raise(C.int(interpreterErrorKind(err)), err.Error())
		return -1
	}
	return 0
}

//export subinterpGoIsRunning
func subinterpGoIsRunning(id C.int64_t) C.int {
	h := hostOrRaise()
	if h == nil {
		return -1
	}
	running, ok := h.IsRunning(int64(id))
	if !ok {
		raise(excInterpGone, fmt.Sprintf("interpreter %d does not exist (closed?)", int64(id)))
		return -1
	}
	if running || int64(id) == currentID() {
		return 1
	}
	return 0
}

// ErrHostArguments reports arguments a host function cannot take; Python
// sees TypeError.
var ErrHostArguments = errors.New("bad arguments")

//export subinterpGoHasHost
func subinterpGoHasHost(name *C.PyObject) C.int {
	h := currentHost()
	if h == nil {
		return 0
	}
	if h.HasHostFunc(pyString(name)) {
		return 1
	}
	return 0
}

//export subinterpGoHostNames
func subinterpGoHostNames() *C.PyObject {
	list := C.PyList_New(0)
	h := currentHost()
	if list == nil || h == nil {
		return list
	}
	for _, name := range h.HostFuncNames() {
		cs := C.CString(name)
		s := C.PyUnicode_FromString(cs)
		C.free(unsafe.Pointer(cs))
		if s == nil || C.PyList_Append(list, s) < 0 {
			C.si_xdecref(s)
			C.si_decref(list)
			return nil
		}
		C.si_decref(s)
	}
	return list
}

//export subinterpGoCallHost
func subinterpGoCallHost(name *C.PyObject, args *C.PyObject) *C.PyObject {
	h := hostOrRaise()
	if h == nil {
		return nil
	}
	// The arguments are bound for Go, as a result is: bytearray and
	// memoryview arguments arrive as []byte.
	encoded, rc := encodeFlags(args, C.SI_ENC_BYTES_LIKE)
	if rc < 0 {
		return nil // e.g. NotShareableError naming the argument's type
	}
	fn := pyString(name)
	base := callerContext(h)
	caller := currentID()
	var result []byte
	var err error
	detached(func() { result, err = h.CallHost(base, caller, fn, encoded) })
	if err != nil {
		if errors.Is(err, ErrHostArguments) {
			raise(excType, err.Error())
		} else {
			raise(excHost, err.Error())
		}
		return nil
	}
	data, n := cbytes(result)
	return C.si_decode(data, n)
}

// pyString reads a str object (GIL held).
func pyString(o *C.PyObject) string {
	var n C.Py_ssize_t
	p := C.PyUnicode_AsUTF8AndSize(o, &n)
	if p == nil {
		C.PyErr_Clear()
		return ""
	}
	return C.GoStringN(p, C.int(n))
}
