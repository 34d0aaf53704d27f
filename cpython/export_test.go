package cpython

import (
	"context"

	"github.com/subinterp/subinterp/bindings"
)

// NoopForTest runs an empty task on the interpreter's thread (GIL taken and
// released): the handoff alone, for benchmarks.
func (in *Interpreter) NoopForTest(ctx context.Context) error {
	return in.do(ctx, func() error { return nil })
}

// CallEncodedForTest calls fn with an argument encoding and out-of-band
// list made by hand, to check what the C decoder does with bad ones.
func (in *Interpreter) CallEncodedForTest(ctx context.Context, fn string, args []byte, oob [][]byte) error {
	return in.do(ctx, func() error {
		_, err := bindings.Call(fn, args, oob, nil)
		return convertError(err)
	})
}
