package soak

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/subinterp/subinterp/cpython"
	"github.com/subinterp/subinterp/internal/testutil"
)

// testRuntime is the one CPython runtime of this test process.
var testRuntime *cpython.Runtime

func TestMain(m *testing.M) {
	testutil.Main(m, func() (func() error, error) {
		rt, err := cpython.Initialize(cpython.RuntimeOptions{NoSite: true})
		if err != nil {
			return nil, err
		}
		testRuntime = rt
		return rt.Finalize, nil
	})
}

// TestOptionsValidate: every option Run cannot honour is refused with
// ErrUsage and a message naming it.
func TestOptionsValidate(t *testing.T) {
	tests := []struct {
		name string
		opts Options
		want string
	}{
		{"unknown scenario", Options{Scenarios: []string{"churn", "leak"}}, `unknown scenario "leak" (valid: pool-cancel, channels, churn)`},
		{"iterations of an unknown scenario", Options{Iterations: map[string]int{"leak": 5}}, `iterations for unknown scenario "leak"`},
		{"zero iterations", Options{Iterations: map[string]int{Churn: 0}}, "churn: 0 iterations (want at least 1)"},
		{"negative duration", Options{Duration: -time.Second}, "negative duration -1s"},
		{"duration and iterations", Options{Duration: time.Second, Iterations: map[string]int{Churn: 5}}, "give a duration or iteration counts, not both"},
		{"negative scale", Options{Scale: -1}, "negative scale -1"},
		{"negative tuning", Options{CancelEvery: -1}, "negative tuning option"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.opts.Validate()
			require.ErrorIs(t, err, ErrUsage)
			assert.Contains(t, err.Error(), tt.want)
			_, err = Run(t.Context(), testRuntime, tt.opts)
			assert.ErrorIs(t, err, ErrUsage, "Run checks its options too")
		})
	}
	assert.NoError(t, Options{}.Validate())
}

