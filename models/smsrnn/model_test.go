package smsrnn

import (
	"encoding/json"
	"errors"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/seqtorch/seqtorch/torch"
	"github.com/seqtorch/seqtorch/torch/nn"
	"github.com/seqtorch/seqtorch/torch/torchtest"
)

func configs() map[string]Config {
	base := DefaultConfig(50)
	base.Embed, base.Hidden, base.Dense = 8, 6, 5
	out := map[string]Config{"rnn": base}
	c := base
	c.Cell, c.Layers, c.Bidirectional = "lstm", 2, true
	out["lstm-2-bi"] = c
	c = base
	c.Cell, c.Bidirectional, c.Activation, c.Dropout = "gru", true, "tanh", 0.3
	out["gru-bi-tanh"] = c
	c = base
	c.Cell, c.Packed, c.Nonlinearity = "rnn", false, "relu"
	out["rnn-relu-padded"] = c
	c = base
	c.Cell, c.Layers = "lstm", 2
	out["lstm-2"] = c
	c = base
	c.Cell, c.Bidirectional, c.Pooling = "gru", true, "max"
	out["gru-bi-max"] = c
	c = base
	c.Cell, c.Layers, c.Pooling = "lstm", 2, "mean"
	out["lstm-2-mean"] = c
	c = base
	c.Packed, c.Pooling = false, "max"
	out["rnn-max-padded"] = c
	return out
}

// evalModel builds cfg's model after torch.ManualSeed(seed), in eval mode; the test's end
// closes it.
func evalModel(t *testing.T, cfg Config, seed uint64) *Model {
	t.Helper()
	torch.ManualSeed(seed)
	m, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Close)
	m.SetTraining(false)
	return m
}

func TestParamsMatchFormula(t *testing.T) {
	torchtest.CheckLive(t)
	for name, cfg := range configs() {
		t.Run(name, func(t *testing.T) {
			m, err := New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			if err := nn.CheckRegistered(m); err != nil {
				t.Error(err)
			}
			got := m.NamedParameters()
			want := ParamShapes(cfg)
			if len(got) != len(want) {
				t.Fatalf("%d parameters, formula has %d", len(got), len(want))
			}
			for i := range want {
				if got[i].Name != want[i].Name || !slices.Equal(got[i].Value.Shape(), want[i].Shape) {
					t.Errorf("param %d: %s %v, want %s %v", i, got[i].Name, got[i].Value.Shape(), want[i].Name, want[i].Shape)
				}
			}
			_, total := nn.NumParams(m)
			if total != NumParams(cfg) {
				t.Errorf("NumParams = %d, formula %d", total, NumParams(cfg))
			}
		})
	}
}

func TestDefaultParamCount(t *testing.T) {
	// The seed's baseline: V·100 + (80·100 + 80·80 + 2·80) + (60·80 + 60) + (2·60 + 2).
	cfg := DefaultConfig(1000)
	want := int64(1000*100 + 80*100 + 80*80 + 160 + 60*80 + 60 + 2*60 + 2)
	if got := NumParams(cfg); got != want {
		t.Errorf("NumParams = %d, want %d", got, want)
	}
}

func TestForward(t *testing.T) {
	torchtest.CheckLive(t)
	ids := []int64{
		5, 6, 7, 8,
		9, 3, 0, 0,
		4, 0, 0, 0,
	}
	lengths := []int64{4, 2, 1}
	for name, cfg := range configs() {
		t.Run(name, func(t *testing.T) {
			m := evalModel(t, cfg, 1)
			torch.WithScope(func(*torch.Scope) {
				x := torch.FromSlice(ids, 3, 4)
				logits := m.Forward(x, lengths)
				if !slices.Equal(logits.Shape(), []int64{3, 2}) {
					t.Fatalf("logits shape %v", logits.Shape())
				}
				// Packed: a row's logits do not depend on the padding or the other rows.
				if cfg.Packed {
					alone := m.Forward(torch.FromSlice([]int64{9, 3}, 1, 2), []int64{2})
					a, b := alone.Float32s(), logits.Float32s()[2:4]
					for i := range a {
						if math.Abs(float64(a[i]-b[i])) > 1e-5 {
							t.Errorf("row 1 alone %v, in batch %v", a, b)
						}
					}
				}
				loss := Loss(logits, torch.FromSlice([]int64{0, 1, 0}), nil)
				loss.Backward()
				for _, p := range m.NamedParameters() {
					if g := p.Value.Grad(); g == nil {
						t.Errorf("%s has no gradient", p.Name)
					}
				}
				nn.ZeroGrad(m)
			})
		})
	}
}

