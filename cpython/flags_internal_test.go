package cpython

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestPythonFlagsValidate: what RuntimeOptions.Flags refuses, each with
// ErrInvalidOptions and the reason, before CPython starts.
func TestPythonFlagsValidate(t *testing.T) {
	tests := []struct {
		name  string
		flags PythonFlags
		want  string // "" for accepted
	}{
		{"zero value", PythonFlags{}, ""},
		{"everything python3 -bb -B -OO -q -u -vv passes", PythonFlags{BytesWarning: 2, DontWriteBytecode: true, Optimize: 2, Quiet: true,
			Unbuffered: true, Verbose: 2, WarnOptions: []string{"error", "ignore::DeprecationWarning"},
			XOptions: []string{"dev", "utf8", "utf8=0", "importtime", "int_max_str_digits=0", "frozen_modules=off"}}, ""},
		{"-OOO", PythonFlags{Optimize: 3}, ""},
		{"negative bytes warning", PythonFlags{BytesWarning: -1}, "Flags.BytesWarning must be 0, 1 or 2 (got -1)"},
		{"bytes warning 3", PythonFlags{BytesWarning: 3}, "Flags.BytesWarning must be 0, 1 or 2 (got 3)"},
		{"negative optimize", PythonFlags{Optimize: -1}, "Flags.Optimize must not be negative (got -1)"},
		{"negative verbose", PythonFlags{Verbose: -2}, "Flags.Verbose must not be negative (got -2)"},
		{"NUL in a warning option", PythonFlags{WarnOptions: []string{"err\x00or"}}, "contains a NUL byte"},
		{"NUL in an X option", PythonFlags{XOptions: []string{"dev\x00"}}, "contains a NUL byte"},
		{"X option without a name", PythonFlags{XOptions: []string{"=1"}}, `Flags.XOptions: "=1" has no name`},
		{"faulthandler", PythonFlags{XOptions: []string{"faulthandler"}}, "Go owns the process's signals"},
		{"faulthandler with a value", PythonFlags{XOptions: []string{"faulthandler=1"}}, "Go owns the process's signals"},
		{"warn_default_encoding", PythonFlags{XOptions: []string{"warn_default_encoding"}}, "only from a command line it parses itself"},
		{"utf8 with a bad value", PythonFlags{XOptions: []string{"utf8=yes"}}, `utf8 takes no value, 1 or 0 (got "utf8=yes")`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.flags.validate()
			if tc.want == "" {
				assert.NoError(t, err)
				return
			}
			require.Error(t, err)
			assert.ErrorIs(t, err, ErrInvalidOptions)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

func TestPythonFlagsXOption(t *testing.T) {
	f := PythonFlags{XOptions: []string{"utf8=0", "dev", "utf8"}}
	v, ok := f.xoption("utf8")
	assert.True(t, ok)
	assert.Equal(t, "", v, "the last one wins")
	_, ok = f.xoption("importtime")
	assert.False(t, ok)
	v, ok = f.xoption("dev")
	assert.True(t, ok)
	assert.Equal(t, "", v)
}
