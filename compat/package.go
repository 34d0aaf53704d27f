package compat

import (
	"fmt"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
)

// plan is what a check runs and how its results are grouped afterwards.
type plan struct {
	targets []target
	// tops are the modules judged as packages (see Package), sorted.
	tops []string
	// exts maps each of tops to the extension modules found inside it.
	exts map[string][]string
	// dists are the distributions to report, in the list child's order;
	// owner maps a top-level module to the first distribution installing
	// it.
	dists []distInfo
	owner map[string]string
	// missing are requested distributions that are not installed.
	missing []string
}

// planOf merges the named and listed modules (sorted by name), adds the
// extension modules inside each of them (unless opts.Shallow), and picks
// the distributions to report.
func planOf(opts Options, l *listResult) plan {
	site := map[string]bool{} // name -> needs site
	for _, n := range l.Stdlib {
		if _, ok := site[n]; !ok {
			site[n] = false
		}
	}
	tops := append([]string{}, opts.Modules...)
	tops = append(tops, l.SitePackages...)
	for _, p := range opts.Paths {
		tops = append(tops, l.Paths[p]...)
	}
	p := plan{exts: map[string][]string{}, owner: map[string]string{}}

	// Requested distributions: their top-level modules are checked.
	byName := map[string]int{}
	for i, d := range l.Dists {
		if _, seen := byName[normDist(distName(d))]; !seen {
			byName[normDist(distName(d))] = i
		}
	}
	requested := map[int]bool{}
	for _, name := range opts.Distributions {
		i, found := byName[normDist(name)]
		if !found {
			p.missing = append(p.missing, name)
			continue
		}
		requested[i] = true
		if l.Dists[i].Error == "" {
			tops = append(tops, l.Dists[i].TopLevel...)
		}
	}

	checked := map[string]bool{}
	for _, n := range tops {
		if ValidModuleName(n) {
			site[n] = true
			checked[n] = true
		}
	}
	for n := range checked {
		p.tops = append(p.tops, n)
	}
	sort.Strings(p.tops)
	pkgOf := map[string]string{} // extension module -> the package it was found in
	if !opts.Shallow {
		for _, top := range p.tops {
			for _, e := range l.Extensions[top] {
				if _, already := site[e]; already || !ValidModuleName(e) {
					continue
				}
				site[e] = true
				pkgOf[e] = top
			}
			p.exts[top] = l.Extensions[top]
		}
	}

	names := make([]string, 0, len(site))
	for n := range site {
		names = append(names, n)
	}
	sort.Strings(names)
	p.targets = make([]target, len(names))
	for i, n := range names {
		p.targets[i] = target{name: n, noSite: !site[n], pkg: pkgOf[n]}
	}

	// A distribution is reported when it installs a module checked here,
	// when it was asked for, or when its metadata is broken in a directory
	// whose modules were listed.
	for i, d := range l.Dists {
		owns := false
		for _, t := range d.TopLevel {
			if checked[t] {
				owns = true
				if _, taken := p.owner[t]; !taken && d.Error == "" {
					p.owner[t] = distName(d)
				}
			}
		}
		if owns || requested[i] || (d.Error != "" && d.Listed) {
			p.dists = append(p.dists, d)
		}
	}
	return p
}

// distName is a distribution's name from its metadata or, when the
// metadata has none, from its directory's name ("PyYAML-6.0.3.dist-info").
func distName(d distInfo) string {
	if d.Name != "" {
		return d.Name
	}
	base := filepath.Base(d.Path)
	base = strings.TrimSuffix(strings.TrimSuffix(base, ".dist-info"), ".egg-info")
	name, _, _ := strings.Cut(base, "-")
	return name
}

var (
	// distNameRE is a valid distribution name (PEP 508).
	distNameRE = regexp.MustCompile(`^(?i:[A-Z0-9]|[A-Z0-9][A-Z0-9._-]*[A-Z0-9])$`)
	distSep    = regexp.MustCompile(`[-_.]+`)
)

// validDistName reports whether s is a valid distribution name.
func validDistName(s string) bool { return len(s) <= 200 && distNameRE.MatchString(s) }

// normDist normalizes a distribution name (PEP 503): "PyYAML",
// "pyyaml" and "py_yaml" are one distribution only if they normalize
// alike.
func normDist(s string) string { return distSep.ReplaceAllString(strings.ToLower(s), "-") }

// packagesOf judges every package of the plan with the extension modules
// it ships.
func packagesOf(p plan, modules []Module) []Package {
	byName := make(map[string]*Module, len(modules))
	for i := range modules {
		byName[modules[i].Name] = &modules[i]
	}
	out := make([]Package, 0, len(p.tops))
	for _, top := range p.tops {
		m := byName[top]
		if m == nil {
			continue
		}
		pk := Package{Name: top, Distribution: p.owner[top], Imports: m.Verdict, Degraded: m.Degraded, Extensions: []string{}}
		decider := m
		techs := map[Technology]bool{}
		if m.Technology != "" {
			techs[m.Technology] = true
		}
		for _, e := range p.exts[top] {
			em := byName[e]
			if em == nil {
				continue
			}
			pk.Extensions = append(pk.Extensions, e)
			if em.Technology != "" {
				techs[em.Technology] = true
			}
			if isTestModule(e) {
				pk.Tests = append(pk.Tests, e)
				continue
			}
			if em.Verdict == VerdictBroken || em.Verdict == VerdictNotFound {
				if m.Verdict != VerdictBroken && m.Verdict != VerdictNotFound {
					pk.Unimportable = append(pk.Unimportable, e)
					continue
				}
			} else if em.Verdict != VerdictOwnGIL {
				pk.Refusing++
			}
			r, best := verdictRank(em.Verdict), verdictRank(decider.Verdict)
			if r > best || (r == best && r > 0 && decider == m) {
				decider = em
			}
		}
		pk.Verdict, pk.Decider, pk.Reason = decider.Verdict, decider.Name, decider.Reason
		if decider != m {
			pk.Reason = decider.Name + ": " + decider.Reason
		}
		pk.Summary = packageSummary(*m, pk)
		for t := range techs {
			pk.Technologies = append(pk.Technologies, t)
		}
		sort.Slice(pk.Technologies, func(i, j int) bool { return pk.Technologies[i] < pk.Technologies[j] })
		out = append(out, pk)
	}
	return out
}

