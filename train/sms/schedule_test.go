package main

import (
	"context"
	"encoding/json"
	"io"
	"math"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/seqtorch/seqtorch/torch"
	"github.com/seqtorch/seqtorch/torch/optim"
	"github.com/seqtorch/seqtorch/torch/torchtest"
	"github.com/seqtorch/seqtorch/train/cli"
	"github.com/seqtorch/seqtorch/train/loop"
)

// parseTrain parses args as the training command does and returns the normalized options and
// check's error.
func parseTrain(t *testing.T, args ...string) (Options, error) {
	t.Helper()
	cl, err := trainCLI.Parse(args, io.Discard)
	if err != nil {
		return Options{}, err
	}
	o := cl.Config
	return o, o.check()
}

func TestScheduleFlags(t *testing.T) {
	for _, tc := range []struct {
		name                   string
		args                   []string
		schedule               string
		warmup, scheduleEpochs int
		err                    string // "" for none
	}{
		{"default is constant", nil, "constant", 0, 0, ""},
		{"constant", []string{"--schedule", "constant"}, "constant", 0, 0, ""},
		{"warmup-cosine, default warm-up", []string{"--schedule", "warmup-cosine"}, "warmup-cosine", 1, 10, ""},
		{"warmup-cosine spans --epochs", []string{"--schedule", "warmup-cosine", "--warmup", "2", "--epochs", "6"}, "warmup-cosine", 2, 6, ""},
		{"unknown schedule", []string{"--schedule", "cosine"}, "", 0, 0, `unknown --schedule "cosine": want constant or warmup-cosine`},
		{"warmup without the schedule", []string{"--warmup", "2"}, "", 0, 0, "--warmup needs --schedule warmup-cosine"},
		{"negative warmup", []string{"--schedule", "warmup-cosine", "--warmup", "-1"}, "", 0, 0, "--warmup must be >= 0, got -1"},
		{"warmup fills the epochs", []string{"--schedule", "warmup-cosine", "--warmup", "3", "--epochs", "3"}, "", 0, 0, "--warmup must be less than --epochs (3)"},
		{"one epoch leaves no cosine", []string{"--schedule", "warmup-cosine", "--epochs", "1"}, "", 0, 0, "--warmup must be less than --epochs (1)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o, err := parseTrain(t, tc.args...)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want one with %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if o.Schedule != tc.schedule || o.Warmup != tc.warmup || o.ScheduleEpochs != tc.scheduleEpochs {
				t.Errorf("schedule %q, warmup %d, schedule epochs %d; want %q, %d, %d", o.Schedule, o.Warmup, o.ScheduleEpochs, tc.schedule, tc.warmup, tc.scheduleEpochs)
			}
			if err := o.normalize(); err != nil {
				t.Fatal(err)
			}
			if o2, _ := parseTrain(t, tc.args...); o2 != o {
				t.Errorf("normalize changed its own output: %+v, then %+v", o2, o)
			}
		})
	}
	// A run saved before --schedule existed is a constant-rate run; a saved warmup-cosine run
	// keeps the epochs it spans, so another --epochs (allowed on --resume) is refused.
	o := defaultOptions()
	o.Schedule = ""
	if err := o.normalize(); err != nil || o.Schedule != "constant" {
		t.Errorf("an old run's schedule: %q, %v", o.Schedule, err)
	}
	o = defaultOptions()
	o.Schedule, o.Warmup, o.ScheduleEpochs, o.Epochs = scheduleWarmupCosine, 1, 6, 8
	if err := o.normalize(); err != nil {
		t.Fatal(err)
	}
	if err := o.validate(); err == nil || !strings.Contains(err.Error(), "--epochs 8: this run's --schedule warmup-cosine spans 6 epochs") {
		t.Errorf("a resumed warmup-cosine run with other epochs: %v", err)
	}
}

// wantLR is warmup-cosine's learning rate in epoch e (1-based) in closed form: a tenth of lr
// rising linearly over the warm-up, then lr·(1 + cos(π·k/(E−W)))/2 at the cosine's epoch k.
func wantLR(lr float64, e, warmup, epochs int) float64 {
	if e <= warmup {
		return lr * (warmupStartFactor + (1-warmupStartFactor)*float64(e-1)/float64(warmup))
	}
	return lr * (1 + math.Cos(math.Pi*float64(e-1-warmup)/float64(epochs-warmup))) / 2
}

