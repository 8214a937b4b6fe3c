package main

import (
	"fmt"
	"io"
	"runtime"
	"time"

	"github.com/seqtorch/seqtorch/data"
	"github.com/seqtorch/seqtorch/train/cli"
)

// ensembleScores are a scorer's metrics on SICK's TRIAL and TEST pairs (see evaluateScorer).
type ensembleScores struct {
	Models    int    `json:"models"`
	TestPairs int    `json:"test_pairs"`
	Trial     scores `json:"trial"`
	Test      scores `json:"test"`
	// MSPerKPair is the inference time per 1,000 TEST pairs in milliseconds (batches of
	// evalBatch, all models of the scorer), on this process's device and threads.
	MSPerKPair float64 `json:"ms_per_1000_pairs"`
}

// runEvaluate is `siamese evaluate --model DIR[,DIR...]`: the TRIAL and TEST metrics of a
// trained model, or of an ensemble of several (the mean of their calibrated relatedness).
func runEvaluate(args []string, stdout, stderr io.Writer) error {
	fs := cli.NewFlagSet("siamese evaluate", "usage: go run ./train/siamese evaluate --model DIR[,DIR...] [flags]", stderr)
	dirs := fs.String("model", "runs/siamese", modelHelp)
	sick := fs.String("sick", "", "SICK.txt (default: the data catalog's copy)")
	device := fs.String("device", "auto", "device: auto, cpu, cuda or cuda:N")
	var rf cli.RunFlags
	fs.StringVar(&rf.JSON, "json", "", "also write the metrics as JSON to this file (- for standard output, the line then going to standard error)")
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	sickFile, err := sickPath(*sick)
	if err != nil {
		return err
	}
	pairs, err := data.LoadSICK(sickFile)
	if err != nil {
		return err
	}
	_, trial, test := data.SplitSICK(pairs)
	if len(trial) == 0 || len(test) == 0 {
		return fmt.Errorf("%s: want TRIAL and TEST pairs, got %d and %d", sickFile, len(trial), len(test))
	}
	sc, err := loadScorer(*dirs, "", *device)
	if err != nil {
		return err
	}
	defer sc.close()
	es, err := evaluateScorer(sc, trial, test)
	if err != nil {
		return err
	}
	out := stdout
	if rf.JSON == "-" {
		out = stderr
	}
	fmt.Fprintf(out, "%d model(s) | TRIAL pearson %.4f spearman %.4f mse %.4f | TEST pearson %.4f spearman %.4f mse %.4f acc %.4f | %.0f ms per 1,000 pairs\n",
		es.Models, es.Trial.Pearson, es.Trial.Spearman, es.Trial.MSE, es.Test.Pearson, es.Test.Spearman, es.Test.MSE, es.Test.Accuracy, es.MSPerKPair)
	return rf.WriteJSON(stdout, es)
}

// evaluateScorer scores the TRIAL and TEST pairs with sc's vocabulary (unknown words are
// <unk>) and calibration.
func evaluateScorer(sc *scorer, trial, test []data.Pair) (ensembleScores, error) {
	es := ensembleScores{Models: len(sc.members)}
	for i, set := range [][]data.Pair{trial, test} {
		ex := data.EncodePairs(set, sc.tok, sc.vocab)
		start := time.Now()
		pred := make([]float64, 0, len(ex))
		for lo := 0; lo < len(ex); lo += evalBatch {
			rel, err := sc.relatedness(ex[lo:min(lo+evalBatch, len(ex))])
			if err != nil {
				return es, err
			}
			pred = append(pred, rel...)
		}
		took := time.Since(start)
		s, err := score(pred, goldScores(ex), 0, sc.threshold)
		if err != nil {
			return es, err
		}
		if i == 0 {
			es.Trial = s
		} else {
			es.Test, es.TestPairs = s, len(ex)
			es.MSPerKPair = took.Seconds() * 1000 / float64(len(ex)) * 1000
		}
	}
	return es, nil
}
