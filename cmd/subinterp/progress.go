package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"golang.org/x/term"
)

// statusLine redraws one line of progress on a terminal: a bar, how many
// of how many, the elapsed time, an estimate of the time left if asked
// for, and what runs now. On anything but a terminal the commands print
// plain lines instead (see newStatusLine).
type statusLine struct {
	mu       sync.Mutex
	w        io.Writer
	fd       int
	drawn    bool
	lastDone int
	last     time.Time
}

// newStatusLine returns a statusLine drawing on w, or nil when w is not a
// terminal (a file, a pipe, a test's buffer).
func newStatusLine(w io.Writer) *statusLine {
	f, ok := w.(*os.File)
	if !ok || f == nil || !term.IsTerminal(int(f.Fd())) {
		return nil
	}
	return &statusLine{w: w, fd: int(f.Fd())}
}

// progressText is the status line without the terminal handling: a 24-cell
// bar, "done/total unit", the elapsed seconds, "ETA" and the time left
// (estimated from the pace so far) if eta is set and something is done,
// then now.
func progressText(done, total int, unit string, elapsed time.Duration, eta bool, now string) string {
	const barWidth = 24
	filled := 0
	if total > 0 {
		filled = barWidth * min(done, total) / total
	}
	line := fmt.Sprintf("[%s%s] %d/%d %s  %4.1fs", strings.Repeat("█", filled), strings.Repeat("·", barWidth-filled),
		done, total, unit, elapsed.Seconds())
	if eta {
		if done > 0 && done < total {
			left := time.Duration(float64(elapsed) * float64(total-done) / float64(done))
			line += "  ETA " + left.Round(time.Second).String()
		} else if done == 0 {
			line += "  ETA ?"
		}
	}
	if now != "" {
		line += "  " + now
	}
	return line
}

// draw redraws the line; redraws are limited to about 20 a second unless
// the count moved.
func (b *statusLine) draw(done, total int, unit string, elapsed time.Duration, eta bool, now string) {
	if b == nil {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	t := time.Now()
	if done == b.lastDone && t.Sub(b.last) < 50*time.Millisecond {
		return
	}
	b.lastDone, b.last = done, t
	line := progressText(done, total, unit, elapsed, eta, now)
	width := 80
	if w, _, err := term.GetSize(b.fd); err == nil && w > 0 {
		width = w
	}
	if r := []rune(line); len(r) > width-1 && width > 1 {
		line = string(r[:width-1])
	}
	fmt.Fprint(b.w, "\r\033[K"+line)
	b.drawn = true
}

// clear removes the line.
func (b *statusLine) clear() {
	if b == nil {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.drawn {
		fmt.Fprint(b.w, "\r\033[K")
		b.drawn = false
	}
}
