package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"

	"github.com/seqtorch/seqtorch/data"
	"github.com/seqtorch/seqtorch/models/siamese"
	"github.com/seqtorch/seqtorch/torch/nn"
	"github.com/seqtorch/seqtorch/train/cli"
	"github.com/seqtorch/seqtorch/train/curves"
	"github.com/seqtorch/seqtorch/train/loop"
	"github.com/seqtorch/seqtorch/train/runlog"
)

// Files of a run folder besides the loop's.
const (
	modelFile  = "model.safetensors" // the best model's state dict (PyTorch names)
	bestFile   = "best.safetensors"  // the same, kept by the loop while training
	vocabFile  = "vocab.txt"
	configFile = cli.ConfigFile
)

// kind names this command's models in config.json (train/sms writes "smsrnn").
const kind = "siamese"

// modelConfig is config.json: everything needed to rebuild the model and read its scores, and
// the training settings.
type modelConfig struct {
	// Kind is "siamese" (empty in runs written before it was recorded).
	Kind          string  `json:"kind,omitempty"`
	Vocab         int64   `json:"vocab_size"`
	Embed         int64   `json:"embed_dim"`
	Hidden        []int64 `json:"hidden"`
	Bidirectional bool    `json:"bidirectional"`
	Pooling       string  `json:"pooling"`
	// Scale is the malstm score's distance scale (siamese.ParseScale; "" is "one").
	Scale     string  `json:"scale,omitempty"`
	Loss      string  `json:"loss"`
	Margin    float64 `json:"margin"`
	Threshold float64 `json:"threshold"`
	// Calibration maps the head's similarity s to relatedness a + b·s (clipped to [1, 5]).
	CalibA float64 `json:"calibration_a"`
	CalibB float64 `json:"calibration_b"`
	// SimilarityHidden is the tai head's hidden size (0 for the other losses).
	SimilarityHidden int64 `json:"similarity_hidden,omitempty"`
	// Entailment says the tai head has an entailment classifier (similarity.we).
	Entailment bool   `json:"entailment,omitempty"`
	Vectors    string `json:"vectors"`
	Tokenizer  string `json:"tokenizer"`
	// Options are the training settings, which --resume restores (nil in runs written
	// before they were saved).
	Options *options `json:"options,omitempty"`
}

func (c modelConfig) siamese() (siamese.Config, error) {
	return siamese.Config{Vocab: c.Vocab, Embed: c.Embed, Hidden: c.Hidden,
		Bidirectional: c.Bidirectional, PaddingIdx: data.PadID, SimilarityHidden: c.SimilarityHidden, Entailment: c.Entailment}.WithNames(c.Pooling, c.Scale)
}

// saveParams writes the model's state dict to path (safetensors).
func saveParams(m *siamese.Model, path string) error {
	if err := nn.SaveSafetensors(path, m, map[string]string{"format": "pt"}); err != nil {
		return fmt.Errorf("save model: %w", err)
	}
	return nil
}

// loadParams reads a safetensors state dict written by saveParams into m.
func loadParams(m *siamese.Model, path string) error {
	names, ts, _, err := nn.ReadSafetensors(path)
	if err != nil {
		return fmt.Errorf("load model: %w", err)
	}
	defer func() {
		for _, t := range ts {
			t.Close()
		}
	}()
	if err := nn.LoadStateDict(m, names, ts); err != nil {
		return fmt.Errorf("load model %s: %w", path, err)
	}
	return nil
}

// writeConfig writes config.json atomically.
func writeConfig(path string, c modelConfig) error {
	b, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return err
	}
	return runlog.AtomicWriteFile(path, func(w io.Writer) error {
		_, err := w.Write(append(b, '\n'))
		return err
	})
}

// readConfig reads config.json and checks that it is a Siamese model's.
func readConfig(path string) (modelConfig, error) {
	var c modelConfig
	b, err := os.ReadFile(path)
	if err != nil {
		return c, err
	}
	if err := json.Unmarshal(b, &c); err != nil {
		return c, fmt.Errorf("%s: %w", path, err)
	}
	if c.Kind != "" && c.Kind != kind {
		return c, fmt.Errorf("%s is a %q model's, not a Siamese model's (%s)", path, c.Kind, kind)
	}
	return c, nil
}

