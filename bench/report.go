package bench

import "time"

// Mode names: how a workload's tasks are spread over workers.
const (
	// ModeOwnGIL is this project's cpython.Pool of isolated interpreters,
	// each with its own GIL.
	ModeOwnGIL = "subinterp-own-gil"
	// ModeSharedGIL is a cpython.Pool of legacy interpreters that share
	// the main GIL.
	ModeSharedGIL = "subinterp-shared-gil"
	// ModeThreads is Python threads in one interpreter.
	ModeThreads = "threads"
	// ModeFork, ModeForkserver and ModeSpawn are multiprocessing.Pool
	// with that start method.
	ModeFork       = "multiprocessing-fork"
	ModeForkserver = "multiprocessing-forkserver"
	ModeSpawn      = "multiprocessing-spawn"
	// ModeProcessPoolExecutor is concurrent.futures.ProcessPoolExecutor.
	ModeProcessPoolExecutor = "process-pool-executor"
	// ModeSubinterpInterpreters is this project's drop-in for CPython
	// 3.14's concurrent.interpreters: subinterp.interpreters'
	// InterpreterPoolExecutor(N), driven by peers.py as it drives CPython's
	// own executor (ModeCPythonInterpreters), in this binary's embedded
	// runtime (Options.SelfPeer).
	ModeSubinterpInterpreters = "subinterp-interpreters"
	// ModeCPythonInterpreters is the interpreters API that ships with the
	// Python in use (concurrent.interpreters on 3.14+,
	// test.support.interpreters on 3.13).
	ModeCPythonInterpreters = "cpython-interpreters"
	// ModeThreadsFreeThreaded is Python threads in a free-threaded build
	// (PEP 703, --disable-gil: python3.13t) with the GIL off: threads
	// that run Python in parallel and share every object.
	ModeThreadsFreeThreaded = "threads-free-threaded"
	// ModeSequentialFreeThreaded runs every task in turn in the
	// free-threaded build: against ModeSequential, the single-thread cost
	// of free-threading; against ModeThreadsFreeThreaded, its scaling.
	ModeSequentialFreeThreaded = "sequential-free-threaded"
	// ModeSequential runs every task in turn in one plain Python process:
	// the baseline of every speedup.
	ModeSequential = "sequential"
	// ModeMultiprocessingPipe is not a way to run tasks: it names the
	// round trip of a multiprocessing.Pipe to a child process, the
	// reference point of the round-trip goal.
	ModeMultiprocessingPipe = "multiprocessing-pipe"
)

// Modes lists the task modes in the order reports show them.
var Modes = []string{
	ModeOwnGIL, ModeSharedGIL, ModeThreads,
	ModeFork, ModeForkserver, ModeSpawn, ModeProcessPoolExecutor,
	ModeSubinterpInterpreters, ModeCPythonInterpreters, ModeThreadsFreeThreaded, ModeSequentialFreeThreaded,
	ModeSequential,
}

// Report is everything one `subinterp bench` run measured. Its JSON form
// is the documented output of `subinterp bench --json`.
type Report struct {
	// Python is the CPython version in use, e.g. "3.13.15".
	Python string `json:"python"`
	// PythonBuild says which build: release or debug, and its prefix.
	PythonBuild string `json:"python_build"`
	// FreeThreadedPython is the python3.Xt the free-threaded modes ran in
	// ("" when they did not run).
	FreeThreadedPython string `json:"free_threaded_python,omitempty"`
	// CPUs is the number of CPUs the machine has (runtime.NumCPU).
	CPUs int `json:"cpus"`
	// CPUModel is the processor's name from /proc/cpuinfo, if known.
	CPUModel string `json:"cpu_model,omitempty"`
	// Quick is true for a --quick run.
	Quick bool `json:"quick"`
	// Repeat is how many times each case was timed.
	Repeat int `json:"repeat"`
	// Workers are the pool sizes each mode ran with.
	Workers []int `json:"workers"`
	// Started is when the run began; Seconds how long it took.
	Started time.Time `json:"started"`
	Seconds float64   `json:"seconds"`
	// Workloads describes the workloads that ran.
	Workloads []WorkloadInfo `json:"workloads"`
	// Results holds one row per workload, mode and worker count.
	Results []Result `json:"results"`
	// Startup holds the worker start-up time of each mode.
	Startup []Startup `json:"startup"`
	// Roundtrip holds the small-message and bulk round trips of each mode.
	Roundtrip []Roundtrip `json:"roundtrip"`
	// Unavailable lists the modes the Python in use lacks, with why.
	Unavailable []Unavailable `json:"unavailable"`
	// Goals are the project's stated goals, checked against this run.
	Goals []Goal `json:"goals"`
	// Baseline compares the sequential baseline timed first in the run with
	// the same timed again last, per workload: on a shared machine other
	// processes can slow every mode in between, and then the speedups mean
	// little.
	Baseline []BaselineDrift `json:"baseline_drift,omitempty"`
	// BaselineMoved is true when any workload's baseline of 10 ms or more
	// moved by more than MaxBaselineDrift: the report then says its
	// speedups are unreliable.
	BaselineMoved bool `json:"baseline_moved"`
	// CPUSpeeds are each CPU's speed on a memory probe (ProbeCPUSpeeds),
	// timed at the start and again at the end of the run; empty where CPU
	// affinity cannot be set.
	CPUSpeeds []CPUSpeedSample `json:"cpu_speeds,omitempty"`
	// CPUsUnequal is true when, at the start or at the end, one CPU ran
	// the probe more than MaxCPUSpread slower than another: the report
	// then says that single-threaded rows depend on where they ran.
	CPUsUnequal bool `json:"cpus_unequal"`
}

