// Package siamese is the Siamese (tied-weight) recurrent sentence encoder of the MaLSTM study
// (Mueller & Thyagarajan 2016) and its similarity heads and losses.
//
// One encoder reads both sentences of a pair: a frozen word-vector table, then a stack of
// (bi)directional LSTMs, then a pooling step that turns the outputs into one feature vector per
// sentence. The model is built from torch/nn modules (nn.EmbeddingFromPretrained, nn.NewLSTM
// run over nn.PackPaddedSequence, children registered in an nn.Modules), so it mirrors the
// PyTorch class of scripts/siamese_ref.py one to one and nn.StateDict, nn.Trainable, nn.To,
// nn.SaveTorch and friends apply to it. Stacked layers of one hidden size are a single
// multi-layer LSTM named "lstm" (as torch.nn.LSTM(num_layers=n)); layers of different sizes are
// separate LSTMs named "lstm_1", "lstm_2", ... (the seed's sketch: lstm_1 over the embeddings,
// lstm_2 over its outputs). Parameter names are PyTorch's state-dict keys ("embedding.weight",
// "lstm_1.weight_ih_l0", "lstm.bias_hh_l1_reverse", "similarity.wh.weight"), so a state dict
// moves between Go and Python.
//
// The package is pure model code: no files, no flags. Every tensor it creates while computing
// belongs to the innermost open torch.Scope, so callers run Encode and the losses inside one
// (the training loop opens one per step); the Model's own parameters are closed by Close.
package siamese

import (
	"errors"
	"fmt"
	"math"
	"slices"

	"github.com/seqtorch/seqtorch/models/internal/seqpool"
	"github.com/seqtorch/seqtorch/torch"
	"github.com/seqtorch/seqtorch/torch/nn"
)

// Pooling says how the outputs of the last LSTM become a sentence's feature vector.
type Pooling int

// Pooling modes. PoolLast is the default (the zero value).
const (
	// PoolLast concatenates the final hidden states of the last layer's directions (the
	// forward state after the last valid word, the backward state after the first word).
	PoolLast Pooling = iota
	// PoolMean averages the outputs over the valid (non-padding) time steps.
	PoolMean
	// PoolMax takes the element-wise maximum of the outputs over the valid time steps.
	PoolMax
	// PoolMeanMax concatenates PoolMean and PoolMax features.
	PoolMeanMax
)

var poolingNames = []string{"last", "mean", "max", "meanmax"}

// String returns "last", "mean", "max" or "meanmax".
func (p Pooling) String() string { return enumName(poolingNames, p, "Pooling") }

// ParsePooling parses the names written by Pooling.String.
func ParsePooling(s string) (Pooling, error) { return parseEnum[Pooling](poolingNames, s, "pooling") }

// Config describes the encoder.
type Config struct {
	// Vocab and Embed are the shape (rows, columns) of the word-vector table.
	Vocab, Embed int64
	// Hidden holds the hidden size of each stacked LSTM layer (its length is the layer count).
	Hidden []int64
	// Bidirectional runs every layer in both directions.
	Bidirectional bool
	// Pooling turns the last layer's outputs into features.
	Pooling Pooling
	// Dropout is applied between stacked layers while training (as torch.nn.LSTM's dropout).
	Dropout float64
	// EmbeddingDropout is applied to the word vectors while training.
	EmbeddingDropout float64
	// FeatureDropout is applied to the pooled sentence features while training.
	FeatureDropout float64
	// SimilarityHidden, when positive, adds Tai et al.'s similarity head (TaiSimilarity) with
	// this hidden size, registered as "similarity"; the Tai loss needs it.
	SimilarityHidden int64
	// Entailment adds an entailment classifier to the similarity head
	// (TaiSimilarity.AddEntailment); it needs SimilarityHidden.
	Entailment bool
	// PaddingIdx is the id of the padding token (its embedding row is zero).
	PaddingIdx int64
	// Scale is α of the MaLSTM score exp(−α·‖f1 − f2‖₁): ScaleOne (the zero value, the paper's
	// α = 1), ScaleLearned (a trainable scalar "scale", initialised to 1) or ScaleDim (fixed
	// α = 1/FeatureDim). See Model.ScoreScale.
	Scale Scale
}

// Scale says how the MaLSTM score scales the L1 distance of the features: exp(−α·‖f1 − f2‖₁).
type Scale int

// Scales. ScaleOne is the default (the zero value).
const (
	// ScaleOne is α = 1, Mueller & Thyagarajan's exp(−‖f1 − f2‖₁).
	ScaleOne Scale = iota
	// ScaleLearned makes α a trainable scalar (the model's own parameter "scale", shape (1),
	// initialised to 1): a learned calibration of the distance.
	ScaleLearned
	// ScaleDim fixes α = 1/FeatureDim: the mean absolute feature difference.
	ScaleDim
)