// packageSummary is the one line of a Package: what importing its name
// gives, and how many of its extensions refuse an own GIL.
func packageSummary(m Module, pk Package) string {
	imports := "imports " + string(pk.Imports)
	if pk.Degraded {
		names := make([]string, len(m.Fallbacks))
		for i, f := range m.Fallbacks {
			names[i] = f.Module
		}
		imports += " (degraded: goes on without " + strings.Join(names, ", ") + ")"
	}
	n := len(pk.Extensions)
	if n == 0 {
		if m.Kind == KindExtension {
			return "an extension module: " + imports
		}
		return imports + "; ships no extension module"
	}
	counted := n - len(pk.Unimportable) - len(pk.Tests)
	s := fmt.Sprintf("%s; %d of %d extension modules refuse own GIL", imports, pk.Refusing, counted)
	var more []string
	if u := len(pk.Unimportable); u > 0 {
		more = append(more, fmt.Sprintf("%d more do not import even in the main interpreter", u))
	}
	if t := len(pk.Tests); t > 0 {
		more = append(more, fmt.Sprintf("%d test modules", t))
	}
	if len(more) > 0 {
		s += " (not counted: " + strings.Join(more, "; ") + ")"
	}
	return s
}

// testModule matches the name of a module that exists for a package's
// own test suite (numpy._core._umath_tests, scipy._lib._test_ccallback,
// pkg.tests._helper): one of its components is "test" or "tests" (with
// leading underscores, and maybe "_" and more after it), or ends with
// "_test" or "_tests".
var testModule = regexp.MustCompile(`(^|\.)(_*tests?(_[^.]*)?|[^.]*_tests?)(\.|$)`)

// isTestModule reports whether name is a test module (see testModule):
// checked and listed, but not what a user of the package runs, so it
// does not decide the package's verdict.
func isTestModule(name string) bool { return testModule.MatchString(name) }

// distributionsOf groups the packages by distribution.
func distributionsOf(p plan, packages []Package, modules []Module) []Distribution {
	pkgs := make(map[string]*Package, len(packages))
	for i := range packages {
		pkgs[packages[i].Name] = &packages[i]
	}
	mods := make(map[string]*Module, len(modules))
	for i := range modules {
		mods[modules[i].Name] = &modules[i]
	}
	out := []Distribution{}
	for _, d := range p.dists {
		dist := Distribution{Name: distName(d), Version: d.Version, Metadata: d.Path, Packages: []string{}, Error: d.Error}
		if dist.Error != "" {
			dist.Error = fmt.Sprintf("broken metadata in %s: %s", d.Path, d.Error)
			out = append(out, dist)
			continue
		}
		var decider *Package
		techs := map[Technology]bool{}
		for _, t := range d.TopLevel {
			pk := pkgs[t]
			if pk == nil {
				continue
			}
			dist.Packages = append(dist.Packages, t)
			for _, x := range pk.Technologies {
				techs[x] = true
			}
			dist.Degraded = dist.Degraded || pk.Degraded
			if decider == nil || verdictRank(pk.Verdict) > verdictRank(decider.Verdict) {
				decider = pk
			}
		}
		if decider == nil {
			if len(d.TopLevel) == 0 {
				dist.Error = fmt.Sprintf("installs no module found in %s (its metadata lists none that exists there)", d.Dir)
			} else {
				dist.Error = fmt.Sprintf("its modules (%s) were not checked as packages", strings.Join(d.TopLevel, ", "))
			}
			out = append(out, dist)
			continue
		}
		dist.Verdict, dist.Decider, dist.Reason = decider.Verdict, decider.Decider, decider.Reason
		dist.Summary = decider.Summary
		if len(dist.Packages) > 1 {
			dist.Summary = decider.Name + " " + decider.Summary
		}
		if dm := mods[decider.Decider]; dm != nil {
			dist.DeciderTechnology = dm.Technology
		}
		for t := range techs {
			dist.Technologies = append(dist.Technologies, t)
		}
		sort.Slice(dist.Technologies, func(i, j int) bool { return dist.Technologies[i] < dist.Technologies[j] })
		out = append(out, dist)
	}
	for _, name := range p.missing {
		out = append(out, Distribution{Name: name, Packages: []string{},
			Error: "not installed: no .dist-info or .egg-info with this name in any sys.path directory"})
	}
	sort.SliceStable(out, func(i, j int) bool { return normDist(out[i].Name) < normDist(out[j].Name) })
	return out
}
