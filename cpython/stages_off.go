//go:build !subinterp_stages

package cpython

// stageStamps is empty in ordinary builds: the stage marks compile to
// nothing. Build with -tags subinterp_stages for the timestamps (stages.go).
type stageStamps struct{}

func (*stageStamps) mark(stage) {}

func (*stageStamps) record() {}
