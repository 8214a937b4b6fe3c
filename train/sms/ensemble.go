package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/seqtorch/seqtorch/data"
	"github.com/seqtorch/seqtorch/models/smsrnn"
	"github.com/seqtorch/seqtorch/train/cli"
	"github.com/seqtorch/seqtorch/train/runlog"
	"github.com/seqtorch/seqtorch/train/serve"
)

// modelHelp is --model's help text where an ensemble is accepted.
const modelHelp = "run folder of a trained model, or several separated by commas (an ensemble: their P(spam) is averaged), or the folder of an ensemble preset (--preset best)"

// ensemble is one trained classifier or several whose P(spam) is averaged. Each member keeps
// its own tokenizer and vocabulary, so a word model and a character model can be members.
type ensemble struct {
	members []*classifier
	dirs    []string
}

// modelDirs expands --model: a run folder, or a comma-separated list of them, where a folder
// holding ensemble.json (cli.EnsembleFile) stands for its members. A folder named twice is
// refused (it would weigh twice).
func modelDirs(spec string) ([]string, error) {
	list := strings.Split(spec, ",")
	if fi, err := os.Stat(spec); err == nil && fi.IsDir() {
		list = []string{spec} // a folder whose name has a comma
	}
	var dirs []string
	seen := map[string]bool{}
	for _, d := range list {
		d = strings.TrimSpace(d)
		if d == "" {
			return nil, cli.Usagef("--model %q: an empty folder name in the list", spec)
		}
		members, ok, err := cli.EnsembleMembers(d)
		if err != nil {
			return nil, err
		}
		if !ok {
			members = []string{d}
		}
		for _, m := range members {
			if seen[filepath.Clean(m)] {
				return nil, cli.Usagef("--model %q: %s is named twice", spec, m)
			}
			seen[filepath.Clean(m)] = true
			dirs = append(dirs, m)
		}
	}
	return dirs, nil
}

// loadEnsemble loads the classifiers of the run folders dirs onto device.
func loadEnsemble(dirs []string, device string) (*ensemble, error) {
	e := &ensemble{dirs: dirs}
	for _, d := range dirs {
		c, err := loadClassifier(d, device)
		if err != nil {
			e.close()
			return nil, err
		}
		e.members = append(e.members, c)
	}
	return e, nil
}

// openEnsemble pins this goroutine to its OS thread with mf's libtorch threads (see
// serve.PinModelThread) and loads the models --model names; done closes them and unpins.
func openEnsemble(mf *cli.ModelFlags) (e *ensemble, done func(), err error) {
	unpin, err := serve.PinModelThread(mf.Threads)
	if err != nil {
		return nil, nil, err
	}
	dirs, err := modelDirs(mf.Model)
	if err == nil {
		e, err = loadEnsemble(dirs, mf.Device)
	}
	if err != nil {
		unpin()
		return nil, nil, err
	}
	return e, func() { e.close(); unpin() }, nil
}

func (e *ensemble) close() {
	for _, c := range e.members {
		c.close()
	}
}

// average returns the mean over the members of probs(member), message by message.
func (e *ensemble) average(probs func(c *classifier) ([]float64, error)) ([]float64, error) {
	var mean []float64
	for _, c := range e.members {
		p, err := probs(c)
		if err != nil {
			return nil, err
		}
		if mean == nil {
			mean = make([]float64, len(p))
		}
		for i := range p {
			mean[i] += p[i] / float64(len(e.members))
		}
	}
	return mean, nil
}

// spamProbability returns the members' mean P(spam) of each message.
func (e *ensemble) spamProbability(msgs []string) ([]float64, error) {
	return e.average(func(c *classifier) ([]float64, error) { return c.spamProbability(msgs) })
}

// encodeIDs returns msg's token ids for each member (pure Go, as classifier.encodeIDs).
func (e *ensemble) encodeIDs(msg string) [][]int64 {
	ids := make([][]int64, len(e.members))
	for k, c := range e.members {
		ids[k] = c.encodeIDs(msg)
	}
	return ids
}

// probabilities is the serving forward pass of the ensemble: rows[i][k] are message i's ids
// for member k; it returns the members' mean P(spam) per message.
func (e *ensemble) probabilities(rows [][][]int64) ([]float64, error) {
	k := 0 // the member being run
	return e.average(func(c *classifier) ([]float64, error) {
		ids := make([][]int64, len(rows))
		for i := range rows {
			ids[i] = rows[i][k]
		}
		k++
		return c.probabilities(ids)
	})
}

