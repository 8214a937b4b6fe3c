// Package smsrnn is the recurrent SMS spam classifier: token ids → embedding → RNN, LSTM or
// GRU → the last layer's final hidden state (both directions concatenated; or, with
// Config.Pooling, the maximum or mean of its outputs over the message) → dense layer →
// activation → dropout → two logits (ham, spam), trained with cross entropy.
//
// It is pure model code: no files, no data sets. The parameters carry the names PyTorch gives
// the equivalent Python class, so state dicts move between the two:
//
//	class SMSRNN(nn.Module):
//	    def __init__(self, vocab, embed=100, hidden=80, dense=60, cell="rnn", layers=1,
//	                 bidirectional=False, dropout=0.0, rnn_dropout=0.0):
//	        super().__init__()
//	        self.embedding = nn.Embedding(vocab, embed, padding_idx=0)
//	        self.rnn = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}[cell](
//	            embed, hidden, num_layers=layers, batch_first=True,
//	            dropout=rnn_dropout, bidirectional=bidirectional)
//	        self.fc1 = nn.Linear(hidden * (2 if bidirectional else 1), dense)
//	        self.dropout = nn.Dropout(dropout)
//	        self.out = nn.Linear(dense, 2)
//
//	    def forward(self, ids, lengths):
//	        x = self.embedding(ids)
//	        x = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
//	        _, h = self.rnn(x)
//	        h = h[0] if isinstance(h, tuple) else h          # LSTM: (h_n, c_n)
//	        d = 2 if self.rnn.bidirectional else 1
//	        h = h[-d:].transpose(0, 1).reshape(ids.shape[0], -1)  # last layer, fwd ‖ bwd
//	        return self.out(self.dropout(torch.relu(self.fc1(h))))
//
// scripts/sms_ref.py holds that class; the parity test trains both side by side.
//
// # Parameter count
//
// With vocabulary V, embedding E, hidden H, G gates (1 RNN, 4 LSTM, 3 GRU), D directions,
// L layers and dense size F:
//
//	embedding.weight            V·E
//	rnn.weight_ih_l0[_reverse]  G·H·E              (layer 0, per direction)
//	rnn.weight_ih_lk[_reverse]  G·H·(D·H)          (layers k ≥ 1, per direction)
//	rnn.weight_hh_lk[_reverse]  G·H·H              (per layer and direction)
//	rnn.bias_ih_lk, bias_hh_lk  G·H each           (per layer and direction)
//	fc1.weight, fc1.bias        F·D·H, F
//	out.weight, out.bias        2·F, 2
//
// Only embedding.weight depends on the data set (through V); see [ParamShapes].
package smsrnn

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/seqtorch/seqtorch/models/internal/seqpool"
	"github.com/seqtorch/seqtorch/torch"
	"github.com/seqtorch/seqtorch/torch/nn"
)

// Kind identifies this model type in saved configurations.
const Kind = "smsrnn"

// Cells are the recurrent cell types.
var Cells = []string{"rnn", "lstm", "gru"}

// Nonlinearities are the simple RNN's nonlinearities (Config.Nonlinearity).
var Nonlinearities = []string{"tanh", "relu"}

// Activations are the dense layer's activation functions.
var Activations = []string{"relu", "tanh"}

// Poolings are the ways the recurrent outputs become the dense layer's input: "last" (the
// last layer's final hidden state, forward ‖ backward; the study's model), "max" or "mean"
// (element-wise maximum or mean of the last layer's outputs over each message's tokens).
var Poolings = []string{"last", "max", "mean"}

