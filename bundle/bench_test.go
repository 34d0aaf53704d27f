package bundle

import (
	"os"
	"path/filepath"
	"testing"
)

// benchFileEnv names a single-file bundle for the benchmarks (they measure
// the launcher's own work on a real payload, without starting Python):
//
//	bin/subinterp bundle --single-file /tmp/probe.run --launcher bin/subinterp-launcher PROGRAM
//	SUBINTERP_BUNDLE_BENCH=/tmp/probe.run go test -run '^$' -bench . ./bundle
const benchFileEnv = "SUBINTERP_BUNDLE_BENCH"

func benchFile(b *testing.B) string {
	b.Helper()
	p := os.Getenv(benchFileEnv)
	if p == "" {
		b.Skipf("set %s to a single-file bundle", benchFileEnv)
	}
	return p
}

// BenchmarkUnpackCold is a first start: verify and unpack the payload into
// an empty cache, sync, rename.
func BenchmarkUnpackCold(b *testing.B) {
	p := benchFile(b)
	st, err := os.Stat(p)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(st.Size())
	for i := 0; b.Loop(); i++ {
		b.StopTimer()
		root := filepath.Join(b.TempDir(), "cache")
		b.StartTimer()
		if _, _, err := EnsureUnpacked(p, root); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		os.RemoveAll(root)
		b.StartTimer()
	}
}

// BenchmarkUnpackWarm is every later start: read the trailer and check the
// entry's files (VerifyEnv=full also hashes them: BenchmarkUnpackWarmFull).
func BenchmarkUnpackWarm(b *testing.B)     { benchWarm(b, "") }
func BenchmarkUnpackWarmFull(b *testing.B) { benchWarm(b, "full") }

func benchWarm(b *testing.B, verify string) {
	p := benchFile(b)
	b.Setenv(VerifyEnv, verify)
	root := b.TempDir()
	if _, _, err := EnsureUnpacked(p, root); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, _, err := EnsureUnpacked(p, root); err != nil {
			b.Fatal(err)
		}
	}
}
