package main

import (
	"context"
	"fmt"
	"io"
	"iter"
	"path/filepath"
	"runtime"

	"github.com/seqtorch/seqtorch/data"
	"github.com/seqtorch/seqtorch/models/smsrnn"
	"github.com/seqtorch/seqtorch/torch"
	"github.com/seqtorch/seqtorch/torch/nn"
	"github.com/seqtorch/seqtorch/torch/optim"
	"github.com/seqtorch/seqtorch/train/cli"
	"github.com/seqtorch/seqtorch/train/loop"
	"github.com/seqtorch/seqtorch/train/runlog"
)

// runTrain is the training command, the default subcommand: the command line is parsed once,
// here at the boundary (its options are checked once too, where they enter: trainOptions);
// then an ensemble preset trains its members one after the other (trainPresetEnsemble) and any
// other command line trains one run.
func runTrain(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cl, err := trainCLI.Parse(args, stderr)
	if err != nil {
		return err
	}
	if len(presets[cl.Preset].Members) > 0 {
		return trainPresetEnsemble(ctx, cl, stdout, stderr)
	}
	return trainRun(ctx, cl, stdout, stderr)
}

// trainRun trains the run that cl describes into its folder: a new run into --out (a run
// there needs --force), or, with --resume DIR, the run in DIR continued with its own options.
// With --nproc N > 1 this process launches N workers of the command that train instead (see
// cli.Run).
func trainRun(ctx context.Context, cl *cli.CommandLine[Options], stdout, stderr io.Writer) error {
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
	if run.Launcher() {
		return run.Launch(ctx, stdout, stderr)
	}
	res, err := fit(ctx, &o, run.Resume, run.Log(stdout, stderr), stderr)
	var sum any
	if res != nil { // nil: an error, or a rank other than 0, which reports nothing
		sum = res.Summary
	}
	return run.Finish(stdout, sum, err) // an interruption prints how to resume; --json
}

// trainOptions returns the options cl describes, checked: the flags', or with --resume DIR
// the options of the run in DIR (its config.json) with the flags that may change.
func trainOptions(cl *cli.CommandLine[Options]) (Options, error) {
	o := cl.Config
	if dir := cl.Run.Resume; dir != "" {
		c, err := readConfig(dir)
		if err != nil {
			return o, err
		}
		if o, err = cl.Restore(c.Options); err != nil {
			return o, err
		}
		o.Out = dir
	}
	return o, o.check()
}

// outcome is what a training run returns to its caller (the command or the report).
type outcome struct {
	Summary Summary
	History []loop.Record
}

// train checks o (see Options.check), then trains it as fit does: the report's entry, whose
// options come from code rather than from a command line.
func train(ctx context.Context, o *Options, resume bool, stdout, stderr io.Writer) (*outcome, error) {
	if err := o.check(); err != nil {
		return nil, err
	}
	return fit(ctx, o, resume, stdout, stderr)
}