// Config describes a model. Its zero value is not valid: use [DefaultConfig] and set Vocab.
type Config struct {
	Kind          string  `json:"kind"`               // always Kind ("smsrnn")
	Vocab         int64   `json:"vocab"`              // vocabulary size V, including <pad>=0 and <unk>=1
	Embed         int64   `json:"embed"`              // embedding size E
	Cell          string  `json:"cell"`               // "rnn", "lstm" or "gru"
	Nonlinearity  string  `json:"nonlinearity"`       // "tanh" or "relu" (cell "rnn" only)
	Hidden        int64   `json:"hidden"`             // hidden size H
	Layers        int64   `json:"layers"`             // stacked recurrent layers L
	Bidirectional bool    `json:"bidirectional"`      // D = 2 directions
	RNNDropout    float64 `json:"rnn_dropout"`        // dropout between recurrent layers (L > 1)
	Dense         int64   `json:"dense"`              // dense layer size F
	Activation    string  `json:"activation"`         // "relu" or "tanh"
	Dropout       float64 `json:"dropout"`            // dropout after the activation
	Packed        bool    `json:"packed"`             // run the RNN over a PackedSequence (else padded)
	Pooling       string  `json:"pooling,omitempty"`  // "last" ("" in older runs), "max" or "mean"; see Poolings
	Subwords      int64   `json:"subwords,omitempty"` // hash buckets of character n-grams (0: none); see SubwordIDs
	Classes       int64   `json:"classes"`            // output classes (2)
}

// DefaultConfig is the study's baseline: a one-layer simple RNN, embedding 100, hidden 80,
// dense 60, ReLU, no dropout, packed sequences.
func DefaultConfig(vocab int64) Config {
	return Config{
		Kind: Kind, Vocab: vocab, Embed: 100, Cell: "rnn", Nonlinearity: "tanh", Hidden: 80,
		Layers: 1, Dense: 60, Activation: "relu", Packed: true, Classes: 2,
	}
}

// Directions returns D: 2 for a bidirectional model, else 1.
func (c Config) Directions() int64 {
	if c.Bidirectional {
		return 2
	}
	return 1
}

// MinVocab is the smallest vocabulary size: <pad>, <unk> and one token.
const MinVocab = 3

// Validate reports the first invalid field as a *[ConfigError], whose message is meant for a
// user. It is the one statement of the rules: the training command names the flags of the
// fields it reports (see [ConfigError.Describe]). Nonlinearity applies to the simple RNN; the
// other cells accept it empty, but not another word.
func (c Config) Validate() error {
	choice := func(field, name string, v string, want []string) error {
		return &ConfigError{Field: field, Name: name, Value: v, Choices: want}
	}
	bad := func(field, name string, v any, want string) error {
		return &ConfigError{Field: field, Name: name, Value: v, Want: want}
	}
	switch {
	case c.Kind != Kind:
		return choice("kind", "model kind", c.Kind, []string{Kind})
	case !slices.Contains(Cells, c.Cell):
		return choice("cell", "cell", c.Cell, Cells)
	case (c.Cell == "rnn" || c.Nonlinearity != "") && !slices.Contains(Nonlinearities, c.Nonlinearity):
		return choice("nonlinearity", "RNN nonlinearity", c.Nonlinearity, Nonlinearities)
	case !slices.Contains(Activations, c.Activation):
		return choice("activation", "activation", c.Activation, Activations)
	case c.Pooling != "" && !slices.Contains(Poolings, c.Pooling):
		return choice("pooling", "pooling", c.Pooling, Poolings)
	case c.Layers < 1:
		return bad("layers", "number of layers", c.Layers, "positive")
	case c.Embed < 1:
		return bad("embed", "embedding size", c.Embed, "positive")
	case c.Hidden < 1:
		return bad("hidden", "hidden size", c.Hidden, "positive")
	case c.Subwords < 0:
		return bad("subwords", "number of subword buckets", c.Subwords, ">= 0")
	case c.Dense < 1:
		return bad("dense", "dense size", c.Dense, "positive")
	case !(c.Dropout >= 0 && c.Dropout < 1):
		return bad("dropout", "dropout", c.Dropout, "in [0, 1)")
	case !(c.RNNDropout >= 0 && c.RNNDropout < 1):
		return bad("rnn_dropout", "RNN dropout", c.RNNDropout, "in [0, 1)")
	case c.Vocab < MinVocab:
		return bad("vocab", "vocabulary size", c.Vocab, fmt.Sprintf(">= %d", MinVocab))
	case c.Classes < 2:
		return bad("classes", "number of classes", c.Classes, ">= 2")
	}
	return nil
}

