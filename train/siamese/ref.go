package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"time"

	"github.com/seqtorch/seqtorch/data"
	"github.com/seqtorch/seqtorch/models/siamese"
	"github.com/seqtorch/seqtorch/torch"
	"github.com/seqtorch/seqtorch/torch/optim"
)

// The side-by-side harness shared by the parity test and the `bench` subcommand: the Go side
// writes the initial weights, the batches and the settings into a folder, trains on them, and
// runs scripts/siamese_ref.py, which trains the same PyTorch model on the same batches.

// refConfig is the settings file of scripts/siamese_ref.py.
type refConfig struct {
	Hidden        []int   `json:"hidden"`
	Bidirectional bool    `json:"bidirectional"`
	Pooling       string  `json:"pooling"`
	Loss          string  `json:"loss"`
	Margin        float64 `json:"margin"`
	Threshold     float64 `json:"threshold"`
	Optimizer     string  `json:"optimizer"`
	LR            float64 `json:"lr"`
	Clip          float64 `json:"clip"`
	Threads       int     `json:"threads"`
	Repeat        int     `json:"repeat"`
}

// refBatch is one batch of batches.json.
type refBatch struct {
	A      []int64   `json:"a"`
	TA     int       `json:"ta"`
	LA     []int64   `json:"la"`
	B      []int64   `json:"b"`
	TB     int       `json:"tb"`
	LB     []int64   `json:"lb"`
	Scores []float64 `json:"scores"`
}

func toRefBatch(b data.PairBatch) refBatch {
	return refBatch{A: b.A.IDs, TA: b.A.T, LA: b.A.Lengths, B: b.B.IDs, TB: b.B.T, LB: b.B.Lengths, Scores: b.Scores}
}

// refResult is losses.json.
type refResult struct {
	Losses  []float64 `json:"losses"`
	Seconds []float64 `json:"seconds"`
}

// pythonCmd returns the Python with PyTorch: $SEQTORCH_PYTHON, else /usr/bin/python3.
func pythonCmd() string {
	if p := os.Getenv("SEQTORCH_PYTHON"); p != "" {
		return p
	}
	return "/usr/bin/python3"
}

// havePyTorch reports whether python imports torch.
func havePyTorch(python string) bool {
	return exec.Command(python, "-c", "import torch").Run() == nil
}

// refScript finds scripts/siamese_ref.py from the working directory upwards.
func refScript() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		p := filepath.Join(dir, "scripts", "siamese_ref.py")
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("scripts/siamese_ref.py not found above the working directory")
		}
		dir = parent
	}
}

// writeRef writes the harness folder: config.json, init.pt (m's current weights) and
// batches.json.
func writeRef(dir string, rc refConfig, m *siamese.Model, batches []data.PairBatch) error {
	if err := writeJSONFile(filepath.Join(dir, "config.json"), rc); err != nil {
		return err
	}
	if err := saveTorch(m, filepath.Join(dir, "init.pt")); err != nil {
		return err
	}
	rb := make([]refBatch, len(batches))
	for i, b := range batches {
		rb[i] = toRefBatch(b)
	}
	return writeJSONFile(filepath.Join(dir, "batches.json"), rb)
}

// runPython runs the reference script on dir and reads its losses.
func runPython(ctx context.Context, dir string) (refResult, error) {
	var r refResult
	script, err := refScript()
	if err != nil {
		return r, err
	}
	cmd := exec.CommandContext(ctx, pythonCmd(), script, dir)
	cmd.Env = append(os.Environ(), "OMP_NUM_THREADS=1", "OPENBLAS_NUM_THREADS=1")
	if out, err := cmd.CombinedOutput(); err != nil {
		return r, fmt.Errorf("%s: %w\n%s", script, err, out)
	}
	b, err := os.ReadFile(filepath.Join(dir, "losses.json"))
	if err != nil {
		return r, err
	}
	if err := json.Unmarshal(b, &r); err != nil {
		return r, fmt.Errorf("losses.json: %w", err)
	}
	return r, nil
}

// newOptimizer builds the optimizer of a refConfig over m's trainable parameters.
func newOptimizer(name string, lr float64, params []*torch.Tensor) (optim.Optimizer, error) {
	if name == "adadelta" {
		return optim.NewAdadelta(params, optim.AdadeltaOptions{LR: lr})
	}
	return optim.NewAdam(params, optim.AdamOptions{LR: lr})
}

