// Package parityref trains models/siamese side by side with its PyTorch reference,
// scripts/siamese_ref.py, on the same libtorch: Go writes the initial weights (a torch.save
// state dict with PyTorch's names), the batches and the settings into a folder, trains on them
// and records every step's loss; the Python script trains the same nn.Module from the same
// weights on the same batches and writes its losses. The two sequences must agree to within
// Tol. It backs the siamese cases of the parity suite (scripts/parity/cases/siamese.go), the
// train/siamese parity test and `go run ./train/siamese bench`.
package parityref

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"time"

	"github.com/seqtorch/seqtorch/data"
	"github.com/seqtorch/seqtorch/models/siamese"
	"github.com/seqtorch/seqtorch/torch"
	"github.com/seqtorch/seqtorch/torch/nn"
	"github.com/seqtorch/seqtorch/torch/optim"
)

// Tol is the largest accepted |Go − PyTorch| of a step's loss.
const Tol = 1e-4

// Config is config.json, the settings of scripts/siamese_ref.py.
type Config struct {
	Hidden           []int   `json:"hidden"`
	Bidirectional    bool    `json:"bidirectional"`
	Pooling          string  `json:"pooling"`
	Loss             string  `json:"loss"`
	Margin           float64 `json:"margin"`
	Threshold        float64 `json:"threshold"`
	SimilarityHidden int     `json:"similarity_hidden"` // the tai head's hidden size
	Scale            string  `json:"scale,omitempty"`   // the malstm score's α: one, learned or dim
	Optimizer        string  `json:"optimizer"`         // adam or adadelta
	LR               float64 `json:"lr"`
	Clip             float64 `json:"clip"`
	Threads          int     `json:"threads"`
	Repeat           int     `json:"repeat"` // train on the batches this many times (timing)
}

// ModelConfig returns the siamese.Config of a reference model over a vocabulary of vocab words
// of dim dimensions.
func (c Config) ModelConfig(vocab, dim int) (siamese.Config, error) {
	pool, err := siamese.ParsePooling(c.Pooling)
	if err != nil {
		return siamese.Config{}, err
	}
	scale, err := siamese.ParseScale(c.Scale)
	if err != nil {
		return siamese.Config{}, err
	}
	return siamese.Config{VocabSize: vocab, EmbedDim: dim, Hidden: c.Hidden, Bidirectional: c.Bidirectional,
		Pooling: pool, SimilarityHidden: c.SimilarityHidden, Scale: scale}, nil
}

// batch is one entry of batches.json.
type batch struct {
	A      []int64   `json:"a"`
	TA     int       `json:"ta"`
	LA     []int64   `json:"la"`
	B      []int64   `json:"b"`
	TB     int       `json:"tb"`
	LB     []int64   `json:"lb"`
	Scores []float64 `json:"scores"`
}

// Result is losses.json: every step's loss and the wall time of each repeat.
type Result struct {
	Losses  []float64 `json:"losses"`
	Seconds []float64 `json:"seconds"`
}

// Python returns the interpreter with PyTorch: $SEQTORCH_PYTHON, else /usr/bin/python3
// (Debian's python3-torch).
func Python() string {
	if p := os.Getenv("SEQTORCH_PYTHON"); p != "" {
		return p
	}
	return "/usr/bin/python3"
}

// HavePyTorch reports whether python can import torch.
func HavePyTorch(python string) bool {
	cmd := exec.Command(python, "-c", "import torch")
	cmd.Dir = os.TempDir() // never a folder whose torch/ would shadow PyTorch
	return cmd.Run() == nil
}

// Script finds scripts/siamese_ref.py: next to this package's source (go run, go test), else
// in the working directory or one of its parents.
func Script() (string, error) {
	var tried []string
	if _, file, _, ok := runtime.Caller(0); ok {
		p := filepath.Join(filepath.Dir(file), "..", "..", "..", "scripts", "siamese_ref.py")
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
		tried = append(tried, p)
	}
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("find siamese_ref.py: %w", err)
	}
	for {
		p := filepath.Join(dir, "scripts", "siamese_ref.py")
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			tried = append(tried, "scripts/siamese_ref.py above the working directory")
			return "", fmt.Errorf("siamese_ref.py not found (tried %q)", tried)
		}
		dir = parent
	}
}

// Write writes the exchange folder: config.json, init.pt (m's current state dict) and
// batches.json.
func Write(dir string, c Config, m *siamese.Model, batches []data.PairBatch) error {
	if err := writeJSON(filepath.Join(dir, "config.json"), c); err != nil {
		return err
	}
	if err := nn.SaveTorch(filepath.Join(dir, "init.pt"), m); err != nil {
		return fmt.Errorf("parityref: initial weights: %w", err)
	}
	bs := make([]batch, len(batches))
	for i, b := range batches {
		bs[i] = batch{A: b.A.IDs, TA: b.A.T, LA: b.A.Lengths, B: b.B.IDs, TB: b.B.T, LB: b.B.Lengths, Scores: b.Scores}
	}
	return writeJSON(filepath.Join(dir, "batches.json"), bs)
}

