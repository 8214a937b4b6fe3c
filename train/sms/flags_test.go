package main

import (
	"errors"
	"testing"

	"github.com/seqtorch/seqtorch/train/cli"
)

// TestModelFlagErrors: the model's flags are checked by smsrnn.Config.Validate, the one
// statement of their rules, its errors named by the flags as one-line usage errors.
func TestModelFlagErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--rnn-dropout", "1"}, "--rnn-dropout must be in [0, 1), got 1"},
		{[]string{"--cell", "lstm", "--nonlinearity", "sigmoid"}, `unknown --nonlinearity "sigmoid": want tanh or relu`},
		{[]string{"--pooling", "min"}, `unknown --pooling "min": want last, max or mean`},
		{[]string{"--activation", "gelu"}, `unknown --activation "gelu": want relu or tanh`},
		{[]string{"--subwords", "-2"}, "--subwords must be >= 0, got -2"},
		{[]string{"--embed", "0"}, "--embed must be positive, got 0"},
	} {
		_, err := parseTrain(t, tc.args...)
		var ue *cli.UsageError
		if !errors.As(err, &ue) || err.Error() != tc.want {
			t.Errorf("%q: %v, want the usage error %q", tc.args, err, tc.want)
		}
	}
	if o, err := parseTrain(t, "--device", "cpu"); err != nil || o.device.String() != "cpu" {
		t.Errorf("--device cpu: device %v, %v", o.device, err)
	}
}
