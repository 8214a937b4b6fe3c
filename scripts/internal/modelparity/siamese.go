package modelparity

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"time"

	"github.com/seqtorch/seqtorch/data"
	"github.com/seqtorch/seqtorch/models/siamese"
	"github.com/seqtorch/seqtorch/torch"
	"github.com/seqtorch/seqtorch/torch/nn"
	"github.com/seqtorch/seqtorch/torch/optim"
)

// SiameseConfig is config.json, the settings of scripts/siamese_ref.py (and of
// scripts/bench_siamese.py, the Siamese item of make bench).
type SiameseConfig struct {
	Hidden           []int64 `json:"hidden"`
	Bidirectional    bool    `json:"bidirectional"`
	Pooling          string  `json:"pooling"`
	Loss             string  `json:"loss"`
	Margin           float64 `json:"margin"`
	Threshold        float64 `json:"threshold"`
	SimilarityHidden int64   `json:"similarity_hidden"`    // the tai head's hidden size
	Entailment       float64 `json:"entailment,omitempty"` // weight of the tai head's entailment loss
	Scale            string  `json:"scale,omitempty"`      // the malstm score's α: one, learned or dim
	Optimizer        string  `json:"optimizer"`            // adam or adadelta
	LR               float64 `json:"lr"`
	Clip             float64 `json:"clip"`
	Threads          int     `json:"threads"`
	Repeat           int     `json:"repeat"` // train on the batches this many times (timing)
}

// ModelConfig returns the siamese.Config of a reference model over a vocabulary of vocab words
// of dim dimensions.
func (c SiameseConfig) ModelConfig(vocab, dim int) (siamese.Config, error) {
	return siamese.Config{Vocab: int64(vocab), Embed: int64(dim), Hidden: c.Hidden, Bidirectional: c.Bidirectional,
		SimilarityHidden: c.SimilarityHidden, Entailment: c.Entailment > 0}.WithNames(c.Pooling, c.Scale)
}

// pairBatch is one entry of batches.json.
type pairBatch struct {
	A      []int64   `json:"a"`
	TA     int       `json:"ta"`
	LA     []int64   `json:"la"`
	B      []int64   `json:"b"`
	TB     int       `json:"tb"`
	LB     []int64   `json:"lb"`
	Scores []float64 `json:"scores"`
	Labels []int64   `json:"labels"`
}

// SiameseRun is losses.json: every step's loss and the wall time of each repeat.
type SiameseRun struct {
	Losses  []float64 `json:"losses"`
	Seconds []float64 `json:"seconds"`
}

// WriteSiamese writes the exchange folder: config.json, init.pt (m's current state dict) and
// batches.json.
func WriteSiamese(dir string, c SiameseConfig, m *siamese.Model, batches []data.PairBatch) error {
	if err := writeJSON(filepath.Join(dir, "config.json"), c); err != nil {
		return err
	}
	if err := nn.SaveTorch(filepath.Join(dir, "init.pt"), m); err != nil {
		return fmt.Errorf("initial weights: %w", err)
	}
	bs := make([]pairBatch, len(batches))
	for i, b := range batches {
		bs[i] = pairBatch{A: b.A.IDs, TA: b.A.T, LA: b.A.Lengths, B: b.B.IDs, TB: b.B.T, LB: b.B.Lengths, Scores: b.Scores, Labels: b.Labels}
	}
	return writeJSON(filepath.Join(dir, "batches.json"), bs)
}

func writeJSON(path string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("%s: %w", filepath.Base(path), err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		return err
	}
	return nil
}

// RunSiamesePython runs scripts/siamese_ref.py on dir (one libtorch and BLAS thread) and
// returns the losses and times it wrote.
func RunSiamesePython(ctx context.Context, python, dir string) (SiameseRun, error) {
	var r SiameseRun
	abs, err := filepath.Abs(dir)
	if err != nil {
		return r, err
	}
	if err := runScript(ctx, python, "siamese_ref.py", abs, abs); err != nil {
		return r, err
	}
	var raw struct{ Losses, Seconds floats }
	if err := readPyJSON(filepath.Join(abs, "losses.json"), &raw); err != nil {
		return r, fmt.Errorf("PyTorch results: %w", err)
	}
	return SiameseRun{Losses: raw.Losses, Seconds: raw.Seconds}, nil
}

