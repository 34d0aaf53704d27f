package bench

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"
)

// peerLine is one line peers.py prints; Kind says which fields are set.
type peerLine struct {
	Kind string `json:"kind"`
	// hello
	Available *bool  `json:"available"`
	Reason    string `json:"reason"`
	Python    string `json:"python"`
	// result
	Workload       string    `json:"workload"`
	Workers        int       `json:"workers"`
	Tasks          int       `json:"tasks"`
	WallSeconds    []float64 `json:"wall_seconds"`
	Digest         string    `json:"digest"`
	RSSMBPerWorker float64   `json:"rss_mb_per_worker"`
	Error          string    `json:"error"`
	// startup
	Ms []float64 `json:"ms"`
	// roundtrip
	PayloadBytes int     `json:"payload_bytes"`
	Microseconds float64 `json:"microseconds"`
	Samples      int     `json:"samples"`
	// latency
	peerLatency
}

// peerLatency is the figure of a latency mode (microbench's peers).
type peerLatency struct {
	Name     string  `json:"name"`
	What     string  `json:"what"`
	MedianUS float64 `json:"median_us"`
	P99US    float64 `json:"p99_us"`
	N        int     `json:"n"`
	// Site is false when the peer ran under python -S.
	Site bool `json:"site"`
}

// peerStopGrace is how long a peer gets to shut its worker processes down
// after SIGTERM before it and its process group are killed.
const peerStopGrace = 5 * time.Second

// peerCmd is how to start peers.py: in which python3.X, with which of its
// flags (-S), from which directory holding the Python files.
type peerCmd struct {
	python string
	flags  []string
	dir    string
}

// runPeer runs plan p for mode in a plain Python process: python
// [flags] dir/peers.py with the plan on stdin. A peer that cannot start or
// dies half-way fails the rows it did not report, and the run goes on.
func runPeer(ctx context.Context, pc peerCmd, mode string, p plan, pr progress) modeReport {
	var rep modeReport
	if pc.python == "" {
		rep.unavailable = "no python3 binary of the linked CPython build was found"
		return rep
	}
	cmd, stdout, stderr, err := startPeer(ctx, pc, mode, p, pr)
	if err != nil {
		rep.unavailable = err.Error()
		return rep
	}
	defer func() { _ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }()
	reported, done := readPeer(stdout, mode, pr, &rep)
	waitErr := cmd.Wait()
	if rep.unavailable != "" || ctx.Err() != nil || done {
		return rep
	}
	why := "the peer stopped early"
	if waitErr != nil {
		why = fmt.Sprintf("the peer failed (%v)", waitErr)
	}
	if tail := stderr.lastLine(); tail != "" {
		why += ": " + tail
	}
	for _, n := range p.Workers {
		for _, w := range p.Workloads {
			if !reported[fmt.Sprint(w.Name, "/", n)] {
				rep.results = append(rep.results, Result{Workload: w.Name, Mode: mode, Workers: n, Tasks: w.Tasks, Error: why})
			}
		}
	}
	if len(rep.results) == 0 && len(rep.startup) == 0 && len(rep.roundtrip) == 0 && len(rep.latency) == 0 {
		rep.unavailable = why
	}
	return rep
}

// startPeer starts peers.py with the plan for mode on its stdin and
// returns the process, its stdout and the keeper of its stderr, whose
// lines go on as progress.
func startPeer(ctx context.Context, pc peerCmd, mode string, p plan, pr progress) (*exec.Cmd, io.Reader, *tailWriter, error) {
	in, err := json.Marshal(struct {
		Mode string `json:"mode"`
		plan
	}{mode, p})
	if err != nil {
		return nil, nil, nil, err
	}
	args := append(slices.Clone(pc.flags), filepath.Join(pc.dir, "peers.py"), "-")
	cmd := exec.CommandContext(ctx, pc.python, args...)
	cmd.Dir = pc.dir
	cmd.Stdin = bytes.NewReader(in)
	// Bytecode may be cached in dir: the in-process modes cache it there
	// too, so no mode recompiles workloads.py in every worker and the
	// others not.
	cmd.Env = append(withoutEnv(os.Environ(), "PYTHONDONTWRITEBYTECODE"), "PYTHONUNBUFFERED=1")
	// Its own process group, so that worker processes it leaves behind
	// can be killed with it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = peerStopGrace
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, nil, nil, err
	}
	stderr := &tailWriter{max: 16 << 10, lines: pr, prefix: mode + ": "}
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		return nil, nil, nil, fmt.Errorf("starting %s: %w", pc.python, err)
	}
	return cmd, stdout, stderr, nil
}

