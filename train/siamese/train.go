package main

import (
	"context"
	"fmt"
	"io"
	"iter"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"time"

	"github.com/seqtorch/seqtorch/data"
	"github.com/seqtorch/seqtorch/models/siamese"
	"github.com/seqtorch/seqtorch/torch"
	"github.com/seqtorch/seqtorch/torch/nn"
	"github.com/seqtorch/seqtorch/torch/optim"
	"github.com/seqtorch/seqtorch/train/cli"
	"github.com/seqtorch/seqtorch/train/loop"
	"github.com/seqtorch/seqtorch/train/runlog"
)

// runTrain is the training command, the default subcommand: the command line is parsed and
// its options checked once, here at the boundary (trainOptions), then trained into their run
// folder: a new run into --out (a run there needs --force), or with --resume DIR the run in
// DIR continued with its own options. With --nproc N > 1 this process launches N workers of
// the command that train instead (see cli.Run).
func runTrain(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cl, err := trainCLI.Parse(args, stderr)
	if err != nil {
		return err
	}
	run, err := cli.OpenRun(cl) // --resume DIR: lock DIR, check that it holds a run
	if err != nil {
		return err
	}
	defer run.Close()
	o, err := trainOptions(cl)
	if err != nil {
		return err
	}
	if err := run.Start(o.Out, o.Dist, runFiles); err != nil { // a new run: check --out
		return err
	}
	if run.Launcher() { // --nproc N > 1: N workers of this command train
		return run.Launch(ctx, stdout, stderr)
	}
	sum, err := train(ctx, o, run.Resume, run.Log(stdout, stderr), stderr)
	return run.Finish(stdout, sum, err) // an interruption prints how to resume; --json
}

// trainOptions returns the options cl describes, checked: the flags', or with --resume DIR
// the options of the run in DIR (its config.json) with the flags that may change.
func trainOptions(cl *cli.CommandLine[options]) (options, error) {
	o := cl.Config
	if dir := cl.Run.Resume; dir != "" {
		saved, err := savedOptions(dir)
		if err != nil {
			return o, err
		}
		if o, err = cl.Restore(saved); err != nil {
			return o, err
		}
		o.Out = dir
	}
	return o, o.check()
}

