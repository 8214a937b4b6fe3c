package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"

	"github.com/seqtorch/seqtorch/data"
	"github.com/seqtorch/seqtorch/models/siamese"
	"github.com/seqtorch/seqtorch/torch/nn"
	"github.com/seqtorch/seqtorch/train/runlog"
)

// Files of a run folder besides the loop's.
const (
	modelFile  = "model.safetensors" // the best model's state dict (PyTorch names)
	vocabFile  = "vocab.txt"
	configFile = "config.json"
)

// modelConfig is config.json: everything needed to rebuild the model and read its scores.
type modelConfig struct {
	VocabSize     int    `json:"vocab_size"`
	EmbedDim      int    `json:"embed_dim"`
	Hidden        []int  `json:"hidden"`
	Bidirectional bool   `json:"bidirectional"`
	Pooling       string `json:"pooling"`
	// Scale is the malstm score's distance scale (siamese.ParseScale; "" is "one").
	Scale     string  `json:"scale,omitempty"`
	Loss      string  `json:"loss"`
	Margin    float64 `json:"margin"`
	Threshold float64 `json:"threshold"`
	// Calibration maps the head's similarity s to relatedness a + b·s (clipped to [1, 5]).
	CalibA float64 `json:"calibration_a"`
	CalibB float64 `json:"calibration_b"`
	// SimilarityHidden is the tai head's hidden size (0 for the other losses).
	SimilarityHidden int    `json:"similarity_hidden,omitempty"`
	Vectors          string `json:"vectors"`
	Tokenizer        string `json:"tokenizer"`
}

func (c modelConfig) siamese() (siamese.Config, error) {
	pool, err := siamese.ParsePooling(c.Pooling)
	if err != nil {
		return siamese.Config{}, err
	}
	scale, err := siamese.ParseScale(c.Scale)
	if err != nil {
		return siamese.Config{}, err
	}
	return siamese.Config{VocabSize: c.VocabSize, EmbedDim: c.EmbedDim, Hidden: c.Hidden,
		Bidirectional: c.Bidirectional, Pooling: pool, PaddingIdx: data.PadID, SimilarityHidden: c.SimilarityHidden, Scale: scale}, nil
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

// readConfig reads config.json.
func readConfig(path string) (modelConfig, error) {
	var c modelConfig
	b, err := os.ReadFile(path)
	if err != nil {
		return c, err
	}
	if err := json.Unmarshal(b, &c); err != nil {
		return c, fmt.Errorf("%s: %w", path, err)
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