// CPUSpeedSample is the CPUs' speeds at one point of a run.
type CPUSpeedSample struct {
	// When is "start" or "end".
	When   string     `json:"when"`
	Speeds []CPUSpeed `json:"speeds"`
}

// MaxBaselineDrift is how far (as a fraction) the sequential baseline may
// move between the start and the end of a run before the report warns
// that its speedups are unreliable.
const MaxBaselineDrift = 0.10

// BaselineDrift is one workload's sequential baseline at the start and at
// the end of a run.
type BaselineDrift struct {
	Workload string `json:"workload"`
	// FirstSeconds and LastSeconds are the median wall times of the two
	// sequential runs.
	FirstSeconds float64 `json:"first_seconds"`
	LastSeconds  float64 `json:"last_seconds"`
	// Change is LastSeconds/FirstSeconds - 1 (0.15: 15 % slower at the end).
	Change float64 `json:"change"`
}

// WorkloadInfo describes one workload as it ran.
type WorkloadInfo struct {
	Name string `json:"name"`
	// About says in words what one task does.
	About string `json:"about"`
	// CPUBound marks the kernels whose speedup the goals are about.
	CPUBound bool `json:"cpu_bound"`
	// Size is the task's size argument (iterations, items or bytes).
	Size int `json:"size"`
	// Tasks is how many tasks one timed run executes.
	Tasks int `json:"tasks"`
}

// Result is one timed case: a workload run by a mode with a number of
// workers, Tasks tasks per run, timed Repeat times.
type Result struct {
	Workload string `json:"workload"`
	Mode     string `json:"mode"`
	Workers  int    `json:"workers"`
	Tasks    int    `json:"tasks"`
	// WallSeconds summarises the wall time of the timed runs (pool start-up
	// excluded).
	WallSeconds Stats `json:"wall_seconds"`
	// TasksPerSecond is Tasks divided by the median wall time.
	TasksPerSecond float64 `json:"tasks_per_second"`
	// Speedup is the sequential median divided by this median (0 when
	// there is no sequential row to compare with).
	Speedup float64 `json:"speedup"`
	// Efficiency is Speedup per core used: Speedup / min(Workers, CPUs).
	Efficiency float64 `json:"per_core_efficiency"`
	// RSSMBPerWorker is the resident memory one worker adds, in MiB: a
	// worker process's own RSS, or for in-process workers the growth of
	// the process's RSS divided by the worker count.
	RSSMBPerWorker float64 `json:"rss_mb_per_worker"`
	// Checksum digests the tasks' results; every mode must agree with the
	// sequential one for the same workload.
	Checksum string `json:"checksum,omitempty"`
	// Error is why the case failed ("" when it ran).
	Error string `json:"error,omitempty"`
}

// Stats summarises repeated timings.
type Stats struct {
	Median float64 `json:"median"`
	Min    float64 `json:"min"`
	Max    float64 `json:"max"`
}

// Startup is how long a fresh worker takes to finish its first task,
// measured from the moment the pool is asked for.
type Startup struct {
	Mode        string  `json:"mode"`
	MsPerWorker float64 `json:"ms_per_worker"`
	// Samples is how many pools were started to get the median.
	Samples int    `json:"samples"`
	Error   string `json:"error,omitempty"`
}

// Roundtrip is the median time to send a payload to a warm worker and get
// it back.
type Roundtrip struct {
	Mode         string  `json:"mode"`
	PayloadBytes int     `json:"payload_bytes"`
	Microseconds float64 `json:"microseconds"`
	// GBPerSecond is the payload bytes moved both ways per second.
	GBPerSecond float64 `json:"gb_per_second"`
	Samples     int     `json:"samples"`
	Error       string  `json:"error,omitempty"`
}

// Unavailable names a mode that could not run here, and why.
type Unavailable struct {
	Mode   string `json:"mode"`
	Reason string `json:"reason"`
}

// Goal is one of the project's goals checked against a run.
type Goal struct {
	// Name says what is compared ("own-GIL speedup on the CPU kernels").
	Name string `json:"name"`
	// Want is the target in words ("≥ 0.9 × cores = 1.8×").
	Want string `json:"want"`
	// Measured is the figure this run got, in words.
	Measured string `json:"measured"`
	// Met is true when Measured meets Want.
	Met bool `json:"met"`
	// Known is false when the run lacked the figures to decide.
	Known bool `json:"known"`
}
