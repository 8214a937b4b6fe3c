package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/seqtorch/seqtorch/data"
	"github.com/seqtorch/seqtorch/models/smsrnn"
	"github.com/seqtorch/seqtorch/torch"
	"github.com/seqtorch/seqtorch/train/curves"
	"github.com/seqtorch/seqtorch/train/loop"
	"github.com/seqtorch/seqtorch/train/metrics"
	"github.com/seqtorch/seqtorch/train/runlog"
)

// configFile is config.json of a run folder: everything predict and --resume need.
type configFile struct {
	Kind      string        `json:"kind"` // smsrnn.Kind
	Model     smsrnn.Config `json:"model"`
	Options   Options       `json:"options"`
	Vocab     string        `json:"vocab"`     // file name in the run folder
	Weights   string        `json:"weights"`   // file name in the run folder
	Tokenizer any           `json:"tokenizer"` // for the record
	Torch     string        `json:"libtorch"`
}

const (
	configName  = "config.json"
	vocabName   = "vocab.txt"
	weightsName = "model.safetensors"
	summaryName = "summary.json"
	curvesName  = "curves.png"
)

// readConfig reads config.json of a run folder and checks that it is an SMS model's.
func readConfig(dir string) (*configFile, error) {
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		return nil, fmt.Errorf("model folder %s does not exist", dir)
	}
	b, err := os.ReadFile(filepath.Join(dir, configName))
	if err != nil {
		return nil, fmt.Errorf("%s is not a model folder: %w", dir, err)
	}
	var probe struct {
		Kind string `json:"kind"`
	}
	if err := json.Unmarshal(b, &probe); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(dir, configName), err)
	}
	if probe.Kind != smsrnn.Kind {
		k := probe.Kind
		if k == "" {
			k = "unknown"
		}
		return nil, fmt.Errorf("model folder %s holds a %q model, not an SMS classifier (%s)", dir, k, smsrnn.Kind)
	}
	var c configFile
	if err := json.Unmarshal(b, &c); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(dir, configName), err)
	}
	if err := c.Model.Validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(dir, configName), err)
	}
	return &c, nil
}

// Summary is summary.json: the test metrics of the best-validation model and the run's facts.
// The keys cell, params, test_accuracy, test_f1_spam, test_mcc, epochs, seconds_per_epoch and
// device are the stable interface (--json).
type Summary struct {
	Cell            string `json:"cell"`
	Params          int64  `json:"params"`
	TrainableParams int64  `json:"trainable_params"`
	TestMetrics
	Epochs          int           `json:"epochs"`
	BestEpoch       int           `json:"best_epoch"`
	Monitor         string        `json:"monitor"`
	BestValue       float64       `json:"best_value"`
	SecondsPerEpoch float64       `json:"seconds_per_epoch"` // mean training time per epoch
	Device          string        `json:"device"`
	Threads         int           `json:"threads"`
	WorldSize       int           `json:"world_size"` // data-parallel processes (1: none)
	Seed            uint64        `json:"seed"`
	VocabSize       int           `json:"vocab_size"`
	TrainSize       int           `json:"train_size"`
	ValSize         int           `json:"val_size"`
	TestSize        int           `json:"test_size"`
	Model           smsrnn.Config `json:"model"`
	Libtorch        string        `json:"libtorch"`
	Interrupted     bool          `json:"interrupted,omitempty"`
	// WeightsSHA256 is the SHA-256 of model.safetensors, checked when the model is loaded.
	WeightsSHA256 string `json:"weights_sha256,omitempty"`
}

// TestMetrics are a classifier's metrics on the test part: summary.json's test_* keys, of one
// model (Summary) or of an ensemble (EnsembleSummary).
type TestMetrics struct {
	TestAccuracy      float64 `json:"test_accuracy"`
	TestPrecisionSpam float64 `json:"test_precision_spam"`
	TestRecallSpam    float64 `json:"test_recall_spam"`
	TestF1Spam        float64 `json:"test_f1_spam"`
	TestMCC           float64 `json:"test_mcc"`
	TestLoss          float64 `json:"test_loss"`
	TestConfusion     [][]int `json:"test_confusion"` // [true][predicted], ham=0, spam=1
}

// testMetrics returns the metrics of a confusion matrix and a loss (spam is the positive
// class; undefined precision, recall or F1 are 0).
func testMetrics(conf *metrics.Confusion, loss float64) TestMetrics {
	p, r, f1, _ := conf.PRF(data.Spam)
	return TestMetrics{TestAccuracy: conf.Accuracy(), TestPrecisionSpam: p, TestRecallSpam: r, TestF1Spam: f1,
		TestMCC: conf.MCC(), TestLoss: loss, TestConfusion: conf.Counts}
}

// writeRunFiles writes config.json and vocab.txt.
func writeRunFiles(rl *runlog.Run, o *Options, ds *dataset) error {
	c := configFile{Kind: smsrnn.Kind, Model: o.Model, Options: *o, Vocab: vocabName, Weights: weightsName,
		Tokenizer: ds.tok, Torch: torch.Version()}
	if err := rl.WriteJSON(configName, c); err != nil {
		return err
	}
	return ds.vocab.Save(rl.Path(vocabName))
}

// writeResults writes summary.json and curves.png.
func writeResults(rl *runlog.Run, o *Options, sum *Summary, hist []loop.Record) error {
	if err := rl.WriteJSON(summaryName, sum); err != nil {
		return err
	}
	var tl, vl, ta, va []float64
	for _, r := range hist {
		tl, ta = append(tl, r.TrainLoss), append(ta, r.TrainAccuracy)
		vl, va = append(vl, r.Val["val_loss"]), append(va, r.Val["val_accuracy"])
	}
	title := fmt.Sprintf("SMS %s", strings.ToUpper(o.Model.Cell))
	return curves.Curves(rl.Path(curvesName), title, curves.LossAccuracy(tl, vl, ta, va)...)
}

func meanTrainSeconds(h []loop.Record) float64 {
	if len(h) == 0 {
		return 0
	}
	var s float64
	for _, r := range h {
		s += r.TrainSeconds
	}
	return s / float64(len(h))
}
