package loop_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"iter"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/seqtorch/seqtorch/torch"
	"github.com/seqtorch/seqtorch/torch/torchtest"
	"github.com/seqtorch/seqtorch/train/loop"
)

// weights returns the toy model's parameters as host slices.
func weights(j *toy) []float32 {
	return append(j.w.Detach().Float32s(), j.b.Detach().Float32s()...)
}

// train runs the toy job and returns its history and final weights.
func train(t *testing.T, dir string, epochs int, resume bool, stopAt int) (*loop.Result, []float32, error) {
	t.Helper()
	j := newToy(42)
	defer j.close()
	cfg := j.config(dir, epochs)
	cfg.Resume = resume
	// A learning-rate schedule: a resumed run must get the same rate in every epoch,
	// including the one it resumes in the middle of.
	cfg.EpochStart = func(epoch int) error {
		j.lr = 0.1 * math.Pow(0.5, float64(epoch-1))
		return nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if stopAt > 0 {
		inner := cfg.Step
		n := 0
		cfg.Step = func(b toyBatch) (loop.StepResult, error) {
			n++
			if n == stopAt {
				cancel() // as Ctrl-C during this step
			}
			return inner(b)
		}
	}
	res, err := loop.Run(ctx, cfg)
	var w []float32
	torch.WithScope(func(*torch.Scope) { w = weights(j) })
	return res, w, err
}

func TestResumeMatchesUninterrupted(t *testing.T) {
	torchtest.CheckLive(t)
	base := t.TempDir()
	want, wantW, err := train(t, filepath.Join(base, "full"), 4, false, 0)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		stopAt []int // steps (counted per process) at which Ctrl-C arrives, one per attempt
	}{
		{"mid-epoch", []int{11}},
		{"end of epoch", []int{8}},
		{"first step", []int{1}},
		{"twice", []int{5, 13}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(base, strings.ReplaceAll(tc.name, " ", "-"))
			resume := false
			for _, at := range tc.stopAt {
				res, _, err := train(t, dir, 4, resume, at)
				if !errors.Is(err, loop.ErrInterrupted) || !errors.Is(err, context.Canceled) {
					t.Fatalf("stop at %d: err = %v, want ErrInterrupted (a context.Canceled)", at, err)
				}
				if !res.Interrupted {
					t.Errorf("Interrupted = false")
				}
				resume = true
			}
			got, gotW, err := train(t, dir, 4, true, 0)
			if err != nil {
				t.Fatal(err)
			}
			if len(got.History) != len(want.History) {
				t.Fatalf("history has %d epochs, want %d", len(got.History), len(want.History))
			}
			for i := range want.History {
				g, w := got.History[i], want.History[i]
				if g.TrainLoss != w.TrainLoss || g.TrainAccuracy != w.TrainAccuracy || g.Val["val_loss"] != w.Val["val_loss"] || g.Best != w.Best {
					t.Errorf("epoch %d: got %+v, want %+v", i+1, g, w)
				}
			}
			for i := range wantW {
				if gotW[i] != wantW[i] {
					t.Fatalf("weight %d = %v, want %v", i, gotW[i], wantW[i])
				}
			}
			if got.BestEpoch != want.BestEpoch {
				t.Errorf("best epoch %d, want %d", got.BestEpoch, want.BestEpoch)
			}
			if n := countLines(t, filepath.Join(dir, "metrics.jsonl")); n != 4 {
				t.Errorf("metrics.jsonl has %d lines, want 4", n)
			}
		})
	}
}

func countLines(t *testing.T, path string) int {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	n := 0
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("line %d: %v", n+1, err)
		}
		for _, k := range []string{"epoch", "train_loss", "train_accuracy", "val_loss", "val_accuracy", "seconds"} {
			if _, ok := m[k]; !ok {
				t.Errorf("line %d has no key %q", n+1, k)
			}
		}
		n++
	}
	return n
}

func TestRunFiles(t *testing.T) {
	torchtest.CheckLive(t)
	dir := t.TempDir()
	res, _, err := train(t, dir, 2, false, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"metrics.jsonl", "best.safetensors", "checkpoint/state.json", "checkpoint/model.safetensors", "checkpoint/optimizer.pt"} {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			t.Errorf("missing %s: %v", name, err)
		}
	}
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		if strings.Contains(e.Name(), "tmp") || strings.HasSuffix(e.Name(), ".old") {
			t.Errorf("leftover %s", e.Name())
		}
	}
	ck, err := loop.ReadCheckpoint(dir)
	if err != nil {
		t.Fatal(err)
	}
	if ck.Epoch != 3 || ck.Step != 0 || ck.Seed != 42 || len(ck.History) != 2 || ck.BestEpoch != res.BestEpoch {
		t.Errorf("checkpoint = %+v", ck)
	}
	// Resuming a finished run with more epochs continues; with the same number does nothing.
	res2, _, err := train(t, dir, 2, true, 0)
	if err != nil || len(res2.History) != 2 || res2.StartEpoch != 3 {
		t.Errorf("resume finished run: %v, %+v", err, res2)
	}
	res3, _, err := train(t, dir, 3, true, 0)
	if err != nil || len(res3.History) != 3 {
		t.Errorf("extend run: %v, %d epochs", err, len(res3.History))
	}
}

