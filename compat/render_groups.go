package compat

import (
	"fmt"
	"sort"
	"strings"
	"text/tabwriter"
)

// techFix says, for each technology, what makes its modules importable in
// own-GIL subinterpreters: what the module's maintainers (or the
// generator's) can do.
var techFix = map[Technology]string{
	TechCMulti: "make all state per-module (the C API's \"Isolating Extension Modules\" HOWTO), " +
		"then add {Py_mod_multiple_interpreters, Py_MOD_PER_INTERPRETER_GIL_SUPPORTED} to the module's slots",
	TechCSingle: "port to multi-phase init (PEP 489: PyModuleDef_Init with slots) with per-module state, " +
		"then declare Py_MOD_PER_INTERPRETER_GIL_SUPPORTED",
	TechCython: "Cython 3.1 or later: compile with the directive subinterpreters_compatible=own_gil " +
		"(module-level cdef globals must go first; Cython warns about each)",
	TechPyO3: "PyO3 declares no per-interpreter GIL support (it does not support subinterpreters yet: PyO3 issues 576 and 3451), " +
		"so its modules get a shared GIL at best, or none if the package declares Py_MOD_MULTIPLE_INTERPRETERS_NOT_SUPPORTED; " +
		"the fix is in PyO3, not in the package",
	TechPybind11: "pybind11 3.0 or later: PYBIND11_MODULE(name, m, py::multiple_interpreters::per_interpreter_gil()), " +
		"once the bindings keep no state shared between interpreters",
	TechNanobind: "nanobind declares no subinterpreter support: its modules refuse them until nanobind does",
	TechCFFI:     "a cffi API-mode module loads through _cffi_backend: both must support an own GIL (check _cffi_backend too)",
	TechMypyc:    "mypyc emits modules that do not declare subinterpreter support: nothing to change in the package itself",
}

// TechRow is one line of the summary by build technology: how many
// extension modules built with Technology got each verdict, and how many
// distributions it decides.
type TechRow struct {
	Technology Technology
	// Modules counts the extension modules by verdict, Total all of them.
	Modules map[Verdict]int
	Total   int
	// Distributions counts the distributions whose deciding module was
	// built with it.
	Distributions int
	// Fix is what makes such a module own-GIL ready.
	Fix string
}

// TechSummary sums up the extension modules by build technology, in the
// order of Technologies; technologies no module uses are left out.
func (r *Report) TechSummary() []TechRow {
	rows := map[Technology]*TechRow{}
	get := func(t Technology) *TechRow {
		if rows[t] == nil {
			rows[t] = &TechRow{Technology: t, Modules: map[Verdict]int{}, Fix: techFix[t]}
		}
		return rows[t]
	}
	for _, m := range r.Modules {
		if m.Technology == "" {
			continue
		}
		row := get(m.Technology)
		row.Modules[m.Verdict]++
		row.Total++
	}
	for _, d := range r.Distributions {
		if d.DeciderTechnology != "" && d.Verdict != VerdictOwnGIL {
			get(d.DeciderTechnology).Distributions++
		}
	}
	var out []TechRow
	for _, t := range Technologies {
		if rows[t] != nil {
			out = append(out, *rows[t])
		}
	}
	return out
}

// DistributionCounts returns how many checked distributions got each
// verdict (those with an Error are not counted).
func (r *Report) DistributionCounts() map[Verdict]int {
	c := map[Verdict]int{}
	for _, d := range r.Distributions {
		if d.Error == "" {
			c[d.Verdict]++
		}
	}
	return c
}

// groupedPackages are the packages not shown under a distribution: the
// named modules, and those no metadata claims.
func groupedPackages(r *Report) []Package {
	var out []Package
	for _, p := range r.Packages {
		if p.Distribution == "" {
			out = append(out, p)
		}
	}
	return out
}

// distsWorstFirst sorts distributions by verdict, worst first, broken
// metadata last, keeping the name order otherwise.
func distsWorstFirst(ds []Distribution) []Distribution {
	out := append([]Distribution(nil), ds...)
	rank := func(d Distribution) int {
		if d.Error != "" {
			return -1
		}
		return verdictRank(d.Verdict)
	}
	sort.SliceStable(out, func(i, j int) bool { return rank(out[i]) > rank(out[j]) })
	return out
}

// techList joins technologies for a cell.
func techList(ts []Technology) string {
	s := make([]string, len(ts))
	for i, t := range ts {
		s[i] = string(t)
	}
	return strings.Join(s, ", ")
}

// distVerdictText is a distribution's verdict as reports show it.
func distVerdictText(d Distribution) string {
	if d.Error != "" {
		return "error"
	}
	return string(d.Verdict)
}