// TestRunSmall runs every scenario at a tiny scale and checks the report's
// shape and that its counters add up. Memory and time figures are not
// checked: a few hundred iterations say nothing about them.
func TestRunSmall(t *testing.T) {
	const churn, calls, messages, roundSize = 30, 400, 250, 50
	var progress bytes.Buffer
	rep, err := Run(t.Context(), testRuntime, Options{
		Iterations:  map[string]int{Churn: churn, PoolCancel: calls, Channels: messages},
		Progress:    &progress,
		CancelEvery: 20, // enough cancelled calls in a few hundred
		RoundSize:   roundSize,
		SpinLimit:   5 * time.Second,
	})
	require.NoError(t, err)

	assert.True(t, rep.NoSite, "the test runtime runs with NoSite")
	assert.NotEmpty(t, rep.Python)
	require.Len(t, rep.Scenarios, 3)
	ok := true
	for i, s := range rep.Scenarios {
		assert.Equal(t, Scenarios[i], s.Name, "scenarios run in order")
		t.Run(s.Name, func(t *testing.T) {
			checkCommon(t, s)
			ok = ok && s.OK
		})
	}
	assert.Equal(t, ok, rep.OK, "the report passes when every scenario does")

	poolRep, chanRep, churnRep := rep.Scenarios[0], rep.Scenarios[1], rep.Scenarios[2]
	t.Run("churn counts", func(t *testing.T) {
		assert.EqualValues(t, churn, churnRep.Iterations)
		f := churnRep.Churn
		require.NotNil(t, f)
		assert.True(t, f.NoSite)
		assert.EqualValues(t, churn, f.Created+countOf(churnRep.Errors, "create"), "every cycle created an interpreter or counted why not")
		assert.EqualValues(t, f.Created, f.Evaluated+countOf(churnRep.Errors, "eval"))
		assert.EqualValues(t, f.Created, f.Closed+countOf(churnRep.Errors, "close"))
		assert.Equal(t, f.InterpretersBefore+int(f.Created-f.Closed), f.InterpretersAfter)
		assert.Empty(t, churnRep.Expected)
		assert.Empty(t, f.CPythonError, "CPython's own baseline ran")
		assert.Equal(t, 20, f.CPythonCycles, "a tenth of the churn, at least 20")
		assert.Equal(t, 20, f.SharedCycles, "a tenth of the churn, at least 20")
		var names []string
		for _, g := range churnRep.Goals {
			names = append(names, g.Name)
		}
		assert.Equal(t, []string{"RSS growth", "RSS growth, shared allocator", "errors", "interpreters left open"}, names)
		assert.InDelta(t, f.RSSKBPerCycle-f.CPythonKBPerCycle, f.OwnKBPerCycle, 1e-9)
	})
	t.Run("pool-cancel counts", func(t *testing.T) {
		assert.EqualValues(t, calls, poolRep.Iterations)
		f := poolRep.Pool
		require.NotNil(t, f)
		assert.Equal(t, 2, f.Size)
		assert.Equal(t, 2, f.Before.Size)
		assert.EqualValues(t, calls, f.Completed+f.Failed, "every call completed or failed")
		assert.Equal(t, f.Failed, sum(poolRep.Errors)+sum(poolRep.Expected), "every failure is counted by kind")
		assert.Positive(t, f.Cancelled)
		assert.Equal(t, f.Cancelled, f.Interrupted+f.NotStopped+f.ExpiredBeforeStart+f.CancelOther, "every cancelled call ended one of the counted ways")
		assert.Equal(t, f.Interrupted, poolRep.Expected["spin: interrupted"])
		assert.Equal(t, f.ExpiredBeforeStart, poolRep.Expected["spin: deadline passed before it ran"])
		assert.Equal(t, f.RanToLimit+int64(f.StillRunning), poolRep.LostInterrupts)
		r := f.Replacements
		assert.Equal(t, f.After.Replaced-f.Before.Replaced, r.MaxTasks+r.Stuck+r.Threads+r.Closed, "replacements by reason add up")
		// The pool counts the tasks that reached an interpreter: all but
		// some of those whose deadline passed before they ran (in the queue,
		// or as the interpreter was handed over).
		ran := int64((f.After.Completed + f.After.Failed) - (f.Before.Completed + f.Before.Failed))
		assert.LessOrEqual(t, ran, int64(calls))
		assert.GreaterOrEqual(t, ran, calls-f.ExpiredBeforeStart-countOf(poolRep.Errors, "echo: deadline exceeded"))
		if f.Idle {
			assert.Zero(t, f.StillRunning)
			assert.Zero(t, f.After.Busy+f.After.Starting+f.After.Retired)
			assert.Equal(t, f.After.Size, f.After.Idle)
		}
	})
	t.Run("channels counts", func(t *testing.T) {
		assert.EqualValues(t, messages, chanRep.Iterations)
		f := chanRep.Channels
		require.NotNil(t, f)
		rounds := int64((messages + roundSize - 1) / roundSize)
		assert.Equal(t, rounds, f.Rounds)
		require.Len(t, f.Messages, 4)
		for dir, n := range f.Messages {
			assert.LessOrEqual(t, n, int64(messages), dir)
		}
		cancels := []string{cancelGoToPython, cancelGoToGo, cancelPyTimeout, cancelPyInterrupt}
		for k := range chanRep.Expected {
			assert.Contains(t, cancels, k)
		}
		if len(chanRep.Errors) == 0 {
			for dir, n := range f.Messages {
				assert.EqualValues(t, messages, n, "every message of %s arrived", dir)
			}
			for _, k := range cancels {
				assert.Equal(t, rounds, chanRep.Expected[k], "every round's %s was withdrawn", k)
			}
			assert.Equal(t, 6*rounds, f.Created)
		}
		assert.GreaterOrEqual(t, f.LeftBehind, f.OpenAfter-f.OpenBefore, "open channels the scenario added count as left behind")
	})

	out := progress.String()
	for _, name := range Scenarios {
		assert.Contains(t, out, "soak: "+name+": ", "progress for %s", name)
	}

	// The JSON has the documented field names.
	data, err := json.Marshal(rep)
	require.NoError(t, err)
	var doc struct {
		NoSite    *bool `json:"no_site"`
		OK        *bool `json:"ok"`
		Scenarios []map[string]json.RawMessage
	}
	require.NoError(t, json.Unmarshal(data, &doc))
	require.NotNil(t, doc.NoSite)
	require.NotNil(t, doc.OK)
	require.Len(t, doc.Scenarios, 3)
	for _, key := range []string{"name", "unit", "iterations", "warmup_iterations", "wall_s", "start", "warm", "end", "final",
		"samples", "growth_per_1000", "errors", "expected", "lost_interrupts", "goals", "ok"} {
		for _, s := range doc.Scenarios {
			assert.Contains(t, s, key)
		}
	}
	assert.Contains(t, doc.Scenarios[0], "pool")
	assert.Contains(t, string(doc.Scenarios[0]["pool"]), `"replacements":{"max_tasks":`)
	assert.Contains(t, doc.Scenarios[1], "channels")
	assert.Contains(t, doc.Scenarios[2], "churn")
	assert.Contains(t, string(doc.Scenarios[0]["start"]), `"rss_bytes":`)
	assert.Contains(t, string(doc.Scenarios[0]["start"]), `"go_heap_inuse_bytes":`)

	var table bytes.Buffer
	require.NoError(t, WriteTable(&table, rep))
	for _, name := range Scenarios {
		assert.Contains(t, table.String(), "\n"+name+": ")
	}
	assert.Contains(t, table.String(), "RSS growth")
}

