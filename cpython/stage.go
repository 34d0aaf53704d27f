package cpython

// stage is a point in a call's round trip to an interpreter's thread. The
// stages are recorded only in a build with -tags subinterp_stages
// (stages.go, which exports them); BenchmarkCallStages reports the time
// between each.
type stage int

// The stages of one task, in order.
const (
	stageSubmitted stage = iota // the caller handed the task to the thread
	stagePicked                 // the pinned thread took it
	stageAttached               // ... and holds the interpreter's GIL
	stageCodeStart              // the task's own work starts (Python code, conversions)
	stageCodeEnd                // ... and ends
	stageDetached               // the thread released the GIL and reports the result
	stageCollected              // the caller saw the result
	numStages
)
