//go:build subinterp_stages

package cpython

import (
	"sync"
	_ "unsafe" // go:linkname
)

// With -tags subinterp_stages every task records when it passed each stage
// of a call's round trip (perf is not available on the VMs this project
// is measured on, so the code is instrumented instead). The timestamps go
// to a process-wide log only while StageLog.Start is on: a benchmark build
// measures one thing at a time.

//go:linkname nanotime runtime.nanotime
func nanotime() int64

// stageStamps holds a task's timestamps (runtime.nanotime, cheap and
// monotonic across threads), indexed by stage.
type stageStamps [numStages]int64

func (s *stageStamps) mark(st stage) { s[st] = nanotime() }

// record adds a finished task's stamps to the log, if it is on.
func (s *stageStamps) record() {
	stageLog.mu.Lock()
	if stageLog.on {
		stageLog.rows = append(stageLog.rows, *s)
	}
	stageLog.mu.Unlock()
	*s = stageStamps{}
}

var stageLog struct {
	mu   sync.Mutex
	on   bool
	rows []stageStamps
}

// NumStages is how many stages a row of StopStageLog has.
const NumStages = int(numStages)

// StageNames names the stages, in the order of a row of StopStageLog: the
// caller submitted the task; the pinned thread picked it; it holds the
// interpreter's GIL; the task's own work (Python code, conversions) starts;
// and ends; the thread released the GIL and reports the result; the caller
// saw it.
var StageNames = [NumStages]string{"submitted", "picked", "attached", "code start", "code end", "detached", "collected"}

// StartStageLog starts collecting every task's stage timestamps (only in
// a build with -tags subinterp_stages), dropping what was collected.
func StartStageLog() {
	stageLog.mu.Lock()
	stageLog.on, stageLog.rows = true, nil
	stageLog.mu.Unlock()
}

// StopStageLog stops collecting and returns one row per task: nanosecond
// timestamps indexed as StageNames.
func StopStageLog() [][NumStages]int64 {
	stageLog.mu.Lock()
	defer stageLog.mu.Unlock()
	stageLog.on = false
	rows := make([][NumStages]int64, len(stageLog.rows))
	for i, r := range stageLog.rows {
		rows[i] = r
	}
	stageLog.rows = nil
	return rows
}
