package compat

import (
	"bytes"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// groupedReport is sampleReport with packages, distributions and build
// technologies, as a deep check of a site directory makes them.
func groupedReport() *Report {
	r := sampleReport()
	r.Modules[2].Technology = TechCSingle // readline
	ok, ie := StatusOK, StatusImportError
	ext := Module{Name: "yaml._yaml", Package: "yaml", Kind: KindExtension, Init: InitMultiPhase, MultipleInterpreters: SlotAbsent,
		Technology: TechCython, Results: results(refused("yaml._yaml"), ok, ok, ok, ie)}
	ext.Verdict, ext.Reason = Judge(ext)
	top := Module{Name: "yaml", Kind: KindPython, Init: InitNA, Results: results("", ok, ok, ok, ok)}
	top.Results[ModeIsolatedOwnGIL] = ModeResult{Status: ok, ExtensionErrors: []ExtensionError{{Module: "yaml._yaml", Message: refused("yaml._yaml")}}}
	top.Verdict, top.Reason = Judge(top)
	top.Fallbacks = fallbacks(top)
	top.Degraded = len(top.Fallbacks) > 0
	top.Reason = degradedReason(top)
	r.Modules = append(r.Modules, top, ext)
	r.Packages = []Package{
		{Name: "yaml", Distribution: "PyYAML", Imports: VerdictOwnGIL, Degraded: true, Extensions: []string{"yaml._yaml"}, Refusing: 1,
			Verdict: VerdictSharedGILOnly, Decider: "yaml._yaml", Reason: "yaml._yaml: " + ext.Reason,
			Summary: "imports own-gil (degraded: goes on without yaml._yaml); 1 of 1 extension modules refuse own GIL", Technologies: []Technology{TechCython}},
		{Name: "mytool", Imports: VerdictOwnGIL, Extensions: []string{}, Verdict: VerdictOwnGIL, Decider: "mytool",
			Reason: "Python code", Summary: "imports own-gil; ships no extension module"},
	}
	r.Distributions = []Distribution{
		{Name: "broken-dist", Metadata: "/x/broken_dist-1.0.dist-info", Packages: []string{}, Error: "broken metadata in /x/broken_dist-1.0.dist-info: no METADATA file"},
		{Name: "PyYAML", Version: "6.0.3", Packages: []string{"yaml"}, Verdict: VerdictSharedGILOnly, Degraded: true, Decider: "yaml._yaml",
			Reason: "yaml._yaml: <declare> | it", Summary: r.Packages[0].Summary, Technologies: []Technology{TechCython}, DeciderTechnology: TechCython},
	}
	return r
}

func TestGroupedTable(t *testing.T) {
	var b bytes.Buffer
	require.NoError(t, WriteTable(&b, groupedReport()))
	out := b.String()
	assert.Regexp(t, `(?m)^yaml +python .* own-gil \(degraded\) +degraded: imports in own-GIL subinterpreters only because it catches the failure of extension yaml\._yaml`, out)
	assert.Regexp(t, `(?m)^DISTRIBUTION +VERSION +VERDICT +DECIDED BY +SUMMARY$`, out)
	assert.Regexp(t, `(?m)^PyYAML +6\.0\.3 +shared-gil-only +yaml\._yaml +imports own-gil \(degraded`, out)
	assert.Regexp(t, `(?m)^broken-dist +- +error +- +broken metadata in /x/broken_dist-1\.0\.dist-info: no METADATA file$`, out)
	assert.Regexp(t, `(?m)^mytool +own-gil +mytool +imports own-gil; ships no extension module$`, out, "a package no distribution claims")
	assert.NotRegexp(t, `(?m)^yaml +shared-gil-only`, out, "a package of a distribution is shown under it")
	assert.True(t, strings.HasSuffix(out, "; 2 distributions: shared-gil-only 1, error 1\n"), out)
}

func TestGroupedMarkdown(t *testing.T) {
	r := groupedReport()
	r.About = "Measured on a test."
	var b bytes.Buffer
	require.NoError(t, WriteMarkdown(&b, r))
	md := b.String()
	for _, s := range []string{"## By distribution", "## By build technology", "## By package", "## Modules", "Measured on a test.\n"} {
		assert.Contains(t, md, s)
	}
	assert.Less(t, strings.Index(md, "## By distribution"), strings.Index(md, "## Modules"))
	assert.Contains(t, md, "| PyYAML | 6.0.3 | 🟡 shared-gil-only | `yaml._yaml` | Cython |")
	assert.Contains(t, md, `yaml.\_yaml: &lt;declare&gt; \| it |`, "escaped")
	assert.Contains(t, md, "| broken-dist | - | ⚠️ error |")
	assert.Less(t, strings.Index(md, "| PyYAML"), strings.Index(md, "| broken-dist"), "broken metadata last")
	assert.Contains(t, md, "| Cython | 1 | 0 | 1 | 0 | 0 | 0 | 1 | Cython 3.1 or later: compile with the directive subinterpreters\\_compatible=own\\_gil")
	assert.Contains(t, md, "| C single-phase | 1 | 0 | 0 | 1 | 0 | 0 | 0 |", "readline")
	assert.Contains(t, md, "| `mytool` | 🟢 own-gil | `mytool` |")
	assert.Contains(t, md, "🟢 own-gil (degraded) |")
}

func TestGroupedHTML(t *testing.T) {
	var b bytes.Buffer
	require.NoError(t, WriteHTML(&b, groupedReport()))
	page := b.String()
	for _, id := range []string{`id="distributions"`, `id="technologies"`, `id="packages"`, `id="report"`} {
		assert.Contains(t, page, id)
	}
	assert.Contains(t, page, `<td class="name">PyYAML</td><td class="dim mono">6.0.3</td><td><span class="badge v-shared-gil-only">shared-gil-only</span></td>`)
	assert.Contains(t, page, `&lt;declare&gt; | it`)
	assert.NotContains(t, page, "<declare>")
	assert.Contains(t, page, `<span class="badge v-own-gil">own-gil (degraded)</span>`)
	assert.Less(t, strings.Index(page, `id="distributions"`), strings.Index(page, `id="report"`))
}
