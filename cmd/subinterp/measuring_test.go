package main

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestMeasuringFail: a measuring command's failure is exit 1, or 130 once
// Ctrl-C has ended its context, with the command named in the message.
func TestMeasuringFail(t *testing.T) {
	var stderr bytes.Buffer
	ctx, cancel := context.WithCancel(t.Context())
	m := &measuring{name: "microbench", ctx: ctx, stderr: &stderr}
	assert.Equal(t, exitFailed, m.fail(errors.New("boom")))
	assert.Equal(t, "subinterp microbench: boom\n", stderr.String())
	cancel()
	assert.Equal(t, exitInterrupted, m.fail(context.Canceled))
}

func TestEncodeJSON(t *testing.T) {
	var b bytes.Buffer
	assert.NoError(t, encodeJSON(&b, map[string]int{"a": 1}))
	assert.Equal(t, "{\n  \"a\": 1\n}\n", b.String())
}