// fit runs one training job with the checked options o and writes its run folder.
// Human-readable output goes to stdout, the progress display to stderr. A run that ctx
// interrupted returns an error wrapping loop.ErrInterrupted.
//
// A process launched for data-parallel training (--nproc, torchrun) trains its shard of every
// epoch as one rank of the group (cli.JoinParallel); rank 0 alone writes the run folder and
// prints, and the other ranks return a nil outcome.
func fit(ctx context.Context, o *Options, resume bool, stdout, stderr io.Writer) (*outcome, error) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	dev := o.device
	if err := torch.SetNumThreads(o.Threads); err != nil {
		return nil, err
	}
	par, err := cli.JoinParallel(dev, o.Dist.Timeout, stderr)
	if err != nil {
		return nil, err
	}
	defer par.Close()
	dev, stdout = par.Device(dev), par.Output(stdout)

	var vocab *data.Vocab
	if resume {
		if vocab, err = data.LoadVocab(filepath.Join(o.Out, vocabName)); err != nil {
			return nil, fmt.Errorf("resume: %w", err)
		}
	}
	ds, err := loadDataset(o, vocab)
	if err != nil {
		return nil, err
	}
	o.Model.Vocab = int64(ds.vocab.Len()) // smsrnn.New checks it

	torch.ManualSeed(o.Seed)
	model, err := smsrnn.New(o.Model)
	if err != nil {
		return nil, err
	}
	defer model.Close()
	if err := model.SetWords(ds.vocab.Tokens()); err != nil {
		return nil, err
	}
	if o.Vectors != "" {
		if err := loadVectors(model, ds.vocab, o, stdout); err != nil {
			return nil, err
		}
	}
	nn.To(model, dev)
	if err := par.Wrap(model); err != nil {
		return nil, err
	}

	params := nn.Trainable(model)
	opt, closeOpt, err := newOptimizer(o, params)
	if err != nil {
		return nil, err
	}
	defer closeOpt()
	sched, err := newSchedule(o, opt)
	if err != nil {
		return nil, err
	}

	var classWeights *torch.Tensor
	if o.ClassWeights == "balanced" {
		n, s := float32(ds.trainN), float32(ds.trainSpam)
		classWeights = torch.FromSlice([]float32{n / (2 * (n - s)), n / (2 * s)})
		if dev != torch.CPU {
			w := classWeights.To(dev)
			classWeights.Close()
			classWeights = w
		}
		defer classWeights.Close()
	}

	rows := paramRows(model)
	fmt.Fprintf(stdout, "SMS spam: %d train / %d validation / %d test messages (%d spam in train), vocabulary %d, device %s%s\n",
		len(ds.train), len(ds.val), len(ds.test), ds.trainSpam, ds.vocab.Len(), dev, worldNote(par))
	tot, err := runlog.FormatParams(stdout, rows)
	if err != nil {
		return nil, err
	}
	var rl *runlog.Run
	if par.Main() {
		if rl, err = runlog.Open(o.Out); err != nil {
			return nil, err
		}
		defer rl.Close()
		if _, err := rl.WriteParams(rows); err != nil {
			return nil, err
		}
		if err := writeRunFiles(rl, o, ds); err != nil {
			return nil, err
		}
	}

	bopt, err := par.Shard(o.batchOptions())
	if err != nil {
		return nil, err
	}
	// Evaluation batches are the training size: with length bucketing they cost no more time
	// than larger ones (the fused LSTM has little per-step overhead) and keep the peak memory
	// of the validation and test passes down (233 → 218 MiB peak RSS in `make bench`).
	evalBatch := o.Batch
	cfg := loop.Config[data.Batch]{
		Epochs:     o.Epochs,
		Seed:       o.Seed,
		Dir:        o.Out,
		Resume:     resume,
		Batches:    func(epoch int) iter.Seq[data.Batch] { return data.Batches(ds.train, bopt, epoch) },
		NumBatches: func(int) int { return bopt.NumBatches(len(ds.train)) },
		Step: func(b data.Batch) (loop.StepResult, error) {
			ids, labels := batchTensors(b, dev)
			if o.WordDropout > 0 {
				ids = wordDropout(ids, o.WordDropout)
			}
			logits := model.Forward(ids, b.Lengths)
			loss := smsrnn.Loss(logits, labels, classWeights)
			opt.ZeroGrad()
			par.Backward(loss)
			if o.Clip > 0 {
				optim.ClipGradNorm(params, o.Clip)
			}
			opt.Step()
			correct := logits.Argmax(1, false).Eq(labels).Sum()
			return loop.StepResult{Loss: loss, Correct: correct, N: b.B}, nil
		},
		Validate: func(int) (loop.Metrics, error) {
			ev, err := evaluate(model, ds.val, dev, evalBatch, classWeights)
			if err != nil {
				return nil, err
			}
			m := loop.Metrics{"val_loss": ev.loss, "val_accuracy": ev.conf.Accuracy(), "val_f1": ev.f1, "val_mcc": ev.conf.MCC()}
			if sched != nil { // the learning rate the epoch trained with, in metrics.jsonl
				m["lr"] = opt.LR()
			}
			return m, nil
		},
		SetTraining: model.SetTraining,
		Model: loop.PersistFuncs{
			SaveFunc: func(p string) error { return nn.SaveSafetensors(p, model, map[string]string{"kind": smsrnn.Kind}) },
			LoadFunc: func(p string) error { return nn.LoadSafetensors(p, model) },
		},
		Optimizer: optim.Persister(opt),
		Scheduler: schedulePersister(sched),
		BestFile:  weightsName,
		Monitor:   o.Monitor,
		Maximize:  monitors[o.Monitor],
		Progress:  runlog.NewProgress(stderr),
		Log:       stdout,
		ReadEvery: 25,
		Dist:      par.Loop(),
	}
	if sched != nil {
		cfg.EpochStart = func(epoch int) error { return scheduleEpoch(sched, epoch) }
	}
	res, err := loop.Run(ctx, cfg)
	if err != nil {
		return nil, err // an interruption wraps loop.ErrInterrupted
	}
	if !par.Main() {
		return nil, nil
	}

	// Test the best-validation model.
	if err := nn.LoadSafetensors(res.BestPath, model); err != nil {
		return nil, fmt.Errorf("load best model: %w", err)
	}
	ev, err := evaluate(model, ds.test, dev, evalBatch, nil)
	if err != nil {
		return nil, err
	}
	sum := Summary{
		Cell: o.Model.Cell, Params: tot.Total, TrainableParams: tot.Trainable,
		Epochs: len(res.History), BestEpoch: res.BestEpoch, Monitor: o.Monitor, BestValue: res.BestValue,
		SecondsPerEpoch: meanTrainSeconds(res.History), Device: dev.String(), Threads: o.Threads, WorldSize: par.World(), Seed: o.Seed,
		VocabSize: ds.vocab.Len(), TrainSize: len(ds.train), ValSize: len(ds.val), TestSize: len(ds.test),
		Model: o.Model, Libtorch: torch.Version(), TestMetrics: testMetrics(ev.conf, ev.loss),
	}
	if sum.WeightsSHA256, err = cli.FileSHA256(res.BestPath); err != nil {
		return nil, fmt.Errorf("the best model's checksum: %w", err)
	}
	if err := writeResults(rl, o, &sum, res.History); err != nil {
		return nil, err
	}
	fmt.Fprintf(stdout, "test (best validation epoch %d, %s %.4f): accuracy %.4f, spam precision %.4f recall %.4f F1 %.4f, MCC %.4f\n",
		res.BestEpoch, o.Monitor, res.BestValue, sum.TestAccuracy, sum.TestPrecisionSpam, sum.TestRecallSpam, sum.TestF1Spam, sum.TestMCC)
	fmt.Fprintf(stdout, "confusion (rows true, columns predicted): ham [%d %d] spam [%d %d]\n",
		ev.conf.Counts[0][0], ev.conf.Counts[0][1], ev.conf.Counts[1][0], ev.conf.Counts[1][1])
	fmt.Fprintf(stdout, "wrote %s\n", o.Out)
	return &outcome{Summary: sum, History: res.History}, nil
}

