package bench

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"unicode/utf8"
)

// bulkPayload is the payload size from which a round trip is about
// bandwidth rather than latency, so GB/s is shown next to the time.
const bulkPayload = 64 << 10

// errNilReport is what every renderer returns for a nil *Report.
var errNilReport = errors.New("bench: nil report")

// WriteTable writes r to w as plain text for a terminal: a header line,
// one aligned table per workload, then worker start-up, round trips,
// unavailable modes and the goals. It returns the first error w returned;
// after it nothing more is written, so a closed pipe ends the output.
func WriteTable(w io.Writer, r *Report) error {
	if r == nil {
		return errNilReport
	}
	ew := &errWriter{w: w}
	fmt.Fprintf(ew, "subinterp bench: %s\n", headerLine(r))
	if r.BaselineMoved {
		fmt.Fprintf(ew, "warning: %s\n", baselineWarning(r))
	}
	if w := cpuSpeedsWarning(r); w != "" {
		fmt.Fprintf(ew, "warning: %s\n", w)
	}

	for _, wl := range workloadOrder(r) {
		if ew.err != nil {
			return ew.err
		}
		fmt.Fprintf(ew, "\n%s\n", workloadTitle(r, wl))
		t := textTable{header: []string{"mode", "workers", "median s", "min s", "max s", "tasks/s", "speedup", "per core", "RSS MiB/worker"}}
		for _, res := range resultsFor(r, wl) {
			row := []string{res.Mode, strconv.Itoa(res.Workers)}
			if res.Error != "" {
				t.add(row, "FAILED: "+oneLine(res.Error))
				continue
			}
			t.add(append(row,
				fmtSig3(res.WallSeconds.Median), fmtSig3(res.WallSeconds.Min), fmtSig3(res.WallSeconds.Max),
				fmtSig3(res.TasksPerSecond), fmtSpeedup(res.Speedup, "-"), fmtPercent(res.Efficiency, "-"),
				fmtSig3(res.RSSMBPerWorker)), "")
		}
		t.write(ew)
	}

	if len(r.Startup) > 0 {
		fmt.Fprintf(ew, "\nworker start-up (pool asked for -> first task done), fastest first\n")
		t := textTable{header: []string{"mode", "ms/worker", "vs fastest", "samples"}}
		fastest := fastestStartup(r.Startup)
		for _, s := range startupByTime(r.Startup) {
			if s.Error != "" {
				t.add([]string{s.Mode}, "FAILED: "+oneLine(s.Error))
				continue
			}
			t.add([]string{s.Mode, fmtSig3(s.MsPerWorker), fmtRatio(s.MsPerWorker, fastest), strconv.Itoa(s.Samples)}, "")
		}
		t.write(ew)
	}

	if len(r.Roundtrip) > 0 {
		fmt.Fprintf(ew, "\nround trip to a warm worker (payload there and back)\n")
		t := textTable{header: []string{"payload", "mode", "µs", "GB/s", "samples"}}
		for _, rt := range roundtripOrder(r.Roundtrip) {
			row := []string{fmtBytes(rt.PayloadBytes), rt.Mode}
			if rt.Error != "" {
				t.add(row, "FAILED: "+oneLine(rt.Error))
				continue
			}
			gbps := ""
			if rt.PayloadBytes >= bulkPayload {
				gbps = fmtSig3(rt.GBPerSecond)
			}
			t.add(append(row, fmtSig3(rt.Microseconds), gbps, strconv.Itoa(rt.Samples)), "")
		}
		t.write(ew)
	}

	writeFreeThreadingTable(ew, r)

	if len(r.Unavailable) > 0 {
		fmt.Fprintf(ew, "\nunavailable here\n")
		t := textTable{}
		for _, u := range r.Unavailable {
			t.add([]string{u.Mode}, oneLine(u.Reason))
		}
		t.write(ew)
	}

	if len(r.Goals) > 0 {
		fmt.Fprintf(ew, "\ngoals (✓ met, ✗ missed, ? not measured)\n")
		t := textTable{header: []string{"", "goal", "want", "measured"}}
		for _, g := range r.Goals {
			t.add([]string{goalMark(g, "✓", "✗", "?"), oneLine(g.Name), oneLine(g.Want), oneLine(g.Measured)}, "")
		}
		t.write(ew)
	}
	return ew.err
}

