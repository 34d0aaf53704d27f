package main

import (
	"encoding/json"
	"image/png"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestBenchUsageErrors: every bad command line is refused with exit 2 and
// a message naming the problem, before anything runs.
func TestBenchUsageErrors(t *testing.T) {
	readOnly := filepath.Join(t.TempDir(), "ro")
	require.NoError(t, os.Mkdir(readOnly, 0o555))
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"unknown workload", []string{"--workload", "nbody,mandelbrot"}, `unknown workload "mandelbrot" (valid: nbody, spectral_norm, fannkuch, json, regex, shared_graph, private_state, tiny, transfer)`},
		{"unknown mode", []string{"--mode", "gevent"}, `unknown mode "gevent" (valid: subinterp-own-gil, subinterp-shared-gil, threads, multiprocessing-fork,`},
		{"zero workers", []string{"--workers", "1,0"}, "--workers: 0: a pool needs at least 1 worker"},
		{"negative workers", []string{"--workers", "-2"}, "--workers: -2: a pool needs at least 1 worker"},
		{"workers not a number", []string{"--workers", "two"}, `--workers: "two" is not a number`},
		{"zero repeat", []string{"--repeat", "0"}, "--repeat: 0: each case must run at least once"},
		{"negative repeat", []string{"--repeat", "-1"}, "--repeat: -1: each case must run at least once"},
		{"plot format", []string{"--plot", "out.pdf"}, "use .png or .svg"},
		{"missing directory", []string{"--json", "/nonexistent/dir/out.json"}, "--json: cannot write /nonexistent/dir/out.json"},
		{"directory as output", []string{"--markdown", t.TempDir()}, "is a directory"},
		{"stray argument", []string{"extra"}, `unexpected argument "extra"`},
		{"peer without a script", []string{"--internal-peer"}, "--internal-peer takes PATH [ARG...]"},
	}
	if os.Geteuid() != 0 { // root writes anywhere
		tests = append(tests, struct {
			name string
			args []string
			want string
		}{"unwritable directory", []string{"--plot", filepath.Join(readOnly, "p.png")}, "permission denied"})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runBinary(t, "", append([]string{"bench"}, tt.args...)...)
			assert.Equal(t, exitUsage, r.code, r.stderr)
			assert.Contains(t, r.stderr, tt.want)
			assert.Contains(t, r.stderr, `Run "subinterp bench --help" for usage.`)
			assert.Empty(t, r.stdout)
		})
	}
}

// TestBenchSmall runs a small comparison through the CLI with every output:
// the JSON has the documented shape, the Markdown and the plot are written.
func TestBenchSmall(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a small benchmark (several seconds)")
	}
	dir := t.TempDir()
	md, plot := filepath.Join(dir, "bench.md"), filepath.Join(dir, "plots.png")
	r := runBinary(t, "", "bench", "--quick", "--workload", "tiny", "--workload", "nbody",
		"--mode", "subinterp-own-gil,threads", "--workers", "1,2", "--repeat", "1",
		"--json", "-", "--markdown", md, "--plot", plot)
	require.Equal(t, exitOK, r.code, r.stderr)
	assert.Contains(t, r.stderr, "bench: subinterp-own-gil: nbody, 2 workers: median", "progress on stderr")

	var rep struct {
		Python  string `json:"python"`
		CPUs    int    `json:"cpus"`
		Results []struct {
			Workload    string             `json:"workload"`
			Mode        string             `json:"mode"`
			Workers     int                `json:"workers"`
			Tasks       int                `json:"tasks"`
			WallSeconds map[string]float64 `json:"wall_seconds"`
			Speedup     float64            `json:"speedup"`
			RSS         *float64           `json:"rss_mb_per_worker"`
			Error       string             `json:"error"`
		} `json:"results"`
		Startup []struct {
			Mode        string   `json:"mode"`
			MsPerWorker *float64 `json:"ms_per_worker"`
		} `json:"startup"`
		Roundtrip []struct {
			Mode         string   `json:"mode"`
			PayloadBytes int      `json:"payload_bytes"`
			Microseconds *float64 `json:"microseconds"`
		} `json:"roundtrip"`
	}
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &rep), "stdout is the JSON only:\n%s", r.stdout)
	assert.NotEmpty(t, rep.Python)
	assert.Positive(t, rep.CPUs)
	require.Len(t, rep.Results, 2*2*2)
	for _, row := range rep.Results {
		assert.Empty(t, row.Error, "%s/%s/%d", row.Workload, row.Mode, row.Workers)
		assert.Positive(t, row.Tasks)
		for _, k := range []string{"median", "min", "max"} {
			assert.Contains(t, row.WallSeconds, k)
		}
		assert.Positive(t, row.Speedup)
		require.NotNil(t, row.RSS)
	}
	assert.Len(t, rep.Startup, 3, "own GIL, own GIL with a spare, threads")
	for _, s := range rep.Startup {
		require.NotNil(t, s.MsPerWorker)
	}
	assert.Len(t, rep.Roundtrip, 3*2, "two modes and the multiprocessing-pipe reference, 1 KiB and 1 MiB")

	doc, err := os.ReadFile(md)
	require.NoError(t, err)
	assert.Contains(t, string(doc), "# subinterp bench")
	assert.Contains(t, string(doc), "](plots.png)", "the plot is linked relative to the document")
	f, err := os.Open(plot)
	require.NoError(t, err)
	defer f.Close()
	_, err = png.Decode(f)
	assert.NoError(t, err)
}
