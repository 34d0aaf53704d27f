package main

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

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

func TestProgressText(t *testing.T) {
	for _, c := range []struct {
		done, total int
		eta         bool
		want        string
	}{
		{0, 4, true, "[························] 0/4 cases  10.0s  ETA ?  now"},
		{1, 4, true, "[██████··················] 1/4 cases  10.0s  ETA 30s  now"},
		{4, 4, true, "[████████████████████████] 4/4 cases  10.0s  now"},
		{2, 4, false, "[████████████············] 2/4 cases  10.0s  now"},
		{5, 4, false, "[████████████████████████] 5/4 cases  10.0s  now"},
	} {
		assert.Equal(t, c.want, progressText(c.done, c.total, "cases", 10*time.Second, c.eta, "now"))
	}
	assert.Nil(t, newStatusLine(&bytes.Buffer{}), "no bar on anything but a terminal")
	var nilLine *statusLine
	nilLine.draw(1, 2, "x", 0, true, "") // a nil line draws nothing
	nilLine.clear()
}
