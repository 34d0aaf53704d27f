package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// tinyMicro are sizes that run the whole microbenchmark in about a second.
var tinyMicro = microSizes{create: 2, createWarm: 1, calls: 50, callWarm: 10, poolCalls: 20, peerCalls: 20, work: 2000, repeat: 1}

// microPeers are the peer measurements a run reports, by result name.
var microPeers = []string{"peer-interp-create", "peer-interp-create-nosite", "peer-process-pool", "peer-thread-queue", "peer-interp-call", "peer-interp-exec"}

func TestFmtMicros(t *testing.T) {
	assert.Equal(t, "3.25 µs", fmtMicros(3.25))
	assert.Equal(t, "12.50 ms", fmtMicros(12500))
	assert.Equal(t, "1.50 s", fmtMicros(1.5e6))
}

// TestRunMicroWithoutPeers: without a python3.X every peer that runs in it
// is skipped with the reason given, and so is create+close without site
// when there is no command to measure it in; this project's own figures are
// all there, and so is CPython's create+destroy in this process, which
// needs no python3.X.
func TestRunMicroWithoutPeers(t *testing.T) {
	var progress bytes.Buffer
	rep, err := runMicro(t.Context(), testRuntime, MicroOptions{NoPython: "no python3.13 in /nowhere/bin", Progress: &progress}, tinyMicro)
	require.NoError(t, err)
	assert.Contains(t, progress.String(), "peer skipped: interp-create: no python3.13 in /nowhere/bin\n")
	assert.Contains(t, progress.String(), "microbench: call: 50 Interpreter.Call round trips\n")

	names := map[string]MicroResult{}
	for _, r := range rep.Results {
		names[r.Name] = r
		assert.Positive(t, r.MedianUS, r.Name)
		assert.GreaterOrEqual(t, r.P99US, r.MedianUS, r.Name)
		assert.Equal(t, r.Name == "peer-interp-create-inprocess", r.Peer, r.Name)
	}
	require.Contains(t, names, "subinterp-create-close")
	require.Contains(t, names, "subinterp-call")
	require.Contains(t, names, "peer-interp-create-inprocess")
	assert.Equal(t, tinyMicro.calls, names["subinterp-call"].N)
	assert.Equal(t, tinyMicro.create, names["peer-interp-create-inprocess"].N)
	assert.Len(t, names, 3)

	require.Len(t, rep.Skipped, 1+6, "create+close without site, and each peer")
	assert.Contains(t, rep.Skipped[0], "create+close without site: no probe command")
	for _, s := range rep.Skipped[1:] {
		assert.True(t, strings.HasSuffix(s, ": no python3.13 in /nowhere/bin"), s)
	}
	modes := map[string]int{}
	for _, p := range rep.Parallel {
		modes[p.Mode]++
		assert.Positive(t, p.WallS)
	}
	assert.Len(t, modes, 3)

	var text bytes.Buffer
	WriteMicroText(&text, rep, "CPython 3.13.15 (release build, /p)")
	assert.True(t, strings.HasPrefix(text.String(), "CPython 3.13.15 (release build, /p), "), text.String())
	assert.Contains(t, text.String(), "create + close an isolated interpreter\n")
	assert.Contains(t, text.String(), "\npeer skipped: thread-queue: no python3.13 in /nowhere/bin")

	// The cross-CPU probe, before and after the calls: each either measured
	// or said why not (a host that kept a CPU away gives up).
	if runtime.NumCPU() >= 2 {
		var whens []string
		for _, x := range rep.CrossCPU {
			whens = append(whens, x.When)
			assert.Positive(t, x.RoundTripNs)
			assert.NotEqual(t, x.A, x.B)
		}
		for _, when := range []string{"before", "after"} {
			if !slices.Contains(whens, when) {
				assert.Contains(t, progress.String(), "microbench: cross-cpu probe ("+when+" the calls): not measured: ")
			}
		}
		if len(whens) == 2 {
			assert.Regexp(t, `\na cache line from CPU \d+ to CPU \d+ and back: \d+ ns before, \d+ ns after our calls\n`, text.String())
		}
	}
}

// TestRunMicroPeers runs every peer of microbench in the build's
// python3.X: each reports a figure, except that 3.12's interpreters module
// has no call(), which that peer must then say.
func TestRunMicroPeers(t *testing.T) {
	rep, err := runMicro(t.Context(), testRuntime, MicroOptions{Python: testPython(t)}, tinyMicro)
	require.NoError(t, err)
	names := map[string]MicroResult{}
	for _, r := range rep.Results {
		names[r.Name] = r
	}
	for _, name := range microPeers {
		if name == "peer-interp-call" && strings.HasPrefix(testRuntime.Version(), "3.12.") {
			assert.NotContains(t, names, name)
			assert.NotEmpty(t, rep.Skipped, "3.12 has no _interpreters.call: the peer says it skipped")
			continue
		}
		require.Contains(t, names, name, "skipped: %q", rep.Skipped)
		r := names[name]
		assert.True(t, r.Peer, name)
		assert.Positive(t, r.MedianUS, name)
		assert.GreaterOrEqual(t, r.P99US, r.MedianUS, name)
	}
	assert.Equal(t, tinyMicro.create, names["peer-interp-create"].N)
	assert.Equal(t, tinyMicro.poolCalls, names["peer-process-pool"].N)
	assert.Equal(t, tinyMicro.peerCalls, names["peer-thread-queue"].N)
	assert.True(t, strings.HasSuffix(names["peer-interp-create"].What, ", site imported"))
	assert.True(t, strings.HasSuffix(names["peer-interp-create-nosite"].What, ", python -S"))
}

