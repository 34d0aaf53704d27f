package bench

import (
	"bytes"
	"encoding/xml"
	"errors"
	"image/png"
	"io"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// syntheticReport is a plausible 2-CPU run: every mode but CPython's
// interpreters API (unavailable), workers 1 and 2, one failed row, start-up,
// round trips of 1 KiB and 1 MiB, and a goal met, one missed, one unknown.
func syntheticReport() *Report {
	const cpus = 2
	r := &Report{
		Python:      "3.13.15",
		PythonBuild: "release, /home/u/.cache/subinterp/cpython-3.13.15",
		CPUs:        cpus,
		CPUModel:    "Intel(R) Xeon(R) CPU @ 2.50GHz",
		Quick:       true,
		Repeat:      3,
		Workers:     []int{1, 2},
		Started:     time.Date(2026, 11, 22, 10, 4, 0, 0, time.UTC),
		Seconds:     52.4,
	}
	// Sequential median seconds per workload, and how each mode's median
	// at 1 and 2 workers compares with it.
	base := map[string]float64{"nbody": 2.0, "spectral_norm": 1.6, "fannkuch": 1.2, "json": 0.8, "regex": 0.9, "shared_graph": 0.7, "private_state": 0.6, "tiny": 0.05, "transfer": 0.3}
	factor := map[string][2]float64{
		ModeOwnGIL:              {1.01, 0.52},
		ModeSharedGIL:           {1.02, 1.05},
		ModeThreads:             {1.00, 1.08},
		ModeFork:                {1.03, 0.55},
		ModeForkserver:          {1.04, 0.56},
		ModeSpawn:               {1.05, 0.57},
		ModeProcessPoolExecutor: {1.05, 0.58},
		ModeThreadsFreeThreaded: {1.30, 0.68},
	}
	rss := map[string]float64{ModeOwnGIL: 9.5, ModeSharedGIL: 7.2, ModeThreads: 0.4, ModeFork: 12.1, ModeForkserver: 14.3, ModeSpawn: 19.2, ModeProcessPoolExecutor: 19.6, ModeThreadsFreeThreaded: 0.6, ModeSequential: 11}
	for _, wl := range Workloads {
		info := WorkloadInfo{Name: wl, About: "runs the " + wl + " kernel", Size: 1000, Tasks: 8}
		info.CPUBound = wl == "nbody" || wl == "spectral_norm" || wl == "fannkuch"
		r.Workloads = append(r.Workloads, info)
		for _, mode := range Modes {
			for i, workers := range []int{1, 2} {
				var f float64
				switch mode {
				case ModeCPythonInterpreters:
					continue
				case ModeSequential:
					if workers > 1 {
						continue
					}
					f = 1
				case ModeSequentialFreeThreaded:
					if workers > 1 {
						continue
					}
					f = 1.25
				default:
					f = factor[mode][i]
				}
				med := base[wl] * f
				res := Result{
					Workload: wl, Mode: mode, Workers: workers, Tasks: 8,
					WallSeconds:    Stats{Median: med, Min: med * 0.97, Max: med * 1.05},
					TasksPerSecond: 8 / med,
					Speedup:        math.Round(base[wl]/med*1000) / 1000,
					RSSMBPerWorker: rss[mode],
					Checksum:       "abc",
				}
				res.Efficiency = res.Speedup / float64(min(workers, cpus))
				if wl == "regex" && mode == ModeSpawn && workers == 2 {
					res = Result{Workload: wl, Mode: mode, Workers: workers, Tasks: 8,
						Error: "worker died: Traceback (most recent call last):\n  File \"<string>\", line 1, in <module>\nMemoryError | pipe closed"}
				}
				r.Results = append(r.Results, res)
			}
		}
	}
	r.Startup = []Startup{
		{Mode: ModeOwnGIL, MsPerWorker: 18.2, Samples: 3},
		{Mode: ModeSharedGIL, MsPerWorker: 12.4, Samples: 3},
		{Mode: ModeThreads, MsPerWorker: 0.091, Samples: 3},
		{Mode: ModeFork, MsPerWorker: 9.1, Samples: 3},
		{Mode: ModeForkserver, MsPerWorker: 28.5, Samples: 3},
		{Mode: ModeSpawn, MsPerWorker: 95.3, Samples: 3},
		{Mode: ModeProcessPoolExecutor, MsPerWorker: 98.7, Samples: 3},
		{Mode: ModeThreadsFreeThreaded, MsPerWorker: 0.12, Samples: 3},
	}
	small := map[string]float64{ModeOwnGIL: 6.5, ModeSharedGIL: 7.1, ModeThreads: 40.2, ModeFork: 95, ModeForkserver: 97, ModeSpawn: 99, ModeProcessPoolExecutor: 421, ModeThreadsFreeThreaded: 35.5, ModeMultiprocessingPipe: 30.4}
	bulk := map[string]float64{ModeOwnGIL: 310, ModeSharedGIL: 320, ModeThreads: 150, ModeFork: 1800, ModeForkserver: 1850, ModeSpawn: 1900, ModeProcessPoolExecutor: 2600, ModeThreadsFreeThreaded: 140, ModeMultiprocessingPipe: 1200}
	for _, mode := range append(Modes[:len(Modes):len(Modes)], ModeMultiprocessingPipe) {
		us, ok := small[mode]
		if !ok {
			continue
		}
		r.Roundtrip = append(r.Roundtrip,
			Roundtrip{Mode: mode, PayloadBytes: 1024, Microseconds: us, GBPerSecond: 2 * 1024 / us / 1e3, Samples: 500},
			Roundtrip{Mode: mode, PayloadBytes: 1 << 20, Microseconds: bulk[mode], GBPerSecond: 2 * (1 << 20) / bulk[mode] / 1e3, Samples: 500})
	}
	for i, rt := range r.Roundtrip {
		if rt.Mode == ModeProcessPoolExecutor && rt.PayloadBytes == 1<<20 {
			r.Roundtrip[i] = Roundtrip{Mode: ModeProcessPoolExecutor, PayloadBytes: 1 << 20, Error: "BrokenProcessPool: a child process terminated abruptly"}
		}
	}
	r.Unavailable = []Unavailable{{Mode: ModeCPythonInterpreters, Reason: "Python 3.13 has no concurrent.interpreters and test.support.interpreters is not installed"}}
	r.Goals = []Goal{
		{Name: "own-GIL speedup on the CPU kernels", Want: "≥ 0.9 × cores = 1.8×", Measured: "1.92×", Met: true, Known: true},
		{Name: "worker start-up", Want: "≤ 10 ms", Measured: "18.2 ms", Met: false, Known: true},
		{Name: "round trip vs multiprocessing.Pipe", Want: "≤ 0.5 × pipe", Measured: "no pipe figure", Known: false},
	}
	return r
}

func TestSyntheticReportIsConsistent(t *testing.T) {
	r := syntheticReport()
	require.Len(t, r.Workloads, len(Workloads))
	require.NotEmpty(t, r.Results)
	failed := 0
	for _, rt := range r.Roundtrip {
		if rt.Error != "" {
			failed++
			assert.Equal(t, ModeProcessPoolExecutor, rt.Mode)
			assert.Equal(t, 1<<20, rt.PayloadBytes)
		}
	}
	assert.Equal(t, 1, failed, "one failed round trip")
}

func TestRenderersWarnWhenTheBaselineMoved(t *testing.T) {
	r := syntheticReport()
	r.Baseline = []BaselineDrift{{Workload: "nbody", FirstSeconds: 2, LastSeconds: 2.5, Change: 0.25}}
	var steady, moved, md bytes.Buffer
	require.NoError(t, WriteTable(&steady, r))
	assert.NotContains(t, steady.String(), "warning")
	r.BaselineMoved = true
	require.NoError(t, WriteTable(&moved, r))
	assert.Contains(t, moved.String(), "\nwarning: the sequential baseline moved by more than 10% between the start and the end of the run (nbody +25%)")
	require.NoError(t, WriteMarkdown(&md, r, ""))
	assert.Contains(t, md.String(), "> **Warning:** the sequential baseline moved")
	assert.Contains(t, md.String(), "| `nbody` | 2.00 | 2.50 | +25.0% |")
}

func TestWriteTable(t *testing.T) {
	var buf bytes.Buffer
	require.NoError(t, WriteTable(&buf, syntheticReport()))
	out := buf.String()
	t.Log("\n" + out)

	first, _, _ := strings.Cut(out, "\n")
	for _, want := range []string{"3.13.15", "release", "2 CPUs", "Xeon", "quick run", "timed 3 times"} {
		assert.Contains(t, first, want, "header line")
	}

	// Columns: mode workers median min max tasks/s speedup per-core RSS.
	for _, tc := range []struct{ name, pattern string }{
		{"own-GIL scales", `(?m)^  subinterp-own-gil +2 +1\.04 +1\.01 +1\.09 +7\.69 +1\.92× +96% +9\.50$`},
		{"sequential baseline", `(?m)^  sequential +1 +2\.00 +1\.94 +2\.10 +4\.00 +1\.00× +100% +11\.0$`},
		{"threads do not", `(?m)^  threads +2 +2\.16 .* 0\.93× +46% +0\.400$`},
		{"failed row keeps its columns", `(?m)^  multiprocessing-spawn +2 +FAILED: worker died: Traceback \(most recent call last\): File "<string>", line 1, in <module> MemoryError \| pipe closed$`},
		{"header row", `(?m)^  mode +workers +median s +min s +max s +tasks/s +speedup +per core +RSS MiB/worker$`},
		{"workload title", `(?m)^nbody: runs the nbody kernel; 8 tasks of size 1000 per run; CPU-bound\.$`},
		{"start-up", `(?m)^  threads +0\.0910 +1\.00× +3$`},
		{"start-up relative", `(?m)^  subinterp-own-gil +18\.2 +200× +3$`},
		{"small round trip has no GB/s", `(?m)^  1 KiB +subinterp-own-gil +6\.50 +500$`},
		{"bulk round trip", `(?m)^  1 MiB +subinterp-own-gil +310 +6\.77 +500$`},
		{"failed round trip", `(?m)^  1 MiB +process-pool-executor +FAILED: BrokenProcessPool: a child process terminated abruptly$`},
		{"round-trip reference", `(?m)^  1 KiB +multiprocessing-pipe +30\.4 +500$`},
		{"unavailable", `(?m)^  cpython-interpreters +Python 3\.13 has no concurrent\.interpreters`},
		{"goal met", `(?m)^  ✓ +own-GIL speedup on the CPU kernels +≥ 0\.9 × cores = 1\.8× +1\.92×$`},
		{"goal missed", `(?m)^  ✗ +worker start-up +≤ 10 ms +18\.2 ms$`},
		{"goal unknown", `(?m)^  \? +round trip vs multiprocessing\.Pipe +≤ 0\.5 × pipe +no pipe figure$`},
		{"free-threaded single-thread cost", `(?m)^  nbody +2\.00 +2\.50 +1\.25× slower$`},
		{"free-threaded scaling", `(?m)^  nbody +2 +1\.92× +0\.93× +1\.47× +1\.84×$`},
		{"free-threaded side by side", `(?m)^  round trip 1 KiB, µs +6\.50 +40\.2 +35\.5$`},
		{"free-threaded memory", `(?m)^  memory per worker, RSS MiB +9\.50 +0\.400 +0\.600$`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Regexp(t, regexp.MustCompile(tc.pattern), out)
		})
	}

	t.Run("rows in mode order", func(t *testing.T) {
		block := out[strings.Index(out, "\nnbody:"):strings.Index(out, "\nspectral_norm:")]
		last := -1
		for _, m := range Modes {
			i := strings.Index(block, "\n  "+m+" ")
			if m == ModeCPythonInterpreters {
				assert.Equal(t, -1, i, "unavailable mode has no rows")
				continue
			}
			require.Greater(t, i, last, "mode %s out of order", m)
			last = i
		}
	})
	t.Run("start-up fastest first", func(t *testing.T) {
		sec := out[strings.Index(out, "worker start-up"):]
		assert.Less(t, strings.Index(sec, "threads"), strings.Index(sec, "multiprocessing-fork "))
		assert.Less(t, strings.Index(sec, "multiprocessing-fork "), strings.Index(sec, "subinterp-shared-gil"))
		assert.Less(t, strings.Index(sec, "multiprocessing-spawn"), strings.Index(sec, "process-pool-executor"))
	})
	t.Run("failed rows do not widen columns", func(t *testing.T) {
		// The rows after the failed one stay aligned with those before it.
		lines := strings.Split(out, "\n")
		col := func(l string) int { return strings.Index(l, "×") }
		var before, after string
		for i, l := range lines {
			if regexp.MustCompile(`^  multiprocessing-spawn +2 +FAILED`).MatchString(l) {
				before, after = lines[i-1], lines[i+1]
			}
		}
		require.NotEmpty(t, before, "the failed row is laid out with the others")
		assert.Equal(t, col(before), col(after))
		for _, l := range lines {
			assert.Equal(t, l, strings.TrimRight(l, " "), "no trailing spaces")
		}
	})
}

