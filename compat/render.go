package compat

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
)

// Counts returns how many modules got each verdict.
func (r *Report) Counts() map[Verdict]int {
	c := map[Verdict]int{}
	for _, m := range r.Modules {
		c[m.Verdict]++
	}
	return c
}

// MedianSeconds is the median over modules of Module.Seconds: what
// checking one module (four child processes) costs.
func (r *Report) MedianSeconds() float64 {
	if len(r.Modules) == 0 {
		return 0
	}
	s := make([]float64, len(r.Modules))
	for i, m := range r.Modules {
		s[i] = m.Seconds
	}
	sort.Float64s(s)
	if n := len(s); n%2 == 1 {
		return s[n/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// ChildSummary says how the modules were imported: "each imported in 4
// modes in a fresh process", or, when extension modules inside packages
// took results over or skipped modes, how many child processes ran.
func (r *Report) ChildSummary() string {
	children, inferred, skipped := 0, 0, 0
	for _, m := range r.Modules {
		for _, res := range m.Results {
			switch {
			case res.Status == StatusSkipped:
				skipped++
			case res.InferredFrom != "":
				inferred++
			default:
				children++
			}
		}
	}
	if inferred == 0 && skipped == 0 {
		return "each imported in 4 modes in a fresh process"
	}
	return fmt.Sprintf("%d imports, each in a fresh process (%d results taken over from the package's own import, %d modes skipped)",
		children, inferred, skipped)
}

// Summary is one line: the number of modules per verdict.
func (r *Report) Summary() string {
	c := r.Counts()
	parts := []string{}
	for _, v := range Verdicts {
		if c[v] > 0 {
			parts = append(parts, fmt.Sprintf("%s %d", v, c[v]))
		}
	}
	dists := ""
	if n := len(r.Distributions); n > 0 {
		dc := r.DistributionCounts()
		var dparts []string
		for _, v := range Verdicts {
			if dc[v] > 0 {
				dparts = append(dparts, fmt.Sprintf("%s %d", v, dc[v]))
			}
		}
		checked := 0
		for _, c := range dc {
			checked += c
		}
		if n > checked {
			dparts = append(dparts, fmt.Sprintf("error %d", n-checked))
		}
		dists = fmt.Sprintf("; %d distributions: %s", n, strings.Join(dparts, ", "))
	}
	switch len(r.Modules) {
	case 0:
		return "no module found to check" + dists
	case 1:
		return "1 module: " + strings.Join(parts, ", ") + dists
	}
	return fmt.Sprintf("%d modules: %s%s", len(r.Modules), strings.Join(parts, ", "), dists)
}

// WriteJSON writes the report as indented JSON.
func WriteJSON(w io.Writer, r *Report) error {
	if r.Modules == nil || r.Packages == nil || r.Distributions == nil {
		filled := *r // [] rather than null for consumers
		if filled.Modules == nil {
			filled.Modules = []Module{}
		}
		if filled.Packages == nil {
			filled.Packages = []Package{}
		}
		if filled.Distributions == nil {
			filled.Distributions = []Distribution{}
		}
		r = &filled
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(r)
}

// modeHeads are the short column names of the modes.
var modeHeads = map[Mode]string{
	ModeMain:              "main",
	ModeLegacy:            "legacy",
	ModeIsolatedSharedGIL: "iso-shared",
	ModeIsolatedOwnGIL:    "iso-own",
}

// WriteTable writes the report as an aligned text table for a terminal,
// then the summary line.
func WriteTable(w io.Writer, r *Report) error {
	if len(r.Modules) == 0 {
		_, err := fmt.Fprintln(w, r.Summary())
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprint(tw, "MODULE\tKIND\tINIT\tMULTI-INTERP\tGIL")
	for _, m := range Modes {
		fmt.Fprint(tw, "\t"+strings.ToUpper(modeHeads[m]))
	}
	fmt.Fprint(tw, "\tVERDICT\tREASON\n")
	for _, m := range r.Modules {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s", m.Name, dash(m.Kind), dash(m.Init), dash(m.MultipleInterpreters), dash(m.GIL))
		for _, mode := range Modes {
			res := m.Results[mode]
			st := string(res.Status)
			if res.Signal != "" {
				st += "(" + res.Signal + ")"
			}
			fmt.Fprint(tw, "\t"+st)
		}
		fmt.Fprintf(tw, "\t%s\t%s\n", m.VerdictText(), m.Reason)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	var groups strings.Builder
	writeGroupTables(&groups, r)
	_, err := fmt.Fprintf(w, "%s\n%s\n", groups.String(), r.Summary())
	return err
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// verdictMark and statusMark are the symbols the Markdown report uses so
// that a table of a hundred rows can be scanned by eye.
var (
	verdictMark = map[Verdict]string{
		VerdictOwnGIL: "🟢", VerdictSharedGILOnly: "🟡", VerdictLegacyOnly: "🟠",
		VerdictMainOnly: "🔴", VerdictBroken: "⛔", VerdictNotFound: "❔",
	}
	statusMark = map[Status]string{
		StatusOK: "✅", StatusImportError: "❌", StatusError: "❌", StatusCrash: "💥",
		StatusTimeout: "⏱️", StatusNotFound: "❔", StatusSkipped: "➖",
	}
)

// verdictMeaning explains each verdict, for the legends.
var verdictMeaning = map[Verdict]string{
	VerdictOwnGIL:        "imports in subinterpreters with their own GIL (PEP 684): runs in parallel",
	VerdictSharedGILOnly: "imports in isolated subinterpreters only while they share the main GIL",
	VerdictLegacyOnly:    "imports in subinterpreters only with the extension check off (legacy config)",
	VerdictMainOnly:      "imports in the main interpreter only",
	VerdictBroken:        "does not import even in the main interpreter",
	VerdictNotFound:      "no such module on sys.path",
}

// modeMeaning explains each mode, for the legends.
var modeMeaning = map[Mode]string{
	ModeMain:              "the main interpreter",
	ModeLegacy:            "a subinterpreter with the legacy config: shared GIL and allocator, extension check off",
	ModeIsolatedSharedGIL: "an isolated subinterpreter (own allocator, extension check on) sharing the main GIL",
	ModeIsolatedOwnGIL:    "an isolated subinterpreter with its own GIL (cpython.IsolatedConfig)",
}

// WriteMarkdown writes the report as a Markdown document: a summary, the
// table (worst verdicts first), and a legend.
func WriteMarkdown(w io.Writer, r *Report) error {
	var b strings.Builder
	fmt.Fprintf(&b, "# Subinterpreter compatibility: CPython %s (%s, %s)\n\n", r.Python, r.PythonBuild, r.Platform)
	fmt.Fprintf(&b, "Generated by `subinterp compat` on %s: %d modules, %s; "+
		"%d jobs, %.1f s wall, median %.2f s of child time per module.\n\n",
		r.Generated.Format("2006-01-02"), len(r.Modules), r.ChildSummary(), r.Jobs, r.Seconds, r.MedianSeconds())
	if r.About != "" {
		b.WriteString(r.About + "\n\n")
	}
	grouped := len(r.Distributions) > 0 || len(groupedPackages(r)) > 0
	writeGroupMarkdown(&b, r)
	if grouped {
		b.WriteString("## Modules\n\nEvery module checked, the extension modules inside packages included.\n\n")
	}
	b.WriteString("| verdict | modules | meaning |\n|---|---:|---|\n")
	c := r.Counts()
	for _, v := range Verdicts {
		if c[v] > 0 {
			fmt.Fprintf(&b, "| %s `%s` | %d | %s |\n", verdictMark[v], v, c[v], verdictMeaning[v])
		}
	}
	b.WriteString("\n| module | kind | init | multiple interpreters | gil |")
	for _, m := range Modes {
		fmt.Fprintf(&b, " %s |", modeHeads[m])
	}
	b.WriteString(" verdict | reason |\n|---|---|---|---|---|")
	b.WriteString(strings.Repeat(":---:|", len(Modes)))
	b.WriteString("---|---|\n")
	for _, m := range worstFirst(r.Modules) {
		fmt.Fprintf(&b, "| `%s` | %s | %s | %s | %s |", m.Name, mdCell(dash(m.Kind)), mdCell(dash(m.Init)),
			mdCode(m.MultipleInterpreters), mdCode(m.GIL))
		for _, mode := range Modes {
			res := m.Results[mode]
			cell := statusMark[res.Status] + " " + string(res.Status)
			if res.Signal != "" {
				cell += " " + res.Signal
			}
			if res.InferredFrom != "" {
				cell += " (as " + res.InferredFrom + ")"
			}
			fmt.Fprintf(&b, " %s |", mdCell(cell))
		}
		fmt.Fprintf(&b, " %s %s | %s |\n", verdictMark[m.Verdict], mdCell(m.VerdictText()), mdCell(m.Reason))
	}
	b.WriteString("\nModes: ")
	for i, m := range Modes {
		if i > 0 {
			b.WriteString("; ")
		}
		if modeHeads[m] == string(m) {
			fmt.Fprintf(&b, "`%s`: %s", m, modeMeaning[m])
		} else {
			fmt.Fprintf(&b, "`%s` (`%s`): %s", modeHeads[m], m, modeMeaning[m])
		}
	}
	b.WriteString(".\nStatuses: ✅ ok, ❌ import_error or error, 💥 crash (with the signal), ⏱️ timeout, ❔ not_found, ➖ skipped (an extension module inside a package that imported in a more isolated mode, which decides its verdict); (as PACKAGE): the result of importing the package, which importing a module inside it starts with, taken over without a child of its own.\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// mdCode is a slot value as code in a Markdown cell, "-" when unknown.
func mdCode(s string) string {
	if s == "" || strings.ContainsAny(s, "`|\n") {
		return mdCell(dash(s))
	}
	return "`" + s + "`"
}

// mdCell escapes text for a Markdown table cell.
func mdCell(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	r := strings.NewReplacer("|", `\|`, "<", "&lt;", ">", "&gt;", "`", "\\`", "*", `\*`, "_", `\_`)
	return r.Replace(s)
}

//go:embed report.html.tmpl
var htmlTemplate string

var htmlReport = template.Must(template.New("report").Funcs(template.FuncMap{
	"verdictRank": verdictRank,
	"statusRank": func(s Status) int {
		for i, x := range []Status{StatusOK, StatusSkipped, StatusImportError, StatusError, StatusNotFound, StatusTimeout, StatusCrash} {
			if x == s {
				return i
			}
		}
		return 9
	},
	"result":    func(m Module, mode Mode) ModeResult { return m.Results[mode] },
	"breakable": breakable,
	"wrapWords": wrapWords,
	"dash":      dash,
	"printf":    fmt.Sprintf,
}).Parse(htmlTemplate))

// htmlData is what the HTML template renders.
type htmlData struct {
	*Report
	Modes          []Mode
	ModeHeads      map[Mode]string
	ModeTitles     map[Mode]template.HTML
	ModeMeaning    map[Mode]string
	Verdicts       []Verdict
	VerdictMeaning map[Verdict]string
	Counts         map[Verdict]int
	// Dists are the distributions, worst first; TechRows the summary by
	// build technology (over TechVerdicts); GroupedPackages the packages
	// no distribution claims.
	Dists           []Distribution
	TechRows        []TechRow
	TechVerdicts    []Verdict
	GroupedPackages []Package
}

// worstFirst sorts modules by verdict, worst first, keeping the name order
// within a verdict: in a document the modules that need work are what a
// reader looks for.
func worstFirst(mods []Module) []Module {
	out := append([]Module(nil), mods...)
	sort.SliceStable(out, func(i, j int) bool {
		return verdictRank(out[i].Verdict) > verdictRank(out[j].Verdict)
	})
	return out
}

// verdictRank orders verdicts from best (0) to worst.
func verdictRank(v Verdict) int {
	for i, x := range Verdicts {
		if x == v {
			return i
		}
	}
	return len(Verdicts)
}

// breakable lets a long slot value such as per_interpreter_gil_supported
// wrap once, after the underscore nearest its middle, rather than widen
// its column.
func breakable(s string) template.HTML {
	best := -1
	for i := 0; i < len(s); i++ {
		if s[i] == '_' && (best < 0 || abs(len(s)/2-i) < abs(len(s)/2-best)) {
			best = i
		}
	}
	if len(s) < 16 || best < 0 {
		return template.HTML(template.HTMLEscapeString(s))
	}
	return template.HTML(template.HTMLEscapeString(s[:best+1]) + "<wbr>" + template.HTMLEscapeString(s[best+1:]))
}

// wrapWords lets the long C names in a reason
// (Py_MOD_MULTIPLE_INTERPRETERS_NOT_SUPPORTED) wrap after their
// underscores instead of in the middle of a word or not at all.
func wrapWords(s string) template.HTML {
	var b strings.Builder
	for i, word := range strings.Split(s, " ") {
		if i > 0 {
			b.WriteByte(' ')
		}
		w := template.HTMLEscapeString(word)
		if len(word) > 16 {
			w = strings.ReplaceAll(w, "_", "_<wbr>")
		}
		b.WriteString(w)
	}
	return template.HTML(b.String())
}

func abs(n int) int {
	if n < 0 {
		return -n
	}
	return n
}

// modeTitles are the column heads of the modes in the HTML report.
var modeTitles = map[Mode]template.HTML{
	ModeMain:              "main",
	ModeLegacy:            "legacy",
	ModeIsolatedSharedGIL: "isolated<br>shared GIL",
	ModeIsolatedOwnGIL:    "isolated<br>own GIL",
}

// WriteHTML writes the report as one self-contained HTML page: a table
// (worst verdicts first) that sorts by any column and filters by text,
// verdict and kind, colour-coded, with a legend. It loads nothing from
// anywhere.
func WriteHTML(w io.Writer, r *Report) error {
	sorted := *r
	sorted.Modules = worstFirst(r.Modules)
	return htmlReport.Execute(w, htmlData{
		Report: &sorted, Modes: Modes, ModeHeads: modeHeads, ModeTitles: modeTitles, ModeMeaning: modeMeaning,
		Verdicts: Verdicts, VerdictMeaning: verdictMeaning, Counts: r.Counts(),
		Dists: distsWorstFirst(r.Distributions), TechRows: r.TechSummary(), TechVerdicts: Verdicts[:len(Verdicts)-1],
		GroupedPackages: groupedPackages(r),
	})
}
