package main

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// countingWriter records each Write call separately.
type countingWriter struct {
	calls []string
}

// Write records p as one call.
func (c *countingWriter) Write(p []byte) (int, error) {
	c.calls = append(c.calls, string(p))
	return len(p), nil
}

func TestLineWriter(t *testing.T) {
	tests := []struct {
		name        string
		writes      []string
		beforeFlush string // what is out before Flush
		after       string // what is out after Flush
		calls       int    // Write calls on the underlying writer before Flush
	}{
		{name: "nothing", writes: nil, beforeFlush: "", after: ""},
		{name: "empty write", writes: []string{""}, beforeFlush: "", after: ""},
		{name: "one line", writes: []string{"hello\n"}, beforeFlush: "[1] hello\n", after: "[1] hello\n", calls: 1},
		{name: "partial line held back", writes: []string{"hel"}, beforeFlush: "", after: "[1] hel\n"},
		{name: "line in pieces", writes: []string{"he", "ll", "o\n"}, beforeFlush: "[1] hello\n", after: "[1] hello\n", calls: 1},
		{name: "many lines in one write, one call", writes: []string{"a\nb\nc\n"}, beforeFlush: "[1] a\n[1] b\n[1] c\n", after: "[1] a\n[1] b\n[1] c\n", calls: 1},
		{name: "lines and a partial tail", writes: []string{"a\nb\npart"}, beforeFlush: "[1] a\n[1] b\n", after: "[1] a\n[1] b\n[1] part\n", calls: 1},
		{name: "tail completed later", writes: []string{"a\npa", "rt\nb"}, beforeFlush: "[1] a\n[1] part\n", after: "[1] a\n[1] part\n[1] b\n", calls: 2},
		{name: "empty lines keep their prefix", writes: []string{"\n\n"}, beforeFlush: "[1] \n[1] \n", after: "[1] \n[1] \n", calls: 1},
		{name: "carriage return is data", writes: []string{"a\r\n"}, beforeFlush: "[1] a\r\n", after: "[1] a\r\n", calls: 1},
		{name: "utf-8 split across writes", writes: []string{"h\xc3", "\xa9\n"}, beforeFlush: "[1] h\u00e9\n", after: "[1] h\u00e9\n", calls: 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out := &countingWriter{}
			lw := NewLineWriter(out, "[1] ")
			for _, w := range tc.writes {
				n, err := lw.Write([]byte(w))
				require.NoError(t, err)
				assert.Equal(t, len(w), n)
			}
			assert.Equal(t, tc.beforeFlush, strings.Join(out.calls, ""))
			assert.Len(t, out.calls, tc.calls)
			require.NoError(t, lw.Flush())
			assert.Equal(t, tc.after, strings.Join(out.calls, ""))
			// A second Flush writes nothing more.
			require.NoError(t, lw.Flush())
			assert.Equal(t, tc.after, strings.Join(out.calls, ""))
		})
	}
}

func TestLineWriterLongLine(t *testing.T) {
	var out bytes.Buffer
	lw := NewLineWriter(&out, "> ")
	long := strings.Repeat("x", maxLine+10)
	_, err := lw.Write([]byte(long))
	require.NoError(t, err)
	// The first maxLine bytes came out as a line of their own.
	assert.Equal(t, "> "+long[:maxLine]+"\n", out.String())
	require.NoError(t, lw.Flush())
	assert.Equal(t, "> "+long[:maxLine]+"\n> "+long[maxLine:]+"\n", out.String())
}

// failWriter fails every write.
type failWriter struct{}

// Write fails.
func (failWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

func TestLineWriterError(t *testing.T) {
	lw := NewLineWriter(failWriter{}, "[1] ")
	n, err := lw.Write([]byte("partial"))
	require.NoError(t, err, "nothing reaches the writer yet")
	assert.Equal(t, 7, n)
	_, err = lw.Write([]byte(" line\n"))
	assert.EqualError(t, err, "disk full")
	_, err = lw.Write([]byte("tail"))
	require.NoError(t, err)
	assert.EqualError(t, lw.Flush(), "disk full")
}

// TestLineWritersShareOutput has many LineWriters write through one
// SyncWriter at once, in odd-sized pieces, and checks that every line
// arrives whole, with its own prefix, in order per writer.
func TestLineWritersShareOutput(t *testing.T) {
	const writers, lines = 8, 200
	var out bytes.Buffer
	shared := NewSyncWriter(&out, nil)
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			lw := NewLineWriter(shared, fmt.Sprintf("[%d] ", w))
			var text strings.Builder
			for i := range lines {
				fmt.Fprintf(&text, "writer %d line %d\n", w, i)
			}
			s := text.String()
			for len(s) > 0 {
				k := min(len(s), 1+(len(s)*7)%13)
				_, err := lw.Write([]byte(s[:k]))
				assert.NoError(t, err)
				s = s[k:]
			}
			assert.NoError(t, lw.Flush())
		}()
	}
	wg.Wait()

	next := make([]int, writers)
	got := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	require.Len(t, got, writers*lines)
	for _, line := range got {
		var w, w2, i int
		_, err := fmt.Sscanf(line, "[%d] writer %d line %d", &w, &w2, &i)
		require.NoError(t, err, "mangled line %q", line)
		require.Equal(t, w, w2, "line %q carries another writer's prefix", line)
		require.Equal(t, next[w], i, "writer %d out of order", w)
		next[w]++
	}
}
