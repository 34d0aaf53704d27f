package compat

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"time"
)

// maxResult bounds what a child may write to the result pipe.
const maxResult = 4 << 20

// Bounds of the output kept from a child's stdout and stderr: the start
// (where "Fatal Python error" appears) and the end (where the last words
// are) of each.
const (
	keepHead = 8 << 10
	keepTail = 24 << 10
)

// childRun is how one child process ended.
type childRun struct {
	result   []byte // its result line, nil if it wrote none
	exitCode int    // -1 if killed by a signal
	signal   syscall.Signal
	timedOut bool
	stdout   string
	stderr   string
	elapsed  time.Duration
}

// runChild starts the child for req and waits for it. The error is for
// children that could not be started or waited for at all, and for ctx
// ending; everything a child itself does (crash, hang, garbage) is in the
// childRun.
func runChild(ctx context.Context, opts Options, req request) (*childRun, error) {
	arg, err := json.Marshal(req)
	if err != nil {
		return nil, err
	}
	cctx, cancel := context.WithTimeout(ctx, opts.Timeout)
	defer cancel()
	rd, wr, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("compat: result pipe: %w", err)
	}
	defer rd.Close()
	args := append(append([]string{}, opts.Command[1:]...), string(arg))
	cmd := exec.CommandContext(cctx, opts.Command[0], args...)
	cmd.Env = append(os.Environ(), opts.Env...)
	stdout, stderr := newHeadTail(keepHead, keepTail), newHeadTail(keepHead, keepTail)
	cmd.Stdout, cmd.Stderr = stdout, stderr
	cmd.ExtraFiles = []*os.File{wr}
	// Its own process group, so a timeout or cancel kills whatever the
	// module started too, and Ctrl-C on a terminal reaches only us (we
	// kill the children ourselves). Pdeathsig in case this process dies
	// first; it fires when the thread that started the child exits, which
	// Go threads do only when a goroutine exits locked to one, and nothing
	// in a checking process does that (it never starts CPython).
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	// A grandchild that keeps the output pipes open must not keep us here.
	cmd.WaitDelay = 2 * time.Second
	start := time.Now()
	err = cmd.Start()
	wr.Close()
	if err != nil {
		return nil, fmt.Errorf("compat: starting a child (%s): %w", opts.Command[0], err)
	}
	var (
		result  []byte
		readers sync.WaitGroup
	)
	readers.Add(1)
	go func() {
		defer readers.Done()
		result, _ = io.ReadAll(io.LimitReader(rd, maxResult))
	}()
	werr := cmd.Wait()
	run := &childRun{elapsed: time.Since(start), stdout: stdout.String(), stderr: stderr.String()}
	// The child is gone; a grandchild holding the pipe gets a moment.
	_ = rd.SetReadDeadline(time.Now().Add(time.Second))
	readers.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	run.timedOut = errors.Is(cctx.Err(), context.DeadlineExceeded)
	var exitErr *exec.ExitError
	switch {
	case werr == nil:
	case errors.As(werr, &exitErr):
	default:
		if !run.timedOut {
			return nil, fmt.Errorf("compat: waiting for a child: %w", werr)
		}
	}
	if ps := cmd.ProcessState; ps != nil {
		run.exitCode = ps.ExitCode()
		if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			run.signal = ws.Signal()
		}
	}
	if line, _, _ := bytes.Cut(result, []byte("\n")); len(line) > 0 && !run.timedOut {
		run.result = line
	}
	return run, nil
}

var (
	// goSignal matches how the Go runtime reports a fatal signal it caught
	// (the child is a Go program: a SIGSEGV or abort() in C code lands in
	// Go's handler, which prints this and exits with status 2 instead of
	// dying by the signal): "SIGSEGV: segmentation violation" on a line of
	// its own, or "[signal SIGSEGV: segmentation violation ...]".
	goSignal   = regexp.MustCompile(`(?m)^(?:\[signal )?(SIG[A-Z0-9]+): ([^\n\]]*?)(?: code=.*| PC=.*)?\]?$`)
	fatalError = regexp.MustCompile(`(?m)^Fatal Python error: .*$`)
)

