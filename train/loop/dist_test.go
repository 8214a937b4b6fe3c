package loop_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/seqtorch/seqtorch/torch/torchtest"
	"github.com/seqtorch/seqtorch/train/loop"
)

// fakeDist is one rank of a pretend world of world ranks whose other ranks mirror this one:
// Sum multiplies by world, and AnyStop reports stopAt's step as stopped by another rank.
type fakeDist struct {
	world  int
	calls  int // AnyStop calls
	stopAt int // the AnyStop call (1-based) at which another rank stops; 0: never
	sums   int
}

func (f *fakeDist) dist(rank int) *loop.Dist {
	return &loop.Dist{
		Rank: rank,
		AnyStop: func(stop bool) (bool, error) {
			f.calls++
			return stop || f.calls == f.stopAt, nil
		},
		Sum: func(v []float64) error {
			f.sums++
			for i := range v {
				v[i] *= float64(f.world)
			}
			return nil
		},
	}
}

func TestDistRanks(t *testing.T) {
	torchtest.CheckLive(t)
	for _, tc := range []struct {
		name   string
		rank   int
		stopAt int
	}{
		{"rank 0", 0, 0},
		{"rank 1", 1, 0},
		{"rank 0, another rank stops", 0, 5},
		{"rank 1, another rank stops", 1, 5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "run")
			j := newToy(42)
			defer j.close()
			cfg := j.config(dir, 2)
			f := &fakeDist{world: 2, stopAt: tc.stopAt}
			cfg.Dist = f.dist(tc.rank)
			res, err := loop.Run(context.Background(), cfg)
			steps := j.numBatches(1)
			switch {
			case tc.stopAt > 0:
				if !errors.Is(err, loop.ErrInterrupted) || f.calls != tc.stopAt {
					t.Fatalf("err %v after %d agreements, want an interruption at agreement %d", err, f.calls, tc.stopAt)
				}
			case err != nil:
				t.Fatal(err)
			default:
				if f.calls != 2*steps || f.sums != 2 {
					t.Errorf("%d agreements and %d sums, want %d and 2", f.calls, f.sums, 2*steps)
				}
				// Sum doubled the sums: the mean loss is the same, over twice the examples.
				if len(res.History) != 2 {
					t.Fatalf("history %v", res.History)
				}
			}
			_, statErr := os.Stat(dir)
			if tc.rank != 0 && !os.IsNotExist(statErr) {
				t.Errorf("rank %d created the run folder (%v): only rank 0 writes", tc.rank, statErr)
			}
			if tc.rank == 0 {
				if _, err := os.Stat(filepath.Join(dir, loop.CheckpointDir, "state.json")); err != nil {
					t.Errorf("rank 0 wrote no checkpoint: %v", err)
				}
			}
		})
	}
}