// readPeer reads the peer's lines into rep until its stdout ends. reported
// holds "workload/workers" of every result row that came; done is true when
// the peer said it finished.
func readPeer(stdout io.Reader, mode string, pr progress, rep *modeReport) (reported map[string]bool, done bool) {
	reported = map[string]bool{}
	sc := bufio.NewScanner(stdout)
	sc.Buffer(make([]byte, 0, 64<<10), 4<<20)
	for sc.Scan() {
		var l peerLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			pr.printf("%s: ignoring a line that is not JSON: %.120s", mode, sc.Text())
			continue
		}
		switch l.Kind {
		case "hello":
			if l.Available != nil && !*l.Available {
				rep.unavailable = l.Reason
			}
		case "result":
			rep.results = append(rep.results, peerResult(l, mode, pr))
			reported[fmt.Sprint(l.Workload, "/", l.Workers)] = true
		case "startup":
			st := Startup{Mode: mode, Error: l.Error, Samples: len(l.Ms)}
			if st.Error == "" && len(l.Ms) > 0 {
				st.MsPerWorker = round(summarize(l.Ms).Median, 2)
			}
			rep.startup = append(rep.startup, st)
		case "roundtrip":
			rt := Roundtrip{Mode: mode, PayloadBytes: l.PayloadBytes, Microseconds: round(l.Microseconds, 2), Samples: l.Samples, Error: l.Error}
			if rt.Error == "" {
				rt.GBPerSecond = gbPerSecond(rt.PayloadBytes, rt.Microseconds)
			}
			rep.roundtrip = append(rep.roundtrip, rt)
		case "latency":
			rep.latency = append(rep.latency, l.peerLatency)
		case "done":
			done = true
		}
	}
	return reported, done
}

// peerResult is the Result of a peer's result line.
func peerResult(l peerLine, mode string, pr progress) Result {
	row := Result{Workload: l.Workload, Mode: mode, Workers: l.Workers, Tasks: l.Tasks,
		RSSMBPerWorker: round(l.RSSMBPerWorker, 2), Error: l.Error}
	if row.Error == "" && len(l.WallSeconds) == 0 {
		row.Error = "the peer reported no timings"
	}
	if row.Error == "" {
		row.WallSeconds = summarize(l.WallSeconds)
		row.TasksPerSecond = round(float64(l.Tasks)/row.WallSeconds.Median, 1)
		row.Checksum = l.Digest
		pr.casesDone(1)
		pr.printf("%s: %s, %d workers: median %.3f s", mode, l.Workload, l.Workers, row.WallSeconds.Median)
	} else {
		pr.casesDone(1)
		pr.printf("%s: %s, %d workers: failed: %s", mode, l.Workload, l.Workers, row.Error)
	}
	return row
}

// withoutEnv returns env without the variable name.
func withoutEnv(env []string, name string) []string {
	var out []string
	for _, kv := range env {
		if k, _, _ := strings.Cut(kv, "="); k != name {
			out = append(out, kv)
		}
	}
	return out
}

// tailWriter keeps the last max bytes written to it and passes each
// complete line on as progress.
type tailWriter struct {
	mu     sync.Mutex
	max    int
	buf    []byte
	line   []byte
	lines  progress
	prefix string
}

func (t *tailWriter) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if len(t.buf) > t.max {
		t.buf = t.buf[len(t.buf)-t.max:]
	}
	t.line = append(t.line, p...)
	for {
		i := bytes.IndexByte(t.line, '\n')
		if i < 0 {
			break
		}
		if s := strings.TrimSpace(string(t.line[:i])); s != "" && t.lines.w != nil {
			fmt.Fprintf(t.lines.w, "  %s%s\n", t.prefix, s)
		}
		t.line = t.line[i+1:]
	}
	return len(p), nil
}

// lastLine is the last non-empty line written.
func (t *tailWriter) lastLine() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return lastLine(string(t.buf))
}

var _ io.Writer = (*tailWriter)(nil)