func TestWriteMarkdown(t *testing.T) {
	var buf bytes.Buffer
	require.NoError(t, WriteMarkdown(&buf, syntheticReport(), "img/bench plot.png"))
	out := buf.String()
	t.Log("\n" + out)

	assert.True(t, strings.HasPrefix(out, "## subinterp bench: Python 3.13.15 on 2 CPUs\n"))
	assert.NotRegexp(t, `(?m)^# `, out, "no top-level heading: the page has its own")
	assert.Contains(t, out, "![subinterp bench plots](img/bench%20plot.png)")
	assert.Less(t, strings.Index(out, "!["), strings.Index(out, "\n### "), "the plot comes before the first section")

	for _, tc := range []struct{ name, want string }{
		{"own-GIL row", "| `subinterp-own-gil` | 2 | 1.04 | 1.01 | 1.09 | 7.69 | 1.92× | 96% | 9.50 |"},
		{"sequential row", "| `sequential` | 1 | 2.00 | 1.94 | 2.10 | 4.00 | 1.00× | 100% | 11.0 |"},
		{"failed row escaped", "| `multiprocessing-spawn` | 2 | failed: worker died: Traceback (most recent call last): File \"\\<string\\>\", line 1, in \\<module\\> MemoryError \\| pipe closed |||||||"},
		{"table header", "| mode | workers | median s | min s | max s | tasks/s | speedup | per core | RSS MiB/worker |\n|---|--:|--:|--:|--:|--:|--:|--:|--:|"},
		{"workload heading escaped", "#### spectral\\_norm\n"},
		{"start-up row", "| `threads` | 0.0910 | 1.00× | 3 |"},
		{"small round trip", "| 1 KiB | `subinterp-own-gil` | 6.50 | — | 500 |"},
		{"bulk round trip", "| 1 MiB | `subinterp-own-gil` | 310 | 6.77 | 500 |"},
		{"failed round trip", "| 1 MiB | `process-pool-executor` | failed: BrokenProcessPool: a child process terminated abruptly |||"},
		{"unavailable", "| `cpython-interpreters` | Python 3.13 has no concurrent.interpreters and test.support.interpreters is not installed |"},
		{"goal met", "| ✅ | own-GIL speedup on the CPU kernels | ≥ 0.9 × cores = 1.8× | 1.92× |"},
		{"goal missed", "| ❌ | worker start-up | ≤ 10 ms | 18.2 ms |"},
		{"goal unknown", "| ❔ | round trip vs multiprocessing.Pipe | ≤ 0.5 × pipe | no pipe figure |"},
		{"free-threaded cost", "| nbody | 2.00 | 2.50 | 1.25× slower |"},
		{"free-threaded scaling", "| nbody | 2 | 1.92× | 0.93× | 1.47× | 1.84× |"},
		{"free-threaded start-up", "| worker start-up, ms | 18.2 | 0.0910 | 0.120 |"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Contains(t, out, tc.want)
		})
	}

	t.Run("every table row has as many cells as its header", func(t *testing.T) {
		cells := func(l string) int {
			n := 0
			for i := range len(l) {
				if l[i] == '|' && (i == 0 || l[i-1] != '\\') {
					n++
				}
			}
			return n - 1
		}
		want := 0
		for l := range strings.Lines(out) {
			l = strings.TrimSuffix(l, "\n")
			switch {
			case !strings.HasPrefix(l, "|"):
				want = 0
			case want == 0:
				want = cells(l)
			default:
				assert.Equal(t, want, cells(l), "row %q", l)
			}
		}
	})

	t.Run("no plot without a reference", func(t *testing.T) {
		var buf bytes.Buffer
		require.NoError(t, WriteMarkdown(&buf, syntheticReport(), ""))
		assert.NotContains(t, buf.String(), "![")
	})
}