var scaleNames = []string{"one", "learned", "dim"}

// String returns "one", "learned" or "dim".
func (s Scale) String() string {
	if s < 0 || int(s) >= len(scaleNames) {
		return fmt.Sprintf("Scale(%d)", int(s))
	}
	return scaleNames[s]
}

// ParseScale parses the names written by Scale.String ("" is "one").
func ParseScale(s string) (Scale, error) {
	if s == "" {
		return ScaleOne, nil
	}
	if i := slices.Index(scaleNames, s); i >= 0 {
		return Scale(i), nil
	}
	return 0, fmt.Errorf("unknown score scale %q (want one of %q)", s, scaleNames)
}

// WithNames returns c with its Pooling and Scale parsed from their names (see ParsePooling and
// ParseScale), as run configurations store them.
func (c Config) WithNames(pooling, scale string) (Config, error) {
	var err error
	if c.Pooling, err = ParsePooling(pooling); err != nil {
		return Config{}, err
	}
	if c.Scale, err = ParseScale(scale); err != nil {
		return Config{}, err
	}
	return c, nil
}

// Validate reports a configuration that cannot build a model.
func (c Config) Validate() error {
	switch {
	case c.Vocab < 1:
		return fmt.Errorf("siamese: vocabulary size %d must be positive", c.Vocab)
	case c.Embed < 1:
		return fmt.Errorf("siamese: embedding dimension %d must be positive", c.Embed)
	case len(c.Hidden) == 0:
		return errors.New("siamese: at least one LSTM layer is needed")
	case c.Pooling < PoolLast || c.Pooling > PoolMeanMax:
		return fmt.Errorf("siamese: unknown pooling %d", c.Pooling)
	case c.SimilarityHidden < 0:
		return fmt.Errorf("siamese: similarity hidden size %d must not be negative", c.SimilarityHidden)
	case c.Entailment && c.SimilarityHidden == 0:
		return errors.New("siamese: the entailment classifier needs the similarity head (SimilarityHidden)")
	case c.Scale < ScaleOne || c.Scale > ScaleDim:
		return fmt.Errorf("siamese: unknown score scale %d", c.Scale)
	case c.PaddingIdx < 0 || c.PaddingIdx >= c.Vocab:
		return fmt.Errorf("siamese: padding index %d outside the vocabulary", c.PaddingIdx)
	}
	for _, d := range []struct {
		name string
		p    float64
	}{{"dropout", c.Dropout}, {"embedding dropout", c.EmbeddingDropout}, {"feature dropout", c.FeatureDropout}} {
		if d.p < 0 || d.p >= 1 || math.IsNaN(d.p) {
			return fmt.Errorf("siamese: %s %v must be in [0, 1)", d.name, d.p)
		}
	}
	for i, h := range c.Hidden {
		if h < 1 {
			return fmt.Errorf("siamese: hidden size %d of layer %d must be positive", h, i+1)
		}
	}
	return nil
}

// Directions returns 2 for a bidirectional encoder, else 1.
func (c Config) Directions() int64 {
	if c.Bidirectional {
		return 2
	}
	return 1
}

// FeatureDim returns the length of a sentence's feature vector.
func (c Config) FeatureDim() int64 {
	d := c.Directions() * c.Hidden[len(c.Hidden)-1]
	if c.Pooling == PoolMeanMax {
		d *= 2
	}
	return d
}

// Model is the shared sentence encoder, an nn.Module. With Config.Scale == ScaleLearned it
// owns one parameter, "scale" (α of the MaLSTM score, first in the state dict as in PyTorch).
// Its children, in PyTorch's registration order, are "embedding"
// (nn.Embedding.from_pretrained, frozen), the LSTM(s) ("lstm", or "lstm_1", "lstm_2", ...)
// and, when Config.SimilarityHidden is set, "similarity" (the Tai et al. head, see
// TaiSimilarity); then the three dropouts "embedding_dropout", "dropout" and
// "feature_dropout", which have no parameters (the state dict is PyTorch's) and follow
// SetTraining.
type Model struct {
	nn.Modules
	cfg Config
	// Embedding is the frozen word-vector table.
	Embedding *nn.Embedding
	// LSTMs are the stacked LSTM modules, in order (one when all layers share a size).
	LSTMs []*nn.RNNBase
	// Similarity is the Tai et al. similarity head, or nil.
	Similarity *TaiSimilarity
	// Scale is the learned α of the MaLSTM score (shape (1)), or nil.
	Scale     *torch.Tensor
	embedDrop *nn.Dropout // on the word vectors (Config.EmbeddingDropout)
	layerDrop *nn.Dropout // between separate LSTM modules (Config.Dropout)
	featDrop  *nn.Dropout // on the pooled features (Config.FeatureDropout)
}

