package loop

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/seqtorch/seqtorch/train/runlog"
)

// CheckpointDir is the name of the checkpoint folder inside a run folder.
const CheckpointDir = "checkpoint"

// StateFile is the name of the JSON file inside the checkpoint folder that records where the
// run stands.
const StateFile = "state.json"

const stateVersion = 1

// Partial holds the sums of an epoch that a checkpoint interrupted.
type Partial struct {
	LossSum    float64 `json:"loss_sum"`
	CorrectSum float64 `json:"correct_sum"`
	N          int     `json:"n"`
	HasCorrect bool    `json:"has_correct"`
	// TrainSeconds is the time the epoch's steps took before the interruption, so that the
	// resumed epoch's Record.TrainSeconds counts all of them.
	TrainSeconds float64 `json:"train_seconds,omitempty"`
}

// state is the content of state.json: where the run stands.
type state struct {
	Version       int      `json:"version"`
	Seed          uint64   `json:"seed"`
	Epoch         int      `json:"epoch"` // the epoch to run next (1-based)
	Step          int      `json:"step"`  // steps of Epoch already done
	Partial       *Partial `json:"partial,omitempty"`
	Monitor       string   `json:"monitor,omitempty"`
	BestEpoch     int      `json:"best_epoch"`
	BestValue     *float64 `json:"best_value,omitempty"`
	ModelFile     string   `json:"model_file"`
	OptimizerFile string   `json:"optimizer_file,omitempty"`
	SchedulerFile string   `json:"scheduler_file,omitempty"`
	History       []Record `json:"history"`
	Written       string   `json:"written"`
}

func (st *state) result(r *Result) *Result {
	r.History = append([]Record(nil), st.History...)
	r.BestEpoch = st.BestEpoch
	r.BestValue = math.NaN()
	if st.BestValue != nil {
		r.BestValue = *st.BestValue
	}
	return r
}

// Checkpoint summarises a checkpoint on disk (see [ReadCheckpoint]).
type Checkpoint struct {
	Dir       string   // the checkpoint folder
	Seed      uint64   // the run's seed
	Epoch     int      // the epoch a resumed run starts with
	Step      int      // steps of Epoch already done
	BestEpoch int      // epoch of the best model so far (0 if none)
	History   []Record // finished epochs
}

// ReadCheckpoint reads the state of the checkpoint in the run folder dir. The error wraps
// fs.ErrNotExist when there is none.
func ReadCheckpoint(dir string) (*Checkpoint, error) {
	st, cdir, err := readState(dir)
	if err != nil {
		return nil, err
	}
	return &Checkpoint{Dir: cdir, Seed: st.Seed, Epoch: st.Epoch, Step: st.Step, BestEpoch: st.BestEpoch, History: st.History}, nil
}

func checkpointDir(dir string) string { return filepath.Join(dir, CheckpointDir) }

func joinPath(dir, name string) string { return filepath.Join(dir, name) }

// readState finds the checkpoint of run folder dir: Dir/checkpoint, or Dir/checkpoint.old if a
// crash happened in the middle of swapping them.
func readState(dir string) (*state, string, error) {
	var firstErr error
	for _, cdir := range []string{checkpointDir(dir), checkpointDir(dir) + ".old"} {
		b, err := os.ReadFile(filepath.Join(cdir, StateFile))
		if err != nil {
			if firstErr == nil {
				firstErr = err
			}
			continue
		}
		var st state
		if err := json.Unmarshal(b, &st); err != nil {
			return nil, "", fmt.Errorf("loop: checkpoint %s: %w", cdir, err)
		}
		if st.Version != stateVersion {
			return nil, "", fmt.Errorf("loop: checkpoint %s: version %d, want %d", cdir, st.Version, stateVersion)
		}
		return &st, cdir, nil
	}
	if errors.Is(firstErr, fs.ErrNotExist) {
		return nil, "", fmt.Errorf("loop: no checkpoint in %s: %w", dir, fs.ErrNotExist)
	}
	return nil, "", fmt.Errorf("loop: read checkpoint: %w", firstErr)
}