// ConfigError is an invalid field of a [Config], as [Config.Validate] reports it.
type ConfigError struct {
	Field string // the field's JSON name: "hidden", "rnn_dropout"
	Name  string // what the message calls it: "hidden size"
	Value any    // its value
	// Choices are the values the field accepts, for a field that names one (cell, pooling...);
	// nil for a number.
	Choices []string
	Want    string // what a number must be: "positive", "in [0, 1)", ">= 0"
}

// Error is "smsrnn: " and [ConfigError.Describe] of the field's name.
func (e *ConfigError) Error() string { return "smsrnn: " + e.Describe(e.Name) }

// Describe states the problem calling the field name (a command passes its flag, "--hidden"):
// `unknown name "x": want a, b or c` for a choice, `name must be positive, got 0` for a number.
func (e *ConfigError) Describe(name string) string {
	if e.Choices != nil {
		return fmt.Sprintf("unknown %s %q: want %s", name, e.Value, orList(e.Choices))
	}
	return fmt.Sprintf("%s must be %s, got %v", name, e.Want, e.Value)
}

// orList writes "a", "a or b", "a, b or c".
func orList(s []string) string {
	if len(s) < 2 {
		return strings.Join(s, "")
	}
	return strings.Join(s[:len(s)-1], ", ") + " or " + s[len(s)-1]
}

// ParseConfig decodes a configuration written by json.Marshal(Config) and validates it.
// Unknown fields are errors, so a configuration of another model type is rejected.
func ParseConfig(b []byte) (Config, error) {
	var probe struct {
		Kind string `json:"kind"`
	}
	if err := json.Unmarshal(b, &probe); err != nil {
		return Config{}, fmt.Errorf("smsrnn: config: %w", err)
	}
	if probe.Kind != Kind {
		k := probe.Kind
		if k == "" {
			k = "unknown"
		}
		return Config{}, fmt.Errorf("smsrnn: config is for a model of kind %q, not %q", k, Kind)
	}
	var c Config
	if err := json.Unmarshal(b, &c); err != nil {
		return Config{}, fmt.Errorf("smsrnn: config: %w", err)
	}
	return c, c.Validate()
}

// Model is the classifier. Its children, in PyTorch registration order, are embedding, rnn,
// fc1, dropout and out, and with Config.Subwords the n-gram table subword.
type Model struct {
	nn.Modules
	Config    Config
	Embedding *nn.Embedding
	RNN       *nn.RNNBase
	FC1       *nn.Linear
	Drop      *nn.Dropout
	Out       *nn.Linear
	// Subword holds the embeddings of the character n-gram buckets (Config.Subwords), or nil.
	Subword *nn.Embedding

	subIDs   *torch.Tensor // (V, K) n-gram bucket ids of each token (SetWords), on the CPU
	subScale *torch.Tensor // (V, 1) 1 / its number of n-grams
}

