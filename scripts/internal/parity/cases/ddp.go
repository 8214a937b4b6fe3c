package cases

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/seqtorch/seqtorch/torch"
	"github.com/seqtorch/seqtorch/torch/distributed"
	"github.com/seqtorch/seqtorch/torch/nn"
	"github.com/seqtorch/seqtorch/torch/nn/parallel"
)

// The ddp cases train a small classifier with DistributedDataParallel on several real
// processes on each side: PyTorch's ranks (torch.nn.parallel.DistributedDataParallel, Gloo,
// spawned by parity_ref.py's "ddp" handler) and seqtorch's (parallel.New over a Gloo group,
// the parity command itself re-executed once per rank by the case's Check). Every rank
// starts from its own initial weights, so the initial broadcast of rank 0's is part of what
// is compared; each step's global batch is split into consecutive shards, one per rank.

// DDPRankEnv is the variable that makes the parity command one rank of a ddp case instead of
// the suite: its value is the case's directory. The rank's position comes from RANK,
// WORLD_SIZE and SEQTORCH_STORE_FILE, as distributed.ReadEnv reads them.
const DDPRankEnv = "SEQTORCH_PARITY_DDP"

// ddpRankLimit bounds one run of the Go ranks; ranks still running then are killed.
const ddpRankLimit = 2 * time.Minute

// ddpCollectiveTimeout is the ranks' SEQTORCH_DIST_TIMEOUT: how long the rendezvous or a
// collective waits for a missing rank.
const ddpCollectiveTimeout = time.Minute

// canRunRanks is set by DDPRankMain: the running executable answers DDPRankEnv, so Check
// may re-execute it as the ranks (a test binary would run its tests instead).
var canRunRanks bool

// DDPRankMain is the parity command's first step: when DDPRankEnv is set, this process is a
// rank of a ddp case started by the case's Check; it trains, writes its results into the
// case directory and exits (status 1 after printing the error). Otherwise it returns, noting
// that this executable can be re-executed as a rank.
func DDPRankMain() {
	dir := os.Getenv(DDPRankEnv)
	if dir == "" {
		canRunRanks = true
		return
	}
	if err := runDDPRank(dir); err != nil {
		fmt.Fprintf(os.Stderr, "parity ddp rank %s: %v\n", os.Getenv("RANK"), err)
		os.Exit(1)
	}
	os.Exit(0)
}

// ddpArgs are the case's arguments, shared with parity_ref.py's "ddp" handler.
type ddpArgs struct {
	World   int     `json:"world"`    // number of ranks
	Steps   int     `json:"steps"`    // optimizer steps
	PerRank int     `json:"per_rank"` // rows of each step's global batch per rank
	SeqLen  int64   `json:"seq_len"`  // padded length of the token rows
	Vocab   int64   `json:"vocab"`
	Dim     int64   `json:"dim"`
	Hidden  int64   `json:"hidden"`
	Classes int64   `json:"classes"`
	LR      float64 `json:"lr"`
	// TimeoutS bounds PyTorch's ranks, in seconds.
	TimeoutS int `json:"timeout_s"`
	// LibtorchKernel runs the Go side's LSTM through libtorch's at::lstm (the Go side only).
	LibtorchKernel bool `json:"libtorch_kernel"`
}

// ddpModel is the classifier both sides train, as PyTorch writes it:
//
//	class DDPClassifier(nn.Module):
//	    def __init__(self, vocab, dim, hidden, classes):
//	        super().__init__()
//	        self.embedding = nn.Embedding(vocab, dim, padding_idx=0)
//	        self.lstm = nn.LSTM(dim, hidden, batch_first=True, bidirectional=True)
//	        self.linear = nn.Linear(2 * hidden, classes)
//
//	    def forward(self, tokens, lengths):
//	        x = self.embedding(tokens)
//	        packed = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
//	        _, (hn, _) = self.lstm(packed)
//	        return self.linear(torch.cat([hn[-2], hn[-1]], dim=1))
type ddpModel struct {
	nn.Modules
	Embedding *nn.Embedding
	LSTM      *nn.RNNBase
	Linear    *nn.Linear
}

