package cpython_test

import (
	"testing"
)

// BenchmarkCallBytes1MiB is Interpreter.Call of an identity function with
// 1 MiB of bytes: the argument and the result cross the Go/Python boundary
// once each.
func BenchmarkCallBytes1MiB(b *testing.B) {
	in := newInterp(b)
	if err := in.Exec(bg, "def ident(x): return x"); err != nil {
		b.Fatal(err)
	}
	data := make([]byte, 1<<20)
	b.SetBytes(2 << 20)
	for b.Loop() {
		if _, err := in.Call(bg, "ident", data); err != nil {
			b.Fatal(err)
		}
	}
}