// New builds a model with PyTorch's initialisation, drawing from libtorch's default generator
// in the order PyTorch's constructor does (seed it with torch.ManualSeed first). The
// parameters are on the CPU; move them with nn.To.
func New(cfg Config) (m *Model, err error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	m = &Model{Config: cfg}
	// The modules own their parameters (they belong to no scope); constructors panic with
	// *torch.Error on invalid sizes, which Validate has excluded.
	err = torch.Try(func() {
		pad := int64(0)
		m.Embedding = nn.NewEmbedding(cfg.Vocab, cfg.Embed, nn.EmbeddingOptions{PaddingIdx: &pad})
		m.Add("embedding", m.Embedding)
		opts := nn.RNNOptions{NumLayers: cfg.Layers, BatchFirst: true, Dropout: cfg.RNNDropout, Bidirectional: cfg.Bidirectional}
		switch cfg.Cell {
		case "rnn":
			opts.Nonlinearity = cfg.Nonlinearity
			m.RNN = nn.NewRNN(cfg.Embed, cfg.Hidden, opts)
		case "lstm":
			m.RNN = nn.NewLSTM(cfg.Embed, cfg.Hidden, opts)
		case "gru":
			m.RNN = nn.NewGRU(cfg.Embed, cfg.Hidden, opts)
		}
		m.Add("rnn", m.RNN)
		m.FC1 = nn.NewLinear(cfg.Hidden*cfg.Directions(), cfg.Dense, nn.LinearOptions{})
		m.Add("fc1", m.FC1)
		m.Drop = nn.NewDropout(cfg.Dropout)
		m.Add("dropout", m.Drop)
		m.Out = nn.NewLinear(cfg.Dense, cfg.Classes, nn.LinearOptions{})
		m.Add("out", m.Out)
		if cfg.Subwords > 0 {
			m.Subword = newSubword(cfg)
			m.Add("subword", m.Subword)
		}
	})
	if err != nil {
		m.Close()
		return nil, fmt.Errorf("smsrnn: new model: %w", err)
	}
	return m, nil
}

// Close frees the model's parameters and its n-gram table.
func (m *Model) Close() {
	for _, p := range m.NamedParameters() {
		p.Value.Close()
	}
	m.subIDs.Close()
	m.subScale.Close()
}

// Forward returns the logits (B, Classes) for a batch of token ids (B, T), int64, padded with
// 0 at the end of each row, on the model's device; lengths holds each row's true length
// (1..T). With Config.Packed the RNN reads a PackedSequence and stops at each row's end (a
// batch whose rows all have length T runs unpacked: the same computation without sorting,
// packing and unsorting); otherwise it reads the padding too (PyTorch's behaviour without
// packing). Tensors made on the way are freed before it returns; the logits join the
// caller's innermost scope (with none open, the caller owns them). Bad shapes or lengths
// panic with a *torch.Error, as any module's forward does (torch.Run turns it into an error).
func (m *Model) Forward(ids *torch.Tensor, lengths []int64) *torch.Tensor {
	const op = "smsrnn.Forward"
	if ids.Closed() {
		panic(&torch.Error{Op: op, Msg: "ids tensor is nil or closed"})
	}
	if ids.Dim() != 2 {
		panic(&torch.Error{Op: op, Msg: fmt.Sprintf("want ids of shape (batch, time), got %v", ids.Shape())})
	}
	b := ids.Size(0)
	if int64(len(lengths)) != b {
		panic(&torch.Error{Op: op, Msg: fmt.Sprintf("%d lengths for a batch of %d", len(lengths), b)})
	}
	// Intermediates belong to this scope; only the logits escape into the caller's.
	s := torch.NewScope()
	defer s.Close()
	x := m.Embedding.Forward(ids)
	if m.Subword != nil {
		x = m.addSubwords(x, ids)
	}
	var hn nn.State
	var out *torch.Tensor // (B, T, D·H), the last layer's outputs (pooling only)
	if m.Config.Packed && padded(lengths, ids.Size(1)) {
		packed := nn.PackPaddedSequence(x, lengths, nn.PackPaddedOptions{BatchFirst: true, NoEnforceSorted: true})
		var po nn.PackedSequence
		po, hn = m.RNN.ForwardPacked(packed, nil)
		if m.Config.Pooling != "" && m.Config.Pooling != "last" {
			out, _ = nn.PadPackedSequence(po, nn.PadPackedOptions{BatchFirst: true, TotalLength: ids.Size(1)})
		}
	} else {
		out, hn = m.RNN.Forward(x, nil)
	}
	var feat *torch.Tensor // (B, D·H)
	switch m.Config.Pooling {
	case "max":
		feat = seqpool.Max(out, lengths)
	case "mean":
		feat = seqpool.Mean(out, lengths)
	default:
		feat = m.lastState(hn, b)
	}
	z := m.FC1.Forward(feat)
	if m.Config.Activation == "tanh" {
		z = z.Tanh()
	} else {
		z = z.Relu()
	}
	return s.Escape(m.Out.Forward(m.Drop.Forward(z)))
}

