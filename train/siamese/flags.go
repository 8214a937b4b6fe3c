package main

import (
	"flag"
	"fmt"
	"math"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/seqtorch/seqtorch/data"
	"github.com/seqtorch/seqtorch/models/siamese"
	"github.com/seqtorch/seqtorch/torch"
	"github.com/seqtorch/seqtorch/train/cli"
	"github.com/seqtorch/seqtorch/train/runlog"
)

// options are the training settings: the flags, as config.json stores them (its "options"),
// so that --resume continues a run with its own settings.
type options struct {
	Loss          string        `json:"loss"`
	Vectors       string        `json:"vectors"`
	SICK          string        `json:"sick"`
	HiddenSizes   string        `json:"hidden"` // --hidden as given: one size, or one per layer
	Hidden        []int64       `json:"-"`      // per layer, from HiddenSizes and Layers (normalize)
	Layers        int           `json:"layers"`
	Bidirectional bool          `json:"bidirectional"`
	Pooling       string        `json:"pooling"`
	Scale         string        `json:"scale"`
	Dropout       float64       `json:"dropout"`
	EmbedDropout  float64       `json:"embed_dropout"`
	FeatDropout   float64       `json:"feature_dropout"`
	TaiHidden     int64         `json:"tai_hidden"`
	Entailment    float64       `json:"entailment,omitempty"` // weight of the entailment loss (tai)
	Epochs        int           `json:"epochs"`
	Batch         int           `json:"batch"`
	LR            float64       `json:"lr"`
	LRDecay       float64       `json:"lr_decay"`
	WeightDecay   float64       `json:"weight_decay"`
	Rho           float64       `json:"rho"`
	Optimizer     string        `json:"optimizer"`
	Clip          float64       `json:"clip"`
	Margin        float64       `json:"margin"`
	Threshold     float64       `json:"threshold"`
	Mining        string        `json:"mining"`
	Augment       string        `json:"augment"`
	AugmentFactor int           `json:"augment_factor"`
	WordNet       string        `json:"wordnet"`
	TSNE          float64       `json:"tsne"`
	Device        string        `json:"device"`
	Seed          uint64        `json:"seed"`
	Threads       int           `json:"threads"`
	Out           string        `json:"out"`
	Dist          cli.DistFlags `json:"dist"` // --nproc and the rendezvous

	// The names above parsed, by check: what training uses.
	loss    siamese.Loss
	pooling siamese.Pooling
	mining  siamese.Mining
	scale   siamese.Scale
	device  torch.Device
}

// trainSynopsis is the training command's -h text before the flags.
const trainSynopsis = `usage: go run ./train/siamese [flags]
       go run ./train/siamese --resume DIR [--epochs N] [--device D] [--threads N] [--json PATH]
       go run ./train/siamese similarity --model DIR "sentence 1" "sentence 2"
       go run ./train/siamese evaluate --model DIR[,DIR...]
       go run ./train/siamese serve --model DIR [--addr HOST:PORT]
       go run ./train/siamese report --out DIR
       (each subcommand's -h lists its flags)`

