package parallel_test

import (
	"fmt"
	"math"
	"os"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/seqtorch/seqtorch/torch"
	"github.com/seqtorch/seqtorch/torch/distributed"
	"github.com/seqtorch/seqtorch/torch/distributed/disttest"
	"github.com/seqtorch/seqtorch/torch/nn"
	"github.com/seqtorch/seqtorch/torch/nn/parallel"
	"github.com/seqtorch/seqtorch/torch/optim"
)

var workers = map[string]disttest.Worker{
	"train":      trainWorker,
	"accumulate": accumulateWorker,
	"die":        dieWorker,
	"hang":       hangWorker,
}

func TestMain(m *testing.M) { disttest.Main(m, workers) }

// tagger is a small sequence classifier: an LSTM and a linear layer over its last output.
type tagger struct {
	nn.Modules
	LSTM *nn.RNNBase
	Out  *nn.Linear
}

func newTagger(seed uint64) *tagger {
	torch.ManualSeed(seed)
	m := &tagger{LSTM: nn.NewLSTM(4, 8, nn.RNNOptions{BatchFirst: true}), Out: nn.NewLinear(8, 3, nn.LinearOptions{})}
	m.Add("lstm", m.LSTM)
	m.Add("out", m.Out)
	return m
}

func (m *tagger) loss(x, y *torch.Tensor) *torch.Tensor {
	out, _ := m.LSTM.Forward(x, nil)
	last := out.Narrow(1, out.Size(1)-1, 1).SqueezeDim(1)
	return nn.CrossEntropyLoss(m.Out.Forward(last), y, nn.CrossEntropyOptions{})
}

// data returns step k's global batch: n·b sequences of length 5 and their classes.
func data(k, n, b int) (x, y *torch.Tensor) {
	torch.ManualSeed(uint64(1000 + k))
	x = torch.Randn([]int64{int64(n * b), 5, 4})
	labels := make([]int64, n*b)
	for i := range labels {
		labels[i] = int64((i*7 + k) % 3)
	}
	return x, torch.FromSlice(labels, int64(n*b))
}

// shard is rank r's b rows of a global batch.
func shard(t *torch.Tensor, r, b int) *torch.Tensor { return t.Narrow(0, int64(r*b), int64(b)) }

func params(m nn.Module) []float64 {
	var v []float64
	for _, p := range nn.Parameters(m) {
		v = append(v, p.ToDType(torch.Float64).Reshape(-1).Float64s()...)
	}
	return v
}

func sgd(m nn.Module) *optim.SGD {
	lr := 0.5
	o, err := optim.NewSGD(nn.Trainable(m), optim.SGDOptions{LR: &lr, Momentum: 0.9})
	if err != nil {
		panic(err)
	}
	return o
}

// sameOnAllRanks checks that v is bit-identical on every rank.
func sameOnAllRanks(g *distributed.ProcessGroup, v []float64) error {
	out := make([]*torch.Tensor, g.Size())
	for i := range out {
		out[i] = torch.Zeros([]int64{int64(len(v))}, torch.WithDType(torch.Float64))
	}
	if err := g.AllGather(out, torch.FromSlice(v, int64(len(v)))); err != nil {
		return err
	}
	for r, o := range out {
		if !slices.Equal(o.Float64s(), v) {
			return fmt.Errorf("rank %d's parameters differ from rank %d's", r, g.Rank())
		}
	}
	return nil
}

func maxDiff(a, b []float64) float64 {
	d := 0.0
	for i := range a {
		d = max(d, math.Abs(a[i]-b[i]))
	}
	return d
}

// tolerance: DDP's mean of the ranks' mean losses equals the full batch's mean loss up to
// float32 rounding of the gradient sums (measured: below 1e-7 after 6 steps).
const tolerance = 2e-6

// trainWorker trains the tagger 6 steps with the Reducer and with the flat fallback on each
// rank's half of every batch; rank 0 also trains a plain model on the whole batches. The two
// DDP models must agree (to the bit with two ranks), be bit-identical across ranks, and lie within tolerance of the
// plain one. Each rank starts from its own initialization: New must broadcast rank 0's.
func trainWorker(g *distributed.ProcessGroup) error {
	s := torch.NewScope()
	defer s.Close()
	const b, steps = 4, 6
	r := g.Rank()
	mr, mf := newTagger(uint64(10+r)), newTagger(uint64(10+r))
	defer nn.Close(mr)
	defer nn.Close(mf)
	dr, err := parallel.New(mr, g, parallel.Options{})
	if err != nil {
		return err
	}
	defer dr.Close()
	df, err := parallel.New(mf, g, parallel.Options{Flat: true})
	if err != nil {
		return err
	}
	defer df.Close()
	var ref *tagger
	var oref *optim.SGD
	if r == 0 {
		ref = newTagger(10)
		defer nn.Close(ref)
		oref = sgd(ref)
		defer oref.Close()
	}
	or, of := sgd(mr), sgd(mf)
	defer or.Close()
	defer of.Close()
	for k := range steps {
		step := torch.NewScope()
		x, y := data(k, g.Size(), b)
		for _, c := range []struct {
			d *parallel.DistributedDataParallel
			m *tagger
			o *optim.SGD
		}{{dr, mr, or}, {df, mf, of}} {
			c.o.ZeroGrad()
			if err := c.d.Backward(c.m.loss(shard(x, r, b), shard(y, r, b))); err != nil {
				step.Close()
				return err
			}
			c.o.Step()
		}
		if ref != nil {
			oref.ZeroGrad()
			ref.loss(x, y).Backward()
			oref.Step()
		}
		step.Close()
	}
	// Two ranks' sum does not depend on the order Gloo adds in, so both ways agree to the
	// bit; with three, the Reducer's bucket layout (rebuilt in the order gradients become
	// ready) makes Gloo's ring add in another order than the flat buckets do.
	pr, pf := params(mr), params(mf)
	if d := maxDiff(pr, pf); (g.Size() == 2 && d != 0) || d > tolerance {
		return fmt.Errorf("the Reducer and the flat all-reduce disagree by %g", d)
	}
	if err := sameOnAllRanks(g, pr); err != nil {
		return err
	}
	if ref != nil {
		if d := maxDiff(pr, params(ref)); d > tolerance {
			return fmt.Errorf("DDP on %d ranks differs from one process on the whole batches by %g (> %g)", g.Size(), d, tolerance)
		}
	}
	return nil
}

