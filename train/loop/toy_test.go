package loop_test

import (
	"errors"
	"iter"
	"math/rand/v2"

	"github.com/seqtorch/seqtorch/torch"
	"github.com/seqtorch/seqtorch/train/loop"
)

// toyBatch is a mini-batch of the toy job: row indices into its data.
type toyBatch struct{ rows []int }

// toy is a tiny softmax classifier over 4 features trained with SGD with momentum and input
// dropout, just enough to exercise the loop (randomness, optimizer state, validation).
type toy struct {
	x, y     [][]float64
	vx, vy   []float64
	w, b     *torch.Tensor // parameters
	mw, mb   *torch.Tensor // momentum buffers (optimizer state)
	training bool
	lr       float64
	batch    int
	seed     uint64
	failAt   int // if > 0, the Step call with this 1-based count returns an error
	calls    int
}

func newToy(seed uint64) *toy {
	r := rand.New(rand.NewPCG(7, 7)) // the data set is fixed; seed drives the run
	t := &toy{lr: 0.1, batch: 8, seed: seed}
	for i := range 96 {
		row := make([]float64, 4)
		for j := range row {
			row[j] = r.NormFloat64()
		}
		label := 0.0
		if row[0]+0.5*row[1]-row[2] > 0 {
			label = 1
		}
		if i < 64 {
			t.x, t.y = append(t.x, row), append(t.y, []float64{label})
		} else {
			t.vx, t.vy = append(t.vx, row...), append(t.vy, label)
		}
	}
	torch.ManualSeed(seed)
	torch.WithScope(func(s *torch.Scope) {
		t.w = torch.Randn([]int64{4, 2}).MulScalar(0.1).SetRequiresGrad(true)
		s.Keep(t.w)
	})
	t.b = torch.Zeros([]int64{2}).SetRequiresGrad(true)
	t.mw = torch.Zeros([]int64{4, 2})
	t.mb = torch.Zeros([]int64{2})
	return t
}

func (t *toy) close() {
	for _, p := range []*torch.Tensor{t.w, t.b, t.mw, t.mb} {
		p.Close()
	}
}

// batches is a pure function of (seed, epoch).
func (t *toy) batches(epoch int) iter.Seq[toyBatch] {
	return func(yield func(toyBatch) bool) {
		r := rand.New(rand.NewPCG(t.seed, uint64(epoch)))
		idx := r.Perm(len(t.x))
		for s := 0; s < len(idx); s += t.batch {
			if !yield(toyBatch{rows: idx[s:min(s+t.batch, len(idx))]}) {
				return
			}
		}
	}
}

func (t *toy) numBatches(int) int { return (len(t.x) + t.batch - 1) / t.batch }

func (t *toy) tensors(rows []int) (x, y *torch.Tensor) {
	var xs []float32
	var ys []int64
	for _, i := range rows {
		for _, v := range t.x[i] {
			xs = append(xs, float32(v))
		}
		ys = append(ys, int64(t.y[i][0]))
	}
	return torch.FromSlice(xs, int64(len(rows)), 4), torch.FromSlice(ys)
}

func (t *toy) step(b toyBatch) (loop.StepResult, error) {
	t.calls++
	if t.failAt > 0 && t.calls == t.failAt {
		return loop.StepResult{}, errors.New("toy failure")
	}
	x, y := t.tensors(b.rows)
	x = torch.Dropout(x, 0.3, t.training)
	logits := x.Matmul(t.w).Add(t.b)
	loss := torch.CrossEntropy(logits, y, nil, torch.ReductionMean, -100, 0)
	loss.Backward()
	torch.NoGrad(func() { // parameter updates, as under torch.no_grad()
		for _, pm := range [][2]*torch.Tensor{{t.w, t.mw}, {t.b, t.mb}} {
			g := pm[0].Grad()
			pm[1].MulScalarInPlace(0.9)
			pm[1].AddInPlace(g, 1)
			pm[0].AddInPlace(pm[1], -t.lr)
			pm[0].ZeroGrad()
		}
	})
	correct := logits.Argmax(1, false).Eq(y).Sum()
	return loop.StepResult{Loss: loss, Correct: correct, N: len(b.rows)}, nil
}

func (t *toy) validate(int) (loop.Metrics, error) {
	x := torch.FromSlice(toF32(t.vx), int64(len(t.vy)), 4)
	y := torch.FromSlice(toI64(t.vy))
	logits := x.Matmul(t.w).Add(t.b)
	loss := torch.CrossEntropy(logits, y, nil, torch.ReductionMean, -100, 0).Item()
	acc := logits.Argmax(1, false).Eq(y).Sum().Item() / float64(len(t.vy))
	return loop.Metrics{"val_loss": loss, "val_accuracy": acc}, nil
}

func toF32(v []float64) []float32 {
	out := make([]float32, len(v))
	for i, x := range v {
		out[i] = float32(x)
	}
	return out
}

func toI64(v []float64) []int64 {
	out := make([]int64, len(v))
	for i, x := range v {
		out[i] = int64(x)
	}
	return out
}

// persist saves and loads tensors by name with torch.SaveDict / LoadDict.
func persist(names []string, ts ...*torch.Tensor) loop.Persister {
	return loop.PersistFuncs{
		SaveFunc: func(path string) error { return torch.SaveDict(path, names, ts) },
		LoadFunc: func(path string) error {
			_, got, err := torch.LoadDict(path)
			if err != nil {
				return err
			}
			defer func() {
				for _, g := range got {
					g.Close()
				}
			}()
			if len(got) != len(ts) {
				return errors.New("wrong number of tensors")
			}
			torch.NoGrad(func() { // loading parameters, as under torch.no_grad()
				for i := range ts {
					ts[i].CopyFrom(got[i])
				}
			})
			return nil
		},
	}
}

// config returns the loop configuration of the toy job.
func (t *toy) config(dir string, epochs int) loop.Config[toyBatch] {
	return loop.Config[toyBatch]{
		Epochs:      epochs,
		Seed:        t.seed,
		Dir:         dir,
		Batches:     t.batches,
		NumBatches:  t.numBatches,
		Step:        t.step,
		Validate:    t.validate,
		SetTraining: func(b bool) { t.training = b },
		Model:       persist([]string{"weight", "bias"}, t.w, t.b),
		Optimizer:   persist([]string{"momentum.weight", "momentum.bias"}, t.mw, t.mb),
		Monitor:     "val_loss",
		ReadEvery:   3,
	}
}