// newDDPModel builds the classifier, drawing its parameters from the default generator.
func newDDPModel(a ddpArgs) (m *ddpModel, err error) {
	m = &ddpModel{}
	err = torch.Try(func() {
		pad := int64(0)
		m.Embedding = nn.NewEmbedding(a.Vocab, a.Dim, nn.EmbeddingOptions{PaddingIdx: &pad})
		m.Add("embedding", m.Embedding)
		m.LSTM = nn.NewLSTM(a.Dim, a.Hidden, nn.RNNOptions{BatchFirst: true, Bidirectional: true,
			LibtorchKernel: a.LibtorchKernel})
		m.Add("lstm", m.LSTM)
		m.Linear = nn.NewLinear(2*a.Hidden, a.Classes, nn.LinearOptions{})
		m.Add("linear", m.Linear)
	})
	if err != nil {
		nn.Close(m)
		return nil, fmt.Errorf("ddp classifier: %w", err)
	}
	return m, nil
}

// Forward maps padded token ids (batch, seq) with their lengths to class logits (batch,
// classes). Its intermediate tensors belong to the caller's scope. Bad input panics with
// *torch.Error.
func (m *ddpModel) Forward(tokens *torch.Tensor, lengths []int64) *torch.Tensor {
	x := m.Embedding.Forward(tokens)
	packed := nn.PackPaddedSequence(x, lengths, nn.PackPaddedOptions{BatchFirst: true, NoEnforceSorted: true})
	_, hn := m.LSTM.ForwardPacked(packed, nil)
	n := hn.H.Size(0)
	fwd := hn.H.Narrow(0, n-2, 1).SqueezeDim(0) // hn[-2]: the last layer's forward direction
	bwd := hn.H.Narrow(0, n-1, 1).SqueezeDim(0) // hn[-1]: its backward direction
	return m.Linear.Forward(torch.Cat([]*torch.Tensor{fwd, bwd}, 1))
}

// ddpBatches returns the steps' global batches: token ids (steps, batch, seq_len), padded with
// 0 after each row's length, the lengths (steps, batch), from 1 to seq_len, and the labels
// (steps, batch).
func ddpBatches(a ddpArgs, seed uint64) (tokens, lengths, labels *torch.Tensor) {
	rng := rand.New(rand.NewPCG(seed, 0x5eed))
	batch := a.World * a.PerRank
	tok := make([]int64, a.Steps*batch*int(a.SeqLen))
	lens := make([]int64, a.Steps*batch)
	lab := make([]int64, a.Steps*batch)
	for i := range lens {
		lens[i] = 1 + rng.Int64N(a.SeqLen)
		lab[i] = rng.Int64N(a.Classes)
		row := tok[i*int(a.SeqLen) : (i+1)*int(a.SeqLen)]
		for t := range lens[i] {
			row[t] = 1 + rng.Int64N(a.Vocab-1) // never the padding id
		}
	}
	s, b := int64(a.Steps), int64(batch)
	return torch.FromSlice(tok, s, b, a.SeqLen), torch.FromSlice(lens, s, b), torch.FromSlice(lab, s, b)
}

// ddpRankPrefix prefixes rank r's initial weights in in.pt.
func ddpRankPrefix(r int) string { return fmt.Sprintf("rank%d.", r) }

// ddpOutFile is where Go's rank r writes its results: rank 0 its final parameters and each
// step's loss, the others their final parameters.
func ddpOutFile(dir string, r int) string {
	if r == 0 {
		return filepath.Join(dir, "go_out.pt")
	}
	return filepath.Join(dir, fmt.Sprintf("go_out_rank%d.pt", r))
}

