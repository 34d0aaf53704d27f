package cpython

import "context"

// NoopForTest runs an empty task on the interpreter's thread (GIL taken and
// released): the handoff alone, for benchmarks.
func (in *Interpreter) NoopForTest(ctx context.Context) error {
	return in.do(ctx, func() error { return nil })
}