// WriteMarkdown writes r to w as GitHub Markdown for docs/benchmarks.md:
// the same figures as WriteTable, starting at heading level 2 because the
// caller embeds it under its own title. The goals come first here, since
// a reader of a document wants the verdict before the detail. plotRef,
// when not empty, is the image WritePlot made, as the link the document
// should use.
func WriteMarkdown(w io.Writer, r *Report, plotRef string) error {
	if r == nil {
		return errNilReport
	}
	ew := &errWriter{w: w}
	title := "Python " + orUnknown(r.Python)
	if r.CPUs > 0 {
		title += fmt.Sprintf(" on %d CPU%s", r.CPUs, pluralS(r.CPUs))
	}
	fmt.Fprintf(ew, "## subinterp bench: %s\n\n%s\n", mdEscape(title), mdEscape(headerLine(r)+"."))
	if plotRef != "" {
		fmt.Fprintf(ew, "\n![subinterp bench plots](%s)\n", mdLink(plotRef))
	}
	if r.BaselineMoved {
		fmt.Fprintf(ew, "\n> **Warning:** %s.\n", mdEscape(baselineWarning(r)))
	}
	if w := cpuSpeedsWarning(r); w != "" {
		fmt.Fprintf(ew, "\n> **Warning:** %s.\n", mdEscape(w))
	}
	for _, s := range r.CPUSpeeds {
		fmt.Fprintf(ew, "\nCPU speeds at the %s (memory probe, lower is faster): %s.\n", s.When, mdEscape(FormatCPUSpeeds(s.Speeds)))
	}
	if len(r.Baseline) > 0 {
		fmt.Fprintf(ew, "\nThe sequential baseline, timed first and again last (it should not move):\n\n| workload | first s | last s | change |\n|---|---|---|---|\n")
		for _, d := range r.Baseline {
			fmt.Fprintf(ew, "| %s | %s | %s | %+.1f%% |\n", mdCode(d.Workload), fmtSig3(d.FirstSeconds), fmtSig3(d.LastSeconds), 100*d.Change)
		}
	}

	if len(r.Goals) > 0 {
		fmt.Fprintf(ew, "\n### Goals\n\n| | goal | want | measured |\n|---|---|---|---|\n")
		for _, g := range r.Goals {
			fmt.Fprintf(ew, "| %s | %s | %s | %s |\n", goalMark(g, "✅", "❌", "❔"), mdCell(g.Name), mdCell(g.Want), mdCell(g.Measured))
		}
	}

	if wls := workloadOrder(r); len(wls) > 0 {
		fmt.Fprintf(ew, "\n### Throughput and scaling\n\nSpeedup is over the sequential run of the same tasks; per core is speedup ÷ min(workers, CPUs). Wall times exclude pool start-up.\n")
		for _, wl := range wls {
			if ew.err != nil {
				return ew.err
			}
			fmt.Fprintf(ew, "\n#### %s\n", mdEscape(wl))
			if about := workloadAbout(r, wl); about != "" {
				fmt.Fprintf(ew, "\n%s\n", mdEscape(capitalize(about)))
			}
			fmt.Fprintf(ew, "\n| mode | workers | median s | min s | max s | tasks/s | speedup | per core | RSS MiB/worker |\n|---|--:|--:|--:|--:|--:|--:|--:|--:|\n")
			for _, res := range resultsFor(r, wl) {
				if res.Error != "" {
					fmt.Fprintf(ew, "| %s | %d | failed: %s |||||||\n", mdCode(res.Mode), res.Workers, mdCell(res.Error))
					continue
				}
				fmt.Fprintf(ew, "| %s | %d | %s | %s | %s | %s | %s | %s | %s |\n", mdCode(res.Mode), res.Workers,
					fmtSig3(res.WallSeconds.Median), fmtSig3(res.WallSeconds.Min), fmtSig3(res.WallSeconds.Max),
					fmtSig3(res.TasksPerSecond), fmtSpeedup(res.Speedup, "—"), fmtPercent(res.Efficiency, "—"),
					fmtSig3(res.RSSMBPerWorker))
			}
		}
	}

	if len(r.Startup) > 0 {
		fmt.Fprintf(ew, "\n### Worker start-up\n\nFrom asking for a pool to a fresh worker finishing its first task, per worker; fastest first.\n\n| mode | ms/worker | vs fastest | samples |\n|---|--:|--:|--:|\n")
		fastest := fastestStartup(r.Startup)
		for _, s := range startupByTime(r.Startup) {
			if s.Error != "" {
				fmt.Fprintf(ew, "| %s | failed: %s |||\n", mdCode(s.Mode), mdCell(s.Error))
				continue
			}
			fmt.Fprintf(ew, "| %s | %s | %s | %d |\n", mdCode(s.Mode), fmtSig3(s.MsPerWorker), fmtRatio(s.MsPerWorker, fastest), s.Samples)
		}
	}

	if len(r.Roundtrip) > 0 {
		fmt.Fprintf(ew, "\n### Round trip\n\nMedian time to send a payload to a warm worker and get it back; GB/s counts the bytes moved both ways.\n\n| payload | mode | µs | GB/s | samples |\n|--:|---|--:|--:|--:|\n")
		for _, rt := range roundtripOrder(r.Roundtrip) {
			if rt.Error != "" {
				fmt.Fprintf(ew, "| %s | %s | failed: %s |||\n", fmtBytes(rt.PayloadBytes), mdCode(rt.Mode), mdCell(rt.Error))
				continue
			}
			gbps := "—"
			if rt.PayloadBytes >= bulkPayload {
				gbps = fmtSig3(rt.GBPerSecond)
			}
			fmt.Fprintf(ew, "| %s | %s | %s | %s | %d |\n", fmtBytes(rt.PayloadBytes), mdCode(rt.Mode), fmtSig3(rt.Microseconds), gbps, rt.Samples)
		}
	}

	writeFreeThreadingMarkdown(ew, r)

	if len(r.Unavailable) > 0 {
		fmt.Fprintf(ew, "\n### Unavailable modes\n\n| mode | why |\n|---|---|\n")
		for _, u := range r.Unavailable {
			fmt.Fprintf(ew, "| %s | %s |\n", mdCode(u.Mode), mdCell(u.Reason))
		}
	}
	return ew.err
}