// trainFlags registers the training flags on fs, writing into o.
func trainFlags(fs *flag.FlagSet, o *options) {
	fs.StringVar(&o.Loss, "loss", "malstm", "loss: malstm (exp(-L1) + MSE), tai (Tai et al. 2015 similarity head + KL), contrastive or triplet")
	fs.StringVar(&o.Vectors, "vectors", "", "word vectors file: "+data.VectorFormats+"; default: GloVe 840B restricted to SICK from the data catalog")
	fs.StringVar(&o.SICK, "sick", "", "SICK.txt (default: the data catalog's copy)")
	fs.StringVar(&o.HiddenSizes, "hidden", "50", "LSTM hidden size, or comma-separated sizes per layer (e.g. 50,30: lstm_1 and lstm_2)")
	fs.IntVar(&o.Layers, "layers", 0, "number of stacked LSTM layers (with a single --hidden size; 0: 2 for malstm, 1 for the other losses)")
	fs.BoolVar(&o.Bidirectional, "bidirectional", true, "bidirectional LSTMs")
	fs.StringVar(&o.Pooling, "pooling", "max", "sentence features: last (final hidden states), mean, max or meanmax over valid steps")
	fs.StringVar(&o.Scale, "scale", "", "malstm score exp(-a*L1): one (a = 1, the paper's), learned (a trainable scalar, initialised to 1; the default for malstm) or dim (a = 1/feature size); other losses: one")
	fs.Float64Var(&o.Dropout, "dropout", 0, "dropout between stacked layers")
	fs.Float64Var(&o.EmbedDropout, "embed-dropout", 0, "dropout on the word vectors")
	fs.Float64Var(&o.FeatDropout, "feature-dropout", 0, "dropout on the pooled sentence features")
	fs.Int64Var(&o.TaiHidden, "tai-hidden", 50, "hidden size of the tai similarity head")
	fs.Float64Var(&o.Entailment, "entailment", 0, "tai loss: also train an entailment classifier (SICK's NEUTRAL/ENTAILMENT/CONTRADICTION) on the head's hidden layer, its cross entropy weighted by this (0: off)")
	fs.IntVar(&o.Epochs, "epochs", 30, "epochs")
	fs.IntVar(&o.Batch, "batch", 64, "batch size (pairs)")
	fs.Float64Var(&o.LR, "lr", 0, "learning rate (0: 1e-3 for adam, 1.0 for adadelta)")
	fs.Float64Var(&o.LRDecay, "lr-decay", 1, "multiply the learning rate by this factor after every epoch (1: constant)")
	fs.Float64Var(&o.WeightDecay, "weight-decay", 0, "L2 penalty added to the gradient (the optimizer's weight_decay)")
	fs.Float64Var(&o.Rho, "rho", 0, "adadelta's running-average decay (0: PyTorch's 0.9; the MaLSTM paper used 0.95)")
	fs.StringVar(&o.Optimizer, "optimizer", "adam", "optimizer: adam or adadelta")
	fs.Float64Var(&o.Clip, "clip", 0, "clip the gradient norm to this value (0: off)")
	fs.Float64Var(&o.Margin, "margin", 0, "margin of the contrastive/triplet loss (0: 1 for contrastive, 0.5 for triplet)")
	fs.Float64Var(&o.Threshold, "threshold", 3.5, "relatedness (1-5) at or above which a pair counts as similar")
	fs.StringVar(&o.Mining, "mining", "hardest", "triplet negatives: hardest or random (in the batch)")
	fs.StringVar(&o.Augment, "augment", "none", "training-set augmentation: none, synonyms (WordNet) or eda (synonyms, swap, delete)")
	fs.IntVar(&o.AugmentFactor, "augment-factor", 1, "augmented copies per training pair")
	fs.StringVar(&o.WordNet, "wordnet", "/usr/share/wordnet", "WordNet 3.0 folder (Debian wordnet-base)")
	fs.Float64Var(&o.TSNE, "tsne", 0.3, "fraction of training sentences to embed with t-SNE (0: off)")
	fs.StringVar(&o.Device, "device", "auto", "device: auto, cpu, cuda or cuda:N")
	fs.Uint64Var(&o.Seed, "seed", 1, "random seed")
	fs.IntVar(&o.Threads, "threads", 1, "libtorch intra-op threads")
	fs.StringVar(&o.Out, "out", "runs/siamese", "run folder")
	o.Dist.Register(fs)
}

// runFiles are the files of a run folder besides those cli.PrepareOut knows (config.json,
// checkpoint/, metrics.jsonl, summary.json); --force removes them too.
var runFiles = []string{modelFile, vocabFile, bestFile, "curves.png", runlog.ParamsFile, "tsne.png", "tsne.html"}

// presets are --preset's named configurations (cli.Flags.Presets).
var presets = map[string]cli.Preset{
	// Chosen on TRIAL Pearson for issue 16 (report section A10 has its numbers and the variants
	// tried); about 2 minutes of training on 2 CPU cores.
	"best": {Args: []string{"--loss", "tai", "--hidden", "300", "--tai-hidden", "150", "--entailment", "0.5", "--epochs", "10"},
		Doc: "the most accurate single model measured, see report A10: BiLSTM 300, tai head 150 with the entailment loss, 10 epochs"},
}