// TrainSiamese trains m on batches as train/siamese's step does (one scope per step: encode
// both sentences, the head's loss, backward, optional gradient-norm clipping, optimizer step)
// and returns each step's loss and the wall time of each of c.Repeat passes.
func TrainSiamese(m *siamese.Model, c SiameseConfig, batches []data.PairBatch) (SiameseRun, error) {
	var r SiameseRun
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	loss, err := siamese.ParseLoss(c.Loss)
	if err != nil {
		return r, err
	}
	head := siamese.Head{Loss: loss, Margin: c.Margin, Threshold: c.Threshold, Module: m.Similarity, EntailmentWeight: c.Entailment}
	head.Alpha, head.Factor = m.ScoreScale()
	params, opt, err := startTraining(m, c.Optimizer, c.LR)
	if err != nil {
		return r, err
	}
	defer closeOptimizer(opt)
	dev := m.Device()
	var serr error
	err = torch.Try(func() {
		for range max(c.Repeat, 1) {
			start := time.Now()
			for _, b := range batches {
				torch.WithScope(func(*torch.Scope) {
					a := torch.FromSlice(b.A.IDs, int64(b.A.B), int64(b.A.T)).To(dev)
					bb := torch.FromSlice(b.B.IDs, int64(b.B.B), int64(b.B.T)).To(dev)
					fa, fb := m.EncodePair(a, b.A.Lengths, bb, b.B.Lengths)
					l, _, err := head.ForwardLabeled(fa, fb, b.Scores, b.Labels)
					if err != nil {
						serr = err
						return
					}
					opt.ZeroGrad()
					l.Backward()
					if c.Clip > 0 {
						optim.ClipGradNorm(params, c.Clip)
					}
					opt.Step()
					r.Losses = append(r.Losses, l.Item())
				})
				if serr != nil {
					return
				}
			}
			r.Seconds = append(r.Seconds, time.Since(start).Seconds())
		}
	})
	if err = errors.Join(err, serr); err != nil {
		return r, fmt.Errorf("Go training: %w", err)
	}
	return r, nil
}

// SiameseCase is the Siamese BiLSTM (models/siamese) trained against scripts/siamese_ref.py
// on synthetic data: siameseSteps batches of siameseBatch random sentence pairs over a
// siameseVocab-word vocabulary of frozen siameseDim-dimensional vectors.
type SiameseCase struct {
	Label  string // the case's name without "siamese/"
	Config SiameseConfig
}

// Name returns "siamese/" and the case's label.
func (c SiameseCase) Name() string { return "siamese/" + c.Label }

// SiameseCases are the Siamese cases: each loss head, uni- and bidirectional, stacked layers
// of one and of different sizes (lstm vs lstm_1/lstm_2), every pooling, Adam and Adadelta,
// clipping.
func SiameseCases() []SiameseCase {
	return []SiameseCase{
		{"malstm-bilstm-last-adam-clip", SiameseConfig{Hidden: []int64{8}, Bidirectional: true, Pooling: "last", Loss: "malstm", Optimizer: "adam", LR: 1e-2, Clip: 1}},
		{"malstm-learned-scale-max-adam", SiameseConfig{Hidden: []int64{8}, Bidirectional: true, Pooling: "max", Loss: "malstm", Scale: "learned", Optimizer: "adam", LR: 1e-2}},
		{"malstm-dim-scale-meanmax-adadelta-clip", SiameseConfig{Hidden: []int64{8}, Bidirectional: true, Pooling: "meanmax", Loss: "malstm", Scale: "dim", Optimizer: "adadelta", LR: 1, Clip: 0.5}},
		{"malstm-stacked-sizes-mean-adadelta", SiameseConfig{Hidden: []int64{8, 6}, Bidirectional: true, Pooling: "mean", Loss: "malstm", Optimizer: "adadelta", LR: 1}},
		{"contrastive-2layers-max", SiameseConfig{Hidden: []int64{8, 8}, Pooling: "max", Loss: "contrastive", Margin: 1, Threshold: 3, Optimizer: "adam", LR: 1e-2}},
		{"triplet-hardest-meanmax", SiameseConfig{Hidden: []int64{8}, Bidirectional: true, Pooling: "meanmax", Loss: "triplet", Margin: 0.5, Threshold: 3, Optimizer: "adam", LR: 1e-2}},
		{"tai-bilstm-max-adam", SiameseConfig{Hidden: []int64{8}, Bidirectional: true, Pooling: "max", Loss: "tai", SimilarityHidden: 6, Optimizer: "adam", LR: 1e-2}},
		{"tai-entailment-bilstm-max-adam", SiameseConfig{Hidden: []int64{8}, Bidirectional: true, Pooling: "max", Loss: "tai", SimilarityHidden: 6, Entailment: 0.5, Optimizer: "adam", LR: 1e-2}},
	}
}

