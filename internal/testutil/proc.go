package testutil

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// Process is one process as /proc shows it.
type Process struct {
	PID, PPID int
	// State is the state letter of /proc/<pid>/stat: "R" running, "S"
	// sleeping, "Z" a zombie (dead, not yet waited for), ...
	State string
	// Comm is the executable's name (at most 15 bytes).
	Comm string
	// Args is the command line, empty for a zombie.
	Args []string
}

// String is the pid and the command line, or the name if there is none.
func (p Process) String() string {
	if len(p.Args) == 0 {
		return fmt.Sprintf("%d (%s) %s", p.PID, p.Comm, p.State)
	}
	return fmt.Sprintf("%d %s", p.PID, strings.Join(p.Args, " "))
}

// Processes lists the processes of the system (Linux: /proc) for which
// keep returns true, all if keep is nil. Processes come and go while it
// reads: one that ends before its stat file is read is left out.
func Processes(t testing.TB, keep func(Process) bool) []Process {
	t.Helper()
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatalf("listing processes: %v", err)
	}
	var out []Process
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		p, ok := readProcess(filepath.Join("/proc", e.Name()), pid)
		if ok && (keep == nil || keep(p)) {
			out = append(out, p)
		}
	}
	return out
}

// readProcess reads the process of /proc directory dir; ok is false if it
// is gone.
func readProcess(dir string, pid int) (p Process, ok bool) {
	stat, err := os.ReadFile(filepath.Join(dir, "stat"))
	if err != nil {
		return Process{}, false
	}
	// "pid (comm) state ppid ...": comm may hold spaces and parentheses,
	// so the fields start after the last ')'.
	open, closing := bytes.IndexByte(stat, '('), bytes.LastIndexByte(stat, ')')
	if open < 0 || closing < open {
		return Process{}, false
	}
	f := strings.Fields(string(stat[closing+1:]))
	if len(f) < 2 {
		return Process{}, false
	}
	ppid, err := strconv.Atoi(f[1])
	if err != nil {
		return Process{}, false
	}
	p = Process{PID: pid, PPID: ppid, State: f[0], Comm: string(stat[open+1 : closing])}
	if cmdline, err := os.ReadFile(filepath.Join(dir, "cmdline")); err == nil && len(cmdline) > 0 {
		p.Args = strings.Split(strings.TrimSuffix(string(cmdline), "\x00"), "\x00")
	}
	return p, true
}
