package cpython_test

import (
	"fmt"
	"strings"
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

// BenchmarkCallBytes1KiB is Interpreter.Call of an identity function with
// 1 KiB of bytes: a small message's round trip.
func BenchmarkCallBytes1KiB(b *testing.B) {
	in := newInterp(b)
	if err := in.Exec(bg, "def ident(x): return x"); err != nil {
		b.Fatal(err)
	}
	data := make([]byte, 1<<10)
	reportLatency(b, func() error { _, err := in.Call(bg, "ident", data); return err })
}

func BenchmarkCallBytesSizes(b *testing.B) {
	in := newInterp(b)
	if err := in.Exec(bg, "def ident(x): return x"); err != nil {
		b.Fatal(err)
	}
	for _, n := range []int{1, 64, 1024} {
		data := make([]byte, n)
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			reportLatency(b, func() error { _, err := in.Call(bg, "ident", data); return err })
		})
	}
	b.Run("str64", func(b *testing.B) {
		s := strings.Repeat("x", 64)
		reportLatency(b, func() error { _, err := in.Call(bg, "ident", s); return err })
	})
}