// TestScheduleLRSequence: the learning rate of every epoch, against the closed form (and the
// numbers of torch/optim's SequentialLR example, which equal PyTorch's), and the same sequence
// from a schedule and optimizer restored from their state dicts in the middle.
func TestScheduleLRSequence(t *testing.T) {
	torchtest.CheckLive(t)
	for _, tc := range []struct{ warmup, epochs int }{{1, 6}, {3, 8}, {2, 10}} {
		o := Options{LR: 1e-3, Optimizer: "adam", Schedule: scheduleWarmupCosine, Warmup: tc.warmup, Epochs: tc.epochs}
		if err := o.normalize(); err != nil {
			t.Fatal(err)
		}
		newOpt := func() (*torch.Tensor, optim.Optimizer, optim.LRScheduler, func()) {
			w := torch.FromSlice([]float32{1, 2}).SetRequiresGrad(true)
			opt, closeOpt, err := newOptimizer(&o, []*torch.Tensor{w})
			if err != nil {
				t.Fatal(err)
			}
			sched, err := newSchedule(&o, opt)
			if err != nil {
				t.Fatal(err)
			}
			return w, opt, sched, func() { closeOpt(); w.Close() }
		}
		w, opt, sched, done := newOpt()
		var got []float64
		for e := 1; e <= tc.epochs; e++ {
			if err := scheduleEpoch(sched, e); err != nil {
				t.Fatal(err)
			}
			if err := scheduleEpoch(sched, e); err != nil { // again: no second step
				t.Fatal(err)
			}
			got = append(got, opt.LR())
			if want := wantLR(o.LR, e, tc.warmup, tc.epochs); math.Abs(opt.LR()-want) > 1e-15 {
				t.Errorf("warm-up %d of %d epochs: epoch %d lr %.10g, want %.10g", tc.warmup, tc.epochs, e, opt.LR(), want)
			}
			torch.WithScope(func(*torch.Scope) { // a training step moves the optimizer's state
				w.Mul(w).Sum().Backward()
				opt.Step()
				opt.ZeroGrad()
			})
		}
		if err := scheduleEpoch(sched, 2); err == nil {
			t.Error("a schedule asked for an epoch it has passed: no error")
		}
		// Save both in the middle (after epoch m's start), restore into fresh ones: the
		// remaining epochs get the same rates.
		m := tc.warmup + 1
		dir := t.TempDir()
		_, opt1, sched1, done1 := newOpt()
		for e := 1; e <= m; e++ {
			if err := scheduleEpoch(sched1, e); err != nil {
				t.Fatal(err)
			}
		}
		for name, s := range map[string]optim.Stateful{"optimizer.pt": opt1, "scheduler.pt": sched1} {
			if err := optim.Persister(s).Save(filepath.Join(dir, name)); err != nil {
				t.Fatal(err)
			}
		}
		_, opt2, sched2, done2 := newOpt()
		for name, s := range map[string]optim.Stateful{"optimizer.pt": opt2, "scheduler.pt": sched2} {
			if err := optim.Persister(s).Load(filepath.Join(dir, name)); err != nil {
				t.Fatal(err)
			}
		}
		for e := m; e <= tc.epochs; e++ {
			if err := scheduleEpoch(sched2, e); err != nil {
				t.Fatal(err)
			}
			if opt2.LR() != got[e-1] {
				t.Errorf("warm-up %d of %d epochs, restored at epoch %d: epoch %d lr %.10g, want %.10g", tc.warmup, tc.epochs, m, e, opt2.LR(), got[e-1])
			}
		}
		done1()
		done2()
		done()
	}
	// torch/optim's example (start factor 0.1 over 3 epochs, cosine over 5): PyTorch's numbers.
	want := []float64{0.1, 0.4, 0.7, 1, 0.9045, 0.6545, 0.3455, 0.0955}
	for e, lr := range want {
		if got := wantLR(1, e+1, 3, 8); math.Abs(got-lr) > 5e-5 {
			t.Errorf("closed form, epoch %d: %.4f, want %.4f", e+1, got, lr)
		}
	}
}

// cancelOn is a log writer that cancels a run once a line with text has been written.
type cancelOn struct {
	mu     sync.Mutex
	text   string
	cancel context.CancelFunc
	sb     strings.Builder
}

func (c *cancelOn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.sb.Write(p)
	if strings.Contains(c.sb.String(), c.text) {
		c.cancel()
	}
	return len(p), nil
}