// EnsembleSummary is summary.json of an ensemble (--preset best, or `evaluate --json`): the
// validation and test metrics of the members' mean P(spam). test_accuracy, test_f1_spam,
// test_mcc and params are as in Summary.
type EnsembleSummary struct {
	Members []string `json:"members"` // run folders
	Params  int64    `json:"params"`  // all members together
	TestMetrics
	ValAccuracy   float64   `json:"val_accuracy"`
	ValF1Spam     float64   `json:"val_f1_spam"`
	ValLoss       float64   `json:"val_loss"`
	MemberTestAcc []float64 `json:"member_test_accuracy"`
	// MSPerK is the inference time per 1,000 test messages in milliseconds (batches of 256,
	// all members, on this process's device and threads); MemberMSPerK each member's.
	MSPerK       float64   `json:"ms_per_1000_messages"`
	MemberMSPerK []float64 `json:"member_ms_per_1000_messages"`
	Seed         uint64    `json:"seed"` // the first member's
	ValSize      int       `json:"val_size"`
	TestSize     int       `json:"test_size"`
}

// scoreProbs measures probabilities against labels at the threshold 0.5; the loss is the mean
// negative log-likelihood (probabilities clamped to [1e-7, 1 - 1e-7]).
func scoreProbs(probs []float64, labels []int) (TestMetrics, error) {
	loss := 0.0
	for i, p := range probs {
		q := min(max(p, 1e-7), 1-1e-7)
		if labels[i] != data.Spam {
			q = 1 - q
		}
		loss -= math.Log(q) / float64(len(probs))
	}
	conf, err := confusion(probs, labels)
	if err != nil {
		return TestMetrics{}, err
	}
	return testMetrics(conf, loss), nil
}

// scoreEnsemble measures e on the validation and test parts of its members' split, which must
// be the same data file and split seed for every member.
func scoreEnsemble(e *ensemble) (*EnsembleSummary, error) {
	first := e.members[0].opts
	split, path, err := loadSplit(first.Data, first.SplitSeed)
	if err != nil {
		return nil, err
	}
	for k, c := range e.members[1:] {
		p, err := smsPath(c.opts.Data)
		if err != nil {
			return nil, err
		}
		if !samePath(p, path) || c.opts.SplitSeed != first.SplitSeed {
			return nil, fmt.Errorf("--model: %s and %s were trained on different data or splits (--data %s and %s, --split-seed %d and %d)",
				e.dirs[0], e.dirs[k+1], path, p, first.SplitSeed, c.opts.SplitSeed)
		}
	}
	s := &EnsembleSummary{Members: e.dirs, Seed: first.Seed, ValSize: len(split.Val), TestSize: len(split.Test)}
	var parts [2]TestMetrics
	for i, part := range [][]data.SMS{split.Val, split.Test} {
		texts, labels := make([]string, len(part)), make([]int, len(part))
		for j, m := range part {
			texts[j], labels[j] = m.Text, m.Label
		}
		probs, err := e.average(func(c *classifier) ([]float64, error) {
			t0 := time.Now()
			p, err := c.spamProbability(texts)
			if err == nil && i == 1 {
				ms := float64(time.Since(t0).Microseconds()) / float64(len(texts))
				m, err := scoreProbs(p, labels)
				if err != nil {
					return nil, err
				}
				s.MemberTestAcc = append(s.MemberTestAcc, m.TestAccuracy)
				s.MemberMSPerK = append(s.MemberMSPerK, ms)
				s.MSPerK += ms
			}
			return p, err
		})
		if err != nil {
			return nil, err
		}
		if parts[i], err = scoreProbs(probs, labels); err != nil {
			return nil, err
		}
	}
	for _, c := range e.members {
		s.Params += smsrnn.NumParams(c.model.Config)
	}
	s.TestMetrics = parts[1]
	s.ValAccuracy, s.ValF1Spam, s.ValLoss = parts[0].TestAccuracy, parts[0].TestF1Spam, parts[0].TestLoss
	return s, nil
}

