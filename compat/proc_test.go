package compat

import (
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

// Crash reports as the Go runtime prints them when a signal arrives in C
// code (the child is a Go program).
func TestModeResultOfCrashes(t *testing.T) {
	for _, tc := range []struct {
		name, stderr   string
		code           int
		signal         syscall.Signal
		status         Status
		sig, msgSubstr string
	}{
		{"segv in cgo", "SIGSEGV: segmentation violation\nPC=0x7f0c1 m=5 sigcode=1 addr=0x0\nsignal arrived during cgo execution\n\ngoroutine 7 gp=0x1 m=5 mp=0x2 [syscall, locked to thread]:\n",
			2, 0, StatusCrash, "SIGSEGV", "SIGSEGV: segmentation violation in C code"},
		{"abort after a fatal error", "Fatal Python error: exec_module: boom\nPython runtime state: initialized\n\nCurrent thread 0x1 (most recent call first):\n  <no Python frame>\nSIGABRT: abort\nPC=0x7f m=4 sigcode=18446744073709551610\nsignal arrived during cgo execution\n",
			2, 0, StatusCrash, "SIGABRT", "Fatal Python error: exec_module: boom (SIGABRT: abort in C code)"},
		{"go runtime fault", "fatal error: unexpected signal during runtime execution\n[signal SIGSEGV: segmentation violation code=0x1 addr=0x0 pc=0x4]\n",
			2, 0, StatusCrash, "SIGSEGV", "SIGSEGV: segmentation violation"},
		{"killed by a signal", "", -1, syscall.SIGKILL, StatusCrash, "SIGKILL", "killed by SIGKILL"},
		{"plain exit", "some C code said goodbye\n", 3, 0, StatusError, "", "exited with status 3 without a result: some C code said goodbye"},
		{"exit 2 without a signal report", "usage\n", 2, 0, StatusError, "", "exited with status 2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := (&childRun{stderr: tc.stderr, exitCode: tc.code, signal: tc.signal, elapsed: time.Second}).modeResult(time.Second)
			assert.Equal(t, tc.status, r.Status)
			assert.Equal(t, tc.sig, r.Signal)
			assert.Contains(t, r.Message, tc.msgSubstr)
			assert.Equal(t, 1.0, r.Seconds)
		})
	}
	r := (&childRun{timedOut: true, signal: syscall.SIGKILL}).modeResult(3 * time.Second)
	assert.Equal(t, StatusTimeout, r.Status, "a child killed for its timeout is a timeout, not a crash")
	r = (&childRun{result: []byte(`{"status":"ok","message":""}`), exitCode: 0}).modeResult(time.Second)
	assert.Equal(t, StatusOK, r.Status)
	r = (&childRun{result: []byte(`garbage`), exitCode: 0}).modeResult(time.Second)
	assert.Equal(t, StatusError, r.Status)
}

func TestHeadTail(t *testing.T) {
	h := newHeadTail(4, 6)
	for _, s := range []string{"ab", "cdef", "ghij", "klmnop"} {
		n, err := h.Write([]byte(s))
		assert.NoError(t, err)
		assert.Equal(t, len(s), n)
	}
	s := h.String()
	assert.True(t, strings.HasPrefix(s, "abcd"), s)
	assert.True(t, strings.HasSuffix(s, "klmnop"), s)
	assert.Contains(t, s, "6 bytes left out")
	small := newHeadTail(4, 6)
	small.Write([]byte("abcdefg"))
	assert.Equal(t, "abcdefg", small.String())
}
