package cpython

import (
	"errors"
	"strings"

	"github.com/subinterp/subinterp/channel"
)

// Sentinel errors; every error this package returns that stems from one of
// these wraps it, so errors.Is works.
var (
	// ErrAlreadyInitialized: Initialize was called a second time.
	ErrAlreadyInitialized = errors.New("subinterp: runtime already initialized")
	// ErrNotInitialized: a Runtime method was called on a nil Runtime.
	ErrNotInitialized = errors.New("subinterp: runtime not initialized")
	// ErrFinalized: the runtime was finalized; CPython cannot start again
	// in the same process.
	ErrFinalized = errors.New("subinterp: runtime finalized")
	// ErrClosed: the interpreter (or pool) was closed.
	ErrClosed = errors.New("subinterp: interpreter closed")
	// ErrRunning: the interpreter is running a call; it runs one at a time
	// and cannot be closed while it runs.
	ErrRunning = errors.New("subinterp: interpreter is running")
	// ErrMainInterpreter: the operation is not allowed on the main
	// interpreter (closing it: use Runtime.Finalize).
	ErrMainInterpreter = errors.New("subinterp: not allowed on the main interpreter")
	// ErrInvalidConfig: the interpreter Config has a combination CPython
	// rejects.
	ErrInvalidConfig = errors.New("subinterp: invalid interpreter config")
	// ErrNotShareable: a value cannot cross between Go and Python (or
	// between interpreters). The wrapping error names the type.
	ErrNotShareable = channel.ErrNotShareable
)

// RunFailedError is an exception raised by Python code and not caught
// there. Type is the exception's qualified name ("ZeroDivisionError",
// "json.decoder.JSONDecodeError"), Message is str(exc) and Traceback the
// full formatted traceback.
type RunFailedError struct {
	Type      string
	Message   string
	Traceback string
}

// Error returns "subinterp: Python raised Type: Message" (the traceback is
// in Traceback).
func (e *RunFailedError) Error() string {
	var b strings.Builder
	b.WriteString("subinterp: Python raised ")
	b.WriteString(e.Type)
	if e.Message != "" {
		b.WriteString(": ")
		b.WriteString(e.Message)
	}
	return b.String()
}