func writeJSON(path string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("parityref: %s: %w", filepath.Base(path), err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		return fmt.Errorf("parityref: %w", err)
	}
	return nil
}

// RunPython runs scripts/siamese_ref.py on dir (one libtorch and BLAS thread) and returns the
// losses it wrote.
func RunPython(ctx context.Context, python, dir string) (Result, error) {
	var r Result
	script, err := Script()
	if err != nil {
		return r, fmt.Errorf("parityref: %w", err)
	}
	cmd := exec.CommandContext(ctx, python, script, dir)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "OMP_NUM_THREADS=1", "OPENBLAS_NUM_THREADS=1", "PYTHONDONTWRITEBYTECODE=1")
	if out, err := cmd.CombinedOutput(); err != nil {
		return r, fmt.Errorf("parityref: %s %s: %w\n%s", python, script, err, out)
	}
	b, err := os.ReadFile(filepath.Join(dir, "losses.json"))
	if err != nil {
		return r, fmt.Errorf("parityref: PyTorch results: %w", err)
	}
	if err := json.Unmarshal(b, &r); err != nil {
		return r, fmt.Errorf("parityref: losses.json: %w", err)
	}
	return r, nil
}

// NewOptimizer returns the optimizer of c over params (Adam, or Adadelta), with PyTorch's
// defaults besides the learning rate.
func NewOptimizer(name string, lr float64, params []*torch.Tensor) (optim.Optimizer, error) {
	switch name {
	case "adadelta":
		return optim.NewAdadelta(params, optim.AdadeltaOptions{LR: lr})
	case "adam", "":
		return optim.NewAdam(params, optim.AdamOptions{LR: lr})
	}
	return nil, fmt.Errorf("parityref: unknown optimizer %q (want adam or adadelta)", name)
}