// resume loads the checkpoint of cfg.Dir into cfg.Model, cfg.Optimizer and cfg.Scheduler.
func resume[B any](cfg Config[B]) (*state, error) {
	st, cdir, err := readState(cfg.Dir)
	if err != nil {
		return nil, err
	}
	if st.Seed != cfg.Seed {
		return nil, fmt.Errorf("loop: checkpoint %s was written with seed %d, not %d", cdir, st.Seed, cfg.Seed)
	}
	if st.Monitor != cfg.Monitor {
		return nil, fmt.Errorf("loop: checkpoint %s monitors %q, not %q", cdir, st.Monitor, cfg.Monitor)
	}
	if err := cfg.Model.Load(filepath.Join(cdir, st.ModelFile)); err != nil {
		return nil, fmt.Errorf("loop: resume: load model: %w", err)
	}
	if cfg.Optimizer != nil && st.OptimizerFile != "" {
		if err := cfg.Optimizer.Load(filepath.Join(cdir, st.OptimizerFile)); err != nil {
			return nil, fmt.Errorf("loop: resume: load optimizer: %w", err)
		}
	}
	if cfg.Scheduler != nil {
		if st.SchedulerFile == "" {
			return nil, fmt.Errorf("loop: resume: checkpoint %s holds no learning-rate schedule", cdir)
		}
		if err := cfg.Scheduler.Load(filepath.Join(cdir, st.SchedulerFile)); err != nil {
			return nil, fmt.Errorf("loop: resume: load scheduler: %w", err)
		}
	}
	return st, nil
}

// writeCheckpoint writes st with the current model, optimizer and schedule into a fresh folder
// and swaps it in: Dir/checkpoint -> Dir/checkpoint.old, new -> Dir/checkpoint, remove the old
// one.
func writeCheckpoint[B any](cfg *Config[B], st *state) (err error) {
	if err := os.MkdirAll(cfg.Dir, 0o755); err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	tmp, err := os.MkdirTemp(cfg.Dir, "."+CheckpointDir+".tmp-*")
	if err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	defer func() {
		if err != nil {
			_ = os.RemoveAll(tmp)
		}
	}()
	st.ModelFile = cfg.ModelFile
	if err := saveSynced(cfg.Model, filepath.Join(tmp, cfg.ModelFile)); err != nil {
		return fmt.Errorf("checkpoint: save model: %w", err)
	}
	st.OptimizerFile = ""
	if cfg.Optimizer != nil {
		st.OptimizerFile = cfg.OptimizerFile
		if err := saveSynced(cfg.Optimizer, filepath.Join(tmp, cfg.OptimizerFile)); err != nil {
			return fmt.Errorf("checkpoint: save optimizer: %w", err)
		}
	}
	st.SchedulerFile = ""
	if cfg.Scheduler != nil {
		st.SchedulerFile = cfg.SchedulerFile
		if err := saveSynced(cfg.Scheduler, filepath.Join(tmp, cfg.SchedulerFile)); err != nil {
			return fmt.Errorf("checkpoint: save scheduler: %w", err)
		}
	}
	st.Written = time.Now().UTC().Format(time.RFC3339)
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return fmt.Errorf("checkpoint: encode state: %w", err)
	}
	if err := runlog.AtomicWriteFile(filepath.Join(tmp, StateFile), func(w io.Writer) error {
		_, err := w.Write(append(b, '\n'))
		return err
	}); err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	final, old := checkpointDir(cfg.Dir), checkpointDir(cfg.Dir)+".old"
	_ = os.RemoveAll(old)
	if _, err := os.Stat(final); err == nil {
		if err := os.Rename(final, old); err != nil {
			return fmt.Errorf("checkpoint: %w", err)
		}
	}
	if err := os.Rename(tmp, final); err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	syncDir(cfg.Dir)
	_ = os.RemoveAll(old)
	return nil
}

// saveSynced saves p to path and flushes the file to disk.
func saveSynced(p Persister, path string) error {
	if err := p.Save(path); err != nil {
		return err
	}
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	serr := f.Sync()
	cerr := f.Close()
	return errors.Join(serr, cerr)
}

// saveAtomic saves p to a temporary file next to path and renames it over path.
func saveAtomic(p Persister, path string) error {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	f, err := os.CreateTemp(dir, "."+base+".tmp-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	_ = f.Close()
	// Keep the extension: some writers choose the format from it.
	tmpExt := tmp + filepath.Ext(base)
	defer os.Remove(tmp)
	defer os.Remove(tmpExt)
	if err := saveSynced(p, tmpExt); err != nil {
		return err
	}
	if err := os.Rename(tmpExt, path); err != nil {
		return err
	}
	syncDir(dir)
	return nil
}

func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		_ = d.Close()
	}
}

// rewriteMetrics replaces Dir/metrics.jsonl by the records of history (empty for a fresh run),
// so that a resumed run's file has exactly one line per finished epoch.
func rewriteMetrics(dir string, history []Record) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("loop: %w", err)
	}
	var sb strings.Builder
	for _, r := range history {
		b, err := json.Marshal(r)
		if err != nil {
			return fmt.Errorf("loop: encode epoch %d: %w", r.Epoch, err)
		}
		sb.Write(b)
		sb.WriteByte('\n')
	}
	if err := runlog.AtomicWriteFile(filepath.Join(dir, runlog.MetricsFile), func(w io.Writer) error {
		_, err := io.WriteString(w, sb.String())
		return err
	}); err != nil {
		return fmt.Errorf("loop: %w", err)
	}
	return nil
}