// TestPooling checks the pooled features against the RNN's own outputs: a message's maximum
// or mean over its steps, whatever the padding after it.
func TestPooling(t *testing.T) {
	torchtest.CheckLive(t)
	for _, pool := range []string{"max", "mean"} {
		t.Run(pool, func(t *testing.T) {
			cfg := configs()["gru-bi-max"]
			cfg.Pooling = pool
			m := evalModel(t, cfg, 3)
			torch.WithScope(func(*torch.Scope) {
				// Row 0 is the message [9 3] padded to 4 steps.
				logits := m.Forward(torch.FromSlice([]int64{9, 3, 0, 0, 5, 6, 7, 8}, 2, 4), []int64{2, 4})
				out, _ := m.RNN.Forward(m.Embedding.Forward(torch.FromSlice([]int64{9, 3}, 1, 2)), nil)
				var feat *torch.Tensor
				if pool == "max" {
					feat, _ = out.MaxDim(1, false)
				} else {
					feat = out.SumDim(false, 1).DivScalar(2)
				}
				want := m.Out.Forward(m.FC1.Forward(feat).Relu()).Float32s()
				got := logits.Float32s()[:2]
				for i := range want {
					if math.Abs(float64(got[i]-want[i])) > 1e-5 {
						t.Fatalf("logits %v, from the RNN outputs %v", got, want)
					}
				}
			})
		})
	}
}

// TestForwardOwnership: Forward frees everything it makes but the logits, which join the
// caller's innermost scope, or belong to the caller when no scope is open; the model's
// parameters belong to no scope, even when it is built inside one.
func TestForwardOwnership(t *testing.T) {
	torchtest.CheckLive(t)
	ids := torch.FromSlice([]int64{5, 6, 7, 9, 3, 0}, 2, 3)
	defer ids.Close()
	lengths := []int64{3, 2}
	for name, cfg := range configs() {
		t.Run(name, func(t *testing.T) {
			var m *Model
			torch.WithScope(func(*torch.Scope) {
				var err error
				if m, err = New(cfg); err != nil {
					t.Fatal(err)
				}
			})
			defer m.Close()
			for _, p := range m.NamedParameters() {
				if p.Value.Closed() {
					t.Fatalf("%s was freed by the scope open while the model was built", p.Name)
				}
			}
			start := torch.Live()
			logits := m.Forward(ids, lengths) // no scope open: the caller owns the logits
			if got := torch.Live(); got != start+1 {
				t.Errorf("Live after Forward = %d, want %d (the logits only)", got, start+1)
			}
			logits.Close()
			var inScope *torch.Tensor
			torch.WithScope(func(*torch.Scope) {
				inScope = m.Forward(ids, lengths)
				if got := torch.Live(); got != start+1 {
					t.Errorf("Live after Forward in a scope = %d, want %d", got, start+1)
				}
			})
			if !inScope.Closed() {
				t.Error("the logits outlived the caller's scope")
			}
			if got := torch.Live(); got != start {
				t.Errorf("Live = %d, want %d", got, start)
			}
		})
	}
}

