// Package smsrun reads the run folders that `go run ./train/sms` writes, for the benchmark
// harness (scripts/bench): the trained classifier with its vocabulary and tokenizer, the warm
// single-message predict path, and the inputs of the run's first epoch (its initial weights and
// batches) for the PyTorch side. It rebuilds what training built from the run's config.json
// and vocab.txt; it knows the tokenizers of --tokens words (with or without --placeholders) and
// --tokens chars, not --caps, which the harness does not train.
package smsrun

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/seqtorch/seqtorch/data"
	"github.com/seqtorch/seqtorch/models/smsrnn"
	"github.com/seqtorch/seqtorch/torch"
	"github.com/seqtorch/seqtorch/torch/nn"
	"github.com/seqtorch/seqtorch/train/cli"
)

// Config is the part of a run folder's config.json that this package reads.
type Config struct {
	Kind    string        `json:"kind"`
	Model   smsrnn.Config `json:"model"` // Vocab filled in
	Options Options       `json:"options"`
	Vocab   string        `json:"vocab"`   // file name in the run folder
	Weights string        `json:"weights"` // file name in the run folder
}

// Options are the training settings of config.json's "options" that rebuild a run's data,
// batches and optimizer.
type Options struct {
	Data         string  `json:"data"` // SMS file ("" = the data catalog's copy)
	Batch        int     `json:"batch"`
	LR           float64 `json:"lr"`
	Optimizer    string  `json:"optimizer"`
	WeightDecay  float64 `json:"weight_decay"`
	Clip         float64 `json:"clip"`
	Seed         uint64  `json:"seed"`
	SplitSeed    uint64  `json:"split_seed"`
	Vectors      string  `json:"vectors"`
	Threads      int     `json:"threads"`
	MaxLen       int     `json:"max_len"`
	Placeholders bool    `json:"placeholders"`
	Caps         bool    `json:"caps"`
	Tokens       string  `json:"tokens"`
	WordDropout  float64 `json:"word_dropout"`
	ClassWeights string  `json:"class_weights"`
	Bucket       int     `json:"bucket"`
}

// ReadConfig reads dir/config.json and checks that it describes an SMS classifier.
func ReadConfig(dir string) (*Config, error) {
	path := filepath.Join(dir, cli.ConfigFile)
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%s is not an SMS run folder: %w", dir, err)
	}
	var c Config
	if err := json.Unmarshal(b, &c); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if c.Kind != smsrnn.Kind {
		return nil, fmt.Errorf("%s: kind %q, not an SMS classifier (%s)", path, c.Kind, smsrnn.Kind)
	}
	if err := c.Model.Validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &c, nil
}

// Split reads the SMS Spam Collection at path ("" = the data catalog's copy) and splits it
// 70/15/15 with seed, as every run of train/sms does (its --split-seed, 2024 by default).
func Split(path string, seed uint64) (data.SMSSplit, error) {
	if path == "" {
		dir, err := data.Ensure("sms_spam")
		if err != nil {
			return data.SMSSplit{}, err
		}
		path = filepath.Join(dir, "SMSSpamCollection")
	}
	msgs, err := data.LoadSMS(path)
	if err != nil {
		return data.SMSSplit{}, err
	}
	return data.SplitSMS(msgs, data.SplitOptions{Train: 0.7, Val: 0.15, Test: 0.15, Seed: seed})
}

// Split is the run's data split.
func (c *Config) Split() (data.SMSSplit, error) { return Split(c.Options.Data, c.Options.SplitSeed) }

// Tokenizer returns the run's tokenizer.
func (c *Config) Tokenizer() (data.Tokenizer, error) {
	switch o := c.Options; {
	case o.Caps:
		return nil, errors.New("smsrun: a run trained with --caps is not supported (its tokenizer is train/sms's own)")
	case o.Tokens == "chars":
		return data.CharTokenizer{}, nil
	case o.Tokens != "" && o.Tokens != "words":
		return nil, fmt.Errorf("smsrun: unknown tokens %q", o.Tokens)
	case o.Placeholders:
		return data.DefaultSMSTokenizer(), nil
	}
	return data.SMSTokenizer{}, nil
}

// Run is a run folder's configuration, vocabulary and tokenizer.
type Run struct {
	Dir    string
	Config *Config
	Vocab  *data.Vocab
	Tok    data.Tokenizer
}

// Open reads the configuration and vocabulary of the run folder dir.
func Open(dir string) (*Run, error) {
	c, err := ReadConfig(dir)
	if err != nil {
		return nil, err
	}
	tok, err := c.Tokenizer()
	if err != nil {
		return nil, err
	}
	path, err := cli.RunFile(dir, c.Vocab, "vocab")
	if err != nil {
		return nil, err
	}
	vocab, err := data.LoadVocab(path)
	if err != nil {
		return nil, err
	}
	if int64(vocab.Len()) != c.Model.Vocab {
		return nil, fmt.Errorf("run folder %s: vocabulary has %d entries, the model %d", dir, vocab.Len(), c.Model.Vocab)
	}
	return &Run{Dir: dir, Config: c, Vocab: vocab, Tok: tok}, nil
}