// signalNames names the signals a crashed child may die of.
var signalNames = map[syscall.Signal]string{
	syscall.SIGABRT: "SIGABRT", syscall.SIGBUS: "SIGBUS", syscall.SIGFPE: "SIGFPE",
	syscall.SIGILL: "SIGILL", syscall.SIGKILL: "SIGKILL", syscall.SIGSEGV: "SIGSEGV",
	syscall.SIGTERM: "SIGTERM", syscall.SIGTRAP: "SIGTRAP", syscall.SIGSYS: "SIGSYS",
	syscall.SIGPIPE: "SIGPIPE", syscall.SIGQUIT: "SIGQUIT", syscall.SIGINT: "SIGINT",
	syscall.SIGHUP: "SIGHUP", syscall.SIGALRM: "SIGALRM", syscall.SIGXCPU: "SIGXCPU",
	syscall.SIGXFSZ: "SIGXFSZ", syscall.SIGUSR1: "SIGUSR1", syscall.SIGUSR2: "SIGUSR2",
}

func signalName(s syscall.Signal) string {
	if n, ok := signalNames[s]; ok {
		return n
	}
	return fmt.Sprintf("signal %d", int(s))
}

// modeResult turns how a check child ended into its ModeResult.
func (r *childRun) modeResult(timeout time.Duration) ModeResult {
	out := ModeResult{Seconds: r.elapsed.Seconds()}
	if r.result != nil {
		var cr childResult
		if err := json.Unmarshal(r.result, &cr); err == nil && cr.Status != "" {
			out.Status, out.Message, out.ExtensionErrors = cr.Status, cr.Message, cr.ExtErrors
			return out
		}
	}
	out.Output = r.output()
	fatal := fatalError.FindString(r.stderr)
	switch {
	case r.timedOut:
		out.Status = StatusTimeout
		out.Message = fmt.Sprintf("no result after %v: the import hangs (killed)", timeout)
	case r.signal != 0:
		out.Status, out.Signal = StatusCrash, signalName(r.signal)
		out.Message = "killed by " + out.Signal
	default:
		if m := goSignal.FindStringSubmatch(r.stderr); m != nil && r.exitCode == 2 {
			out.Status, out.Signal = StatusCrash, m[1]
			out.Message = m[1] + ": " + strings.TrimSpace(m[2])
			if strings.Contains(r.stderr, "signal arrived during cgo execution") {
				out.Message += " in C code"
			}
			break
		}
		out.Status = StatusError
		out.Message = fmt.Sprintf("the child process exited with status %d without a result", r.exitCode)
		if last := lastLine(r.stderr); last != "" {
			out.Message += ": " + last
		}
	}
	if fatal != "" && out.Status == StatusCrash {
		out.Message = strings.TrimSpace(fatal) + " (" + out.Message + ")"
	}
	return out
}

// info is what a check child saw of the module, if it imported it.
func (r *childRun) info() *info {
	if r.result == nil {
		return nil
	}
	var cr childResult
	if err := json.Unmarshal(r.result, &cr); err != nil || cr.Status != StatusOK {
		return nil
	}
	in := cr.info()
	return &in
}

// output is what the child printed, for the report.
func (r *childRun) output() string {
	var b strings.Builder
	if s := strings.TrimSpace(r.stdout); s != "" {
		b.WriteString("stdout:\n" + s + "\n")
	}
	if s := strings.TrimSpace(r.stderr); s != "" {
		b.WriteString("stderr:\n" + s + "\n")
	}
	return strings.TrimSpace(b.String())
}

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		s = s[i+1:]
	}
	return s
}

// headTail is an io.Writer that keeps the first head and the last tail
// bytes written to it.
type headTail struct {
	mu         sync.Mutex
	head, tail []byte
	maxHead    int
	maxTail    int
	dropped    int64
}

func newHeadTail(head, tail int) *headTail { return &headTail{maxHead: head, maxTail: tail} }

func (h *headTail) Write(p []byte) (int, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := len(p)
	if room := h.maxHead - len(h.head); room > 0 {
		k := min(room, len(p))
		h.head = append(h.head, p[:k]...)
		p = p[k:]
	}
	h.tail = append(h.tail, p...)
	if over := len(h.tail) - h.maxTail; over > 0 {
		h.dropped += int64(over)
		h.tail = append(h.tail[:0], h.tail[over:]...)
	}
	return n, nil
}

func (h *headTail) String() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.dropped == 0 {
		return string(h.head) + string(h.tail)
	}
	return fmt.Sprintf("%s\n[... %d bytes left out ...]\n%s", h.head, h.dropped, h.tail)
}
