package compat

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// sampleReport has one module per verdict, with text that needs escaping.
func sampleReport() *Report {
	mk := func(name string, kind, init, multi string, st ...Status) Module {
		m := Module{Name: name, Kind: kind, Init: init, MultipleInterpreters: multi, GIL: SlotNA, Results: results(refused(name), st...)}
		m.Verdict, m.Reason = Judge(m)
		return m
	}
	ok, ie, cr, nf := StatusOK, StatusImportError, StatusCrash, StatusNotFound
	mods := []Module{
		mk("_json", KindExtension, InitMultiPhase, "per_interpreter_gil_supported", ok, ok, ok, ok),
		mk("faulthandler", KindBuiltin, InitMultiPhase, SlotAbsent, ok, ok, ok, ie),
		mk("readline", KindExtension, InitSinglePhase, SlotNA, ok, ok, ie, ie),
		mk("fx_fatal", KindExtension, InitMultiPhase, "per_interpreter_gil_supported", ok, cr, cr, cr),
		mk("fx_segv", "", "", "", cr, cr, cr, cr),
		mk("nosuch", "", "", "", nf, nf, nf, nf),
	}
	mods[4].Reason = `crashes: <script>alert("x")</script> | pipes & "quotes"`
	return &Report{Python: "3.13.15", PythonBuild: "release", Platform: "linux x86_64", Modules: mods, Jobs: 2,
		Seconds: 1.5, Generated: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
}

func TestJSONShape(t *testing.T) {
	var b bytes.Buffer
	require.NoError(t, WriteJSON(&b, sampleReport()))
	var doc struct {
		Python  string `json:"python"`
		Modules []struct {
			Name, Kind, Init, Verdict string
			Multi                     string                    `json:"multiple_interpreters"`
			Results                   map[string]map[string]any `json:"results"`
		} `json:"modules"`
	}
	dec := json.NewDecoder(&b)
	require.NoError(t, dec.Decode(&doc))
	assert.Equal(t, "3.13.15", doc.Python)
	require.Len(t, doc.Modules, 6)
	assert.Equal(t, "readline", doc.Modules[2].Name)
	assert.Equal(t, "single-phase", doc.Modules[2].Init)
	assert.Equal(t, "legacy-only", doc.Modules[2].Verdict)
	assert.Equal(t, "n/a", doc.Modules[2].Multi)
	own := doc.Modules[2].Results["isolated_own_gil"]
	assert.Equal(t, "import_error", own["status"])
	assert.Equal(t, refused("readline"), own["message"])
	assert.Len(t, doc.Modules[2].Results, 4)
	assert.Contains(t, b.String()+mustJSON(t, sampleReport()), `"signal": "SIGSEGV"`)
}

func mustJSON(t *testing.T, r *Report) string {
	var b bytes.Buffer
	require.NoError(t, WriteJSON(&b, r))
	return b.String()
}

func TestMedianSeconds(t *testing.T) {
	r := &Report{}
	assert.Zero(t, r.MedianSeconds())
	for _, s := range []float64{3, 1, 2} {
		r.Modules = append(r.Modules, Module{Seconds: s})
	}
	assert.Equal(t, 2.0, r.MedianSeconds())
	r.Modules = append(r.Modules, Module{Seconds: 10})
	assert.Equal(t, 2.5, r.MedianSeconds())
}

func TestTable(t *testing.T) {
	var b bytes.Buffer
	require.NoError(t, WriteTable(&b, sampleReport()))
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	require.Len(t, lines, 1+6+2)
	assert.Regexp(t, `^MODULE +KIND +INIT +MULTI-INTERP +GIL +MAIN +LEGACY +ISO-SHARED +ISO-OWN +VERDICT +REASON$`, lines[0])
	assert.Regexp(t, `^readline +extension +single-phase +n/a +n/a +ok +ok +import_error +import_error +legacy-only +single-phase init`, lines[3])
	assert.Contains(t, lines[5], "crash(SIGSEGV)")
	assert.Equal(t, "6 modules: own-gil 1, shared-gil-only 1, legacy-only 1, main-only 1, broken 1, not_found 1", lines[8])
}

func TestEmptyReport(t *testing.T) {
	r := &Report{Python: "3.13.15"}
	var b bytes.Buffer
	require.NoError(t, WriteTable(&b, r))
	assert.Equal(t, "no module found to check\n", b.String())
	for _, write := range []func(io.Writer, *Report) error{WriteJSON, WriteMarkdown, WriteHTML} {
		b.Reset()
		require.NoError(t, write(&b, r))
		assert.NotEmpty(t, b.String())
	}
	b.Reset()
	require.NoError(t, WriteJSON(&b, r))
	assert.Contains(t, b.String(), `"modules": []`, "an empty list, not null")
	assert.Contains(t, b.String(), `"packages": []`)
	assert.Contains(t, b.String(), `"distributions": []`)
}

func TestMarkdown(t *testing.T) {
	var b bytes.Buffer
	require.NoError(t, WriteMarkdown(&b, sampleReport()))
	md := b.String()
	assert.True(t, strings.HasPrefix(md, "# Subinterpreter compatibility: CPython 3.13.15 (release, linux x86_64)\n"))
	var rows []string
	for _, line := range strings.Split(md, "\n") {
		if strings.HasPrefix(line, "| `") {
			rows = append(rows, line)
		}
	}
	require.Len(t, rows, 6, "one table row per module")
	for _, row := range rows {
		// 11 columns: every | inside a cell is escaped.
		assert.Equal(t, 12, strings.Count(row, "|")-strings.Count(row, `\|`), row)
	}
	// Worst first: not_found, broken, main-only, legacy-only, ...
	assert.Contains(t, rows[0], "| `nosuch` |")
	assert.Contains(t, rows[3], "| `readline` | extension | single-phase | `n/a` | `n/a` | ✅ ok | ✅ ok | ❌ import\\_error | ❌ import\\_error | 🟠 legacy-only |")
	assert.Contains(t, rows[1], "💥 crash SIGSEGV")
	assert.Contains(t, rows[1], `&lt;script&gt;`)
	assert.Contains(t, rows[5], "| `_json` | extension | multi-phase | `per_interpreter_gil_supported` | `n/a` |")
	assert.NotContains(t, md, "<script>")
	assert.Contains(t, md, "| 🟢 `own-gil` | 1 |")
}

// TestHTML: the page parses, holds the table with one row per module, the
// script and the style inline, escapes text, and loads nothing.
func TestHTML(t *testing.T) {
	var b bytes.Buffer
	require.NoError(t, WriteHTML(&b, sampleReport()))
	page := b.String()

	// A script is raw text to an HTML parser, not markup: take it out
	// before the XML decoder (in its lenient HTML mode) reads the rest.
	open, end := strings.Index(page, "<script>"), strings.Index(page, "</script>")
	require.True(t, open > 0 && end > open, "an inline script")
	script := page[open+len("<script>") : end]
	for _, s := range []string{"sortBy", "aria-sort", "apply", "filter", "verdict"} {
		assert.Contains(t, script, s)
	}
	d := xml.NewDecoder(strings.NewReader(page[:open+len("<script>")] + page[end:]))
	d.Strict, d.AutoClose, d.Entity = false, xml.HTMLAutoClose, xml.HTMLEntity
	var (
		stack              []string
		rows, scripts      int
		inBody, haveTable  bool
		verdicts           []string
		headers            int
		sawStyle, sawInput bool
	)
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		require.NoError(t, err)
		switch tok := tok.(type) {
		case xml.StartElement:
			stack = append(stack, tok.Name.Local)
			attr := map[string]string{}
			for _, a := range tok.Attr {
				attr[a.Name.Local] = a.Value
			}
			switch tok.Name.Local {
			case "table":
				haveTable = attr["id"] == "report"
			case "tbody":
				inBody = true
			case "tr":
				if inBody {
					rows++
					verdicts = append(verdicts, attr["data-verdict"])
				}
			case "th":
				headers++
			case "script":
				scripts++
				assert.Empty(t, attr["src"], "no external script")
			case "style":
				sawStyle = true
			case "input":
				sawInput = attr["type"] == "search"
			case "link", "img", "iframe":
				t.Errorf("unexpected <%s>: the page must load nothing", tok.Name.Local)
			}
		case xml.EndElement:
			if tok.Name.Local == "tbody" {
				inBody = false
			}
			if len(stack) > 0 {
				stack = stack[:len(stack)-1]
			}
		}
	}
	assert.True(t, haveTable)
	assert.Equal(t, 6, rows, "one row per module")
	assert.Equal(t, []string{"not_found", "broken", "main-only", "legacy-only", "shared-gil-only", "own-gil"}, verdicts,
		"worst verdicts first")
	assert.Equal(t, 11, headers)
	assert.Equal(t, 1, scripts)
	assert.True(t, sawStyle)
	assert.True(t, sawInput, "a text filter")
	assert.Contains(t, page, `<select id="verdict"`)
	assert.Contains(t, page, "aria-sort")
	assert.NotContains(t, page, `<script>alert`)
	assert.Contains(t, page, `&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;`)
	assert.NotContains(t, page, "http://")
	assert.NotContains(t, page, "https://")
	assert.Contains(t, page, `title="import_error: ImportError: module readline does not support loading in subinterpreters`)
}