func TestRunErrors(t *testing.T) {
	torchtest.CheckLive(t)
	j := newToy(3)
	defer j.close()
	tests := []struct {
		name   string
		modify func(c *loop.Config[toyBatch])
		want   string
	}{
		{"no epochs", func(c *loop.Config[toyBatch]) { c.Epochs = 0 }, "Epochs >= 1"},
		{"no dir", func(c *loop.Config[toyBatch]) { c.Dir = "" }, "Dir is empty"},
		{"no step", func(c *loop.Config[toyBatch]) { c.Step = nil }, "required"},
		{"step error", func(c *loop.Config[toyBatch]) { j.calls, j.failAt = 0, 3 }, "epoch 1 step 2: toy failure"},
		{"torch panic", func(c *loop.Config[toyBatch]) {
			c.Step = func(toyBatch) (loop.StepResult, error) {
				a, b := torch.Zeros([]int64{2, 3}), torch.Zeros([]int64{4, 5})
				return loop.StepResult{Loss: a.Matmul(b)}, nil
			}
		}, "Matmul"},
		{"unknown monitor", func(c *loop.Config[toyBatch]) { c.Monitor = "val_f1" }, `no metric "val_f1"`},
		{"resume without checkpoint", func(c *loop.Config[toyBatch]) { c.Resume = true }, "no checkpoint"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			j.failAt = 0
			cfg := j.config(t.TempDir(), 1)
			tc.modify(&cfg)
			_, err := loop.Run(context.Background(), cfg)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want it to contain %q", err, tc.want)
			}
			if tc.name == "resume without checkpoint" && !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("err does not wrap fs.ErrNotExist")
			}
		})
	}
}

func TestResumeSeedMismatch(t *testing.T) {
	torchtest.CheckLive(t)
	dir := t.TempDir()
	if _, _, err := train(t, dir, 1, false, 0); err != nil {
		t.Fatal(err)
	}
	j := newToy(43)
	defer j.close()
	cfg := j.config(dir, 2)
	cfg.Resume = true
	if _, err := loop.Run(context.Background(), cfg); err == nil || !strings.Contains(err.Error(), "seed 42") {
		t.Fatalf("err = %v", err)
	}
}

func TestStepSeed(t *testing.T) {
	seen := map[uint64]bool{}
	for _, s := range []uint64{0, 1, 2} {
		for e := 1; e <= 3; e++ {
			for st := range 3 {
				v := loop.StepSeed(s, e, st)
				if seen[v] {
					t.Fatalf("StepSeed(%d, %d, %d) repeats", s, e, st)
				}
				seen[v] = true
			}
		}
	}
	if loop.StepSeed(5, 2, 7) != loop.StepSeed(5, 2, 7) {
		t.Fatal("StepSeed is not deterministic")
	}
}

func TestRecordJSON(t *testing.T) {
	r := loop.Record{Epoch: 2, Steps: 5, TrainLoss: 0.5, TrainAccuracy: 0.75, Val: loop.Metrics{"val_f1": 0.8}, Seconds: 1.5, Best: true}
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	var back loop.Record
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if back.Epoch != 2 || back.Val["val_f1"] != 0.8 || back.TrainAccuracy != 0.75 || !back.Best {
		t.Errorf("round trip: %s -> %+v", b, back)
	}
	if _, err := json.Marshal(loop.Record{Val: loop.Metrics{"epoch": 1}}); err == nil {
		t.Error("a metric named epoch should be rejected")
	}
	if got := r.String(10); !strings.Contains(got, "epoch  2/10") || !strings.Contains(got, "val_f1 0.8000") || !strings.HasSuffix(got, "*") {
		t.Errorf("String() = %q", got)
	}
}

func TestEpochStart(t *testing.T) {
	torchtest.CheckLive(t)
	tests := []struct {
		name    string
		failAt  int      // EpochStart fails for this epoch (0: never)
		want    []string // events in order
		wantErr string
	}{
		{"each epoch before its batches", 0, []string{"start 1", "batches 1", "start 2", "batches 2", "start 3", "batches 3"}, ""},
		{"error stops the run", 2, []string{"start 1", "batches 1", "start 2"}, "loop: epoch 2: start: no schedule"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			j := newToy(5)
			defer j.close()
			cfg := j.config(t.TempDir(), 3)
			var events []string
			cfg.EpochStart = func(epoch int) error {
				events = append(events, fmt.Sprint("start ", epoch))
				if epoch == tc.failAt {
					return errors.New("no schedule")
				}
				return nil
			}
			cfg.Batches = func(epoch int) iter.Seq[toyBatch] {
				events = append(events, fmt.Sprint("batches ", epoch)) // the loop's goroutine: no race
				return j.batches(epoch)
			}
			_, err := loop.Run(context.Background(), cfg)
			if tc.wantErr == "" && err != nil {
				t.Fatal(err)
			}
			if tc.wantErr != "" && (err == nil || err.Error() != tc.wantErr) {
				t.Fatalf("err = %v, want %q", err, tc.wantErr)
			}
			if fmt.Sprint(events) != fmt.Sprint(tc.want) {
				t.Errorf("events %q, want %q", events, tc.want)
			}
		})
	}
}

