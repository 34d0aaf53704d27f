package testutil

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// recorder is a testing.TB that records failures instead of failing the
// test; only what this package calls is implemented.
type recorder struct {
	testing.TB
	errors   []string
	stopped  bool
	cleanups []func()
}

func (r *recorder) Helper() {}

func (r *recorder) Errorf(format string, args ...any) {
	r.errors = append(r.errors, fmt.Sprintf(format, args...))
}

func (r *recorder) FailNow() {
	r.stopped = true
	runtime.Goexit()
}

func (r *recorder) Cleanup(f func()) { r.cleanups = append(r.cleanups, f) }

// inTest runs f as a test body would run: on a goroutine of its own, which
// FailNow ends.
func inTest(f func()) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		f()
	}()
	<-done
}

// shortDeadline makes the waits give up after 1 ms for the rest of the
// test.
func shortDeadline(t *testing.T) {
	failAfter = time.Millisecond
	t.Cleanup(func() { failAfter = FailAfter })
}

// after returns a condition that holds from its n-th call on, and the
// count of calls.
func after(n int) (func() bool, *int) {
	calls := new(int)
	return func() bool { *calls++; return *calls >= n }, calls
}

func never() bool { return false }

func TestWaitsThatSucceed(t *testing.T) {
	for name, wait := range map[string]func(testing.TB, string, func() bool) bool{
		"Eventually": Eventually,
		"SpinUntil":  SpinUntil,
		"WaitUntil": func(t testing.TB, what string, cond func() bool) bool {
			WaitUntil(t, what, cond)
			return true
		},
	} {
		t.Run(name, func(t *testing.T) {
			r := &recorder{}
			cond, calls := after(3)
			assert.True(t, wait(r, "three looks", cond))
			assert.Equal(t, 3, *calls)
			assert.Empty(t, r.errors)
			assert.False(t, r.stopped)
		})
	}
}

func TestWaitsThatGiveUp(t *testing.T) {
	shortDeadline(t)
	for name, wait := range map[string]func(testing.TB, string, func() bool) bool{
		"Eventually": Eventually,
		"SpinUntil":  SpinUntil,
	} {
		t.Run(name, func(t *testing.T) {
			r := &recorder{}
			var ok bool
			inTest(func() { ok = wait(r, "the impossible", never) })
			assert.False(t, ok)
			assert.Equal(t, []string{"gave up after 1ms: the impossible"}, r.errors)
			assert.False(t, r.stopped, "the caller decides whether to stop")
		})
	}
	t.Run("WaitUntil", func(t *testing.T) {
		r := &recorder{}
		returned := false
		inTest(func() {
			WaitUntil(r, "the impossible", never)
			returned = true
		})
		assert.Equal(t, []string{"gave up after 1ms: the impossible"}, r.errors)
		assert.True(t, r.stopped)
		assert.False(t, returned, "WaitUntil stops the test")
	})
}

func TestReceive(t *testing.T) {
	r := &recorder{}
	ch := make(chan int, 1)
	ch <- 7
	v, ok := Receive(r, ch, "a value")
	assert.Equal(t, 7, v)
	assert.True(t, ok)

	close(ch)
	v, ok = Receive(r, ch, "a value")
	assert.Zero(t, v)
	assert.True(t, ok, "a closed channel delivers")
	assert.Empty(t, r.errors)

	shortDeadline(t)
	v, ok = Receive(r, make(chan int), "a value")
	assert.Zero(t, v)
	assert.False(t, ok)
	assert.Equal(t, []string{"gave up after 1ms: a value"}, r.errors)
	assert.False(t, r.stopped)
}

func TestNoGoroutineLeaks(t *testing.T) {
	shortDeadline(t)
	var count atomic.Int64
	count.Store(5)
	numGoroutine = func() int { return int(count.Load()) }
	t.Cleanup(func() { numGoroutine = runtime.NumGoroutine })

	r := &recorder{}
	NoGoroutineLeaks(r)
	require.Len(t, r.cleanups, 1)
	count.Store(6)
	inTest(r.cleanups[0])
	assert.Equal(t, []string{"gave up after 1ms: goroutines to exit"}, r.errors, "a goroutine is left")
	assert.True(t, r.stopped)

	failAfter = FailAfter
	r.errors, r.stopped = nil, false
	go count.Store(4) // the test's goroutines, and one more, exit
	inTest(r.cleanups[0])
	assert.Empty(t, r.errors, "back under the count")
	assert.False(t, r.stopped)
}

