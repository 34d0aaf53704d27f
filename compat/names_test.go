package compat

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestValidModuleName(t *testing.T) {
	for _, tc := range []struct {
		name string
		ok   bool
	}{
		{"json", true},
		{"_json", true},
		{"xml.etree.ElementTree", true},
		{"a1.b_2._c", true},
		{"café", true},     // PEP 3131 identifiers
		{"модуль.π", true}, // letters of any script
		{"match", true},    // soft keywords are names
		{"type._", true},
		{"", false},
		{"os; import shutil", false},
		{"os\nimport shutil", false},
		{"__import__('os')", false},
		{"json ", false},
		{" json", false},
		{".json", false},
		{"json.", false},
		{"a..b", false},
		{"1abc", false},
		{"a.1b", false},
		{"a-b", false},
		{"a/b", false},
		{"../x", false},
		{"class", false}, // hard keywords cannot be imported by name
		{"a.import", false},
		{"None", false},
		{"a\x00b", false},
		{"٣x", false}, // a digit (Arabic-Indic) cannot start a name
		{"x٣", true},
		{strings.Repeat("a", 1001), false},
	} {
		assert.Equal(t, tc.ok, ValidModuleName(tc.name), "%q", tc.name)
	}
}
