package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/signal"

	"github.com/subinterp/subinterp/cpython"
)

// measuring is what the measuring commands (bench, microbench, doctor)
// hold while they run: a context that Ctrl-C ends and the runtime they
// start. The measuring itself is package bench's.
type measuring struct {
	name   string
	ctx    context.Context
	rt     *cpython.Runtime
	stderr io.Writer
	stop   context.CancelFunc
}

// startMeasuring starts CPython with opts for the command name. When it
// cannot, it has printed why and ok is false; code is then the exit code.
// The caller ends a started one with finish.
func startMeasuring(name string, opts cpython.RuntimeOptions, stderr io.Writer) (m *measuring, code int, ok bool) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	m = &measuring{name: name, ctx: ctx, stderr: stderr, stop: stop}
	rt, err := cpython.Initialize(opts)
	if err != nil {
		code = m.fail(fmt.Errorf("starting CPython: %w", err))
		stop()
		return nil, code, false
	}
	m.rt = rt
	return m, exitOK, true
}

// fail prints err and returns the exit code for it: exitInterrupted after
// Ctrl-C, exitFailed otherwise.
func (m *measuring) fail(err error) int {
	fmt.Fprintf(m.stderr, "subinterp %s: %v\n", m.name, err)
	if m.ctx.Err() != nil {
		return exitInterrupted
	}
	return exitFailed
}

// finish finalizes the runtime; a failure to is a warning unless quiet
// (a probe child, whose stderr its parent reads).
func (m *measuring) finish(quiet bool) {
	if err := m.rt.Finalize(); err != nil && !quiet {
		fmt.Fprintf(m.stderr, "subinterp %s: warning: %v\n", m.name, err)
	}
	m.stop()
}

// encodeJSON writes v to w as indented JSON, the form of every --json
// report.
func encodeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
