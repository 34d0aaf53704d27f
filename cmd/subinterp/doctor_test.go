package main

import (
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestDoctorJSON(t *testing.T) {
	// A small unit of work keeps this quick. The parallel check may fail
	// on a busy machine (exit 1); the report must parse either way.
	r := runBinary(t, "", "doctor", "--json", "--work", "5000")
	require.Contains(t, []int{exitOK, exitFailed}, r.code, r.stderr)
	var rep doctorReport
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &rep), r.stdout)
	minor := pythonUnderTest()
	assert.True(t, strings.HasPrefix(rep.Version, minor+"."), "version %q, want %s.x", rep.Version, minor)
	assert.NotEmpty(t, rep.Prefix)
	assert.Contains(t, rep.LibPython, "libpython"+minor)
	assert.Contains(t, rep.Linked, "libpython"+minor)
	assert.Positive(t, rep.NumCPU)
	assert.Equal(t, r.code == exitOK, rep.OK)

	names := map[string]doctorCheck{}
	for _, c := range rep.Checks {
		names[c.Name] = c
		assert.Contains(t, []string{statusPass, statusFail, statusSkip, statusInfo}, c.Status, c.Name)
	}
	require.Contains(t, names, "shared libpython")
	assert.Equal(t, statusPass, names["shared libpython"].Status)
	require.Contains(t, names, "own-GIL interpreters run in parallel")
	require.Contains(t, names, "shared-GIL interpreters (contrast)")
	assert.Equal(t, statusInfo, names["shared-GIL interpreters (contrast)"].Status)
}

func TestDoctorText(t *testing.T) {
	r := runBinary(t, "", "doctor", "--work", "5000")
	require.Contains(t, []int{exitOK, exitFailed}, r.code, r.stderr)
	assert.Contains(t, r.stdout, "CPython        "+pythonUnderTest()+".")
	assert.Contains(t, r.stdout, "shared libpython")
}

// pythonUnderTest is the CPython version ("3.13") the tests were built
// against, as scripts/python.sh exported it; 3.13 if it did not.
func pythonUnderTest() string {
	if v := os.Getenv("SUBINTERP_PYTHON_VERSION"); v != "" {
		return v
	}
	return "3.13"
}

func TestMajorMinor(t *testing.T) {
	for in, want := range map[string]string{"3.13.15": "3.13", "3.12.1": "3.12", "3.14.0a1+": "3.14", "3.15": "3.15", "3": "3"} {
		assert.Equal(t, want, majorMinor(in), in)
	}
}