// trainCLI reads the training command's command line (see runTrain).
var trainCLI = cli.Flags[options]{
	Name:       "siamese",
	Synopsis:   trainSynopsis,
	Invocation: invocation,
	Bind:       trainFlags,
	Normalize:  (*options).normalize,
	Presets:    presets,
}

// savedOptions returns the training options of the run in dir (its config.json's).
func savedOptions(dir string) (options, error) {
	c, err := readConfig(filepath.Join(dir, configFile))
	if err != nil {
		return options{}, err
	}
	if c.Options == nil {
		return options{}, fmt.Errorf("--resume %s: %s has no training options (an older run): start a new run", dir, configFile)
	}
	return *c.Options, nil
}

// check normalizes and validates o and parses its names (--loss, --pooling, --mining,
// --scale, --device) into the typed values that training uses: the one check of the training
// options, made where they enter (the command line, or --resume's config.json). Bad values
// are one-line errors naming the flag.
func (o *options) check() error {
	if err := o.normalize(); err != nil {
		return err
	}
	return o.validate()
}

// normalize fills in what the flags leave open: the number of layers and the size of each,
// the loss's margin and score scale, and the optimizer's learning rate. It accepts its own
// output unchanged (--resume compares normalized settings).
func (o *options) normalize() error {
	o.Dist.Normalize()
	if o.Layers == 0 {
		o.Layers = defaultLayers(o.Loss)
		if strings.Contains(o.HiddenSizes, ",") {
			o.Layers = 1 // the per-layer sizes give the count
		}
	}
	hs, err := parseHidden(o.HiddenSizes, o.Layers)
	if err != nil {
		return err
	}
	o.Hidden, o.Layers = hs, len(hs)
	if o.Margin == 0 {
		o.Margin = defaultMargin(o.Loss)
	}
	if o.Scale == "" {
		o.Scale = "one"
		if o.Loss == "malstm" {
			o.Scale = "learned" // the tuned recipe (see defaultLayers)
		}
	}
	if o.LR == 0 {
		o.LR = 1e-3
		if o.Optimizer == "adadelta" {
			o.LR = 1
		}
	}
	return nil
}

// defaultLayers returns the default number of stacked LSTM layers of a loss: 2 for malstm, 1 for
// the other heads (tuned with one layer). The malstm recipe (selected on TRIAL, seeds 1-3, 30
// epochs, Adam 1e-3, batch 64, max pooling): two stacked BiLSTM layers of 50 per direction
// raised the mean TRIAL Pearson from 0.836 to 0.851 (TEST 0.8185 -> 0.8492), and the learned
// score scale (--scale learned, the malstm default) to 0.853 (TEST 0.8497 ± 0.0013).
func defaultLayers(loss string) int {
	if loss == "malstm" {
		return 2
	}
	return 1
}

// defaultMargin returns the default margin of a loss (see the flag's help).
func defaultMargin(loss string) float64 {
	if loss == "triplet" {
		return 0.5
	}
	return 1
}

// parseHidden reads --hidden and --layers into per-layer sizes.
func parseHidden(s string, layers int) ([]int64, error) {
	var hs []int64
	for _, f := range strings.Split(s, ",") {
		h, err := strconv.ParseInt(strings.TrimSpace(f), 10, 64)
		if err != nil || h < 1 {
			return nil, cli.Usagef("--hidden %q: want positive integers separated by commas", s)
		}
		hs = append(hs, h)
	}
	if layers < 1 {
		return nil, cli.Usagef("--layers %d: want at least 1", layers)
	}
	if len(hs) == 1 {
		for len(hs) < layers {
			hs = append(hs, hs[0])
		}
	} else if layers != 1 && layers != len(hs) {
		return nil, cli.Usagef("--layers %d disagrees with the %d sizes of --hidden %q", layers, len(hs), s)
	}
	return hs, nil
}