func TestRenderersOnSparseReports(t *testing.T) {
	for _, tc := range []struct {
		name string
		r    *Report
	}{
		{"empty", &Report{}},
		{"results only", &Report{Results: []Result{{Workload: "nbody", Mode: ModeOwnGIL, Workers: 1, WallSeconds: Stats{Median: 1}}}}},
		{"unknown mode", &Report{Startup: []Startup{{Mode: "carrier-pigeon", MsPerWorker: 5}}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			assert.NoError(t, WriteTable(&buf, tc.r))
			assert.NoError(t, WriteMarkdown(&buf, tc.r, ""))
		})
	}
	assert.Error(t, WriteTable(io.Discard, nil))
	assert.Error(t, WriteMarkdown(io.Discard, nil, ""))
}

// failingWriter accepts limit bytes, then fails every write, counting the
// writes it had to refuse.
type failingWriter struct {
	limit, written int
	refused        int
}

var errBrokenPipe = errors.New("broken pipe")

func (w *failingWriter) Write(p []byte) (int, error) {
	if w.written >= w.limit {
		w.refused++
		return 0, errBrokenPipe
	}
	n := min(len(p), w.limit-w.written)
	w.written += n
	if n < len(p) {
		w.refused++
		return n, errBrokenPipe
	}
	return n, nil
}