// errWriter keeps the first write error and refuses every later write, so
// the renderers can write unconditionally and still stop at a closed pipe.
type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) Write(p []byte) (int, error) {
	if e.err != nil {
		return 0, e.err
	}
	n, err := e.w.Write(p)
	if err == nil && n < len(p) {
		err = io.ErrShortWrite
	}
	e.err = err
	return n, err
}

// textTable is a tabwriter table whose rows may end in a tail: text written
// after the aligned cells that does not take part in the alignment, so a
// long error message neither widens the columns of the rows around it nor
// (as an unterminated tabwriter cell would) splits them into two blocks.
type textTable struct {
	header []string
	rows   [][]string
	tails  []string
}

func (t *textTable) add(cells []string, tail string) {
	t.rows = append(t.rows, cells)
	t.tails = append(t.tails, tail)
}

// tailMark stands in for a tail while tabwriter aligns; it cannot occur
// in the cells because oneLine drops control characters.
const tailMark = "\x00"

func (t *textTable) write(w io.Writer) {
	cols := len(t.header)
	for _, row := range t.rows {
		cols = max(cols, len(row)+1)
	}
	var buf bytes.Buffer
	tw := tabwriter.NewWriter(&buf, 0, 0, 2, ' ', 0)
	line := func(cells []string, tail string) {
		full := make([]string, cols)
		for i, c := range cells {
			// A tab or newline inside a cell would start a new column or row.
			full[i] = oneLine(c)
		}
		if tail != "" {
			full[len(cells)] = tailMark
		}
		fmt.Fprintf(tw, "  %s\n", strings.Join(full, "\t"))
	}
	if len(t.header) > 0 {
		line(t.header, "")
	}
	for i, row := range t.rows {
		line(row, t.tails[i])
	}
	tw.Flush() // a bytes.Buffer does not fail
	tail := 0
	for l := range strings.Lines(buf.String()) {
		l = strings.TrimRight(l, " \n")
		if i := strings.Index(l, tailMark); i >= 0 {
			// Rows are written in order, so the marks come in order of tails.
			for t.tails[tail] == "" {
				tail++
			}
			l = l[:i] + t.tails[tail]
			tail++
		}
		fmt.Fprintf(w, "%s\n", l)
	}
}

