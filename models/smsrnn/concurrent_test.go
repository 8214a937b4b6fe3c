package smsrnn

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/seqtorch/seqtorch/torch"
	"github.com/seqtorch/seqtorch/torch/nn"
	"github.com/seqtorch/seqtorch/torch/optim"
	"github.com/seqtorch/seqtorch/torch/torchtest"
)

// iterations is n, or n/10 under the race detector (which slows cgo-heavy loops tenfold).
func iterations(n int) int {
	if raceEnabled {
		return max(1, n/10)
	}
	return n
}

// smallModel is a small model of the given cell, seeded: New draws its initial weights from
// libtorch's default generator, so models are built one at a time, never concurrently.
func smallModel(t testing.TB, cell string, seed uint64) *Model {
	t.Helper()
	cfg := DefaultConfig(60)
	cfg.Cell, cfg.Embed, cfg.Hidden, cfg.Dense = cell, 12, 10, 8
	torch.ManualSeed(seed)
	m, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Close)
	return m
}

// testBatch is batch k of a fixed family: 4 messages of lengths 1..9, padded, with labels.
type testBatch struct {
	ids, lengths, labels []int64
	t                    int
}

func makeBatch(k int, vocab int64) testBatch {
	r := rand.New(rand.NewPCG(uint64(k), 14))
	var b testBatch
	for range 4 {
		l := int64(1 + r.IntN(9))
		b.lengths = append(b.lengths, l)
		b.labels = append(b.labels, int64(r.IntN(2)))
		b.t = max(b.t, int(l))
	}
	b.ids = make([]int64, 4*b.t)
	for i, l := range b.lengths {
		for j := range int(l) {
			b.ids[i*b.t+j] = 2 + r.Int64N(vocab-2)
		}
	}
	return b
}

// logits runs one forward pass inside a scope of its own (torch.Run), as an HTTP handler would.
func logits(m *Model, b testBatch) (out []float32, err error) {
	err = torch.Run(func() error {
		x := torch.FromSlice(b.ids, int64(len(b.lengths)), int64(b.t))
		out = m.Forward(x, b.lengths).Float32s()
		return nil
	})
	return out, err
}

func sameBits(a, b []float32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
			return false
		}
	}
	return true
}

