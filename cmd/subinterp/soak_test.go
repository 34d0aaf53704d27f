package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestSoakUsageErrors: every bad command line is refused with exit 2 and a
// message naming the problem, before anything runs.
func TestSoakUsageErrors(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"unknown scenario", []string{"--scenario", "churn,leak"}, `unknown scenario "leak" (valid: pool-cancel, channels, churn)`},
		{"zero calls", []string{"--calls", "0"}, "--calls: 0: each scenario must run at least once"},
		{"negative duration", []string{"--duration", "-1s"}, "--duration: -1s: must be positive"},
		{"duration and calls", []string{"--duration", "1m", "--calls", "5"}, "give --duration or --calls, not both"},
		{"zero scale", []string{"--scale", "0"}, "--scale: 0: must be positive"},
		{"missing directory", []string{"--json", "/nonexistent/dir/soak.json"}, "--json: cannot write /nonexistent/dir/soak.json"},
		{"stray argument", []string{"extra"}, `unexpected argument "extra"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runBinary(t, "", append([]string{"soak"}, tt.args...)...)
			assert.Equal(t, exitUsage, r.code, r.stderr)
			assert.Contains(t, r.stderr, tt.want)
			assert.Contains(t, r.stderr, `Run "subinterp soak --help" for usage.`)
			assert.Empty(t, r.stdout)
		})
	}
}

// TestSoakSmall runs two scenarios at a tiny size through the CLI: the
// table goes to stdout, progress to stderr, the JSON file has the
// documented shape, and the exit status follows the goals.
func TestSoakSmall(t *testing.T) {
	if testing.Short() {
		t.Skip("runs two small soak scenarios (seconds)")
	}
	out := filepath.Join(t.TempDir(), "soak.json")
	r := runBinary(t, "", "soak", "--scenario", "pool-cancel", "--scenario", "channels", "--calls", "300", "--json", out)
	require.Contains(t, []int{exitOK, exitFailed}, r.code, r.stderr)
	assert.Contains(t, r.stderr, "soak: pool-cancel: 300 calls", "progress on stderr")
	assert.Contains(t, r.stdout, "\npool-cancel: ")
	assert.Contains(t, r.stdout, "\nchannels: ")
	assert.Contains(t, r.stdout, "lost interrupts")

	data, err := os.ReadFile(out)
	require.NoError(t, err)
	var rep struct {
		Python    string `json:"python"`
		NoSite    bool   `json:"no_site"`
		OK        bool   `json:"ok"`
		Scenarios []struct {
			Name       string           `json:"name"`
			Iterations int64            `json:"iterations"`
			Errors     map[string]int64 `json:"errors"`
			Goals      []struct {
				Name string `json:"name"`
				Pass bool   `json:"pass"`
			} `json:"goals"`
			OK bool `json:"ok"`
		} `json:"scenarios"`
	}
	require.NoError(t, json.Unmarshal(data, &rep))
	assert.NotEmpty(t, rep.Python)
	assert.False(t, rep.NoSite, "the runtime starts with site unless --no-site")
	require.Len(t, rep.Scenarios, 2)
	assert.Equal(t, "pool-cancel", rep.Scenarios[0].Name)
	assert.Equal(t, "channels", rep.Scenarios[1].Name)
	for _, s := range rep.Scenarios {
		assert.EqualValues(t, 300, s.Iterations, s.Name)
		assert.NotEmpty(t, s.Goals, s.Name)
	}
	want := exitOK
	if !rep.OK {
		want = exitFailed
	}
	assert.Equal(t, want, r.code, "exit 1 exactly when a goal fails")
}
