package channel

import (
	"errors"
	"fmt"
)

// Errors returned by this package. Every error a channel operation returns
// wraps one of these (test with errors.Is) and names the channel id.
var (
	// ErrClosed: the channel is closed (or was released by every end). For
	// a receiver it means "closed and nothing left to drain"; for a sender
	// "closed, no more values accepted"; for Bind and Release on an end whose
	// channel is gone, "this end is no longer usable". PEP 554 has no
	// ChannelClosedError; CPython's implementation raises one.
	ErrClosed = errors.New("closed")

	// ErrNotFound: no channel with that id is in the registry (it never
	// existed or every binding of it was released). PEP 554's
	// ChannelNotFoundError.
	ErrNotFound = errors.New("not found")

	// ErrNotEmpty: CloseNow(false) found values still queued. PEP 554's
	// ChannelNotEmptyError.
	ErrNotEmpty = errors.New("not empty")

	// ErrNotReceived: a Send gave up (its context ended, or the channel was
	// force-closed or released) before anyone received the value; the value
	// was withdrawn and nobody will receive it. PEP 554's NotReceivedError.
	// Errors wrapping it also wrap the cause (ctx.Err() or ErrClosed).
	ErrNotReceived = errors.New("value not received")

	// ErrTooLarge: the value's encoded size (plus its out-of-band buffers)
	// is over the channel's MaxBytes.
	ErrTooLarge = errors.New("value too large")

	// ErrFull: SendNowait on a channel whose bounded queue is full.
	ErrFull = errors.New("full")

	// ErrCorrupt: bytes that are not a valid encoding (see Decode).
	ErrCorrupt = errors.New("corrupt encoded value")
)

// chanError is an error about one channel: "channel 7: closed". cause,
// when set, is why the Registry was closed (Registry.Close).
type chanError struct {
	id    ID
	kind  error
	msg   string
	cause error
}

// Error says which channel and what happened.
func (e *chanError) Error() string {
	if e.cause != nil {
		return fmt.Sprintf("channel %d: %s: %v", e.id, e.msg, e.cause)
	}
	return fmt.Sprintf("channel %d: %s", e.id, e.msg)
}

// Unwrap returns the sentinel, and the Registry's close cause if any.
func (e *chanError) Unwrap() []error {
	if e.cause != nil {
		return []error{e.kind, e.cause}
	}
	return []error{e.kind}
}

func errf(id ID, kind error, format string, args ...any) error {
	return &chanError{id: id, kind: kind, msg: fmt.Sprintf(format, args...)}
}

// notReceivedError is ErrNotReceived plus its cause, both visible to errors.Is.
type notReceivedError struct {
	id    ID
	cause error
}

// Error says which channel, and why the value was not received.
func (e *notReceivedError) Error() string {
	return fmt.Sprintf("channel %d: value not received: %v", e.id, e.cause)
}

// Unwrap returns ErrNotReceived and the cause.
func (e *notReceivedError) Unwrap() []error { return []error{ErrNotReceived, e.cause} }