// The synthetic data of the Siamese cases.
const (
	siameseSteps = 20
	siameseBatch = 8
	siameseVocab = 30
	siameseDim   = 12
)

// siameseBatches returns n reproducible random batches of size pairs of sentences (2–11 words) over
// a vocabulary of v ids (0 is padding), with relatedness scores in [1, 5] and entailment labels
// (⌊score⌋ mod 3).
func siameseBatches(n, size, v int) []data.PairBatch {
	r := rand.New(rand.NewPCG(3, 4))
	var ex []data.PairExample
	for range n * size {
		seq := func() []int64 {
			s := make([]int64, 2+r.IntN(10))
			for i := range s {
				s[i] = int64(1 + r.IntN(v-1))
			}
			return s
		}
		a, b, score := seq(), seq(), 1+4*r.Float64()
		ex = append(ex, data.PairExample{A: a, B: b, Score: score, Label: int64(score) % 3})
	}
	var out []data.PairBatch
	for b := range data.PairBatches(ex, data.BatchOptions{Size: size, Shuffle: true, Seed: 5}, 1) {
		out = append(out, b)
	}
	return out
}

// siameseEmbedding returns the cases' frozen word vectors: siameseVocab×siameseDim values,
// row 0 (padding) zero.
func siameseEmbedding() []float32 {
	e := make([]float32, siameseVocab*siameseDim)
	r := rand.New(rand.NewPCG(1, 1))
	for i := siameseDim; i < len(e); i++ {
		e[i] = float32(r.NormFloat64() * 0.5)
	}
	return e
}

// Build creates the case's model (seed 11) and writes its exchange folder in dir.
func (c SiameseCase) Build(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	c.Config.Threads, c.Config.Repeat = 1, 1
	cfg, err := c.Config.ModelConfig(siameseVocab, siameseDim)
	if err != nil {
		return err
	}
	torch.ManualSeed(11)
	m, err := siamese.New(cfg, siameseEmbedding())
	if err != nil {
		return err
	}
	defer m.Close()
	return WriteSiamese(dir, c.Config, m, siameseBatches(siameseSteps, siameseBatch, siameseVocab))
}

// GoLosses trains the case Build wrote in dir in Go, from dir/init.pt, with the settings saved
// in dir/config.json (the receiver's are not used).
func (SiameseCase) GoLosses(dir string) ([]float64, error) {
	var c SiameseConfig
	b, err := os.ReadFile(filepath.Join(dir, "config.json"))
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(b, &c); err != nil {
		return nil, fmt.Errorf("config.json: %w", err)
	}
	cfg, err := c.ModelConfig(siameseVocab, siameseDim)
	if err != nil {
		return nil, err
	}
	m, err := siamese.New(cfg, make([]float32, siameseVocab*siameseDim))
	if err != nil {
		return nil, err
	}
	defer m.Close()
	if err := nn.LoadTorch(filepath.Join(dir, "init.pt"), m); err != nil {
		return nil, err
	}
	r, err := TrainSiamese(m, c, siameseBatches(siameseSteps, siameseBatch, siameseVocab))
	if err != nil {
		return nil, err
	}
	return r.Losses, nil
}

// PyLosses runs scripts/siamese_ref.py on dir and returns the losses it wrote.
func (SiameseCase) PyLosses(ctx context.Context, python, dir string) ([]float64, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	r, err := RunSiamesePython(ctx, python, dir)
	return r.Losses, err
}