func registerDDP(world int, seed uint64) {
	a := ddpArgs{World: world, Steps: 10, PerRank: 4, SeqLen: 7, Vocab: 50, Dim: 8, Hidden: 8, Classes: 2,
		LR: 0.01, TimeoutS: 120, LibtorchKernel: true}
	Register(Case{
		Name: fmt.Sprintf("ddp/lstm-gloo-%dranks", world),
		Tol:  ddpTol,
		Build: func(dir string) error {
			d := &Dict{}
			for r := range a.World {
				torch.ManualSeed(seed + uint64(r)) // every rank its own initial weights
				m, err := newDDPModel(a)
				if err != nil {
					return err
				}
				for _, p := range m.NamedParameters() {
					d.Add(ddpRankPrefix(r)+p.Name, p.Value.Detach())
				}
				nn.Close(m) // the detached tensors keep the values
			}
			tokens, lengths, labels := ddpBatches(a, seed)
			d.Add("tokens", tokens).Add("lengths", lengths).Add("labels", labels)
			return WriteInputs(dir, "ddp", a, d)
		},
		Check: func(dir string) (float64, error) {
			want, err := ReadOutputs(dir)
			if err != nil {
				return 0, err
			}
			if err := runDDPRanks(dir, a.World); err != nil {
				return 0, err
			}
			c := NewCmp(want)
			got, err := readDict(ddpOutFile(dir, 0))
			if err != nil {
				return 0, fmt.Errorf("Go rank 0's results: %w", err)
			}
			for i, n := range got.Names {
				c.T(n, got.Ts[i])
			}
			for r := 1; r < a.World; r++ { // every replica must have PyTorch's parameters
				other, err := readDict(ddpOutFile(dir, r))
				if err != nil {
					return 0, fmt.Errorf("Go rank %d's results: %w", r, err)
				}
				for i, n := range other.Names {
					w, err := want.Get(n)
					if err != nil {
						c.Err(fmt.Errorf("Go rank %d: %w", r, err))
						continue
					}
					d, err := MaxAbsDiff(other.Ts[i], w)
					if err != nil {
						c.Err(fmt.Errorf("Go rank %d: %s: %w", r, n, err))
						continue
					}
					c.Value(fmt.Sprintf("rank%d.%s", r, n), d)
				}
			}
			return c.Result(true)
		},
	})
}

// ddpTol is the ddp cases' tolerance, the suite's default. With libtorch's LSTM kernel (as
// PyTorch's, oneDNN off), the same c10d Reducer and Gloo on both sides, libtorch 1.13 and
// PyTorch 1.13 agree to the bit with 2 and with 3 ranks; seqtorch's fused LSTM kernel differs
// by up to 3.6e-7 after the 10 Adam steps. The margin allows for the summation orders of
// another build.
const ddpTol = DefaultTol

func init() {
	registerDDP(2, 4100)
	registerDDP(3, 4200)
}

// runDDPRanks runs the case in dir on world Go ranks, each a process of this executable that
// DDPRankMain turns into a rank, meeting through a fresh FileStore in dir. When a rank fails
// the others are killed at once; all are killed after ddpRankLimit.
func runDDPRanks(dir string, world int) error {
	if !canRunRanks {
		return errors.New("the ddp cases re-execute the parity command as their ranks: run them with go run ./scripts/parity")
	}
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("ddp ranks: %w", err)
	}
	store := filepath.Join(dir, "go_store")
	if err := os.Remove(store); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("ddp ranks: %w", err)
	}
	for r := range world {
		if err := os.Remove(ddpOutFile(dir, r)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("ddp ranks: %w", err)
		}
	}
	env := slices.DeleteFunc(os.Environ(), func(kv string) bool {
		name, _, _ := strings.Cut(kv, "=")
		return name == DDPRankEnv || slices.Contains(distributed.EnvVars, name)
	})
	env = append(env, DDPRankEnv+"="+dir, "WORLD_SIZE="+strconv.Itoa(world), "LOCAL_WORLD_SIZE="+strconv.Itoa(world),
		"MASTER_ADDR=127.0.0.1", "SEQTORCH_STORE_FILE="+store, "SEQTORCH_DIST_TIMEOUT="+ddpCollectiveTimeout.String())
	if os.Getenv("OPENBLAS_NUM_THREADS") == "" {
		env = append(env, "OPENBLAS_NUM_THREADS=1")
	}

	ctx, cancel := context.WithTimeout(context.Background(), ddpRankLimit)
	defer cancel()
	type exit struct {
		rank int
		err  error
	}
	exits := make(chan exit, world)
	outs := make([]*bytes.Buffer, world)
	started := 0
	var startErr error
	for r := range world {
		cmd := exec.CommandContext(ctx, exe)
		cmd.Env = append(slices.Clip(env), "RANK="+strconv.Itoa(r), "LOCAL_RANK="+strconv.Itoa(r))
		cmd.Dir = dir
		outs[r] = new(bytes.Buffer)
		cmd.Stdout, cmd.Stderr = outs[r], outs[r]
		cmd.WaitDelay = 5 * time.Second
		if err := cmd.Start(); err != nil {
			startErr = fmt.Errorf("ddp ranks: start rank %d: %w", r, err)
			cancel() // kills those started
			break
		}
		started++
		go func() { exits <- exit{r, cmd.Wait()} }()
	}
	first := -1 // the first rank that failed
	errs := make([]error, world)
	exited := make([]bool, world)
	var running []string // the ranks still running when the first failed
	for range started {
		e := <-exits
		errs[e.rank], exited[e.rank] = e.err, true
		if e.err != nil && first < 0 {
			first = e.rank
			for r := range started {
				if !exited[r] {
					running = append(running, strconv.Itoa(r))
				}
			}
			cancel() // the others would wait for it until their collective timeout
		}
	}
	if startErr != nil {
		return startErr
	}
	if first >= 0 {
		why := errs[first].Error()
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			why = fmt.Sprintf("killed after %v", ddpRankLimit)
		}
		if len(running) > 0 {
			why += fmt.Sprintf(" (ranks %s still running)", strings.Join(running, ", "))
		}
		return fmt.Errorf("Go rank %d of %d: %s\n%s", first, world, why, tail(outs[first].String(), 2000))
	}
	return nil
}