func TestRenderersStopAtWriteError(t *testing.T) {
	renderers := map[string]func(io.Writer, *Report) error{
		"table":    WriteTable,
		"markdown": func(w io.Writer, r *Report) error { return WriteMarkdown(w, r, "plot.png") },
	}
	for name, render := range renderers {
		for _, limit := range []int{0, 1, 100, 2000} {
			t.Run(name, func(t *testing.T) {
				w := &failingWriter{limit: limit}
				err := render(w, syntheticReport())
				require.ErrorIs(t, err, errBrokenPipe, "limit %d", limit)
				assert.Equal(t, 1, w.refused, "limit %d: nothing is written after the first error", limit)
			})
		}
	}
}

func TestWritePlot(t *testing.T) {
	dir := t.TempDir()
	// A person has to look at the figure: SUBINTERP_BENCH_PLOT=/tmp/x.png
	// keeps a copy of the synthetic one.
	if out := os.Getenv("SUBINTERP_BENCH_PLOT"); out != "" {
		require.NoError(t, WritePlot(out, syntheticReport()))
	}

	t.Run("png", func(t *testing.T) {
		path := filepath.Join(dir, "bench.png")
		require.NoError(t, WritePlot(path, syntheticReport()))
		f, err := os.Open(path)
		require.NoError(t, err)
		defer f.Close()
		img, err := png.Decode(f)
		require.NoError(t, err)
		assert.Equal(t, 1600, img.Bounds().Dx())
		assert.Equal(t, 1800, img.Bounds().Dy())
	})

	t.Run("svg", func(t *testing.T) {
		path := filepath.Join(dir, "BENCH.SVG")
		require.NoError(t, WritePlot(path, syntheticReport()))
		b, err := os.ReadFile(path)
		require.NoError(t, err)
		d := xml.NewDecoder(bytes.NewReader(b))
		var root xml.StartElement
		for {
			tok, err := d.Token()
			require.NoError(t, err, "the first element is reached")
			if se, ok := tok.(xml.StartElement); ok {
				root = se
				break
			}
		}
		assert.Equal(t, "svg", root.Name.Local)
		for {
			if _, err := d.Token(); err != nil {
				require.ErrorIs(t, err, io.EOF, "the whole document parses")
				break
			}
		}
		assert.Contains(t, string(b), "subinterp bench: Python 3.13.15 on 2 CPUs")
	})

	t.Run("partial data", func(t *testing.T) {
		r := &Report{Python: "3.14.0", CPUs: 4, Startup: []Startup{{Mode: ModeOwnGIL, MsPerWorker: 15}, {Mode: ModeSpawn, Error: "boom"}}}
		assert.NoError(t, WritePlot(filepath.Join(dir, "startup-only.png"), r))
	})

	t.Run("bad extension", func(t *testing.T) {
		path := filepath.Join(dir, "bench.jpg")
		err := WritePlot(path, syntheticReport())
		require.Error(t, err)
		assert.ErrorIs(t, err, ErrUsage)
		assert.Contains(t, err.Error(), ".png or .svg")
		assert.NoFileExists(t, path)
	})

	t.Run("nothing to plot", func(t *testing.T) {
		path := filepath.Join(dir, "empty.png")
		r := &Report{Python: "3.13.15", CPUs: 2,
			Results: []Result{{Workload: "nbody", Mode: ModeOwnGIL, Workers: 1, Error: "failed"}},
			Startup: []Startup{{Mode: ModeOwnGIL, Error: "failed"}}}
		assert.ErrorIs(t, WritePlot(path, r), ErrNothingToPlot)
		assert.ErrorIs(t, WritePlot(path, &Report{}), ErrNothingToPlot)
		assert.NoFileExists(t, path)
	})

	t.Run("unwritable", func(t *testing.T) {
		assert.Error(t, WritePlot(filepath.Join(dir, "no", "such", "dir.png"), syntheticReport()))
	})
}

