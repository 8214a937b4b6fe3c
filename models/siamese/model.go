// Package siamese is the Siamese (tied-weight) recurrent sentence encoder of the MaLSTM study
// (Mueller & Thyagarajan 2016) and its similarity heads and losses.
//
// One encoder reads both sentences of a pair: a frozen word-vector table, then a stack of
// (bi)directional LSTMs, then a pooling step that turns the outputs into one feature vector per
// sentence. Stacked layers of one hidden size are a single multi-layer LSTM named "lstm" (as
// torch.nn.LSTM(num_layers=n)); layers of different sizes are separate LSTMs named "lstm_1",
// "lstm_2", ... (the seed's sketch: lstm_1 over the embeddings, lstm_2 over its outputs).
// Parameter names are PyTorch's state-dict keys ("embedding.weight", "lstm_1.weight_ih_l0",
// "lstm.bias_hh_l1_reverse"), so a state dict moves between Go and Python.
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
func (p Pooling) String() string {
	if p < 0 || int(p) >= len(poolingNames) {
		return fmt.Sprintf("Pooling(%d)", int(p))
	}
	return poolingNames[p]
}

// ParsePooling parses the names written by Pooling.String.
func ParsePooling(s string) (Pooling, error) {
	if i := slices.Index(poolingNames, s); i >= 0 {
		return Pooling(i), nil
	}
	return 0, fmt.Errorf("unknown pooling %q (want one of %q)", s, poolingNames)
}

// Config describes the encoder.
type Config struct {
	// VocabSize and EmbedDim are the shape of the word-vector table.
	VocabSize, EmbedDim int
	// Hidden holds the hidden size of each stacked LSTM layer (its length is the layer count).
	Hidden []int
	// Bidirectional runs every layer in both directions.
	Bidirectional bool
	// Pooling turns the last layer's outputs into features.
	Pooling Pooling
	// Dropout is applied between stacked layers while training (as torch.nn.LSTM's dropout).
	Dropout float64
	// PaddingIdx is the id of the padding token (its embedding row is zero).
	PaddingIdx int64
}

// Validate reports a configuration that cannot build a model.
func (c Config) Validate() error {
	switch {
	case c.VocabSize < 1:
		return fmt.Errorf("siamese: vocabulary size %d must be positive", c.VocabSize)
	case c.EmbedDim < 1:
		return fmt.Errorf("siamese: embedding dimension %d must be positive", c.EmbedDim)
	case len(c.Hidden) == 0:
		return errors.New("siamese: at least one LSTM layer is needed")
	case c.Pooling < PoolLast || c.Pooling > PoolMeanMax:
		return fmt.Errorf("siamese: unknown pooling %d", c.Pooling)
	case c.Dropout < 0 || c.Dropout >= 1 || math.IsNaN(c.Dropout):
		return fmt.Errorf("siamese: dropout %v must be in [0, 1)", c.Dropout)
	case c.PaddingIdx < 0 || c.PaddingIdx >= int64(c.VocabSize):
		return fmt.Errorf("siamese: padding index %d outside the vocabulary", c.PaddingIdx)
	}
	for i, h := range c.Hidden {
		if h < 1 {
			return fmt.Errorf("siamese: hidden size %d of layer %d must be positive", h, i+1)
		}
	}
	return nil
}

// Directions returns 2 for a bidirectional encoder, else 1.
func (c Config) Directions() int {
	if c.Bidirectional {
		return 2
	}
	return 1
}

// FeatureDim returns the length of a sentence's feature vector.
func (c Config) FeatureDim() int {
	d := c.Directions() * c.Hidden[len(c.Hidden)-1]
	if c.Pooling == PoolMeanMax {
		d *= 2
	}
	return d
}

// Param is a named parameter of the model.
type Param struct {
	Name      string
	T         *torch.Tensor
	Trainable bool
}

