package main

// This file is pure Go (no cgo, no cpython import) so the writers can be
// reasoned about and tested on their own.

import (
	"bytes"
	"io"
	"sync"
)

// maxLine is the longest partial line a LineWriter holds back. Longer
// output without a newline is written out as a line of its own, so a
// program printing megabytes without "\n" cannot grow memory unboundedly.
const maxLine = 64 << 10

// SyncWriter serialises writes to an io.Writer shared by several
// goroutines. Each Write call reaches the underlying writer whole, so a
// writer that hands it complete lines never sees them interleaved with
// another goroutine's.
type SyncWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

// NewSyncWriter returns a SyncWriter writing to w under mu. Several
// SyncWriters may share one mutex (stdout and stderr going to the same
// terminal, say) so their lines come out in the order they were written.
func NewSyncWriter(w io.Writer, mu *sync.Mutex) *SyncWriter {
	if mu == nil {
		mu = new(sync.Mutex)
	}
	return &SyncWriter{mu: mu, w: w}
}

// Write writes p to the underlying writer while holding the mutex.
func (s *SyncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

// LineWriter is an io.Writer that prefixes every line written through it
// (for example "[3] ") and passes only complete lines on: it keeps a
// trailing partial line until the newline arrives or Flush is called. All
// the complete lines of one Write go to the underlying writer in a single
// Write call, so with a SyncWriter underneath, lines from different
// LineWriters never mix. A LineWriter is safe for concurrent use.
type LineWriter struct {
	mu     sync.Mutex
	out    io.Writer
	prefix []byte
	buf    []byte // the partial line not yet written
}

// NewLineWriter returns a LineWriter that writes to out, prefixing each
// line with prefix.
func NewLineWriter(out io.Writer, prefix string) *LineWriter {
	return &LineWriter{out: out, prefix: []byte(prefix)}
}

// Write buffers p and writes every line it completes. It reports len(p)
// unless the underlying writer fails.
func (lw *LineWriter) Write(p []byte) (int, error) {
	lw.mu.Lock()
	defer lw.mu.Unlock()
	lw.buf = append(lw.buf, p...)
	var chunk []byte
	for {
		i := bytes.IndexByte(lw.buf, '\n')
		if i < 0 {
			if len(lw.buf) < maxLine {
				break
			}
			i = maxLine - 1 // too long: cut it here and end it with "\n"
			chunk = lw.appendLine(chunk, lw.buf[:i+1])
			chunk = append(chunk, '\n')
			lw.buf = lw.buf[i+1:]
			continue
		}
		chunk = lw.appendLine(chunk, lw.buf[:i+1])
		lw.buf = lw.buf[i+1:]
	}
	if len(chunk) == 0 {
		return len(p), nil
	}
	lw.compact()
	if _, err := lw.out.Write(chunk); err != nil {
		return 0, err
	}
	return len(p), nil
}

// Flush writes the trailing partial line, if any, ending it with a
// newline. Call it when the producer is done.
func (lw *LineWriter) Flush() error {
	lw.mu.Lock()
	defer lw.mu.Unlock()
	if len(lw.buf) == 0 {
		return nil
	}
	chunk := lw.appendLine(nil, lw.buf)
	chunk = append(chunk, '\n')
	lw.buf = lw.buf[:0]
	_, err := lw.out.Write(chunk)
	return err
}

// appendLine appends line to dst behind the prefix.
func (lw *LineWriter) appendLine(dst, line []byte) []byte {
	dst = append(dst, lw.prefix...)
	return append(dst, line...)
}

// compact drops the written lines from the buffer, keeping the partial
// line in fresh memory so the buffer does not creep forward through the
// old array.
func (lw *LineWriter) compact() {
	if len(lw.buf) == 0 {
		lw.buf = nil
		return
	}
	lw.buf = append([]byte(nil), lw.buf...)
}