// wordDropout replaces each token of ids (B, T) by <unk> with probability p, drawn from
// libtorch's generator (which the training loop seeds per step); padding stays.
func wordDropout(ids *torch.Tensor, p float64) *torch.Tensor {
	drop := torch.Rand(ids.Shape(), torch.WithDevice(ids.Device())).LtScalar(p).LogicalAnd(ids.NeScalar(data.PadID))
	return ids.MaskedFill(drop, data.UnkID)
}

// worldNote describes a data-parallel run for the first line ("" for one process).
func worldNote(par *cli.Parallel) string {
	if par.World() < 2 {
		return ""
	}
	return fmt.Sprintf(", %d data-parallel processes (%s)", par.World(), par.Group.Backend())
}

// batchOptions returns how training batches an epoch: shuffled with --seed, --batch examples
// per batch, length-bucketed per --bucket.
func (o *Options) batchOptions() data.BatchOptions {
	return data.BatchOptions{Size: o.Batch, Shuffle: true, Seed: o.Seed, Bucket: o.Bucket}
}

// newOptimizer builds the optimizer named by o.Optimizer.
func newOptimizer(o *Options, params []*torch.Tensor) (optim.Optimizer, func(), error) {
	var opt interface {
		optim.Optimizer
		Close()
	}
	var err error
	switch o.Optimizer {
	case "adam":
		opt, err = optim.NewAdam(params, optim.AdamOptions{LR: new(o.LR), WeightDecay: o.WeightDecay})
	case "adamw":
		wd := o.WeightDecay
		opt, err = optim.NewAdamW(params, optim.AdamWOptions{LR: new(o.LR), WeightDecay: &wd})
	case "sgd":
		opt, err = optim.NewSGD(params, optim.SGDOptions{LR: new(o.LR), Momentum: 0.9, WeightDecay: o.WeightDecay})
	case "adadelta":
		opt, err = optim.NewAdadelta(params, optim.AdadeltaOptions{LR: new(o.LR), WeightDecay: o.WeightDecay})
	}
	if err != nil {
		return nil, nil, err
	}
	return opt, opt.Close, nil
}