// fakeM is a testing.M that records whether its tests ran.
type fakeM struct {
	code int
	ran  bool
}

func (m *fakeM) Run() int { m.ran = true; return m.code }

func TestMainRun(t *testing.T) {
	boom := errors.New("boom")
	tests := []struct {
		name         string
		setupErr     error
		tests        int
		teardownErr  error
		noTeardown   bool
		want         int
		wantRan      bool
		wantTeardown bool
		wantStderr   string
	}{
		{name: "all well", want: 0, wantRan: true, wantTeardown: true},
		{name: "no teardown", noTeardown: true, want: 0, wantRan: true},
		{name: "setup fails", setupErr: boom, want: 1, wantStderr: "TestMain: setting up: boom\n"},
		{name: "tests fail", tests: 3, want: 3, wantRan: true, wantTeardown: true},
		{name: "teardown fails", teardownErr: boom, want: 1, wantRan: true, wantTeardown: true,
			wantStderr: "TestMain: tearing down: boom\n"},
		{name: "tests and teardown fail", tests: 2, teardownErr: boom, want: 2, wantRan: true, wantTeardown: true,
			wantStderr: "TestMain: tearing down: boom\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := &fakeM{code: tt.tests}
			tornDown := false
			setup := func() (func() error, error) {
				if tt.setupErr != nil {
					return nil, tt.setupErr
				}
				if tt.noTeardown {
					return nil, nil
				}
				return func() error { tornDown = true; return tt.teardownErr }, nil
			}
			var stderr bytes.Buffer
			assert.Equal(t, tt.want, run(m, setup, &stderr))
			assert.Equal(t, tt.wantRan, m.ran)
			assert.Equal(t, tt.wantTeardown, tornDown)
			assert.Equal(t, tt.wantStderr, stderr.String())
		})
	}
}

func TestReadProcess(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644))
	}
	write("stat", "123 (a (b) c) S 77 123 123 0 -1 4194560 100 0 0 0\n")
	write("cmdline", "x\x00y z\x00")
	p, ok := readProcess(dir, 123)
	require.True(t, ok)
	assert.Equal(t, Process{PID: 123, PPID: 77, State: "S", Comm: "a (b) c", Args: []string{"x", "y z"}}, p)
	assert.Equal(t, "123 x y z", p.String())

	write("stat", "124 (gone) Z 77 0 0 0\n")
	write("cmdline", "")
	p, ok = readProcess(dir, 124)
	require.True(t, ok)
	assert.Equal(t, Process{PID: 124, PPID: 77, State: "Z", Comm: "gone"}, p)
	assert.Equal(t, "124 (gone) Z", p.String())

	write("stat", "garbage")
	_, ok = readProcess(dir, 125)
	assert.False(t, ok)
	_, ok = readProcess(filepath.Join(dir, "nope"), 126)
	assert.False(t, ok, "a process that is gone")
}

// TestProcesses follows a child of the test through its life: running,
// a zombie once it exits, gone once waited for.
func TestProcesses(t *testing.T) {
	cmd := exec.Command("cat")
	stdin, err := cmd.StdinPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	child := func(p Process) bool { return p.PID == cmd.Process.Pid }

	got := Processes(t, child)
	require.Len(t, got, 1)
	assert.Equal(t, os.Getpid(), got[0].PPID)
	assert.Equal(t, "cat", got[0].Comm)
	assert.Equal(t, []string{"cat"}, got[0].Args)
	assert.NotEqual(t, "Z", got[0].State)
	mine := Processes(t, func(p Process) bool { return p.PPID == os.Getpid() })
	assert.True(t, slices.ContainsFunc(mine, child), "the filter sees every process")

	require.NoError(t, stdin.Close())
	WaitUntil(t, "cat to exit", func() bool {
		got = Processes(t, child)
		return len(got) == 1 && got[0].State == "Z"
	})
	assert.Empty(t, got[0].Args, "a zombie has no command line")
	require.NoError(t, cmd.Wait())
	assert.Empty(t, Processes(t, child))
}
