package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/subinterp/subinterp/cpython"
)

// memoryProbe measures the memory per worker of a pool of n.
type memoryProbe func(ctx context.Context, n int) (float64, error)

// errNoMemoryProbe: Options.MemoryProbe is empty, memory is measured in
// this process.
var errNoMemoryProbe = errors.New("no memory probe command")

// memoryProbeTimeout bounds one probe: starting CPython, a pool and one
// small task of each workload per worker.
const memoryProbeTimeout = time.Minute

// runMemoryProbe runs command (with mode and n appended) and reads the
// MiB per worker it prints.
func runMemoryProbe(ctx context.Context, command []string, mode string, n int) (float64, error) {
	if len(command) == 0 {
		return 0, errNoMemoryProbe
	}
	var out struct {
		MBPerWorker float64 `json:"rss_mb_per_worker"`
	}
	if err := runProbe(ctx, command, memoryProbeTimeout, &out, mode, strconv.Itoa(n)); err != nil {
		return 0, err
	}
	return out.MBPerWorker, nil
}

// runProbe runs command with args appended, in a fresh process (this
// binary re-executing itself: CPython starts once per process, so a
// measurement that needs a runtime of its own runs there), and decodes the
// one JSON value it prints into v. The probe is killed after timeout, or
// when this process dies.
func runProbe(ctx context.Context, command []string, timeout time.Duration, v any, args ...string) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, command[0], append(slices.Clone(command[1:]), args...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%w: %s", err, lastLine(stderr.String()))
	}
	if err := json.Unmarshal(stdout.Bytes(), v); err != nil {
		return fmt.Errorf("reading the probe's output %q: %w", stdout.String(), err)
	}
	return nil
}

// lastLine is the last non-empty line of s.
func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.TrimSpace(lines[len(lines)-1])
}

// MemoryProbeMain is the memory probe, run in a fresh process whose
// runtime is rt: it starts a pool of workers interpreters of mode (a
// subinterp mode), runs one quick task of every workload in each, and
// writes {"rss_mb_per_worker": x} to w: the growth of this process's
// resident memory divided by workers, comparable with a worker process's
// own RSS.
func MemoryProbeMain(ctx context.Context, rt *cpython.Runtime, mode string, workers int, w io.Writer) error {
	if mode != ModeOwnGIL && mode != ModeSharedGIL {
		return fmt.Errorf("%w: the memory probe measures %s or %s, not %q", ErrUsage, ModeOwnGIL, ModeSharedGIL, mode)
	}
	if workers <= 0 {
		return fmt.Errorf("%w: workers must be at least 1, got %d", ErrUsage, workers)
	}
	dir, err := os.MkdirTemp("", "subinterp-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	if err := writePyFiles(dir); err != nil {
		return err
	}
	meta, err := loadWorkloads(ctx, rt, dir, true)
	if err != nil {
		return err
	}
	before, err := residentMB(0)
	if err != nil {
		return err
	}
	pool, err := newPool(rt, mode, modeConfig(mode), dir, workers)
	if err != nil {
		return err
	}
	defer closePool(pool)
	for _, name := range Workloads {
		// About one task per worker, so that the interpreters hold what
		// the workloads leave behind, as a worker process's RSS after the
		// timed runs does. Not transfer: its buffers are recycled by the
		// Go side for the whole process, not held per worker.
		// Nor shared_graph: its graph is one fixed-size copy per worker
		// whatever the task, which would be counted in every workload's
		// row; its about text gives the size instead.
		if name == "transfer" || name == "shared_graph" {
			continue
		}
		tasks := workers
		if name == "tiny" {
			tasks = 4 * workers
		}
		if _, _, err := runTasks(ctx, pool, workers, planWorkload{Name: name, Size: meta[name].size, Tasks: tasks}); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
	}
	after, err := residentMB(0)
	if err != nil {
		return err
	}
	return json.NewEncoder(w).Encode(map[string]float64{"rss_mb_per_worker": round(max(after-before, 0)/float64(workers), 2)})
}