// runWorkers runs f(w) on n goroutines at once and returns the errors and panics joined.
func runWorkers(n int, f func(w int) error) error {
	errs := make([]error, n)
	var wg sync.WaitGroup
	for w := range n {
		wg.Go(func() {
			defer func() {
				if r := recover(); r != nil {
					errs[w] = fmt.Errorf("worker %d panicked: %v", w, r)
				}
			}()
			errs[w] = f(w)
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// TestConcurrentForward is issue 14's case: 8 goroutines × 200 forward passes of one LSTM
// model, each pass in its own scope (and, in the second variant, under NoGrad), with every
// result bit-identical to the same pass run alone.
func TestConcurrentForward(t *testing.T) {
	m := smallModel(t, "lstm", 1)
	m.SetTraining(false)
	const batches = 16
	for _, noGrad := range []bool{false, true} {
		t.Run(map[bool]string{false: "scopes", true: "nograd"}[noGrad], func(t *testing.T) {
			torchtest.CheckLive(t)
			run := func(f func()) {
				if noGrad {
					torch.NoGrad(f)
				} else {
					f()
				}
			}
			want := make([][]float32, batches)
			for k := range want {
				var err error
				run(func() { want[k], err = logits(m, makeBatch(k, m.Config.Vocab)) })
				if err != nil {
					t.Fatal(err)
				}
			}
			n := iterations(200)
			err := runWorkers(8, func(w int) (err error) {
				run(func() {
					for i := range n {
						k := (w*n + i) % batches
						got, ferr := logits(m, makeBatch(k, m.Config.Vocab))
						if ferr != nil {
							err = ferr
							return
						}
						if !sameBits(got, want[k]) {
							err = fmt.Errorf("worker %d, pass %d: logits %v, alone %v", w, i, got, want[k])
							return
						}
					}
				})
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
		})
	}
}

// train runs steps Adam steps on m, one scope per step, and returns the losses and the final
// parameters.
func train(m *Model, steps int) (losses []float32, params [][]float32, err error) {
	m.SetTraining(true)
	opt, err := optim.NewAdam(nn.Trainable(m), optim.AdamOptions{LR: new(1e-2)})
	if err != nil {
		return nil, nil, err
	}
	defer opt.Close()
	for i := range steps {
		err = torch.Run(func() error {
			b := makeBatch(i, m.Config.Vocab)
			x, y := torch.FromSlice(b.ids, int64(len(b.lengths)), int64(b.t)), torch.FromSlice(b.labels)
			loss := Loss(m.Forward(x, b.lengths), y, nil)
			opt.ZeroGrad()
			loss.Backward()
			opt.Step()
			losses = append(losses, float32(loss.Item()))
			return nil
		})
		if err != nil {
			return nil, nil, err
		}
	}
	for _, p := range m.NamedParameters() {
		params = append(params, p.Value.Float32s())
	}
	return losses, params, nil
}

// TestConcurrentTraining trains two separate models at once on two goroutines, while two more
// run inference under NoGrad on a third: each trained model ends bit-identical to the same
// training run alone (its autograd recording untouched by the NoGrad goroutines).
func TestConcurrentTraining(t *testing.T) {
	torchtest.CheckLive(t)
	cells := []string{"lstm", "gru"}
	steps := iterations(30)
	type result struct {
		losses []float32
		params [][]float32
	}
	want := make([]result, len(cells))
	for i, cell := range cells {
		m := smallModel(t, cell, uint64(10+i))
		var err error
		if want[i].losses, want[i].params, err = train(m, steps); err != nil {
			t.Fatal(err)
		}
	}
	models := make([]*Model, len(cells))
	for i, cell := range cells {
		models[i] = smallModel(t, cell, uint64(10+i))
	}
	infer := smallModel(t, "lstm", 1)
	infer.SetTraining(false)
	ref, err := logits(infer, makeBatch(0, infer.Config.Vocab))
	if err != nil {
		t.Fatal(err)
	}
	var training atomic.Int32
	training.Store(int32(len(cells)))
	got := make([]result, len(cells))
	err = runWorkers(4, func(w int) (err error) {
		if w < len(cells) {
			defer training.Add(-1)
			got[w].losses, got[w].params, err = train(models[w], steps)
			return err
		}
		torch.NoGrad(func() {
			for training.Load() > 0 && err == nil {
				var l []float32
				if l, err = logits(infer, makeBatch(0, infer.Config.Vocab)); err == nil && !sameBits(l, ref) {
					err = fmt.Errorf("inference during training: %v, alone %v", l, ref)
				}
			}
		})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	for i, cell := range cells {
		if !sameBits(got[i].losses, want[i].losses) {
			t.Errorf("%s: losses %v, trained alone %v", cell, got[i].losses, want[i].losses)
		}
		for j := range want[i].params {
			if !sameBits(got[i].params[j], want[i].params[j]) {
				t.Errorf("%s: parameter %d differs from the model trained alone", cell, j)
			}
		}
	}
}

// BenchmarkForwardGoroutines is single-message prediction (BenchmarkForwardOne's pass, in a
// scope of its own, under NoGrad) from 1, 2 and 8 goroutines sharing one model: ns/op is wall
// time per pass (the inverse of throughput), latency-ns the mean time one pass takes.
func BenchmarkForwardGoroutines(b *testing.B) {
	m := smsLSTM(b)
	m.SetTraining(false)
	ids := make([]int64, 33)
	for i := range ids {
		ids[i] = int64(2 + i)
	}
	lengths := []int64{33}
	for _, g := range []int{1, 2, 8} {
		b.Run(fmt.Sprintf("goroutines=%d", g), func(b *testing.B) {
			b.ReportAllocs()
			var next, busy atomic.Int64
			var failed atomic.Value
			b.ResetTimer()
			_ = runWorkers(g, func(int) error {
				torch.NoGrad(func() {
					for next.Add(1) <= int64(b.N) {
						t0 := time.Now()
						if err := torch.Run(func() error {
							_ = m.Forward(torch.FromSlice(ids, 1, 33), lengths).Softmax(1).Float32s()[1]
							return nil
						}); err != nil {
							failed.Store(err)
						}
						busy.Add(int64(time.Since(t0)))
					}
				})
				return nil
			})
			b.StopTimer()
			if err, _ := failed.Load().(error); err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(busy.Load())/float64(b.N), "latency-ns")
		})
	}
}
