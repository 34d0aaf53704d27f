package compat

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestIsTestModule(t *testing.T) {
	for name, want := range map[string]bool{
		"numpy._core._umath_tests":      true,
		"numpy._core._multiarray_tests": true,
		"scipy._lib._test_ccallback":    true,
		"pkg.tests._helper":             true,
		"pkg.test":                      true,
		"pkg._test":                     true,
		"_testcapi":                     false,
		"numpy._core._multiarray_umath": false,
		"pytest_cov":                    false,
		"contest._x":                    false,
		"lxml.etree":                    false,
		"attestation._core":             false,
	} {
		assert.Equal(t, want, isTestModule(name), name)
	}
}