// Encode sets ids to msg's token ids as training encoded the run's messages (data.EncodeSMS,
// then --max-len; an empty message is one <unk>) and returns it.
func (r *Run) Encode(ids []int64, msg string) []int64 {
	ids = ids[:0]
	for _, t := range r.Tok.Tokenize(msg) {
		ids = append(ids, int64(r.Vocab.ID(t)))
	}
	if n := r.Config.Options.MaxLen; n > 0 && len(ids) > n {
		ids = ids[:n]
	}
	if len(ids) == 0 {
		ids = append(ids, data.UnkID)
	}
	return ids
}

// TrainExamples returns the training part of the run's split, encoded as training encoded it.
func (r *Run) TrainExamples() ([]data.Example, error) {
	split, err := r.Config.Split()
	if err != nil {
		return nil, err
	}
	ex := make([]data.Example, len(split.Train))
	for i, m := range split.Train {
		ex[i] = data.Example{IDs: r.Encode(nil, m.Text), Label: int64(m.Label)}
	}
	return ex, nil
}

// BatchOptions returns how training batched an epoch (without data parallelism): shuffled with
// --seed, --batch examples per batch, length-bucketed per --bucket.
func (r *Run) BatchOptions() data.BatchOptions {
	o := r.Config.Options
	return data.BatchOptions{Size: o.Batch, Shuffle: true, Seed: o.Seed, Bucket: o.Bucket}
}

// NewModel returns the run's model as training initialised it (seeded with --seed), on the
// CPU. Runs with --vectors are refused: their embeddings are loaded after the seeding.
func (r *Run) NewModel() (*smsrnn.Model, error) {
	if r.Config.Options.Vectors != "" {
		return nil, fmt.Errorf("run folder %s: trained with --vectors, whose initial embeddings this package does not load", r.Dir)
	}
	torch.ManualSeed(r.Config.Options.Seed)
	return r.model()
}

// LoadModel returns the run's trained model on the CPU in evaluation mode, its weights checked
// against summary.json's SHA-256.
func (r *Run) LoadModel() (*smsrnn.Model, error) {
	weights, err := cli.RunFile(r.Dir, r.Config.Weights, "weights")
	if err == nil {
		err = cli.VerifyWeights(r.Dir, weights)
	}
	if err != nil {
		return nil, err
	}
	m, err := r.model()
	if err != nil {
		return nil, err
	}
	if err := nn.LoadSafetensors(weights, m); err != nil {
		m.Close()
		return nil, fmt.Errorf("run folder %s: %w", r.Dir, err)
	}
	m.SetTraining(false)
	return m, nil
}

// model builds the run's model with its vocabulary's words (for subwords).
func (r *Run) model() (*smsrnn.Model, error) {
	m, err := smsrnn.New(r.Config.Model)
	if err != nil {
		return nil, err
	}
	if err := m.SetWords(r.Vocab.Tokens()); err != nil {
		m.Close()
		return nil, fmt.Errorf("run folder %s: %w", r.Dir, err)
	}
	return m, nil
}

// Predictor classifies one message at a time, the serving path: tokenize, look the tokens up,
// run the model on a (1, T) batch without gradients, softmax, read P(spam) back. Its id buffer
// is reused from call to call, and a single unpadded row runs the RNN without packing (see
// smsrnn.Model.Forward). A Predictor is not safe for concurrent use; call it from one
// goroutine locked to its thread (libtorch's grad mode is per OS thread).
type Predictor struct {
	run     *Run
	model   *smsrnn.Model
	ids     []int64 // token ids of the current message
	lengths [1]int64
}

// NewPredictor returns a predictor of model, the run's trained model on the CPU.
func (r *Run) NewPredictor(model *smsrnn.Model) *Predictor {
	return &Predictor{run: r, model: model, ids: make([]int64, 0, 64)}
}

// Encode sets the predictor's ids to msg's token ids.
func (p *Predictor) Encode(msg string) { p.ids = p.run.Encode(p.ids, msg) }

// IDs are the token ids of the last message encoded (valid until the next call).
func (p *Predictor) IDs() []int64 { return p.ids }

// SpamProbability returns P(spam) for one message.
func (p *Predictor) SpamProbability(msg string) (prob float64, err error) {
	p.Encode(msg)
	n := int64(len(p.ids))
	p.lengths[0] = n
	err = torch.Run(func() error { // frees the tensors below
		torch.NoGrad(func() {
			probs := p.model.Forward(torch.FromSlice(p.ids, 1, n), p.lengths[:]).Softmax(1)
			prob = float64(probs.Float32s()[data.Spam])
		})
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("predict: %w", err)
	}
	return prob, nil
}