// lstm is one torch.nn.LSTM module: numLayers layers of one hidden size.
type lstm struct {
	name              string
	in, hidden, layer int
	bidi              bool
	dropout           float64
	names             []string        // PyTorch's _flat_weights_names order
	weights           []*torch.Tensor // same order
}

// newLSTM creates the module's parameters with PyTorch's initialisation: every weight and bias
// drawn from U(-1/sqrt(hidden), 1/sqrt(hidden)) in _flat_weights_names order, from libtorch's
// default generator (so torch.manual_seed gives the same numbers in Go and Python).
func newLSTM(name string, in, hidden, layers int, bidi bool, dropout float64) *lstm {
	m := &lstm{name: name, in: in, hidden: hidden, layer: layers, bidi: bidi, dropout: dropout}
	dirs := 1
	if bidi {
		dirs = 2
	}
	stdv := 1 / math.Sqrt(float64(hidden))
	for l := range layers {
		lin := in
		if l > 0 {
			lin = hidden * dirs
		}
		for d := range dirs {
			suffix := fmt.Sprintf("_l%d", l)
			if d == 1 {
				suffix += "_reverse"
			}
			shapes := [][]int64{{int64(4 * hidden), int64(lin)}, {int64(4 * hidden), int64(hidden)}, {int64(4 * hidden)}, {int64(4 * hidden)}}
			for i, kind := range []string{"weight_ih", "weight_hh", "bias_ih", "bias_hh"} {
				t := torch.Zeros(shapes[i])
				t.UniformInPlace(-stdv, stdv)
				t.SetRequiresGrad(true)
				m.names = append(m.names, kind+suffix)
				m.weights = append(m.weights, t)
			}
		}
	}
	return m
}

func (m *lstm) dirs() int {
	if m.bidi {
		return 2
	}
	return 1
}

// forward runs the module over packed data (data, batchSizes) of batch size b.
func (m *lstm) forward(data, batchSizes *torch.Tensor, b int64, train bool, dev torch.Device) (out, h, c *torch.Tensor) {
	shape := []int64{int64(m.layer * m.dirs()), b, int64(m.hidden)}
	h0 := torch.Zeros(shape, torch.WithDevice(dev))
	c0 := torch.Zeros(shape, torch.WithDevice(dev))
	return torch.RNNForwardPacked(torch.LSTMMode, data, batchSizes, []*torch.Tensor{h0, c0}, m.weights,
		torch.RNNConfig{HasBiases: true, NumLayers: int64(m.layer), Dropout: m.dropout, Train: train, Bidirectional: m.bidi})
}

// Model is the shared sentence encoder.
type Model struct {
	cfg       Config
	embedding *torch.Tensor // frozen (VocabSize, EmbedDim)
	lstms     []*lstm
	train     bool
}