// accumulateWorker accumulates two micro-batches per step, the first under NoSync, and
// compares with one process that accumulates the same micro-batches whole.
func accumulateWorker(g *distributed.ProcessGroup) error {
	s := torch.NewScope()
	defer s.Close()
	const b = 3
	r := g.Rank()
	m := newTagger(20)
	defer nn.Close(m)
	d, err := parallel.New(m, g, parallel.Options{})
	if err != nil {
		return err
	}
	defer d.Close()
	ref := newTagger(20)
	defer nn.Close(ref)
	o, oref := sgd(m), sgd(ref)
	defer o.Close()
	defer oref.Close()
	for k := range 3 {
		step := torch.NewScope()
		o.ZeroGrad()
		oref.ZeroGrad()
		x1, y1 := data(2*k, g.Size(), b)
		x2, y2 := data(2*k+1, g.Size(), b)
		err := d.NoSync(func() error { return d.Backward(m.loss(shard(x1, r, b), shard(y1, r, b))) })
		if err == nil {
			err = d.Backward(m.loss(shard(x2, r, b), shard(y2, r, b)))
		}
		if err != nil {
			step.Close()
			return err
		}
		o.Step()
		ref.loss(x1, y1).Backward()
		ref.loss(x2, y2).Backward()
		oref.Step()
		step.Close()
	}
	p := params(m)
	if err := sameOnAllRanks(g, p); err != nil {
		return err
	}
	if dd := maxDiff(p, params(ref)); dd > tolerance {
		return fmt.Errorf("NoSync accumulation differs from one process by %g", dd)
	}
	return nil
}

// dieWorker: the last rank exits after one step; the others must fail naming it.
func dieWorker(g *distributed.ProcessGroup) error {
	return failingPeer(g, func() { os.Exit(3) })
}

// hangWorker: the last rank stops its own process after one step (SIGSTOP); the others must
// fail after the group's timeout, naming it.
func hangWorker(g *distributed.ProcessGroup) error {
	return failingPeer(g, func() { syscall.Kill(os.Getpid(), syscall.SIGSTOP) })
}

func failingPeer(g *distributed.ProcessGroup, fail func()) error {
	s := torch.NewScope()
	defer s.Close()
	m := newTagger(1)
	defer nn.Close(m)
	d, err := parallel.New(m, g, parallel.Options{})
	if err != nil {
		return err
	}
	defer d.Close()
	x, y := data(0, g.Size(), 2)
	for k := 0; k < 3; k++ {
		if k == 1 && g.Rank() == g.Size()-1 {
			fail()
		}
		if err := d.Backward(m.loss(shard(x, g.Rank(), 2), shard(y, g.Rank(), 2))); err != nil {
			fmt.Fprintln(os.Stderr, "FAILED:", err)
			os.Exit(7)
		}
	}
	return nil
}

func TestDDPEqualsOneProcess(t *testing.T) {
	for _, n := range []int{2, 3} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			disttest.RequireAll(t, disttest.Run(t, n, "train", time.Minute))
		})
	}
}

func TestNoSyncAccumulates(t *testing.T) {
	disttest.RequireAll(t, disttest.Run(t, 2, "accumulate", time.Minute))
}

func TestDeadRankIsNamed(t *testing.T) {
	cases := []struct {
		worker string
		env    []string
		limit  time.Duration
	}{
		{"die", nil, time.Minute},
		{"hang", []string{"SEQTORCH_DIST_TIMEOUT=3s"}, 12 * time.Second},
	}
	for _, c := range cases {
		t.Run(c.worker, func(t *testing.T) {
			res := disttest.Run(t, 3, c.worker, c.limit, c.env...)
			for r := range 2 {
				out := res[r].Output
				if res[r].Err == nil || !strings.Contains(out, "FAILED:") || !strings.Contains(out, "rank 2 stopped") {
					t.Errorf("rank %d: %v, want exit 7 with a message naming rank 2:\n%s", r, res[r].Err, out)
				}
			}
		})
	}
}