// tail returns the end of s, at most n bytes, trimmed.
func tail(s string, n int) string {
	s = strings.TrimSpace(s)
	if len(s) > n {
		s = "..." + s[len(s)-n:]
	}
	return s
}

// runDDPRank is one Go rank of the case in dir: it joins the group, builds the classifier
// from its own initial weights, wraps it in DistributedDataParallel (which broadcasts rank
// 0's), trains the steps on its shards with Adam and writes its results (ddpOutFile).
func runDDPRank(dir string) (err error) {
	if err := torch.Load(); err != nil {
		return err
	}
	if err := torch.SetNumThreads(1); err != nil {
		return err
	}
	var a ddpArgs
	if err := ReadArgs(dir, &a); err != nil {
		return err
	}
	env, ok, err := distributed.ReadEnv(nil)
	if err != nil {
		return err
	}
	if !ok || env.WorldSize != a.World {
		return fmt.Errorf("launched as rank %d of %d (launched: %v), the case wants %d ranks", env.Rank, env.WorldSize, ok, a.World)
	}
	g, err := distributed.Init(env, distributed.InitOptions{})
	if err != nil {
		return fmt.Errorf("joining the group: %w", err)
	}
	defer g.Close()
	r := g.Rank()

	s := torch.NewScope()
	defer s.Close()
	defer Recover(&err) // a panic from libtorch or a missing input
	in, err := ReadInputs(dir)
	if err != nil {
		return err
	}
	m, err := newDDPModel(a)
	if err != nil {
		return err
	}
	defer nn.Close(m) // modules own their parameters
	var names []string
	var ts []*torch.Tensor
	for i, n := range in.Names {
		if rest, ok := strings.CutPrefix(n, ddpRankPrefix(r)); ok {
			names = append(names, rest)
			ts = append(ts, in.Ts[i])
		}
	}
	if err := nn.LoadStateDict(m, names, ts); err != nil {
		return fmt.Errorf("rank %d's initial weights: %w", r, err)
	}
	d, err := parallel.New(m, g, parallel.Options{})
	if err != nil {
		return err
	}
	defer d.Close()
	opt, closeOpt, err := newOptimizer("adam", optOptions{LR: new(a.LR)}, nn.Trainable(m))
	if err != nil {
		return err
	}
	defer closeOpt()

	tokens, lengths, labels := in.MustGet("tokens"), in.MustGet("lengths"), in.MustGet("labels")
	lo, b := int64(r*a.PerRank), int64(a.PerRank)
	shard := func(t *torch.Tensor, k int) *torch.Tensor { // rows [lo, lo+b) of step k's batch
		return t.Narrow(0, int64(k), 1).SqueezeDim(0).Narrow(0, lo, b)
	}
	out := &Dict{}
	for k := range a.Steps {
		opt.ZeroGrad()
		logits := m.Forward(shard(tokens, k), shard(lengths, k).Int64s())
		loss := nn.CrossEntropyLoss(logits, shard(labels, k), nn.CrossEntropyOptions{})
		if err := d.Backward(loss); err != nil {
			return fmt.Errorf("step %d: %w", k, err)
		}
		opt.Step()
		out.Add(fmt.Sprintf("loss%d", k), loss.Detach())
	}
	if r != 0 {
		out = &Dict{}
	}
	for _, p := range m.NamedParameters() {
		out.Add(p.Name, p.Value.Detach())
	}
	return torch.SaveDict(ddpOutFile(dir, r), out.Names, out.Ts)
}