// New builds an encoder whose word-vector table is a copy of embedding (VocabSize*EmbedDim
// values, row-major; frozen) and whose LSTM weights are drawn as PyTorch draws them.
func New(cfg Config, embedding []float32) (*Model, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if len(embedding) != cfg.VocabSize*cfg.EmbedDim {
		return nil, fmt.Errorf("siamese: embedding has %d values, want %d x %d", len(embedding), cfg.VocabSize, cfg.EmbedDim)
	}
	cfg.Hidden = slices.Clone(cfg.Hidden)
	m := &Model{cfg: cfg, train: true}
	err := torch.Try(func() {
		m.embedding = torch.FromSlice(embedding, int64(cfg.VocabSize), int64(cfg.EmbedDim))
		same := true
		for _, h := range cfg.Hidden {
			same = same && h == cfg.Hidden[0]
		}
		if same {
			m.lstms = []*lstm{newLSTM("lstm", cfg.EmbedDim, cfg.Hidden[0], len(cfg.Hidden), cfg.Bidirectional, cfg.Dropout)}
			return
		}
		in := cfg.EmbedDim
		for i, h := range cfg.Hidden {
			m.lstms = append(m.lstms, newLSTM(fmt.Sprintf("lstm_%d", i+1), in, h, 1, cfg.Bidirectional, 0))
			in = h * cfg.Directions()
		}
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

// SetTraining switches dropout between stacked layers on (training) or off (evaluation), as
// module.train(b); it makes Model an nn.Module.
func (m *Model) SetTraining(train bool) { m.train = train }

// NamedParameters lists the parameters in state-dict order (nn.Module).
func (m *Model) NamedParameters() []nn.NamedParameter {
	var out []nn.NamedParameter
	for _, p := range m.Params() {
		out = append(out, nn.NamedParameter{Name: p.Name, Value: p.T})
	}
	return out
}

// Params returns every parameter in state-dict order: "embedding.weight" (frozen), then each
// LSTM's weights. The model keeps owning the tensors.
func (m *Model) Params() []Param {
	ps := []Param{{Name: "embedding.weight", T: m.embedding}}
	for _, l := range m.lstms {
		for i, w := range l.weights {
			ps = append(ps, Param{Name: l.name + "." + l.names[i], T: w, Trainable: true})
		}
	}
	return ps
}

// Trainable returns the parameters the optimizer updates (the LSTM weights).
func (m *Model) Trainable() []*torch.Tensor {
	var ts []*torch.Tensor
	for _, p := range m.Params() {
		if p.Trainable {
			ts = append(ts, p.T)
		}
	}
	return ts
}

// NumParams returns the trainable and total element counts.
func (m *Model) NumParams() (trainable, total int64) {
	for _, p := range m.Params() {
		n := p.T.Numel()
		total += n
		if p.Trainable {
			trainable += n
		}
	}
	return trainable, total
}

// StateDict returns the parameter names and tensors (owned by the model).
func (m *Model) StateDict() (names []string, ts []*torch.Tensor) {
	for _, p := range m.Params() {
		names = append(names, p.Name)
		ts = append(ts, p.T)
	}
	return names, ts
}

// LoadStateDict copies values into the model's parameters. Every parameter must be present
// with its shape; extra names are an error. Nothing is changed unless everything matches.
func (m *Model) LoadStateDict(names []string, ts []*torch.Tensor) error {
	if len(names) != len(ts) {
		return fmt.Errorf("siamese: load state dict: %d names for %d tensors", len(names), len(ts))
	}
	byName := map[string]*torch.Tensor{}
	for i, n := range names {
		byName[n] = ts[i]
	}
	ps := m.Params()
	for _, p := range ps {
		t, ok := byName[p.Name]
		if !ok {
			return fmt.Errorf("siamese: load state dict: missing %q", p.Name)
		}
		if got, want := t.Shape(), p.T.Shape(); !slices.Equal(got, want) {
			return fmt.Errorf("siamese: load state dict: %q has shape %v, the model wants %v", p.Name, got, want)
		}
		delete(byName, p.Name)
	}
	for n := range byName {
		return fmt.Errorf("siamese: load state dict: unexpected parameter %q", n)
	}
	idx := map[string]int{}
	for i, n := range names {
		idx[n] = i
	}
	return torch.Try(func() {
		torch.NoGrad(func() {
			for _, p := range ps {
				p.T.CopyFrom(ts[idx[p.Name]])
			}
		})
	})
}

// To moves the parameters to device d (keeping their identity, as module.to).
func (m *Model) To(d torch.Device) error {
	return torch.Try(func() {
		for _, p := range m.Params() {
			if p.T.Device() == d {
				continue
			}
			moved := p.T.To(d)
			p.T.SetData(moved)
			moved.Close()
		}
	})
}

// Device returns the device holding the parameters.
func (m *Model) Device() torch.Device { return m.embedding.Device() }

// Close releases the parameters. It is idempotent.
func (m *Model) Close() {
	if m == nil {
		return
	}
	m.embedding.Close()
	for _, l := range m.lstms {
		for _, w := range l.weights {
			w.Close()
		}
	}
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
// device, lengths the true length (>= 1, <= T) of each row. Sequences are packed, so padding
// never reaches the LSTM. The result's tensors belong to the innermost open scope.
func (m *Model) Encode(ids *torch.Tensor, lengths []int64) Output {
	shape := ids.Shape()
	if len(shape) != 2 || shape[0] != int64(len(lengths)) {
		panic(&torch.Error{Op: "siamese.Encode", Msg: fmt.Sprintf("ids of shape %v for %d lengths", shape, len(lengths))})
	}
	b, t := shape[0], shape[1]
	for _, l := range lengths {
		if l < 1 || l > t {
			panic(&torch.Error{Op: "siamese.Encode", Msg: fmt.Sprintf("length %d outside [1, %d]", l, t)})
		}
	}
	dev := m.Device()
	// Sort by decreasing length (stable), as pack_padded_sequence(enforce_sorted=False).
	order := make([]int64, b)
	for i := range order {
		order[i] = int64(i)
	}
	slices.SortStableFunc(order, func(x, y int64) int { return int(lengths[y] - lengths[x]) })
	unsort := make([]int64, b)
	sorted := make([]int64, b)
	for k, i := range order {
		unsort[i] = int64(k)
		sorted[k] = lengths[i]
	}
	orderT := torch.FromSlice(order).To(dev)
	unsortT := torch.FromSlice(unsort).To(dev)

	x := torch.Embedding(m.embedding, ids, m.cfg.PaddingIdx).IndexSelect(0, orderT)
	data, batchSizes := torch.PackPadded(x, torch.FromSlice(sorted), true)
	var h, c *torch.Tensor
	for i, l := range m.lstms {
		if i > 0 && m.train && m.cfg.Dropout > 0 {
			data = torch.Dropout(data, m.cfg.Dropout, true)
		}
		data, h, c = l.forward(data, batchSizes, b, m.train, dev)
	}
	padded, _ := torch.PadPacked(data, batchSizes, true, 0, t)
	out := Output{
		Outputs: padded.IndexSelect(0, unsortT),
		H:       h.IndexSelect(1, unsortT),
		C:       c.IndexSelect(1, unsortT),
	}
	out.Features = m.pool(out, lengths, dev)
	return out
}

// pool computes the features of Encode's output.
func (m *Model) pool(o Output, lengths []int64, dev torch.Device) *torch.Tensor {
	last := m.lstms[len(m.lstms)-1]
	switch m.cfg.Pooling {
	case PoolLast:
		// h_n rows of the last layer: forward (and backward) direction.
		n := int64(last.layer * last.dirs())
		dirs := int64(last.dirs())
		top := o.H.Narrow(0, n-dirs, dirs) // (dirs, B, H)
		return top.Permute(1, 0, 2).Reshape(-1, dirs*int64(last.hidden))
	}
	b, t := o.Outputs.Size(0), o.Outputs.Size(1)
	valid := make([]bool, b*t)
	lens := make([]float32, b)
	for i, l := range lengths {
		for j := range l {
			valid[int64(i)*t+j] = true
		}
		lens[i] = float32(l)
	}
	mask := torch.FromSlice(valid, b, t, 1).To(dev)
	mean := func() *torch.Tensor {
		return o.Outputs.SumDim(false, 1).Div(torch.FromSlice(lens, b, 1).To(dev))
	}
	max := func() *torch.Tensor {
		v, _ := o.Outputs.MaskedFill(mask.LogicalNot(), math.Inf(-1)).MaxDim(1, false)
		return v
	}
	switch m.cfg.Pooling {
	case PoolMean:
		return mean()
	case PoolMax:
		return max()
	default:
		return torch.Cat([]*torch.Tensor{mean(), max()}, 1)
	}
}

// EncodePair encodes both sentences of a batch of pairs in one pass through the encoder (the
// two padded batches are stacked) and returns the features of A and B, (B, FeatureDim) each.
func (m *Model) EncodePair(a *torch.Tensor, lenA []int64, b *torch.Tensor, lenB []int64) (fa, fb *torch.Tensor) {
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