func TestPlotFormat(t *testing.T) {
	for _, tc := range []struct {
		path, want string
		ok         bool
	}{
		{"bench.png", "png", true},
		{"out/Bench.PNG", "png", true},
		{"bench.svg", "svg", true},
		{"bench.jpg", "", false},
		{"bench", "", false},
		{"bench.png.txt", "", false},
	} {
		t.Run(tc.path, func(t *testing.T) {
			got, err := PlotFormat(tc.path)
			if !tc.ok {
				require.Error(t, err)
				assert.ErrorIs(t, err, ErrUsage)
				assert.Contains(t, err.Error(), tc.path)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
}

func TestFmtSig3(t *testing.T) {
	for _, tc := range []struct {
		in   float64
		want string
	}{
		{0, "0"},
		{1, "1.00"},
		{1.926, "1.93"},
		{12.34, "12.3"},
		{99.96, "100"},
		{123.4, "123"},
		{1234.5, "1,235"},
		{1234567, "1,234,567"},
		{0.0912, "0.0912"},
		{0.000123456, "0.000123"},
		{-2.5, "-2.50"},
	} {
		assert.Equal(t, tc.want, fmtSig3(tc.in), "fmtSig3(%v)", tc.in)
	}
}

func TestFmtBytes(t *testing.T) {
	for in, want := range map[int]string{512: "512 B", 1024: "1 KiB", 1536: "1.50 KiB", 1 << 20: "1 MiB", 64 << 10: "64 KiB"} {
		assert.Equal(t, want, fmtBytes(in))
	}
}