// headerLine describes the run in one line: Python, machine and sampling.
func headerLine(r *Report) string {
	parts := []string{"Python " + orUnknown(r.Python)}
	if r.PythonBuild != "" {
		parts[0] += " (" + oneLine(r.PythonBuild) + ")"
	}
	cpus := "CPUs unknown"
	if r.CPUs > 0 {
		cpus = fmt.Sprintf("%d CPU%s", r.CPUs, pluralS(r.CPUs))
	}
	if r.CPUModel != "" {
		cpus += " (" + oneLine(r.CPUModel) + ")"
	}
	parts = append(parts, cpus)
	run := "full run"
	if r.Quick {
		run = "quick run"
	}
	if r.Repeat > 0 {
		run += fmt.Sprintf(", each case timed %d time%s", r.Repeat, pluralS(r.Repeat))
	}
	parts = append(parts, run)
	if !r.Started.IsZero() {
		when := "started " + r.Started.UTC().Format("2006-01-02 15:04 UTC")
		if r.Seconds > 0 {
			when += ", took " + fmtSig3(r.Seconds) + " s"
		}
		parts = append(parts, when)
	}
	return strings.Join(parts, " · ")
}

// workloadOrder is the workloads as the report lists them, then any that
// only appear in Results, so that no row goes unshown.
func workloadOrder(r *Report) []string {
	var names []string
	for _, w := range r.Workloads {
		if !slices.Contains(names, w.Name) {
			names = append(names, w.Name)
		}
	}
	for _, res := range r.Results {
		if !slices.Contains(names, res.Workload) {
			names = append(names, res.Workload)
		}
	}
	return names
}

func workloadInfo(r *Report, name string) (WorkloadInfo, bool) {
	for _, w := range r.Workloads {
		if w.Name == name {
			return w, true
		}
	}
	return WorkloadInfo{}, false
}

// workloadAbout says what the workload is and how big one run is.
func workloadAbout(r *Report, name string) string {
	w, ok := workloadInfo(r, name)
	if !ok {
		return ""
	}
	var parts []string
	if w.About != "" {
		parts = append(parts, strings.TrimSuffix(oneLine(w.About), "."))
	}
	if w.Tasks > 0 {
		parts = append(parts, fmt.Sprintf("%d tasks of size %d per run", w.Tasks, w.Size))
	}
	if w.CPUBound {
		parts = append(parts, "CPU-bound")
	}
	if len(parts) == 0 {
		return ""
	}
	return strings.Join(parts, "; ") + "."
}

func workloadTitle(r *Report, name string) string {
	if about := workloadAbout(r, name); about != "" {
		return name + ": " + about
	}
	return name
}

// resultsFor returns the rows of one workload by mode order, then workers.
func resultsFor(r *Report, workload string) []Result {
	var out []Result
	for _, res := range r.Results {
		if res.Workload == workload {
			out = append(out, res)
		}
	}
	slices.SortStableFunc(out, func(a, b Result) int {
		if c := compareModes(a.Mode, b.Mode); c != 0 {
			return c
		}
		return a.Workers - b.Workers
	})
	return out
}

// compareModes orders modes as Modes does, then the round-trip reference,
// then any mode this file does not know by name.
func compareModes(a, b string) int {
	if ra, rb := modeRank(a), modeRank(b); ra != rb {
		return ra - rb
	}
	return strings.Compare(a, b)
}

func modeRank(m string) int {
	if i := slices.Index(Modes, m); i >= 0 {
		return i
	}
	if m == ModeMultiprocessingPipe {
		return len(Modes)
	}
	return len(Modes) + 1
}

// startupByTime sorts fastest first, failures last.
func startupByTime(ss []Startup) []Startup {
	out := slices.Clone(ss)
	slices.SortStableFunc(out, func(a, b Startup) int {
		if (a.Error != "") != (b.Error != "") {
			if a.Error != "" {
				return 1
			}
			return -1
		}
		if a.Error == "" && a.MsPerWorker != b.MsPerWorker {
			if a.MsPerWorker < b.MsPerWorker {
				return -1
			}
			return 1
		}
		return compareModes(a.Mode, b.Mode)
	})
	return out
}

func fastestStartup(ss []Startup) float64 {
	fastest := math.Inf(1)
	for _, s := range ss {
		if s.Error == "" && s.MsPerWorker > 0 {
			fastest = min(fastest, s.MsPerWorker)
		}
	}
	return fastest
}