// TestLatencyPeers runs latency modes of peers.py through runPeer, the
// one reader of the peers' protocol.
func TestLatencyPeers(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, writePyFiles(dir))
	pc := peerCmd{python: testPython(t), dir: dir}
	latencyPlan := func(n int) plan { return plan{Repeat: 1, Latency: &planLatency{Samples: n}} }

	rep := runPeer(t.Context(), pc, "thread-queue", latencyPlan(50), progress{})
	require.Empty(t, rep.unavailable)
	require.Len(t, rep.latency, 1)
	assert.Equal(t, "thread-queue", rep.latency[0].Name)
	assert.Equal(t, 50, rep.latency[0].N)
	assert.Positive(t, rep.latency[0].MedianUS)
	assert.True(t, rep.latency[0].Site)
	assert.Empty(t, rep.results)

	nosite := pc
	nosite.flags = []string{"-S"}
	rep = runPeer(t.Context(), nosite, "interp-create", latencyPlan(2), progress{})
	require.Empty(t, rep.unavailable)
	require.Len(t, rep.latency, 1)
	assert.False(t, rep.latency[0].Site)

	rep = runPeer(t.Context(), pc, "no-such-peer", latencyPlan(1), progress{})
	assert.Contains(t, rep.unavailable, "unknown mode 'no-such-peer'")
}

// TestLatencyPeerUnavailable: a latency mode this Python lacks is skipped
// with the reason its hello line gives.
func TestLatencyPeerUnavailable(t *testing.T) {
	python := fakePython(t, []string{`{"kind": "hello", "mode": "interp-call", "available": false, "reason": "_interpreters.call needs CPython >= 3.13"}`}, 0)
	var lines bytes.Buffer
	m := &microRun{ctx: t.Context(), opts: MicroOptions{Progress: &lines}, peers: peerCmd{python: python, dir: t.TempDir()},
		rep: &MicroReport{Skipped: []string{}}}
	m.peer("call", "interp-call", 10)
	assert.Empty(t, m.rep.Results)
	assert.Equal(t, []string{"interp-call: _interpreters.call needs CPython >= 3.13"}, m.rep.Skipped)
	assert.Equal(t, "peer skipped: interp-call: _interpreters.call needs CPython >= 3.13\n", lines.String())
}

// TestMicroNoSiteMain: the probe prints its two MicroResults, ours and
// CPython's own create+destroy in the same process, as a JSON array, which
// is what RunMicro reads back.
func TestMicroNoSiteMain(t *testing.T) {
	var out bytes.Buffer
	require.NoError(t, MicroNoSiteMain(t.Context(), testRuntime, 2, &out))
	var rs []MicroResult
	require.NoError(t, json.Unmarshal(out.Bytes(), &rs), out.String())
	require.Len(t, rs, 2)
	r := rs[0]
	assert.Equal(t, "subinterp-create-close-nosite", r.Name)
	assert.Equal(t, "create", r.Group)
	assert.Equal(t, 2, r.N)
	assert.Positive(t, r.MedianUS)
	assert.False(t, r.Peer)
	p := rs[1]
	assert.Equal(t, "peer-interp-create-inprocess-nosite", p.Name)
	assert.True(t, p.Peer)
	assert.Equal(t, 2, p.N, p.What)
	assert.Positive(t, p.MedianUS)
}

// When CPython's own create+destroy cannot run in this process, ours is
// still measured and the peer's result says why (N 0, which RunMicro lists
// under Skipped); a context that ended fails the measurement.
func TestCreateResultsPeerFails(t *testing.T) {
	main := testRuntime.Main()
	require.NoError(t, main.Exec(t.Context(), `
import sys
_saved = {k: sys.modules.pop(k, None) for k in ("_interpreters", "_xxsubinterpreters")}
sys.modules["_interpreters"] = sys.modules["_xxsubinterpreters"] = None
`))
	rs, err := createResults(t.Context(), testRuntime, 2, 0, "", "test")
	require.NoError(t, main.Exec(t.Context(), `
for k, v in _saved.items():
    if v is None:
        sys.modules.pop(k, None)
    else:
        sys.modules[k] = v
`))
	require.NoError(t, err)
	require.Len(t, rs, 2)
	assert.Equal(t, 2, rs[0].N)
	assert.Positive(t, rs[0].MedianUS)
	assert.Equal(t, 0, rs[1].N)
	assert.Contains(t, rs[1].What, "CPython's own create+destroy in this process failed")
	assert.Contains(t, rs[1].What, "ModuleNotFoundError")

	m := &microRun{rep: &MicroReport{}, pr: progress{}}
	m.addCreate(rs)
	require.Len(t, m.rep.Results, 1)
	require.Len(t, m.rep.Skipped, 1)
	assert.Contains(t, m.rep.Skipped[0], "peer-interp-create-inprocess: CPython's own create+destroy")

	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err = createResults(ctx, testRuntime, 1, 0, "", "test")
	assert.ErrorIs(t, err, context.Canceled)
}