// New builds an encoder whose word-vector table is a copy of embedding (Vocab*Embed
// values, row-major; frozen) and whose LSTM (and similarity head) weights are drawn as
// PyTorch's constructors draw them, from libtorch's default generator: after
// torch.ManualSeed(s) they equal PyTorch's after torch.manual_seed(s). The parameters are on
// the CPU (move them with nn.To) and are not tied to any open scope; Close frees them.
func New(cfg Config, embedding []float32) (*Model, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if int64(len(embedding)) != cfg.Vocab*cfg.Embed {
		return nil, fmt.Errorf("siamese: embedding has %d values, want %d x %d", len(embedding), cfg.Vocab, cfg.Embed)
	}
	cfg.Hidden = slices.Clone(cfg.Hidden)
	m := &Model{cfg: cfg}
	// Modules own their parameters (outside any scope); the scope frees the temporary table.
	err := torch.Try(func() {
		s := torch.NewScope()
		defer s.Close()
		if cfg.Scale == ScaleLearned {
			m.Scale = nn.NewParameter(torch.Ones([]int64{1}))
			m.AddParameter("scale", m.Scale)
		}
		w := torch.FromSlice(embedding, cfg.Vocab, cfg.Embed)
		pad := cfg.PaddingIdx
		m.Embedding = nn.EmbeddingFromPretrained(w, nn.PretrainedOptions{PaddingIdx: &pad}) // frozen
		m.Add("embedding", m.Embedding)
		m.embedDrop = nn.NewDropout(cfg.EmbeddingDropout)
		m.layerDrop = nn.NewDropout(cfg.Dropout)
		m.featDrop = nn.NewDropout(cfg.FeatureDropout)
		same := true
		for _, h := range cfg.Hidden {
			same = same && h == cfg.Hidden[0]
		}
		opts := nn.RNNOptions{BatchFirst: true, Bidirectional: cfg.Bidirectional}
		if same {
			opts.NumLayers, opts.Dropout = int64(len(cfg.Hidden)), cfg.Dropout
			l := nn.NewLSTM(cfg.Embed, cfg.Hidden[0], opts)
			m.LSTMs = append(m.LSTMs, l)
			m.Add("lstm", l)
		} else {
			in := cfg.Embed
			for i, h := range cfg.Hidden {
				l := nn.NewLSTM(in, h, opts)
				m.LSTMs = append(m.LSTMs, l)
				m.Add(fmt.Sprintf("lstm_%d", i+1), l)
				in = h * cfg.Directions()
			}
		}
		if cfg.SimilarityHidden > 0 {
			m.Similarity = NewTaiSimilarity(cfg.FeatureDim(), cfg.SimilarityHidden)
			if cfg.Entailment {
				m.Similarity.AddEntailment()
			}
			m.Add("similarity", m.Similarity)
		}
		// The dropouts have no parameters; registered last, they leave the state dict as
		// PyTorch's and follow SetTraining.
		m.Add("embedding_dropout", m.embedDrop)
		m.Add("dropout", m.layerDrop)
		m.Add("feature_dropout", m.featDrop)
	})
	if err != nil {
		m.Close()
		return nil, fmt.Errorf("siamese: new model: %w", err)
	}
	return m, nil
}

// Config returns the model's configuration.
func (m *Model) Config() Config {
	c := m.cfg
	c.Hidden = slices.Clone(c.Hidden)
	return c
}

// ScoreScale returns the terms of α in the MaLSTM score for Head.Alpha and Head.Factor: the
// learned scalar (nil unless ScaleLearned) and a fixed factor (1/FeatureDim for ScaleDim,
// else 1).
func (m *Model) ScoreScale() (alpha *torch.Tensor, factor float64) {
	factor = 1
	if m.cfg.Scale == ScaleDim {
		factor = 1 / float64(m.cfg.FeatureDim())
	}
	return m.Scale, factor
}

// Device returns the device holding the parameters.
func (m *Model) Device() torch.Device { return m.Embedding.Weight.Device() }

// Close releases the parameters. It is idempotent and safe on a partly built model.
func (m *Model) Close() {
	if m == nil {
		return
	}
	nn.Close(m)
}