// writeGroupTables writes the distributions and the packages that belong
// to none as aligned text tables, after the modules table.
func writeGroupTables(w *strings.Builder, r *Report) {
	if len(r.Distributions) > 0 {
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprint(tw, "\nDISTRIBUTION\tVERSION\tVERDICT\tDECIDED BY\tSUMMARY\n")
		for _, d := range r.Distributions {
			if d.Error != "" {
				fmt.Fprintf(tw, "%s\t%s\terror\t-\t%s\n", d.Name, dash(d.Version), d.Error)
				continue
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", d.Name, d.Version, d.Verdict, d.Decider, d.Summary)
		}
		tw.Flush()
	}
	if pkgs := groupedPackages(r); len(pkgs) > 0 {
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprint(tw, "\nPACKAGE\tVERDICT\tDECIDED BY\tSUMMARY\n")
		for _, p := range pkgs {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", p.Name, p.Verdict, p.Decider, p.Summary)
		}
		tw.Flush()
	}
}

// writeGroupMarkdown writes the Markdown sections by distribution, by
// build technology and by package (those no distribution claims), each
// only when there is something in it.
func writeGroupMarkdown(b *strings.Builder, r *Report) {
	if len(r.Distributions) > 0 {
		b.WriteString("## By distribution\n\n")
		c := r.DistributionCounts()
		var parts []string
		for _, v := range Verdicts {
			if c[v] > 0 {
				parts = append(parts, fmt.Sprintf("%s %s %d", verdictMark[v], v, c[v]))
			}
		}
		errs := len(r.Distributions)
		for _, n := range c {
			errs -= n
		}
		if errs > 0 {
			parts = append(parts, fmt.Sprintf("⚠️ could not be checked %d", errs))
		}
		fmt.Fprintf(b, "%d distributions: %s. A distribution's verdict is the worst of its packages', "+
			"a package's the worst of its own import and of every extension module it ships, each imported on its own; "+
			"\"decided by\" names the module that sets it.\n\n", len(r.Distributions), strings.Join(parts, ", "))
		b.WriteString("| distribution | version | verdict | decided by | technology | summary | reason |\n|---|---|---|---|---|---|---|\n")
		for _, d := range distsWorstFirst(r.Distributions) {
			if d.Error != "" {
				fmt.Fprintf(b, "| %s | %s | ⚠️ error | - | - | - | %s |\n", mdCell(d.Name), mdCell(dash(d.Version)), mdCell(d.Error))
				continue
			}
			fmt.Fprintf(b, "| %s | %s | %s %s | `%s` | %s | %s | %s |\n", mdCell(d.Name), mdCell(d.Version), verdictMark[d.Verdict], d.Verdict,
				d.Decider, mdCell(dash(string(d.DeciderTechnology))), mdCell(d.Summary), mdCell(d.Reason))
		}
		b.WriteString("\n")
	}
	if rows := r.TechSummary(); len(rows) > 0 {
		b.WriteString("## By build technology\n\n")
		b.WriteString("Extension modules by how they were built (read from each module's file: the strings PyO3, pybind11, " +
			"nanobind, mypyc, Cython and cffi leave in the modules they generate; otherwise hand-written C or C++, " +
			"multi-phase if the module calls PyModuleDef_Init), with their verdicts, how many distributions a module " +
			"of that kind keeps from own-gil, and what fixes such a module.\n\n")
		b.WriteString("| technology | modules |")
		for _, v := range Verdicts[:len(Verdicts)-1] {
			fmt.Fprintf(b, " %s %s |", verdictMark[v], v)
		}
		b.WriteString(" distributions it keeps from own-gil | how to fix |\n|---|---:|")
		b.WriteString(strings.Repeat("---:|", len(Verdicts)-1))
		b.WriteString("---:|---|\n")
		for _, row := range rows {
			fmt.Fprintf(b, "| %s | %d |", row.Technology, row.Total)
			for _, v := range Verdicts[:len(Verdicts)-1] {
				fmt.Fprintf(b, " %d |", row.Modules[v])
			}
			fmt.Fprintf(b, " %d | %s |\n", row.Distributions, mdCell(row.Fix))
		}
		b.WriteString("\n")
	}
	if pkgs := groupedPackages(r); len(pkgs) > 0 {
		b.WriteString("## By package\n\n| package | verdict | decided by | summary | reason |\n|---|---|---|---|---|\n")
		for _, p := range pkgs {
			fmt.Fprintf(b, "| `%s` | %s %s | `%s` | %s | %s |\n", p.Name, verdictMark[p.Verdict], p.Verdict, p.Decider, mdCell(p.Summary), mdCell(p.Reason))
		}
		b.WriteString("\n")
	}
}
