package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/subinterp/subinterp/bench"
)

// TestMicrobenchQuickJSON runs the whole quick benchmark once, peers
// included (their script is built into the binary). It checks the shape of
// the report, never the figures: every peer either reports or is skipped
// with a reason. bench's own tests cover the skipping.
func TestMicrobenchQuickJSON(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the quick benchmark (several seconds)")
	}
	r := runBinary(t, "", "microbench", "--quick", "--json")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stderr, "microbench: peer interp-create -S (n=10)", "progress on stderr")
	var rep struct {
		Python pythonInfo `json:"python"`
		bench.MicroReport
	}
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &rep), r.stdout)
	assert.True(t, rep.Quick)
	assert.NotEmpty(t, rep.Python.Version)
	names := map[string]bench.MicroResult{}
	for _, res := range rep.Results {
		names[res.Name] = res
		assert.Positive(t, res.MedianUS, res.Name)
		assert.GreaterOrEqual(t, res.P99US, res.MedianUS, res.Name)
	}
	for _, name := range []string{"subinterp-create-close", "subinterp-create-close-nosite", "subinterp-call"} {
		require.Contains(t, names, name)
		assert.False(t, names[name].Peer, name)
	}
	assert.Equal(t, 5000, names["subinterp-call"].N, "the quick size")
	for _, peer := range []string{"interp-create", "process-pool", "thread-queue", "interp-call", "interp-exec"} {
		if res, ok := names["peer-"+peer]; ok {
			assert.True(t, res.Peer, peer)
			continue
		}
		assert.Condition(t, func() bool {
			for _, s := range rep.Skipped {
				if strings.HasPrefix(s, peer+": ") {
					return true
				}
			}
			return false
		}, "%s neither reported nor skipped: %q", peer, rep.Skipped)
	}
	modes := map[string]int{}
	for _, p := range rep.Parallel {
		modes[p.Mode]++
		assert.Positive(t, p.WallS)
	}
	assert.Len(t, modes, 3)
}

// TestMicrobenchUsage: the --scripts flag is gone (the peers are built
// in), and a stray argument is refused.
func TestMicrobenchUsage(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"--scripts", "scripts/bench"}, "unknown flag: --scripts"},
		{[]string{"extra"}, `unexpected argument "extra"`},
	} {
		r := runBinary(t, "", append([]string{"microbench"}, tt.args...)...)
		assert.Equal(t, exitUsage, r.code, r.stderr)
		assert.Contains(t, r.stderr, tt.want)
		assert.Empty(t, r.stdout)
	}
}

// TestDemoRemoved: `subinterp demo` is gone; make demo is bench --quick,
// and microbench prints demo's parallel table.
func TestDemoRemoved(t *testing.T) {
	var stdout, stderr bytes.Buffer
	assert.Equal(t, exitUsage, dispatch([]string{"demo"}, &stdout, &stderr))
	assert.Contains(t, stderr.String(), `unknown command "demo"`)
	stdout.Reset()
	assert.Equal(t, exitOK, dispatch([]string{"--help"}, &stdout, &stderr))
	assert.NotContains(t, stdout.String(), "  demo ")
}