// Output is what Encode returns, as the seed's class: all hidden states, the last hidden and
// cell states, plus the pooled features. Rows are in input order.
type Output struct {
	// Outputs are the last LSTM's hidden states at every step, (B, T, directions*H), zero at
	// padding positions.
	Outputs *torch.Tensor
	// H and C are the last LSTM module's final hidden and cell states,
	// (layers*directions, B, H), as torch.nn.LSTM's h_n and c_n.
	H, C *torch.Tensor
	// Features are the pooled sentence features, (B, FeatureDim).
	Features *torch.Tensor
}

// Encode runs the encoder over a padded batch: ids is a (B, T) int64 tensor on the model's
// device, lengths the true length (1..T) of each row. As the PyTorch reference, it embeds,
// packs (nn.PackPaddedSequence, enforce_sorted=False), runs the LSTM(s) on the packed batch
// (nn.RNNBase.ForwardPacked), so padding never reaches an LSTM, and unpacks. The result's
// tensors belong to the innermost open scope. Bad shapes or lengths panic with a
// *torch.Error, as any module's forward does (torch.Run turns it into an error).
func (m *Model) Encode(ids *torch.Tensor, lengths []int64) Output {
	if ids.Closed() {
		panic(&torch.Error{Op: "siamese.Encode", Msg: "ids tensor is nil or closed"})
	}
	shape := ids.Shape()
	if len(shape) != 2 || shape[0] != int64(len(lengths)) {
		panic(&torch.Error{Op: "siamese.Encode", Msg: fmt.Sprintf("ids of shape %v for %d lengths", shape, len(lengths))})
	}
	x := m.Embedding.Forward(ids)
	if m.cfg.EmbeddingDropout > 0 {
		x = m.embedDrop.Forward(x)
	}
	packed := nn.PackPaddedSequence(x, lengths, nn.PackPaddedOptions{BatchFirst: true, NoEnforceSorted: true})
	var st nn.State
	for i, l := range m.LSTMs {
		if i > 0 && m.cfg.Dropout > 0 {
			packed.Data = m.layerDrop.Forward(packed.Data)
		}
		packed, st = l.ForwardPacked(packed, nil)
	}
	padded, _ := nn.PadPackedSequence(packed, nn.PadPackedOptions{BatchFirst: true, TotalLength: shape[1]})
	out := Output{Outputs: padded, H: st.H, C: st.C}
	out.Features = m.pool(out, lengths)
	if m.cfg.FeatureDropout > 0 {
		out.Features = m.featDrop.Forward(out.Features)
	}
	return out
}

// pool computes the features of Encode's output.
func (m *Model) pool(o Output, lengths []int64) *torch.Tensor {
	if m.cfg.Pooling == PoolLast {
		// h_n rows of the last layer: forward (and backward) direction, as torch.cat([h[-2], h[-1]], 1).
		dirs := m.cfg.Directions()
		top := o.H.Narrow(0, o.H.Size(0)-dirs, dirs) // (dirs, B, H)
		return top.Permute(1, 0, 2).Reshape(o.H.Size(1), -1)
	}
	switch m.cfg.Pooling {
	case PoolMean:
		return seqpool.Mean(o.Outputs, lengths)
	case PoolMax:
		return seqpool.Max(o.Outputs, lengths)
	default:
		return torch.Cat([]*torch.Tensor{seqpool.Mean(o.Outputs, lengths), seqpool.Max(o.Outputs, lengths)}, 1)
	}
}

// EncodePair encodes both sentences of a batch of pairs in one pass through the encoder (the
// two padded batches are stacked) and returns the features of A and B, (B, FeatureDim) each,
// which belong to the innermost open scope. Bad shapes or lengths panic with a *torch.Error.
func (m *Model) EncodePair(a *torch.Tensor, lenA []int64, b *torch.Tensor, lenB []int64) (fa, fb *torch.Tensor) {
	if a.Closed() || b.Closed() || a.Dim() != 2 || b.Dim() != 2 {
		panic(&torch.Error{Op: "siamese.EncodePair", Msg: "want two open (B, T) id tensors"})
	}
	ta, tb := a.Size(1), b.Size(1)
	t := max(ta, tb)
	padTo := func(x *torch.Tensor, tx int64) *torch.Tensor {
		if tx == t {
			return x
		}
		pad := torch.Full([]int64{x.Size(0), t - tx}, float64(m.cfg.PaddingIdx), torch.WithDType(torch.Int64), torch.WithDevice(x.Device()))
		return torch.Cat([]*torch.Tensor{x, pad}, 1)
	}
	ids := torch.Cat([]*torch.Tensor{padTo(a, ta), padTo(b, tb)}, 0)
	out := m.Encode(ids, slices.Concat(lenA, lenB))
	n := int64(len(lenA))
	return out.Features.Narrow(0, 0, n), out.Features.Narrow(0, n, int64(len(lenB)))
}