// goTrain trains m on batches as train/siamese's step does (one scope per step) and returns
// each step's loss and the wall time of each repeat.
func goTrain(m *siamese.Model, rc refConfig, batches []data.PairBatch) (refResult, error) {
	var r refResult
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	loss, err := siamese.ParseLoss(rc.Loss)
	if err != nil {
		return r, err
	}
	head := siamese.Head{Loss: loss, Margin: rc.Margin, Threshold: rc.Threshold}
	params := m.Trainable()
	opt, err := newOptimizer(rc.Optimizer, rc.LR, params)
	if err != nil {
		return r, err
	}
	if c, ok := opt.(interface{ Close() }); ok {
		defer c.Close()
	}
	dev := m.Device()
	err = torch.Try(func() {
		for range max(rc.Repeat, 1) {
			start := time.Now()
			for _, b := range batches {
				torch.WithScope(func(*torch.Scope) {
					a, bb := pairTensors(b, dev)
					fa, fb := m.EncodePair(a, b.A.Lengths, bb, b.B.Lengths)
					l, _, err := head.Forward(fa, fb, b.Scores)
					if err != nil {
						panic(err)
					}
					opt.ZeroGrad()
					l.Backward()
					if rc.Clip > 0 {
						optim.ClipGradNorm(params, rc.Clip)
					}
					opt.Step()
					r.Losses = append(r.Losses, l.Item())
				})
			}
			r.Seconds = append(r.Seconds, time.Since(start).Seconds())
		}
	})
	return r, err
}

// maxAbsDiff returns the largest |a[i] − b[i]| (Inf if the lengths differ).
func maxAbsDiff(a, b []float64) float64 {
	if len(a) != len(b) {
		return math.Inf(1)
	}
	var d float64
	for i := range a {
		d = max(d, math.Abs(a[i]-b[i]))
	}
	return d
}

// runBench is `siamese bench`: one SICK training epoch (the default model) in Go and in
// PyTorch on the same libtorch and batches, alternating, threads 1.
func runBench(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("siamese bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	rounds := fs.Int("rounds", 3, "alternating Go/PyTorch rounds")
	hidden := fs.Int("hidden", 50, "LSTM hidden size")
	batch := fs.Int("batch", 64, "batch size")
	tmp := fs.String("dir", "", "work folder (default: a temporary one)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return errHelp
		}
		return err
	}
	if !havePyTorch(pythonCmd()) {
		return fmt.Errorf("bench: %s cannot import torch (apt-get install python3-torch or set SEQTORCH_PYTHON)", pythonCmd())
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if err := torch.SetNumThreads(1); err != nil {
		return err
	}
	sickFile, err := sickPath("")
	if err != nil {
		return err
	}
	vecFile, err := vectorsPath("")
	if err != nil {
		return err
	}
	c, err := loadCorpus(sickFile, vecFile, augmentSpec{Kind: "none"}, 1)
	if err != nil {
		return err
	}
	ex := c.encode(c.train)
	var batches []data.PairBatch
	for b := range data.PairBatches(ex, data.BatchOptions{Size: *batch, Shuffle: true, Seed: 1}, 1) {
		batches = append(batches, b)
	}
	dir := *tmp
	if dir == "" {
		if dir, err = os.MkdirTemp("", "siamese-bench"); err != nil {
			return err
		}
		defer os.RemoveAll(dir)
	}
	rc := refConfig{Hidden: []int{*hidden}, Bidirectional: true, Pooling: "last", Loss: "malstm", Threshold: 3.5,
		Margin: 1, Optimizer: "adam", LR: 1e-3, Threads: 1, Repeat: 1}
	cfg := siamese.Config{VocabSize: c.vocab.Len(), EmbedDim: c.vectors.Dim, Hidden: rc.Hidden, Bidirectional: true}
	torch.ManualSeed(1)
	m, err := siamese.New(cfg, c.embedding)
	if err != nil {
		return err
	}
	defer m.Close()
	if err := writeRef(dir, rc, m, batches); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "one epoch: %d pairs, %d batches of %d, BiLSTM %d, Adam, threads 1 (libtorch %s, %s)\n",
		len(ex), len(batches), *batch, *hidden, torch.Version(), torch.BLAS())
	var goSum, pySum float64
	for i := range *rounds {
		if err := loadTorch(m, filepath.Join(dir, "init.pt")); err != nil {
			return err
		}
		g, err := goTrain(m, rc, batches)
		if err != nil {
			return err
		}
		p, err := runPython(ctx, dir)
		if err != nil {
			return err
		}
		goSum += g.Seconds[0]
		pySum += p.Seconds[0]
		fmt.Fprintf(stdout, "round %d: Go %.3fs  PyTorch %.3fs  ratio %.3f  (max loss diff %.2g)\n",
			i+1, g.Seconds[0], p.Seconds[0], g.Seconds[0]/p.Seconds[0], maxAbsDiff(g.Losses, p.Losses))
	}
	n := float64(*rounds)
	fmt.Fprintf(stdout, "mean: Go %.3fs/epoch  PyTorch %.3fs/epoch  Go/PyTorch %.3f\n", goSum/n, pySum/n, goSum/pySum)
	return nil
}