func TestForwardErrors(t *testing.T) {
	torchtest.CheckLive(t)
	m, err := New(configs()["rnn"])
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	torch.WithScope(func(*torch.Scope) {
		tests := []struct {
			name    string
			ids     *torch.Tensor
			lengths []int64
			want    string
		}{
			{"nil ids", nil, []int64{2}, "smsrnn.Forward: ids tensor is nil or closed"},
			{"1-D ids", torch.FromSlice([]int64{1, 2}), []int64{2}, "smsrnn.Forward: want ids of shape (batch, time)"},
			{"lengths count", torch.FromSlice([]int64{1, 2}, 1, 2), []int64{2, 1}, "smsrnn.Forward: 2 lengths for a batch of 1"},
			{"zero length", torch.FromSlice([]int64{1, 2}, 1, 2), []int64{0}, "nn.PackPaddedSequence: length of all samples has to be greater than 0"},
			{"id out of range", torch.FromSlice([]int64{1, 99}, 1, 2), []int64{2}, "index out of range"},
		}
		for _, tc := range tests {
			// Forward panics with *torch.Error, as PyTorch raises; its scope frees what it made.
			start := torch.Live()
			err := torch.Try(func() { m.Forward(tc.ids, tc.lengths) })
			var te *torch.Error
			if !errors.As(err, &te) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("%s: err = %v, want a *torch.Error containing %q", tc.name, err, tc.want)
			}
			if got := torch.Live(); got != start {
				t.Errorf("%s: Live = %d after the failed Forward, %d before", tc.name, got, start)
			}
		}
	})
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name   string
		modify func(*Config)
		want   string
	}{
		{"ok", func(*Config) {}, ""},
		{"cell", func(c *Config) { c.Cell = "transformer" }, `unknown cell "transformer"`},
		{"hidden", func(c *Config) { c.Hidden = 0 }, "hidden size must be positive"},
		{"embed", func(c *Config) { c.Embed = -1 }, "embedding size must be positive"},
		{"dense", func(c *Config) { c.Dense = 0 }, "dense size must be positive"},
		{"layers", func(c *Config) { c.Layers = 0 }, "layers must be positive"},
		{"dropout", func(c *Config) { c.Dropout = 1 }, "dropout must be in [0, 1)"},
		{"activation", func(c *Config) { c.Activation = "gelu" }, "unknown activation"},
		{"pooling", func(c *Config) { c.Pooling = "min" }, "unknown pooling"},
		{"kind", func(c *Config) { c.Kind = "siamese" }, `kind "siamese"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := DefaultConfig(10)
			tc.modify(&c)
			err := c.Validate()
			if (err == nil) != (tc.want == "") || (err != nil && !strings.Contains(err.Error(), tc.want)) {
				t.Errorf("Validate() = %v, want %q", err, tc.want)
			}
		})
	}
}

// TestConfigError: Validate's errors name the field (its JSON name), and Describe states the
// rule under another name, as the training command's flags do; the nonlinearity belongs to
// the simple RNN, other cells accept it empty but not misspelt.
func TestConfigError(t *testing.T) {
	tests := []struct {
		modify      func(*Config)
		field, flag string // the error's field, and Describe("--flag")
	}{
		{func(c *Config) { c.Cell = "transformer" }, "cell", `unknown --cell "transformer": want rnn, lstm or gru`},
		{func(c *Config) { c.Hidden = 0 }, "hidden", "--hidden must be positive, got 0"},
		{func(c *Config) { c.RNNDropout = 1.5 }, "rnn_dropout", "--rnn-dropout must be in [0, 1), got 1.5"},
		{func(c *Config) { c.Subwords = -1 }, "subwords", "--subwords must be >= 0, got -1"},
		{func(c *Config) { c.Cell, c.Nonlinearity = "lstm", "sigmoid" }, "nonlinearity", `unknown --nonlinearity "sigmoid": want tanh or relu`},
		{func(c *Config) { c.Vocab = 2 }, "vocab", "--vocab must be >= 3, got 2"},
	}
	for _, tc := range tests {
		c := DefaultConfig(10)
		tc.modify(&c)
		var ce *ConfigError
		if err := c.Validate(); !errors.As(err, &ce) || ce.Field != tc.field || ce.Describe("--"+strings.ReplaceAll(ce.Field, "_", "-")) != tc.flag {
			t.Errorf("%s: Validate() = %v (%+v), want field %q described %q", tc.field, err, ce, tc.field, tc.flag)
		}
	}
	c := DefaultConfig(10)
	c.Cell, c.Nonlinearity = "gru", ""
	if err := c.Validate(); err != nil {
		t.Errorf("a GRU without a nonlinearity: %v", err)
	}
}

func TestParseConfig(t *testing.T) {
	c := DefaultConfig(10)
	c.Cell, c.Bidirectional = "gru", true
	b, _ := json.Marshal(c)
	got, err := ParseConfig(b)
	if err != nil || got != c {
		t.Fatalf("round trip: %+v, %v", got, err)
	}
	for _, bad := range []string{`{"kind":"siamese","hidden":3}`, `{"hidden":3}`, `not json`} {
		if _, err := ParseConfig([]byte(bad)); err == nil {
			t.Errorf("ParseConfig(%s) accepted", bad)
		}
	}
}
