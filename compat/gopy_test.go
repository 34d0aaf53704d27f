package compat

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestGopyExtension checks a real third-party-generated extension: the Go
// package compat/testdata/gopyext turned into a Python extension module by
// gopy (pinned as a tool in go.mod), built by scripts/build-gopy-ext.sh
// against the Python in use. gopy emits single-phase init, so both isolated
// modes must refuse it with CPython's own ImportError; the legacy mode
// imports it (CPython allows single-phase modules where the extension check
// is off), so its verdict is legacy-only. The wrapper module users import
// (gohello) must get the same verdict, with a reason naming the extension.
func TestGopyExtension(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a Go c-shared library with gopy (10-70 s)")
	}
	require.NotEmpty(t, os.Getenv("SUBINTERP_PYTHON_PREFIX"), `run through make, or eval "$(scripts/python.sh)" first`)
	dir := t.TempDir()
	var stdout, stderr bytes.Buffer
	build := exec.CommandContext(t.Context(), "../scripts/build-gopy-ext.sh", dir)
	build.Stdout, build.Stderr = &stdout, &stderr
	require.NoError(t, build.Run(), "scripts/build-gopy-ext.sh failed:\n%s", stderr.String())
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	ext := lines[len(lines)-1]
	require.Equal(t, "_gohello", ext, "the script names the extension module on its last line")

	opts := testOptions(t)
	opts.Paths = []string{dir}
	opts.Modules = []string{"_gohello", "gohello"}
	rep, err := Check(context.Background(), opts)
	require.NoError(t, err)

	ok, ie := StatusOK, StatusImportError
	refusal := "ImportError: module _gohello does not support loading in subinterpreters"
	checkModules(t, rep, map[string]expect{
		"_gohello": {statuses: [4]Status{ok, ok, ie, ie}, verdict: VerdictLegacyOnly, kind: KindExtension,
			init: InitSinglePhase, multi: SlotNA, gil: SlotNA, message: refusal, reason: "single-phase init"},
		"gohello": {statuses: [4]Status{ok, ok, ie, ie}, verdict: VerdictLegacyOnly, kind: KindPython,
			init: InitNA, multi: SlotNA, gil: SlotNA, message: refusal, reason: "imports extension _gohello"},
	})
	for _, m := range rep.Modules {
		if m.Name == "_gohello" {
			for _, mode := range []Mode{ModeIsolatedSharedGIL, ModeIsolatedOwnGIL} {
				assert.Equal(t, refusal, m.Results[mode].Message, "CPython's exact ImportError, %s", mode)
			}
		}
	}
}