// train runs one training job with the checked options o (resume: continue the run in o.Out)
// and writes its run folder. Human-readable output goes to log, the progress display to
// stderr. A run that ctx interrupted returns an error wrapping loop.ErrInterrupted.
//
// A process launched for data-parallel training (--nproc, torchrun) trains its shard of every
// epoch as one rank of the group (cli.JoinParallel); rank 0 alone writes the run folder and
// prints, and the other ranks return a nil summary.
func train(ctx context.Context, o options, resume bool, log, stderr io.Writer) (*summary, error) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	dev := o.device
	if dev.IsCUDA() && !torch.CUDAAvailable() {
		return nil, fmt.Errorf("--device %s: CUDA is not available (libtorch %s)", o.Device, torch.Version())
	}
	if err := torch.SetNumThreads(o.Threads); err != nil {
		return nil, err
	}
	par, err := cli.JoinParallel(dev, o.Dist.Timeout, stderr)
	if err != nil {
		return nil, err
	}
	defer par.Close()
	dev, log = par.Device(dev), par.Output(log)
	sickFile, err := sickPath(o.SICK)
	if err != nil {
		return nil, err
	}
	vecFile, err := vectorsPath(o.Vectors)
	if err != nil {
		return nil, err
	}
	var saved modelConfig
	if resume { // the vectors file may have changed since
		if saved, err = readConfig(filepath.Join(o.Out, configFile)); err != nil {
			return nil, err
		}
		if err := checkVectorDim(vecFile, saved.Embed); err != nil {
			return nil, err
		}
	}
	c, err := loadCorpus(sickFile, vecFile, augmentSpec{Kind: o.Augment, Factor: o.AugmentFactor, Seed: o.Seed, WNDir: o.WordNet}, o.Seed)
	if err != nil {
		return nil, err
	}
	trainEx := c.encode(c.trainingPairs())
	trialEx := c.encode(c.trial)
	testEx := c.encode(c.test)
	// Loading leaves megabytes of garbage (file text, token lists) that Go would collect only
	// once the heap doubles: collect and return it now, before libtorch's memory grows.
	debug.FreeOSMemory()
	fmt.Fprintf(log, "SICK: %d train pairs (+%d augmented), %d trial, %d test; vocabulary %d, %d with vectors (dim %d)\n",
		len(c.train), len(c.augmented), len(c.trial), len(c.test), c.vocab.Len(), c.found, c.vectors.Dim)

	cfg := siamese.Config{Vocab: int64(c.vocab.Len()), Embed: int64(c.vectors.Dim), Hidden: o.Hidden, Bidirectional: o.Bidirectional,
		Pooling: o.pooling, Dropout: o.Dropout, EmbeddingDropout: o.EmbedDropout, FeatureDropout: o.FeatDropout, PaddingIdx: data.PadID, Scale: o.scale}
	if o.loss == siamese.Tai {
		cfg.SimilarityHidden = o.TaiHidden
		cfg.Entailment = o.Entailment > 0
	}
	torch.ManualSeed(o.Seed)
	m, err := siamese.New(cfg, c.embedding)
	if err != nil {
		return nil, err
	}
	defer m.Close()
	// The table is copied into the model, and nothing after this reads the vectors; the corpus
	// itself lives until the end of training.
	c.embedding, c.vectors = nil, nil
	if err := toDevice(m, dev); err != nil {
		return nil, err
	}
	if err := par.Wrap(m); err != nil {
		return nil, err
	}
	head := siamese.Head{Loss: o.loss, Margin: o.Margin, Threshold: o.Threshold, Mining: o.mining, Module: m.Similarity, EntailmentWeight: o.Entailment}
	head.Alpha, head.Factor = m.ScoreScale()

	var rows []runlog.Param
	for _, p := range m.NamedParameters() {
		rows = append(rows, runlog.Param{Name: p.Name, Shape: p.Value.Shape(), Trainable: p.Value.RequiresGrad()})
	}
	tot, err := runlog.FormatParams(log, rows)
	if err != nil {
		return nil, err
	}
	if par.Main() {
		if err := os.MkdirAll(o.Out, 0o755); err != nil {
			return nil, fmt.Errorf("run folder: %w", err)
		}
		if err := runlog.AtomicWriteFile(filepath.Join(o.Out, runlog.ParamsFile), func(w io.Writer) error {
			_, err := runlog.FormatParams(w, rows)
			return err
		}); err != nil {
			return nil, err
		}
	}

	mc := modelConfig{Vocab: cfg.Vocab, Embed: cfg.Embed, Hidden: o.Hidden, Bidirectional: o.Bidirectional,
		Pooling: o.Pooling, Scale: o.Scale, Loss: o.Loss, Margin: o.Margin, Threshold: o.Threshold, SimilarityHidden: cfg.SimilarityHidden, Entailment: cfg.Entailment,
		Vectors: vecFile, Tokenizer: "sick-treebank-lower", Options: &o, Kind: kind,
		CalibA: saved.CalibA, CalibB: saved.CalibB} // a resumed run's model.safetensors is still the one calibrated
	// Written now for --resume, and again with the new calibration at the end.
	if par.Main() {
		if err := writeConfig(filepath.Join(o.Out, configFile), mc); err != nil {
			return nil, err
		}
	}

	params := nn.Trainable(m)
	var opt optim.Optimizer
	switch o.Optimizer {
	case "adadelta":
		ao := optim.AdadeltaOptions{LR: new(o.LR), WeightDecay: o.WeightDecay}
		if o.Rho != 0 { // --rho 0 is PyTorch's default
			ao.Rho = new(o.Rho)
		}
		opt, err = optim.NewAdadelta(params, ao)
	default:
		opt, err = optim.NewAdam(params, optim.AdamOptions{LR: new(o.LR), WeightDecay: o.WeightDecay})
	}
	if err != nil {
		return nil, err
	}
	if cl, ok := opt.(interface{ Close() }); ok {
		defer cl.Close()
	}

	bopt, err := par.Shard(data.BatchOptions{Size: o.Batch, Shuffle: true, Seed: o.Seed})
	if err != nil {
		return nil, err
	}
	fitCal := o.loss != siamese.MaLSTM && o.loss != siamese.Tai
	cal := identity
	lcfg := loop.Config[data.PairBatch]{
		Epochs: o.Epochs, Seed: o.Seed, Dir: o.Out, Resume: resume,
		EpochStart: func(epoch int) error {
			// Per-epoch decay, computed from the epoch number (so --resume continues it).
			opt.SetLR(o.LR * math.Pow(o.LRDecay, float64(epoch-1)))
			return nil
		},
		Batches:    func(epoch int) iter.Seq[data.PairBatch] { return data.PairBatches(trainEx, bopt, epoch) },
		NumBatches: func(int) int { return bopt.NumBatches(len(trainEx)) },
		Step: func(b data.PairBatch) (loop.StepResult, error) {
			a, bb := pairTensors(b, dev)
			fa, fb := m.EncodePair(a, b.A.Lengths, bb, b.B.Lengths)
			l, _, err := head.ForwardLabeled(fa, fb, b.Scores, b.Labels)
			if err != nil {
				return loop.StepResult{}, err
			}
			opt.ZeroGrad()
			par.Backward(l)
			if o.Clip > 0 {
				optim.ClipGradNorm(params, o.Clip)
			}
			opt.Step()
			return loop.StepResult{Loss: l, N: len(b.Index)}, nil
		},
		Validate: func(int) (loop.Metrics, error) {
			s, _, err := evaluate(m, head, trialEx, evalBatch, identity, fitCal)
			if err != nil {
				return nil, err
			}
			return loop.Metrics{"val_loss": s.Loss, "val_pearson": s.Pearson, "val_spearman": s.Spearman,
				"val_mse": s.MSE, "val_accuracy": s.Accuracy}, nil
		},
		SetTraining: m.SetTraining,
		Model:       loop.PersistFuncs{SaveFunc: func(p string) error { return saveParams(m, p) }, LoadFunc: func(p string) error { return loadParams(m, p) }},
		Optimizer:   optim.Persister(opt),
		BestFile:    bestFile,
		Monitor:     "val_pearson", Maximize: true,
		Progress: runlog.NewProgress(stderr), Log: log,
		Dist: par.Loop(),
	}
	lres, err := loop.Run(ctx, lcfg)
	if err != nil {
		return nil, err
	}
	if !par.Main() {
		return nil, nil
	}

	// The best TRIAL epoch's model: calibrate on TRIAL, score TEST.
	if err := loadParams(m, lres.BestPath); err != nil {
		return nil, err
	}
	trial, cal, err := evaluate(m, head, trialEx, evalBatch, cal, fitCal)
	if err != nil {
		return nil, err
	}
	test, _, err := evaluate(m, head, testEx, evalBatch, cal, false)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(log, "best epoch %d | TRIAL pearson %.4f spearman %.4f mse %.4f acc %.4f | TEST pearson %.4f spearman %.4f mse %.4f acc %.4f loss %.4f\n",
		lres.BestEpoch, trial.Pearson, trial.Spearman, trial.MSE, trial.Accuracy, test.Pearson, test.Spearman, test.MSE, test.Accuracy, test.Loss)

	var trainSecs float64
	for _, r := range lres.History {
		trainSecs += r.TrainSeconds
	}
	sum := summary{
		Loss: o.Loss, TestPearson: test.Pearson, TestSpearman: test.Spearman, TestMSE: test.MSE, TestAccuracy: test.Accuracy, TestLoss: test.Loss,
		TrialPearson: trial.Pearson, TrialSpearman: trial.Spearman, TrialMSE: trial.MSE, TrialAccuracy: trial.Accuracy,
		ParamsTrainable: tot.Trainable, ParamsFrozen: tot.Frozen, ParamsTotal: tot.Total,
		TrainPairs: len(trainEx), AugmentedPairs: len(c.augmented), AugmentDropped: c.augmentDropped,
		TrialPairs: len(trialEx), TestPairs: len(testEx), VocabSize: c.vocab.Len(), VocabWithVectors: c.found,
		Epochs: len(lres.History), BestEpoch: lres.BestEpoch, SecondsPerEpoch: trainSecs / float64(max(len(lres.History), 1)),
		Device: dev.String(), WorldSize: par.World(), Seed: o.Seed, Augment: o.Augment, Optimizer: o.Optimizer, LR: o.LR, Hidden: o.Hidden,
		Bidirectional: o.Bidirectional, Pooling: o.Pooling, Scale: o.Scale, LRDecay: o.LRDecay, WeightDecay: o.WeightDecay, Rho: o.Rho, Margin: o.Margin, Threshold: o.Threshold,
		EmbedDropout: o.EmbedDropout, FeatDropout: o.FeatDropout, TaiHidden: cfg.SimilarityHidden, Entailment: o.Entailment, Clip: o.Clip,
		CalibA: cal.A, CalibB: cal.B, Dir: o.Out,
	}
	if m.Scale != nil {
		sum.ScaleValue = float64(m.Scale.Detach().Float32s()[0])
	}

	// Model, vocabulary, configuration.
	if err := copyFile(filepath.Join(o.Out, modelFile), lres.BestPath); err != nil {
		return nil, fmt.Errorf("save model: %w", err)
	}
	if sum.WeightsSHA256, err = cli.FileSHA256(filepath.Join(o.Out, modelFile)); err != nil {
		return nil, fmt.Errorf("the model's checksum: %w", err)
	}
	if err := c.vocab.Save(filepath.Join(o.Out, vocabFile)); err != nil {
		return nil, err
	}
	mc.CalibA, mc.CalibB = cal.A, cal.B
	if err := writeConfig(filepath.Join(o.Out, configFile), mc); err != nil {
		return nil, err
	}
	if err := writeCurves(filepath.Join(o.Out, "curves.png"), o.Loss, lres.History); err != nil {
		return nil, err
	}
	if o.TSNE > 0 {
		start := time.Now()
		n, st, err := writeTSNE(o.Out, m, c, o.TSNE, o.Seed, log)
		if err != nil {
			return nil, fmt.Errorf("t-SNE: %w", err)
		}
		sum.TSNESeconds, sum.TSNEPoints, sum.tsneStats = time.Since(start).Seconds(), n, st
		fmt.Fprintf(log, "t-SNE of %d training sentences: %.1fs -> tsne.png, tsne.html (10-NN same subject %.2f, chance %.2f)\n",
			n, sum.TSNESeconds, st.Agreement, st.Chance)
	}
	if err := writeJSONFile(filepath.Join(o.Out, cli.SummaryFile), sum); err != nil {
		return nil, err
	}
	return &sum, nil
}

// checkVectorDim fails if the vectors file's dimension differs from a saved model's.
func checkVectorDim(path string, dim int64) error {
	v, err := data.LoadWord2Vec(path, data.VectorOptions{Keep: map[string]bool{}})
	if err != nil {
		return err // it names the file
	}
	if int64(v.Dim) != dim {
		return fmt.Errorf("%s has %d-dimensional vectors, but the saved model was trained with %d", path, v.Dim, dim)
	}
	return nil
}

// toDevice moves the model's parameters to dev (nn.To), turning a libtorch failure into an error.
func toDevice(m *siamese.Model, dev torch.Device) error {
	if err := torch.Try(func() { nn.To(m, dev) }); err != nil {
		return fmt.Errorf("move the model to %v: %w", dev, err)
	}
	return nil
}