// copyFile copies src to dst atomically.
func copyFile(dst, src string) error {
	f, err := os.Open(src)
	if err != nil {
		return err
	}
	defer f.Close()
	return runlog.AtomicWriteFile(dst, func(w io.Writer) error {
		_, err := io.Copy(w, f)
		return err
	})
}

// summary is summary.json and the --json output.
type summary struct {
	Loss             string  `json:"loss"`
	TestPearson      float64 `json:"test_pearson"`
	TestSpearman     float64 `json:"test_spearman"`
	TestMSE          float64 `json:"test_mse"`
	TestAccuracy     float64 `json:"test_accuracy"`
	TestLoss         float64 `json:"test_loss"`
	TrialPearson     float64 `json:"trial_pearson"`
	TrialSpearman    float64 `json:"trial_spearman"`
	TrialMSE         float64 `json:"trial_mse"`
	TrialAccuracy    float64 `json:"trial_accuracy"`
	ParamsTrainable  int64   `json:"params_trainable"`
	ParamsFrozen     int64   `json:"params_frozen"`
	ParamsTotal      int64   `json:"params_total"`
	TrainPairs       int     `json:"train_pairs"`
	AugmentedPairs   int     `json:"augmented_pairs"`
	AugmentDropped   int     `json:"augment_dropped"`
	TrialPairs       int     `json:"trial_pairs"`
	TestPairs        int     `json:"test_pairs"`
	VocabSize        int     `json:"vocab_size"`
	VocabWithVectors int     `json:"vocab_with_vectors"`
	Epochs           int     `json:"epochs"`
	BestEpoch        int     `json:"best_epoch"`
	SecondsPerEpoch  float64 `json:"seconds_per_epoch"`
	TSNESeconds      float64 `json:"tsne_seconds,omitempty"`
	TSNEPoints       int     `json:"tsne_points,omitempty"`
	tsneStats
	Device        string  `json:"device"`
	WorldSize     int     `json:"world_size"` // data-parallel processes (1: none)
	Seed          uint64  `json:"seed"`
	Augment       string  `json:"augment"`
	Optimizer     string  `json:"optimizer"`
	LR            float64 `json:"lr"`
	Hidden        []int64 `json:"hidden"`
	Bidirectional bool    `json:"bidirectional"`
	Pooling       string  `json:"pooling"`
	Scale         string  `json:"scale"`
	ScaleValue    float64 `json:"scale_value,omitempty"`
	LRDecay       float64 `json:"lr_decay"`
	WeightDecay   float64 `json:"weight_decay"`
	Rho           float64 `json:"rho,omitempty"`
	EmbedDropout  float64 `json:"embed_dropout"`
	FeatDropout   float64 `json:"feature_dropout"`
	TaiHidden     int64   `json:"tai_hidden,omitempty"`
	Entailment    float64 `json:"entailment,omitempty"`
	Clip          float64 `json:"clip"`
	Margin        float64 `json:"margin"`
	Threshold     float64 `json:"threshold"`
	CalibA        float64 `json:"calibration_a"`
	CalibB        float64 `json:"calibration_b"`
	Dir           string  `json:"dir"`
	// WeightsSHA256 is the SHA-256 of model.safetensors, checked when the model is loaded.
	WeightsSHA256 string `json:"weights_sha256,omitempty"`
}

// writeCurves draws the loss and TRIAL correlation curves.
func writeCurves(path, loss string, hist []loop.Record) error {
	var tl, vl, vp, vs []float64
	for _, r := range hist {
		tl = append(tl, r.TrainLoss)
		vl = append(vl, r.Val["val_loss"])
		vp = append(vp, r.Val["val_pearson"])
		vs = append(vs, r.Val["val_spearman"])
	}
	return curves.Curves(path, "siamese "+loss,
		curves.Series{Name: "train", Panel: "loss", Values: tl},
		curves.Series{Name: "trial", Panel: "loss", Values: vl},
		curves.Series{Name: "trial pearson", Panel: "correlation", Values: vp},
		curves.Series{Name: "trial spearman", Panel: "correlation", Values: vs})
}

// writeJSONFile writes v as indented JSON, atomically.
func writeJSONFile(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return runlog.AtomicWriteFile(path, func(w io.Writer) error {
		_, err := w.Write(append(b, '\n'))
		return err
	})
}