// TestScheduleResume: a warmup-cosine run interrupted after its first epoch, inside its 2-epoch
// warm-up, and resumed ends with the uninterrupted run's model and learning rates: the schedule
// comes back from the checkpoint (a fresh one stepped from epoch 0 would multiply the restored
// rate by the warm-up's recursive factor again). A resume that changes the schedule, its
// warm-up or its epochs is refused.
func TestScheduleResume(t *testing.T) {
	torchtest.CheckLive(t)
	dir := t.TempDir()
	full, part := filepath.Join(dir, "full"), filepath.Join(dir, "part")
	flags := []string{"--schedule", "warmup-cosine", "--warmup", "2", "--epochs", "4", "--dropout", "0.3"}
	if code, _, stderr := runCmd(context.Background(), tiny(full, flags...)...); code != 0 {
		t.Fatalf("full run: exit %d: %s", code, stderr)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	log := &cancelOn{text: "epoch 1/4", cancel: cancel}
	code, stderr := func() (int, string) {
		var e strings.Builder
		err := run(ctx, tiny(part, flags...), log, &e)
		return cli.ExitCode("sms", err, &e), e.String()
	}()
	if code != 130 {
		t.Fatalf("interrupted run: exit %d: %s", code, stderr)
	}
	ck, err := loop.ReadCheckpoint(part)
	if err != nil {
		t.Fatal(err)
	}
	if ck.Epoch != 2 || len(ck.History) != 1 {
		t.Fatalf("checkpoint at epoch %d with %d finished; want epoch 2 after 1", ck.Epoch, len(ck.History))
	}
	if code, _, stderr := runCmd(context.Background(), "--resume", part); code != 0 {
		t.Fatalf("resume: exit %d: %s", code, stderr)
	}
	if readFile(t, filepath.Join(full, "model.safetensors")) != readFile(t, filepath.Join(part, "model.safetensors")) {
		t.Error("the resumed warmup-cosine run's model differs from the uninterrupted run's")
	}
	lrs := func(run string) []float64 {
		var out []float64
		for line := range strings.Lines(readFile(t, filepath.Join(run, "metrics.jsonl"))) {
			var r loop.Record
			if err := json.Unmarshal([]byte(line), &r); err != nil {
				t.Fatal(err)
			}
			out = append(out, r.Val["lr"])
		}
		return out
	}
	a, b := lrs(full), lrs(part)
	if len(a) != 4 || len(b) != 4 {
		t.Fatalf("learning rates: %v and %v, want 4 each", a, b)
	}
	for e := range a {
		if want := wantLR(0.01, e+1, 2, 4); a[e] != b[e] || math.Abs(a[e]-want) > 1e-15 {
			t.Errorf("epoch %d: lr %v (uninterrupted) and %v (resumed), want %v", e+1, a[e], b[e], want)
		}
	}
	for _, tc := range []struct {
		run  string
		args []string
		want string
	}{
		{part, []string{"--schedule", "constant"}, "--schedule constant contradicts the run in " + part + " (--schedule warmup-cosine)"},
		{part, []string{"--warmup", "3"}, "--warmup 3 contradicts the run in " + part},
		{part, []string{"--epochs", "5"}, "--epochs 5: this run's --schedule warmup-cosine spans 4 epochs"},
		{full, []string{"--schedule", "warmup-cosine", "--warmup", "2", "--epochs", "4"}, ""}, // the run's own values
	} {
		code, _, stderr := runCmd(context.Background(), append([]string{"--resume", tc.run}, tc.args...)...)
		if tc.want == "" {
			if code != 0 {
				t.Errorf("--resume %v: exit %d: %s", tc.args, code, stderr)
			}
			continue
		}
		if code != 2 || !strings.Contains(stderr, tc.want) {
			t.Errorf("--resume %v: exit %d, stderr %q; want 2 and %q", tc.args, code, stderr, tc.want)
		}
	}
	// A constant-rate run does not take a schedule on --resume.
	constant := filepath.Join(dir, "constant")
	interrupted, stop := context.WithCancel(context.Background())
	stop()
	if code, _, stderr := runCmd(interrupted, tiny(constant)...); code != 130 {
		t.Fatalf("interrupted constant run: exit %d: %s", code, stderr)
	}
	code, _, stderr = runCmd(context.Background(), "--resume", constant, "--schedule", "warmup-cosine")
	if want := "--schedule warmup-cosine contradicts the run in " + constant + " (--schedule constant)"; code != 2 || !strings.Contains(stderr, want) {
		t.Errorf("--schedule warmup-cosine on a constant run: exit %d, stderr %q; want 2 and %q", code, stderr, want)
	}
}