// checkCommon checks what every scenario's report has.
func checkCommon(t *testing.T, s ScenarioReport) {
	t.Helper()
	assert.Empty(t, s.Aborted)
	assert.Empty(t, s.Truncated)
	assert.NotEmpty(t, s.Unit)
	assert.Positive(t, s.WarmupIterations)
	assert.LessOrEqual(t, s.WarmupIterations, s.Iterations)
	assert.Equal(t, s.WarmupIterations, s.Warm.Iteration)
	assert.Equal(t, s.Iterations, s.End.Iteration)
	require.Len(t, s.Samples, progressSteps, "one sample per tenth, the last at the end")
	assert.Equal(t, s.Warm, s.Samples[0])
	assert.Equal(t, s.End, s.Samples[len(s.Samples)-1])
	for i := 1; i < len(s.Samples); i++ {
		assert.GreaterOrEqual(t, s.Samples[i].Iteration, s.Samples[i-1].Iteration)
	}
	for _, x := range []Sample{s.Start, s.Warm, s.End, s.Final} {
		assert.Positive(t, x.RSSBytes)
		assert.Positive(t, x.HeapInuseBytes)
		assert.Positive(t, x.Threads)
		assert.Positive(t, x.Interpreters, "the main interpreter at least")
	}
	if s.LostInterrupts == 0 {
		assert.Equal(t, s.Start.Interpreters, s.Final.Interpreters, "the scenario closed what it opened; errors: %v", s.ErrorSamples)
		assert.Equal(t, s.Start.OpenChannels, s.Final.OpenChannels, "the scenario released its channels before the final sample; errors: %v", s.ErrorSamples)
	}
	require.NotEmpty(t, s.Goals)
	assert.Equal(t, "RSS growth", s.Goals[0].Name)
	pass := true
	for _, g := range s.Goals {
		assert.NotEmpty(t, g.Want)
		assert.NotEmpty(t, g.Got)
		pass = pass && g.Pass
	}
	assert.Equal(t, pass, s.OK)
	for k, n := range s.Errors {
		assert.Positive(t, n, k)
	}
	for k := range s.ErrorSamples {
		assert.Contains(t, s.Errors, k)
	}
	assert.Equal(t, sum(s.Errors) == 0, goalPassed(s, "errors"))
}

func goalPassed(s ScenarioReport, name string) bool {
	for _, g := range s.Goals {
		if g.Name == name {
			return g.Pass
		}
	}
	return false
}

// countOf sums the counts of the kinds that start with prefix.
func countOf(m map[string]int64, prefix string) int64 {
	var n int64
	for k, v := range m {
		if strings.HasPrefix(k, prefix) {
			n += v
		}
	}
	return n
}

// TestRunDuration: with a duration instead of counts, a scenario runs for
// that long and still samples every tenth.
func TestRunDuration(t *testing.T) {
	rep, err := Run(t.Context(), testRuntime, Options{Scenarios: []string{Churn}, Duration: 300 * time.Millisecond, BaselineCycles: -1})
	require.NoError(t, err)
	require.Len(t, rep.Scenarios, 1)
	s := rep.Scenarios[0]
	assert.Equal(t, 0.3, rep.DurationSeconds)
	assert.Positive(t, s.Iterations)
	assert.GreaterOrEqual(t, s.WallSeconds, 0.3)
	require.Len(t, s.Samples, progressSteps)
	assert.Equal(t, s.Iterations, s.End.Iteration)
}

// progressFunc is an io.Writer that hands each progress line to a func.
type progressFunc func(line string)

func (f progressFunc) Write(p []byte) (int, error) {
	f(string(p))
	return len(p), nil
}

// TestRunCancelled: a context that ends stops the run at once and returns
// the report so far with the context's error.
func TestRunCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	stopAtWarmup := progressFunc(func(line string) {
		if strings.HasPrefix(line, "soak: pool-cancel: ") && strings.Contains(line, " calls, ") {
			cancel()
		}
	})
	const calls = 5000
	rep, err := Run(ctx, testRuntime, Options{
		Iterations: map[string]int{PoolCancel: calls, Channels: 100, Churn: 10},
		Progress:   stopAtWarmup,
	})
	require.ErrorIs(t, err, context.Canceled)
	require.NotNil(t, rep)
	require.Len(t, rep.Scenarios, 1, "no scenario starts after the cancel")
	s := rep.Scenarios[0]
	assert.Equal(t, PoolCancel, s.Name)
	assert.Less(t, s.Iterations, int64(calls))
	assert.Equal(t, s.Iterations, s.Pool.Completed+s.Pool.Failed)
}

// TestRunStopsRunawayRSS: a scenario whose RSS outgrows MaxRSSGrowth stops
// at the next check instead of exhausting the machine.
func TestRunStopsRunawayRSS(t *testing.T) {
	real := currentRSS
	t.Cleanup(func() { currentRSS = real })
	currentRSS = func() (uint64, int) { return 1 << 50, 1 } // far over any start
	rep, err := Run(t.Context(), testRuntime, Options{Scenarios: []string{Churn}, Iterations: map[string]int{Churn: 1000}, MaxRSSGrowth: 1 << 30, BaselineCycles: -1})
	require.NoError(t, err)
	s := rep.Scenarios[0]
	assert.EqualValues(t, rssCheckEvery, s.Iterations, "stopped at the first check")
	assert.Contains(t, s.Truncated, fmt.Sprintf("stopped after %d cycles: RSS grew by", rssCheckEvery))
	assert.Contains(t, s.Truncated, "over the 1024 MB limit")
	assert.Empty(t, s.Aborted, "the growth goal judges what ran")
}