// samePath tells whether a and b name the same file (as absolute, cleaned paths).
func samePath(a, b string) bool {
	a, errA := filepath.Abs(a)
	b, errB := filepath.Abs(b)
	return errA == nil && errB == nil && a == b
}

// printEnsemble writes the one-line report of an ensemble's metrics.
func printEnsemble(w io.Writer, s *EnsembleSummary) {
	fmt.Fprintf(w, "%d model(s) | validation accuracy %.4f spam F1 %.4f loss %.4f | test accuracy %.4f, spam precision %.4f recall %.4f F1 %.4f, MCC %.4f\n",
		len(s.Members), s.ValAccuracy, s.ValF1Spam, s.ValLoss, s.TestAccuracy, s.TestPrecisionSpam, s.TestRecallSpam, s.TestF1Spam, s.TestMCC)
	fmt.Fprintf(w, "confusion (rows true, columns predicted): ham %v spam %v | %.0f ms per 1,000 messages\n", s.TestConfusion[0], s.TestConfusion[1], s.MSPerK)
}

// trainPresetEnsemble trains the members of cl's ensemble preset (--preset best) into
// --out/<member>, one after the other, each as trainRun trains a run (a member whose folder
// holds a run trained with the same flags is continued), then measures their mean P(spam)
// (measureEnsemble). Every member's options are checked before the first trains.
func trainPresetEnsemble(ctx context.Context, cl *cli.CommandLine[Options], stdout, stderr io.Writer) error {
	ens, err := cli.OpenEnsemble(cl, cl.Config.Out, func(m *cli.CommandLine[Options]) error {
		_, err := trainOptions(m)
		return err
	}, runFiles)
	if err != nil {
		return err
	}
	defer ens.Close()
	log := cl.Run.Log(stdout, stderr)
	for i, m := range ens.Members {
		ens.Announce(log, i)
		if err := trainRun(ctx, m, log, stderr); err != nil {
			return err
		}
	}
	sum, err := measureEnsemble(ens.Out, ens.Dirs, log)
	if err != nil {
		return fmt.Errorf("--preset %s: %w", cl.Preset, err)
	}
	return cl.Run.WriteJSON(stdout, sum)
}

// measureEnsemble writes the summary.json of the ensemble of the run folders dirs into out
// (members named relative to out, as in ensemble.json) and prints its metrics to log.
func measureEnsemble(out string, dirs []string, log io.Writer) (*EnsembleSummary, error) {
	c, err := readConfig(dirs[0])
	if err != nil {
		return nil, err
	}
	e, err := loadEnsemble(dirs, c.Options.Device) // the members' --device
	if err != nil {
		return nil, err
	}
	defer e.close()
	s, err := scoreEnsemble(e)
	if err != nil {
		return nil, err
	}
	for i, d := range dirs {
		if s.Members[i], err = filepath.Rel(out, d); err != nil {
			return nil, err
		}
	}
	err = runlog.AtomicWriteFile(filepath.Join(out, summaryName), func(w io.Writer) error {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(s)
	})
	if err != nil {
		return nil, err
	}
	fmt.Fprint(log, "ensemble: ")
	printEnsemble(log, s)
	fmt.Fprintf(log, "wrote %s\n", out)
	return s, nil
}

// runEvaluate is `sms evaluate --model DIR[,DIR...]`: the validation and test metrics of a
// trained model or of an ensemble, on the split the models were trained on.
func runEvaluate(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := cli.NewFlagSet("sms evaluate", "usage: go run ./train/sms evaluate --model DIR[,DIR...] [--json FILE]\n"+
		"The validation and test metrics of a model, or of several averaged (an ensemble), on their split.", stderr)
	mf := cli.ModelFlags{Help: modelHelp}
	mf.Register(fs, "")
	var rf cli.RunFlags
	fs.StringVar(&rf.JSON, "json", "", "also write the metrics as JSON to this file (- for standard output, the line then going to standard error)")
	if err := cli.ParseArgs(fs, args); err != nil {
		return err
	}
	if err := mf.Check("evaluate"); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return cli.Usagef("evaluate: unexpected arguments %q", fs.Args())
	}
	e, done, err := openEnsemble(&mf)
	if err != nil {
		return err
	}
	defer done()
	s, err := scoreEnsemble(e)
	if err != nil {
		return err
	}
	printEnsemble(rf.Log(stdout, stderr), s)
	return rf.WriteJSON(stdout, s)
}