// validate checks the normalized options with one-line messages naming the flag, and parses
// the names (see check).
func (o *options) validate() error {
	if err := o.Dist.Validate(); err != nil {
		return err
	}
	if err := cli.CheckBatch(o.Batch, o.Dist.NProc); err != nil {
		return err
	}
	var err error
	if o.loss, err = siamese.ParseLoss(o.Loss); err != nil {
		return cli.Usagef("--loss: %v", err)
	}
	if o.pooling, err = siamese.ParsePooling(o.Pooling); err != nil {
		return cli.Usagef("--pooling: %v", err)
	}
	if o.mining, err = siamese.ParseMining(o.Mining); err != nil {
		return cli.Usagef("--mining: %v", err)
	}
	if o.scale, err = siamese.ParseScale(o.Scale); err != nil {
		return cli.Usagef("--scale: %v", err)
	}
	if o.Scale != "one" && o.Loss != "malstm" {
		return cli.Usagef("--scale %s applies to the malstm loss only", o.Scale)
	}
	switch {
	case o.Optimizer != "adam" && o.Optimizer != "adadelta":
		return cli.Usagef("unknown --optimizer %q (want adam or adadelta)", o.Optimizer)
	case o.Augment != "none" && o.Augment != "synonyms" && o.Augment != "eda":
		return cli.Usagef("unknown --augment %q (want none, synonyms or eda)", o.Augment)
	case o.Epochs < 1:
		return cli.Usagef("--epochs %d: want at least 1", o.Epochs)
	case o.Batch < 2:
		return cli.Usagef("--batch %d: want at least 2", o.Batch)
	case !(o.LR > 0) || math.IsInf(o.LR, 0):
		return cli.Usagef("--lr %v: want a positive number (0: the optimizer's default)", o.LR)
	case !(o.LRDecay > 0 && o.LRDecay <= 1):
		return cli.Usagef("--lr-decay %v: want a factor in (0, 1]", o.LRDecay)
	case o.WeightDecay < 0 || math.IsNaN(o.WeightDecay):
		return cli.Usagef("--weight-decay %v: want a non-negative number", o.WeightDecay)
	case o.Rho < 0 || o.Rho >= 1 || math.IsNaN(o.Rho):
		return cli.Usagef("--rho %v: want a value in [0, 1)", o.Rho)
	case o.Clip < 0:
		return cli.Usagef("--clip %v: want a non-negative number", o.Clip)
	case o.Margin <= 0:
		return cli.Usagef("--margin %v: want a positive number", o.Margin)
	case o.Threshold < 1 || o.Threshold > 5:
		return cli.Usagef("--threshold %v: want a relatedness in [1, 5]", o.Threshold)
	case o.TSNE < 0 || o.TSNE > 1:
		return cli.Usagef("--tsne %v: want a fraction in [0, 1]", o.TSNE)
	case o.AugmentFactor < 1:
		return cli.Usagef("--augment-factor %d: want at least 1", o.AugmentFactor)
	case o.Threads < 1:
		return cli.Usagef("--threads %d: want at least 1", o.Threads)
	case o.Dropout < 0 || o.Dropout >= 1:
		return cli.Usagef("--dropout %v: want a value in [0, 1)", o.Dropout)
	case o.EmbedDropout < 0 || o.EmbedDropout >= 1:
		return cli.Usagef("--embed-dropout %v: want a value in [0, 1)", o.EmbedDropout)
	case o.FeatDropout < 0 || o.FeatDropout >= 1:
		return cli.Usagef("--feature-dropout %v: want a value in [0, 1)", o.FeatDropout)
	case o.TaiHidden < 1:
		return cli.Usagef("--tai-hidden %d: want at least 1", o.TaiHidden)
	case o.Entailment < 0 || math.IsNaN(o.Entailment) || math.IsInf(o.Entailment, 0):
		return cli.Usagef("--entailment %v: want a non-negative weight", o.Entailment)
	case o.Entailment > 0 && o.Loss != "tai":
		return cli.Usagef("--entailment applies to the tai loss only (--loss %s)", o.Loss)
	}
	if o.device, err = torch.ParseDevice(o.Device); err != nil {
		return cli.FlagError("device", err) // not a usage error: a CUDA libtorch may be missing
	}
	return nil
}