// Train trains m on batches as train/siamese's step does (one scope per step: encode both
// sentences, the head's loss, backward, optional gradient-norm clipping, optimizer step) and
// returns each step's loss and the wall time of each of c.Repeat passes.
func Train(m *siamese.Model, c Config, batches []data.PairBatch) (Result, error) {
	var r Result
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	loss, err := siamese.ParseLoss(c.Loss)
	if err != nil {
		return r, fmt.Errorf("parityref: %w", err)
	}
	head := siamese.Head{Loss: loss, Margin: c.Margin, Threshold: c.Threshold, Module: m.Similarity}
	head.Alpha, head.Factor = m.ScoreScale()
	params := nn.Trainable(m)
	opt, err := NewOptimizer(c.Optimizer, c.LR, params)
	if err != nil {
		return r, err
	}
	if cl, ok := opt.(interface{ Close() }); ok {
		defer cl.Close()
	}
	m.SetTraining(true)
	dev := m.Device()
	var serr error
	err = torch.Try(func() {
		for range max(c.Repeat, 1) {
			start := time.Now()
			for _, b := range batches {
				torch.WithScope(func(*torch.Scope) {
					a := torch.FromSlice(b.A.IDs, int64(b.A.B), int64(b.A.T)).To(dev)
					bb := torch.FromSlice(b.B.IDs, int64(b.B.B), int64(b.B.T)).To(dev)
					fa, fb, err := m.EncodePair(a, b.A.Lengths, bb, b.B.Lengths)
					if err != nil {
						serr = err
						return
					}
					l, _, err := head.Forward(fa, fb, b.Scores)
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
		return r, fmt.Errorf("parityref: Go training: %w", err)
	}
	return r, nil
}

// MaxAbsDiff returns the largest |a[i] − b[i]| (+Inf if the lengths differ or a value is NaN).
func MaxAbsDiff(a, b []float64) float64 {
	if len(a) != len(b) {
		return math.Inf(1)
	}
	var d float64
	for i := range a {
		x := math.Abs(a[i] - b[i])
		if math.IsNaN(x) {
			return math.Inf(1)
		}
		d = max(d, x)
	}
	return d
}

// Case is one parity check of the suite.
type Case struct {
	Name   string
	Config Config
}

// Cases are the parity checks: each loss head, uni- and bidirectional, stacked layers of one
// and of different sizes (lstm vs lstm_1/lstm_2), every pooling, Adam and Adadelta, clipping.
func Cases() []Case {
	return []Case{
		{"malstm-bilstm-last-adam-clip", Config{Hidden: []int{8}, Bidirectional: true, Pooling: "last", Loss: "malstm", Optimizer: "adam", LR: 1e-2, Clip: 1}},
		{"malstm-learned-scale-max-adam", Config{Hidden: []int{8}, Bidirectional: true, Pooling: "max", Loss: "malstm", Scale: "learned", Optimizer: "adam", LR: 1e-2}},
		{"malstm-dim-scale-meanmax-adadelta-clip", Config{Hidden: []int{8}, Bidirectional: true, Pooling: "meanmax", Loss: "malstm", Scale: "dim", Optimizer: "adadelta", LR: 1, Clip: 0.5}},
		{"malstm-stacked-sizes-mean-adadelta", Config{Hidden: []int{8, 6}, Bidirectional: true, Pooling: "mean", Loss: "malstm", Optimizer: "adadelta", LR: 1}},
		{"contrastive-2layers-max", Config{Hidden: []int{8, 8}, Pooling: "max", Loss: "contrastive", Margin: 1, Threshold: 3, Optimizer: "adam", LR: 1e-2}},
		{"triplet-hardest-meanmax", Config{Hidden: []int{8}, Bidirectional: true, Pooling: "meanmax", Loss: "triplet", Margin: 0.5, Threshold: 3, Optimizer: "adam", LR: 1e-2}},
		{"tai-bilstm-max-adam", Config{Hidden: []int{8}, Bidirectional: true, Pooling: "max", Loss: "tai", SimilarityHidden: 6, Optimizer: "adam", LR: 1e-2}},
	}
}

// The synthetic data of the cases: Steps batches of BatchSize pairs over a Vocab-word
// vocabulary of Dim-dimensional vectors.
const (
	Steps     = 20
	BatchSize = 8
	Vocab     = 30
	Dim       = 12
)

// Batches returns n reproducible random batches of size pairs of sentences (2–11 words) over
// a vocabulary of v ids (0 is padding), with relatedness scores in [1, 5].
func Batches(n, size, v int) []data.PairBatch {
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
		ex = append(ex, data.PairExample{A: seq(), B: seq(), Score: 1 + 4*r.Float64()})
	}
	var out []data.PairBatch
	for b := range data.PairBatches(ex, data.BatchOptions{Size: size, Shuffle: true, Seed: 5}, 1) {
		out = append(out, b)
	}
	return out
}

// Embedding returns the cases' frozen word vectors: Vocab×Dim values, row 0 (padding) zero.
func Embedding() []float32 {
	e := make([]float32, Vocab*Dim)
	r := rand.New(rand.NewPCG(1, 1))
	for i := Dim; i < len(e); i++ {
		e[i] = float32(r.NormFloat64() * 0.5)
	}
	return e
}

// Build creates the case's model (seed 11) and writes its exchange folder in dir.
func Build(dir string, c Case) error {
	c.Config.Threads, c.Config.Repeat = 1, 1
	cfg, err := c.Config.ModelConfig(Vocab, Dim)
	if err != nil {
		return fmt.Errorf("parityref: %s: %w", c.Name, err)
	}
	torch.ManualSeed(11)
	m, err := siamese.New(cfg, Embedding())
	if err != nil {
		return fmt.Errorf("parityref: %s: %w", c.Name, err)
	}
	defer m.Close()
	return Write(dir, c.Config, m, Batches(Steps, BatchSize, Vocab))
}

// GoLosses trains the case written by Build in dir in Go, from dir/init.pt.
func GoLosses(dir string) ([]float64, error) {
	var c Config
	b, err := os.ReadFile(filepath.Join(dir, "config.json"))
	if err != nil {
		return nil, fmt.Errorf("parityref: %w", err)
	}
	if err := json.Unmarshal(b, &c); err != nil {
		return nil, fmt.Errorf("parityref: config.json: %w", err)
	}
	cfg, err := c.ModelConfig(Vocab, Dim)
	if err != nil {
		return nil, fmt.Errorf("parityref: %w", err)
	}
	m, err := siamese.New(cfg, make([]float32, Vocab*Dim))
	if err != nil {
		return nil, fmt.Errorf("parityref: %w", err)
	}
	defer m.Close()
	if err := nn.LoadTorch(filepath.Join(dir, "init.pt"), m); err != nil {
		return nil, fmt.Errorf("parityref: %w", err)
	}
	r, err := Train(m, c, Batches(Steps, BatchSize, Vocab))
	if err != nil {
		return nil, err
	}
	return r.Losses, nil
}

// Run builds case c in dir, trains it in Go and in PyTorch and returns the largest loss
// difference over the Steps steps and both loss sequences.
func Run(ctx context.Context, python, dir string, c Case) (diff float64, goL, pyL []float64, err error) {
	if err := Build(dir, c); err != nil {
		return 0, nil, nil, err
	}
	if goL, err = GoLosses(dir); err != nil {
		return 0, nil, nil, fmt.Errorf("%s: %w", c.Name, err)
	}
	py, err := RunPython(ctx, python, dir)
	if err != nil {
		return 0, nil, nil, fmt.Errorf("%s: %w", c.Name, err)
	}
	if len(goL) != Steps || len(py.Losses) != Steps {
		return 0, goL, py.Losses, fmt.Errorf("%s: %d Go and %d PyTorch losses, want %d each", c.Name, len(goL), len(py.Losses), Steps)
	}
	return MaxAbsDiff(goL, py.Losses), goL, py.Losses, nil
}