// TestResumeTrainSeconds checks that an epoch interrupted and resumed reports the time of all
// its steps, not only of those after the resume.
func TestResumeTrainSeconds(t *testing.T) {
	torchtest.CheckLive(t)
	const pause = 20 * time.Millisecond
	dir := t.TempDir()
	j := newToy(9)
	defer j.close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cfg := j.config(dir, 1)
	n := 0
	cfg.Step = func(b toyBatch) (loop.StepResult, error) {
		time.Sleep(pause)
		if n++; n == 6 {
			cancel() // Ctrl-C during the 6th of 8 steps
		}
		return j.step(b)
	}
	if _, err := loop.Run(ctx, cfg); !errors.Is(err, loop.ErrInterrupted) {
		t.Fatalf("err = %v, want ErrInterrupted", err)
	}
	cfg.Resume = true
	res, err := loop.Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	steps := j.numBatches(1)
	if got, min := res.History[0].TrainSeconds, (time.Duration(steps) * pause).Seconds(); got < min {
		t.Errorf("TrainSeconds = %.3f after the resume, want at least %.3f (%d steps of %v)", got, min, steps, pause)
	}
}

// TestRemovesStaleTemp checks that the temporary files of a killed run go, and nothing else.
func TestRemovesStaleTemp(t *testing.T) {
	torchtest.CheckLive(t)
	dir := t.TempDir()
	stale := []string{".checkpoint.tmp-123", ".metrics.jsonl.tmp-45", ".best.safetensors.tmp-6.safetensors"}
	if err := os.MkdirAll(filepath.Join(dir, stale[0]), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, name := range append(stale[1:], "notes.tmp-1", filepath.Join(stale[0], "state.json")) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, err := train(t, dir, 1, false, 0); err != nil {
		t.Fatal(err)
	}
	for _, name := range stale {
		if _, err := os.Stat(filepath.Join(dir, name)); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s still there (%v)", name, err)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "notes.tmp-1")); err != nil {
		t.Errorf("a file that is not a temporary one was removed: %v", err)
	}
}

// TestSchedulerPersisted: Config.Scheduler is saved into the checkpoint beside the optimizer
// (scheduler.pt, named in state.json) and loaded on resume; a checkpoint written without a
// schedule is refused by a run that has one.
func TestSchedulerPersisted(t *testing.T) {
	torchtest.CheckLive(t)
	sched := func(state *string) loop.Persister {
		return loop.PersistFuncs{
			SaveFunc: func(p string) error { return os.WriteFile(p, []byte(*state), 0o644) },
			LoadFunc: func(p string) error {
				b, err := os.ReadFile(p)
				*state = string(b)
				return err
			},
		}
	}
	dir := t.TempDir()
	j := newToy(7)
	defer j.close()
	cfg := j.config(dir, 2)
	saved := "epoch 1"
	cfg.Scheduler = sched(&saved)
	ctx, cancel := context.WithCancel(context.Background())
	inner := cfg.Step
	cfg.Step = func(b toyBatch) (loop.StepResult, error) { cancel(); return inner(b) }
	if _, err := loop.Run(ctx, cfg); !errors.Is(err, loop.ErrInterrupted) {
		t.Fatalf("err = %v, want an interruption", err)
	}
	b, err := os.ReadFile(filepath.Join(dir, loop.CheckpointDir, "scheduler.pt"))
	if err != nil || string(b) != "epoch 1" {
		t.Fatalf("scheduler.pt: %q, %v", b, err)
	}
	if st := readFileT(t, filepath.Join(dir, loop.CheckpointDir, loop.StateFile)); !strings.Contains(st, `"scheduler_file": "scheduler.pt"`) {
		t.Errorf("state.json does not name the scheduler's file:\n%s", st)
	}
	j2 := newToy(7)
	defer j2.close()
	cfg = j2.config(dir, 2)
	cfg.Resume = true
	var loaded string
	cfg.Scheduler = sched(&loaded)
	if _, err := loop.Run(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
	if loaded != "epoch 1" {
		t.Errorf("resumed schedule state %q, want the checkpoint's %q", loaded, "epoch 1")
	}

	plain := t.TempDir()
	if _, _, err := train(t, plain, 1, false, 0); err != nil {
		t.Fatal(err)
	}
	j3 := newToy(42)
	defer j3.close()
	cfg = j3.config(plain, 2)
	cfg.Resume = true
	cfg.Scheduler = sched(&loaded)
	if _, err := loop.Run(context.Background(), cfg); err == nil || !strings.Contains(err.Error(), "holds no learning-rate schedule") {
		t.Errorf("a schedule resuming a checkpoint without one: err = %v", err)
	}
}

func readFileT(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