// lastState returns the last layer's final hidden state, (B, D·H), forward ‖ backward.
func (m *Model) lastState(hn nn.State, b int64) *torch.Tensor {
	d := m.Config.Directions()
	switch {
	case d == 1 && m.Config.Layers == 1: // hn.H is (1, B, H)
		return hn.H.Reshape(b, m.Config.Hidden)
	case d == 1:
		return hn.H.Narrow(0, m.Config.Layers-1, 1).Reshape(b, m.Config.Hidden)
	default:
		last := hn.H.Narrow(0, (m.Config.Layers-1)*d, d) // (D, B, H)
		return last.Transpose(0, 1).Reshape(b, d*m.Config.Hidden)
	}
}

// padded reports whether some row is shorter than t, the batch's time dimension. A batch
// without padding runs the RNN unpacked: packing it would sort, pack and unsort for the same
// result (a single message at prediction time is such a batch).
func padded(lengths []int64, t int64) bool {
	for _, l := range lengths {
		if l != t {
			return true
		}
	}
	return false
}

// Loss is the mean cross entropy of logits (B, C) against int64 labels (B); classWeights
// (C, on the logits' device) may be nil.
func Loss(logits, labels, classWeights *torch.Tensor) *torch.Tensor {
	return nn.CrossEntropyLoss(logits, labels, nn.CrossEntropyOptions{Weight: classWeights})
}

// ParamShape is the name and shape of one parameter, computed from a configuration alone.
type ParamShape struct {
	Name  string
	Shape []int64
}

// Count returns the number of elements.
func (p ParamShape) Count() int64 {
	n := int64(1)
	for _, d := range p.Shape {
		n *= d
	}
	return n
}

// ParamShapes lists the model's parameters for cfg without building it (see the package
// documentation for the formula), in the order of NamedParameters.
func ParamShapes(cfg Config) []ParamShape {
	g := map[string]int64{"rnn": 1, "lstm": 4, "gru": 3}[cfg.Cell] * cfg.Hidden
	d := cfg.Directions()
	out := []ParamShape{{"embedding.weight", []int64{cfg.Vocab, cfg.Embed}}}
	for l := int64(0); l < cfg.Layers; l++ {
		in := cfg.Embed
		if l > 0 {
			in = d * cfg.Hidden
		}
		for dir := int64(0); dir < d; dir++ {
			sfx := fmt.Sprintf("_l%d", l)
			if dir == 1 {
				sfx += "_reverse"
			}
			out = append(out,
				ParamShape{"rnn.weight_ih" + sfx, []int64{g, in}},
				ParamShape{"rnn.weight_hh" + sfx, []int64{g, cfg.Hidden}},
				ParamShape{"rnn.bias_ih" + sfx, []int64{g}},
				ParamShape{"rnn.bias_hh" + sfx, []int64{g}})
		}
	}
	out = append(out,
		ParamShape{"fc1.weight", []int64{cfg.Dense, d * cfg.Hidden}},
		ParamShape{"fc1.bias", []int64{cfg.Dense}},
		ParamShape{"out.weight", []int64{cfg.Classes, cfg.Dense}},
		ParamShape{"out.bias", []int64{cfg.Classes}})
	if cfg.Subwords > 0 {
		out = append(out, ParamShape{"subword.weight", []int64{cfg.Subwords + 1, cfg.Embed}})
	}
	return out
}

// NumParams returns the total parameter count for cfg (see [ParamShapes]).
func NumParams(cfg Config) int64 {
	var n int64
	for _, p := range ParamShapes(cfg) {
		n += p.Count()
	}
	return n
}
