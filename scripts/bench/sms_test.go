package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// TestSMSCommandUsage: the sms-* subcommands want their folders; a folder that is not an SMS
// run is refused before anything is written.
func TestSMSCommandUsage(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"sms-inputs"}, "usage: bench sms-inputs -model RUN -dir DIR"},
		{[]string{"sms-inputs", "-model", dir}, "usage: bench sms-inputs"},
		{[]string{"sms-export", "-dir", dir}, "usage: bench sms-export"},
		{[]string{"sms-latency", "-model", dir, "extra"}, "usage: bench sms-latency -model RUN "},
		{[]string{"sms-latency", "-model", dir}, "not an SMS run folder"},
		{[]string{"sms-export", "-model", dir, "-dir", dir}, "not an SMS run folder"},
	} {
		var stdout, stderr bytes.Buffer
		err := run(context.Background(), c.args, &stdout, &stderr)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: error %v, want one containing %q", c.args, err, c.want)
		}
	}
}