// roundtripOrder groups the round trips by payload, smallest first, so
// that each size's modes can be compared down one run of rows.
func roundtripOrder(rts []Roundtrip) []Roundtrip {
	out := slices.Clone(rts)
	slices.SortStableFunc(out, func(a, b Roundtrip) int {
		if a.PayloadBytes != b.PayloadBytes {
			return a.PayloadBytes - b.PayloadBytes
		}
		return compareModes(a.Mode, b.Mode)
	})
	return out
}

func goalMark(g Goal, met, missed, unknown string) string {
	switch {
	case !g.Known:
		return unknown
	case g.Met:
		return met
	default:
		return missed
	}
}

// fmtSig3 formats x with three significant digits, but never drops integer
// digits or switches to exponents: a table of timings should read as plain
// numbers.
func fmtSig3(x float64) string {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return strconv.FormatFloat(x, 'g', -1, 64)
	}
	if math.Abs(x) >= 999.5 {
		return groupThousands(int64(math.Round(x)))
	}
	// Round first so that 99.96 becomes 100, not 100.0.
	x, _ = strconv.ParseFloat(strconv.FormatFloat(x, 'g', 3, 64), 64)
	if x == 0 {
		return "0"
	}
	decimals := max(2-int(math.Floor(math.Log10(math.Abs(x)))), 0)
	return strconv.FormatFloat(x, 'f', decimals, 64)
}

func groupThousands(n int64) string {
	s := strconv.FormatInt(n, 10)
	sign := ""
	if n < 0 {
		sign, s = "-", s[1:]
	}
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return sign + b.String()
}

// fmtSpeedup formats a speedup; zero means there was no baseline.
func fmtSpeedup(x float64, none string) string {
	if x <= 0 {
		return none
	}
	return strconv.FormatFloat(x, 'f', 2, 64) + "×"
}

// fmtPercent formats a fraction as a whole percentage; zero means unknown.
func fmtPercent(x float64, none string) string {
	if x <= 0 {
		return none
	}
	return strconv.FormatFloat(x*100, 'f', 0, 64) + "%"
}

// fmtRatio formats x relative to base as a multiple ("2.5×").
func fmtRatio(x, base float64) string {
	if base <= 0 || math.IsInf(base, 0) || x <= 0 {
		return "-"
	}
	return fmtSig3(x/base) + "×"
}

// fmtBytes names a payload size the way people say it: 1 KiB, 1 MiB.
func fmtBytes(n int) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<20:
		return fmtSig3(float64(n)/(1<<20)) + " MiB"
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	case n >= 1<<10:
		return fmtSig3(float64(n)/(1<<10)) + " KiB"
	default:
		return fmt.Sprintf("%d B", n)
	}
}

// capitalize starts a sentence made from a fragment such as WorkloadInfo.About.
func capitalize(s string) string {
	r, n := utf8.DecodeRuneInString(s)
	return strings.ToUpper(string(r)) + s[n:]
}

func pluralS(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

func orUnknown(s string) string {
	if s == "" {
		return "(version unknown)"
	}
	return oneLine(s)
}

// oneLine folds text onto one line and drops control characters, because
// error messages from Python can span lines and would break a table row.
func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || r == utf8.RuneError {
			return -1
		}
		return r
	}, s)
}

// mdEscape backslash-escapes the characters that would otherwise turn text
// such as Python's "__init__" or "<module>" into markup.
func mdEscape(s string) string {
	var b strings.Builder
	for _, c := range oneLine(s) {
		if strings.ContainsRune("\\`*_[]<>|#", c) {
			b.WriteByte('\\')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// mdCell is mdEscape for a table cell, where an empty cell should still
// say something.
func mdCell(s string) string {
	if strings.TrimSpace(s) == "" {
		return "—"
	}
	return mdEscape(s)
}

// mdCode writes a mode name as code; names never hold backticks, but a
// stray one must not end the span early.
func mdCode(s string) string {
	return "`" + strings.ReplaceAll(oneLine(s), "`", "'") + "`"
}

// mdLink keeps a link target from ending the Markdown link early.
func mdLink(s string) string {
	r := strings.NewReplacer(" ", "%20", "(", "%28", ")", "%29")
	return r.Replace(oneLine(s))
}