// newSchedule returns the learning-rate schedule --schedule names over opt, nil for constant
// (the optimizer's --lr throughout, untouched). warmup-cosine is PyTorch's
//
//	warm = LinearLR(opt, start_factor=0.1, total_iters=warmup)
//	decay = CosineAnnealingLR(opt, T_max=epochs-warmup)
//	sched = SequentialLR(opt, [warm, decay], milestones=[warmup])
//
// stepped once per epoch: epoch e (1-based) trains with the rate at last_epoch e-1, from a tenth
// of --lr in epoch 1 up to --lr in epoch warmup+1, then down a cosine whose zero would be epoch
// epochs+1.
func newSchedule(o *Options, opt optim.Optimizer) (optim.LRScheduler, error) {
	if o.Schedule != scheduleWarmupCosine {
		return nil, nil
	}
	warm, err := optim.NewLinearLR(opt, optim.LinearLROptions{StartFactor: new(float64(warmupStartFactor)), TotalIters: new(o.Warmup)})
	if err != nil {
		return nil, err
	}
	decay, err := optim.NewCosineAnnealingLR(opt, o.ScheduleEpochs-o.Warmup, 0)
	if err != nil {
		return nil, err
	}
	return optim.NewSequentialLR(opt, []optim.LRScheduler{warm, decay}, []int{o.Warmup})
}

// scheduleEpoch brings sched to epoch (1-based) before its first step: it steps the schedule
// once per epoch finished since the schedule's last step. A resumed run's schedule comes from
// the checkpoint, which was written after its epoch's EpochStart, so an interrupted epoch
// continues with its own rate and the next one steps once.
func scheduleEpoch(sched optim.LRScheduler, epoch int) error {
	if sched.LastEpoch() > epoch-1 {
		return fmt.Errorf("learning-rate schedule at epoch %d, ahead of epoch %d", sched.LastEpoch()+1, epoch)
	}
	for sched.LastEpoch() < epoch-1 {
		sched.Step()
	}
	return nil
}

// schedulePersister returns the checkpoint persister of sched (nil for none).
func schedulePersister(sched optim.LRScheduler) loop.Persister {
	if sched == nil {
		return nil
	}
	return optim.Persister(sched)
}

// batchTensors returns a batch's ids (B, T) and labels (B) on dev.
func batchTensors(b data.Batch, dev torch.Device) (ids, labels *torch.Tensor) {
	ids = torch.FromSlice(b.IDs, int64(b.B), int64(b.T))
	labels = torch.FromSlice(b.Labels)
	if dev != torch.CPU {
		ids, labels = ids.To(dev), labels.To(dev)
	}
	return ids, labels
}

// loadVectors copies pretrained vectors into the model's embedding.
func loadVectors(model *smsrnn.Model, vocab *data.Vocab, o *Options, stdout io.Writer) error {
	path := o.Vectors
	if path == defaultVectors {
		var err error
		if path, err = data.DefaultVectors(); err != nil {
			return fmt.Errorf("--vectors %s: %w", defaultVectors, err)
		}
	}
	vec, err := data.LoadWord2Vec(path, data.VectorOptions{Keep: data.KeepSet(vocab.Tokens())})
	if err != nil {
		return err
	}
	if int64(vec.Dim) != o.Model.Embed {
		return cli.Usagef("--vectors %s has dimension %d but --embed is %d", o.Vectors, vec.Dim, o.Model.Embed)
	}
	matrix, found := vec.Embedding(vocab, data.EmbeddingOptions{Seed: o.Seed})
	fmt.Fprintf(stdout, "pretrained vectors: %d of %d vocabulary entries found in %s\n", found, vocab.Len(), path)
	return torch.Try(func() {
		w := torch.FromSlice(matrix, int64(vocab.Len()), int64(vec.Dim))
		defer w.Close()
		torch.NoGrad(func() { model.Embedding.Weight.CopyFrom(w) })
		if o.FreezeEmbeddings {
			model.Embedding.Weight.SetRequiresGrad(false)
		}
	})
}

// paramRows lists the model's parameters for the parameter table.
func paramRows(m *smsrnn.Model) []runlog.Param {
	var rows []runlog.Param
	for _, p := range m.NamedParameters() {
		rows = append(rows, runlog.Param{Name: p.Name, Shape: p.Value.Shape(), Trainable: p.Value.RequiresGrad()})
	}
	return rows
}

func closeAll(ts []*torch.Tensor) {
	for _, t := range ts {
		t.Close()
	}
}
