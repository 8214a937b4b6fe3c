package main

import (
	"context"
	"embed"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"text/template"
	"time"

	"github.com/seqtorch/seqtorch/data"
	"github.com/seqtorch/seqtorch/models/smsrnn"
	"github.com/seqtorch/seqtorch/torch"
	"github.com/seqtorch/seqtorch/train/cli"
	"github.com/seqtorch/seqtorch/train/curves"
	"github.com/seqtorch/seqtorch/train/runlog"
	gstat "gonum.org/v1/gonum/stat"
)

// reportOptions are the report subcommand's settings.
type reportOptions struct {
	out, data, device, vectors string
	epochs, seeds, threads     int
	target                     float64
	fast                       bool
}

// experiment is one model configuration of the study, trained once per seed.
type experiment struct {
	id, label string
	part      string // A1, A4, A5
	modify    func(o *Options)
	runs      []*outcome
}

// runReport is the report subcommand: it trains the study's configurations with several
// seeds and writes REPORT.md and figures into --out.
func runReport(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := cli.NewFlagSet("sms report", "usage: go run ./train/sms report [--out DIR] [flags]", stderr)
	var r reportOptions
	fs.StringVar(&r.out, "out", "runs/sms-report", "report folder")
	fs.StringVar(&r.data, "data", "", "SMS Spam Collection file (default: fetched into the data cache)")
	fs.StringVar(&r.device, "device", "auto", "device: auto, cpu, cuda or cuda:N")
	fs.StringVar(&r.vectors, "vectors", "", "pretrained vectors for A1: "+data.VectorFormats+" (default: the glove-sick catalog file; \"none\" to skip)")
	fs.IntVar(&r.epochs, "epochs", 6, "epochs per run")
	fs.IntVar(&r.seeds, "seeds", 3, "seeds per configuration")
	fs.IntVar(&r.threads, "threads", 1, "libtorch threads")
	fs.Float64Var(&r.target, "target", 0.98, "validation accuracy whose first epoch measures convergence speed")
	fs.BoolVar(&r.fast, "fast", false, "tiny models (for tests of the report itself)")
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	switch {
	case r.seeds < 1:
		return cli.Usagef("report: --seeds must be positive, got %d", r.seeds)
	case r.epochs < 1:
		return cli.Usagef("report: --epochs must be positive, got %d", r.epochs)
	case r.out == "":
		return cli.Usagef("report: --out must not be empty")
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if err := os.MkdirAll(r.out, 0o755); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	base := defaultOptions()
	base.Data, base.Device, base.Threads, base.Epochs = r.data, r.device, r.threads, r.epochs
	base.Model.Dropout = 0.3
	if r.fast {
		base.Model.Embed, base.Model.Hidden, base.Model.Dense, base.MinCount, base.LR = 8, 8, 4, 1, 0.01
	}
	vectors := r.vectors
	if vectors == "" && !r.fast {
		if path, err := data.DefaultVectors(); err == nil {
			vectors = path
		} else {
			fmt.Fprintf(stderr, "report: A1 without pretrained vectors: %v\n", err) // it says what to download
		}
	}
	if vectors == "none" {
		vectors = ""
	}
	exps := studyExperiments(base, vectors)
	if vectors != "" {
		for _, name := range ensembleMembers() {
			opts, err := presetOptions(name)
			if err != nil {
				return fmt.Errorf("report: --preset %s: %w", name, err)
			}
			exps = append(exps, &experiment{id: name, label: "--preset " + name, part: "A6", modify: func(o *Options) {
				data, device, threads := o.Data, o.Device, o.Threads
				*o = opts
				o.Data, o.Device, o.Threads = data, device, threads
				if o.Vectors == defaultVectors {
					o.Vectors = vectors
				}
			}})
		}
	}

	start := time.Now()
	total := len(exps) * r.seeds
	n := 0
	for _, e := range exps {
		for s := 1; s <= r.seeds; s++ {
			n++
			o := base
			e.modify(&o)
			o.Seed = uint64(s)
			o.Out = filepath.Join(r.out, "runs", fmt.Sprintf("%s-s%d", e.id, s))
			t0 := time.Now()
			res, err := train(ctx, &o, false, io.Discard, io.Discard)
			if err != nil {
				return fmt.Errorf("report: %s seed %d: %w", e.id, s, err)
			}
			e.runs = append(e.runs, res)
			fmt.Fprintf(stdout, "[%2d/%d] %-22s seed %d: test acc %.4f F1 %.4f MCC %.4f (%.0fs, %s elapsed)\n", n, total, e.id, s,
				res.Summary.TestAccuracy, res.Summary.TestF1Spam, res.Summary.TestMCC, time.Since(t0).Seconds(), time.Since(start).Round(time.Second))
		}
	}
	ens, err := reportEnsembles(&r, exps)
	if err != nil {
		return err
	}
	if err := writeReport(&r, base, exps, ens, vectors, time.Since(start)); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %s (%s)\n", filepath.Join(r.out, "REPORT.md"), time.Since(start).Round(time.Second))
	return nil
}

// defaultOptions returns the training flags' defaults.
func defaultOptions() Options {
	var o Options
	fs := flag.NewFlagSet("", flag.ContinueOnError)
	trainFlags(fs, &o)
	_ = o.normalize()
	return o
}

// presetOptions returns the training options of --preset name: its flags over the defaults.
func presetOptions(name string) (Options, error) {
	var o Options
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	trainFlags(fs, &o)
	if err := fs.Parse(presets[name].Args); err != nil {
		return o, err
	}
	return o, o.normalize()
}

// studyExperiments lists the configurations of A1, A3/A4 and A5.
func studyExperiments(base Options, vectors string) []*experiment {
	cell := func(c string) func(*Options) { return func(o *Options) { o.Model.Cell = c } }
	bi := func(embed, dense int64) func(*Options) {
		return func(o *Options) {
			o.Model.Cell, o.Model.Bidirectional = "gru", true
			if embed > 0 {
				o.Model.Embed = embed
			}
			if dense > 0 {
				o.Model.Dense = dense
			}
		}
	}
	e, f := base.Model.Embed, base.Model.Dense
	exps := []*experiment{
		{id: "rnn", label: "RNN (1 layer)", part: "A4", modify: cell("rnn")},
		{id: "lstm", label: "LSTM (1 layer)", part: "A4", modify: cell("lstm")},
		{id: "gru", label: "GRU (1 layer)", part: "A4", modify: cell("gru")},
		{id: "gru-2layer", label: "GRU, 2 layers", part: "A5", modify: func(o *Options) { o.Model.Cell, o.Model.Layers = "gru", 2 }},
		{id: "bigru", label: fmt.Sprintf("BiGRU E%d F%d", e, f), part: "A5", modify: bi(0, 0)},
		{id: "bigru-e-half", label: fmt.Sprintf("BiGRU E%d F%d", e/2, f), part: "A5", modify: bi(e/2, 0)},
		{id: "bigru-e-double", label: fmt.Sprintf("BiGRU E%d F%d", 2*e, f), part: "A5", modify: bi(2*e, 0)},
		{id: "bigru-f-half", label: fmt.Sprintf("BiGRU E%d F%d", e, f/2), part: "A5", modify: bi(0, f/2)},
		{id: "bigru-f-double", label: fmt.Sprintf("BiGRU E%d F%d", e, 2*f), part: "A5", modify: bi(0, 2*f)},
	}
	if vectors != "" {
		exps = append(exps,
			&experiment{id: "gru-random300", label: "GRU, random 300-d embedding", part: "A1",
				modify: func(o *Options) { o.Model.Cell, o.Model.Embed = "gru", 300 }},
			&experiment{id: "gru-glove300", label: "GRU, GloVe 300-d, fine-tuned", part: "A1",
				modify: func(o *Options) { o.Model.Cell, o.Model.Embed, o.Vectors = "gru", 300, vectors }},
			&experiment{id: "gru-glove300-frozen", label: "GRU, GloVe 300-d, frozen", part: "A1",
				modify: func(o *Options) {
					o.Model.Cell, o.Model.Embed, o.Vectors, o.FreezeEmbeddings = "gru", 300, vectors, true
				}},
		)
	}
	if base.Epochs > defaultWarmup { // the warm-up needs an epoch after it
		for _, c := range scheduleCells {
			exps = append(exps, &experiment{id: c.id + "-" + scheduleWarmupCosine, label: c.label + ", warmup-cosine", part: "A7",
				modify: func(o *Options) { o.Model.Cell, o.Schedule = c.id, scheduleWarmupCosine }})
		}
	}
	return exps
}

// stat is a mean and a sample standard deviation.
type stat struct{ Mean, Std float64 }

// String formats s to four decimals, as the report's metrics in [0, 1].
func (s stat) String() string { return fmt.Sprintf("%.4f ± %.4f", s.Mean, s.Std) }

// Pct formats s as percentage points to two decimals.
func (s stat) Pct() string { return fmt.Sprintf("%.2f ± %.2f", 100*s.Mean, 100*s.Std) }

// Short formats s to one decimal (epochs).
func (s stat) Short() string { return fmt.Sprintf("%.1f ± %.1f", s.Mean, s.Std) }

// meanStd returns the mean and the sample standard deviation of v.
func meanStd(v []float64) stat {
	switch len(v) {
	case 0:
		return stat{math.NaN(), math.NaN()}
	case 1:
		return stat{v[0], 0}
	}
	m, sd := gstat.MeanStdDev(v, nil)
	return stat{m, sd}
}

func (e *experiment) stat(f func(*outcome) float64) stat {
	var v []float64
	for _, r := range e.runs {
		v = append(v, f(r))
	}
	return meanStd(v)
}

// epochsTo returns the first epoch whose validation accuracy reaches target (NaN if none).
func epochsTo(r *outcome, target float64) float64 {
	for _, h := range r.History {
		if h.Val["val_accuracy"] >= target {
			return float64(h.Epoch)
		}
	}
	return math.NaN()
}

// meanCurve averages a per-epoch value over an experiment's runs.
func (e *experiment) meanCurve(f func(i int, r *outcome) float64) []float64 {
	var out []float64
	for i := 0; ; i++ {
		var s float64
		n := 0
		for _, r := range e.runs {
			if i < len(r.History) {
				s += f(i, r)
				n++
			}
		}
		if n == 0 {
			return out
		}
		out = append(out, s/float64(n))
	}
}

// validationAccuracy is the validation accuracy of a run's best epoch.
func validationAccuracy(o *outcome) float64 {
	for _, r := range o.History {
		if r.Epoch == o.Summary.BestEpoch {
			return r.Val["val_accuracy"]
		}
	}
	return math.NaN()
}

// findExperiment returns the experiment with id, or nil.
func findExperiment(exps []*experiment, id string) *experiment {
	for _, e := range exps {
		if e.id == id {
			return e
		}
	}
	return nil
}

// ensembleMembers are the single-model presets that --preset best averages.
func ensembleMembers() []string { return presets["best"].Members }

// reportEnsembles evaluates --preset best's ensemble per seed: the runs of its member presets
// with the same seed, averaged. None without the member experiments (no vectors, --fast).
func reportEnsembles(r *reportOptions, exps []*experiment) ([]*EnsembleSummary, error) {
	var members []*experiment
	for _, name := range ensembleMembers() {
		e := findExperiment(exps, name)
		if e == nil {
			return nil, nil
		}
		members = append(members, e)
	}
	var out []*EnsembleSummary
	for s := 1; s <= r.seeds; s++ {
		dirs := make([]string, len(members))
		for k, e := range members {
			dirs[k] = filepath.Join(r.out, "runs", fmt.Sprintf("%s-s%d", e.id, s))
		}
		e, err := loadEnsemble(dirs, r.device)
		if err != nil {
			return nil, fmt.Errorf("report: ensemble seed %d: %w", s, err)
		}
		sum, err := scoreEnsemble(e)
		e.close()
		if err != nil {
			return nil, fmt.Errorf("report: ensemble seed %d: %w", s, err)
		}
		out = append(out, sum)
	}
	return out, nil
}

// ensStat is the mean and standard deviation of f over the ensembles.
func ensStat(ens []*EnsembleSummary, f func(*EnsembleSummary) float64) stat {
	v := make([]float64, len(ens))
	for i, s := range ens {
		v[i] = f(s)
	}
	return meanStd(v)
}

// The report's text is report.md.tmpl (the sections, filled from reportData) and
// report_quoted.md.tmpl (measurements quoted from earlier runs, which the report prints as
// such and does not rerun).
//
//go:embed report.md.tmpl report_quoted.md.tmpl
var reportTemplates embed.FS

// renderReport executes the report's templates on d; a key or field the data lacks is an
// error (see runlog.RenderTemplate).
func renderReport(w io.Writer, d *reportData) error {
	return runlog.RenderTemplate(w, reportTemplates, template.FuncMap{
		"commas":   commas,
		"verdict":  verdict,
		"percent":  func(x float64) float64 { return 100 * x },
		"rows":     func(r []modelRow, target float64) convTable { return convTable{r, target} },
		"schedRow": func(label, schedule string, r modelRow) scheduleRow { return scheduleRow{label, schedule, r} },
	}, d, "report.md.tmpl", "report_quoted.md.tmpl")
}

// commas formats an integer with thousands separators (runlog.Commas) for the templates.
func commas(n any) (string, error) {
	switch n := n.(type) {
	case int:
		return runlog.Commas(int64(n)), nil
	case int64:
		return runlog.Commas(n), nil
	}
	return "", fmt.Errorf("commas: %T is not an integer", n)
}

// verdict words whether a target was met.
func verdict(ok bool) string {
	if ok {
		return "met"
	}
	return "not met"
}

// reportData is what the report's templates read: the numbers of one report run, computed
// from its runs. Sections a run did not train are nil.
type reportData struct {
	Out                 string        // --out
	Epochs, Seeds       int           // --epochs, --seeds
	Took                time.Duration // wall time of the report
	Device, Libtorch    string
	Threads             int
	Arch                string  // runtime.GOARCH
	Target              float64 // --target: the validation accuracy that measures convergence
	SplitSeed           uint64
	TrainSize, ValSize  int
	TestSize, VocabSize int
	MinCount, Batch     int
	LR, Dropout         float64
	Embed               int64
	A1                  *embeddingSection // nil without pretrained vectors
	A2                  paramSection
	A4, A5              []modelRow       // A3 and A4 read A4's rows; A5 has the 1-layer GRU first
	A6                  *bestSection     // nil without the ensemble's member runs
	A7                  *scheduleSection // nil unless the runs have an epoch after the warm-up
	Best                modelRow         // the lowest mean validation loss of all rows
	SeedTarget, Issue16 bool             // Best's accuracy and F1 against the two targets
}

// modelRow is one configuration's measurements over the seeds.
type modelRow struct {
	ID, Label         string
	Params, Trainable int64 // seed 1's
	Acc, Precision    stat  // test accuracy, spam precision
	Recall, F1, MCC   stat  // test spam recall, spam F1, MCC
	ValLoss, ValAcc   stat  // validation loss and accuracy of the selected epoch
	BestEpoch         stat
	SecondsPerEpoch   stat
	Conv              convergence
	Confusion         [][]int // seed 1's test confusion matrix, [true][predicted]
}

// convTable is the argument of the template "convergence-table": rows and the target
// validation accuracy.
type convTable struct {
	Rows   []modelRow
	Target float64
}

// scheduleRow is the argument of the template "schedule-row": one model with one schedule.
type scheduleRow struct {
	Label, Schedule string
	Row             modelRow
}

// convergence is the first epoch whose validation accuracy reaches the target, over the N
// runs that reached it (N = 0: none did).
type convergence struct {
	Epochs stat
	N      int
}

// embeddingSection is A1: the study's GRU against pretrained vectors.
type embeddingSection struct {
	Coverage string     // the vectors file and its coverage of the training part
	Rows     []modelRow // the 1-layer GRU, then the A1 configurations
	Chosen   modelRow   // the lowest mean validation loss among Rows
	// ChosenGloVe is whether Chosen is the fine-tuned GloVe row.
	ChosenGloVe bool
}

// paramSection is A2: the baseline's parameters at hidden sizes 80 and 120.
type paramSection struct {
	Embed, Dense    int64
	Vocab           int
	Tensors         []tensorRow
	Total80         int64
	Total120        int64
	Growth          int64 // Total120 − Total80
	Cells80         cellCounts
	Cells120        cellCounts
	EmbedParams     int64   // V·E
	EmbedShare      float64 // EmbedParams / Total80
	Vocabs          []vocabRow
	SmallEmbed      int64 // E = 50
	CapVocab        int64 // V ≤ 2,000
	SmallDense      int64 // F = 30
	FrozenTrainable int64 // trainable with a frozen embedding
}

// tensorRow is one parameter tensor at H = 80 and H = 120.
type tensorRow struct {
	Name              string
	Shape80, Shape120 []int64
	Count80, Count120 int64
}

// Changes reports whether the tensor's size depends on H.
func (t tensorRow) Changes() bool { return t.Count80 != t.Count120 }

// cellCounts are the baseline's parameter counts with each cell.
type cellCounts struct{ RNN, LSTM, GRU int64 }

// vocabRow is V and the baseline's total for one vocabulary setting.
type vocabRow struct {
	MinCount     int
	Placeholders bool
	Vocab, Total int64
}

// bestSection is A6: --preset best's ensemble over the seeds and its members alone.
type bestSection struct {
	Members   []presetRow
	Params    int64 // all members together
	Seeds     []ensembleRow
	Acc, F1   stat
	Precision stat
	Recall    stat
	MCC       stat
	ValAcc    stat
	ValLoss   stat
	TargetMet bool // issue 16's: accuracy ≥ 99.0 % and spam F1 ≥ 0.96
	Alone     []modelRow
}

// presetRow is a member preset of --preset best.
type presetRow struct{ Name, Doc, Args string }

// ensembleRow is the ensemble of one seed.
type ensembleRow struct {
	Seed                       int
	Acc, Precision, Recall, F1 float64
	MCC, ValAcc, ValLoss       float64
	MemberAcc                  []float64
	Confusion                  [][]int
	MSPerK, FirstMemberMSPerK  float64
}

// scheduleSection is A7: the A4 models with --schedule warmup-cosine.
type scheduleSection struct {
	Warmup, Cosine int // epochs of warm-up and of the cosine
	StartFactor    float64
	LRs            []float64 // per epoch, from seed 1's first pair
	Pairs          []schedulePair
}

// schedulePair is one cell with both schedules and the seed-by-seed differences.
type schedulePair struct {
	Label              string
	Constant, Schedule modelRow
	DAcc               stat    // warmup-cosine minus constant test accuracy
	DLoss              float64 // mean difference of validation loss
	Better, N          int     // seeds where warmup-cosine's test accuracy is higher, of N
}

// row measures an experiment over its runs.
func row(e *experiment, target float64) modelRow {
	s := func(f func(*Summary) float64) stat {
		return e.stat(func(o *outcome) float64 { return f(&o.Summary) })
	}
	first := e.runs[0].Summary
	r := modelRow{ID: e.id, Label: e.label, Params: first.Params, Trainable: first.TrainableParams,
		Acc:             s(func(x *Summary) float64 { return x.TestAccuracy }),
		Precision:       s(func(x *Summary) float64 { return x.TestPrecisionSpam }),
		Recall:          s(func(x *Summary) float64 { return x.TestRecallSpam }),
		F1:              s(func(x *Summary) float64 { return x.TestF1Spam }),
		MCC:             s(func(x *Summary) float64 { return x.TestMCC }),
		ValLoss:         s(func(x *Summary) float64 { return x.BestValue }),
		ValAcc:          e.stat(validationAccuracy),
		BestEpoch:       s(func(x *Summary) float64 { return float64(x.BestEpoch) }),
		SecondsPerEpoch: s(func(x *Summary) float64 { return x.SecondsPerEpoch }),
		Confusion:       first.TestConfusion,
	}
	var reached []float64
	for _, o := range e.runs {
		if v := epochsTo(o, target); !math.IsNaN(v) {
			reached = append(reached, v)
		}
	}
	r.Conv = convergence{meanStd(reached), len(reached)}
	return r
}

// writeReport writes REPORT.md and the figures.
func writeReport(r *reportOptions, base Options, exps []*experiment, ens []*EnsembleSummary, vectors string, took time.Duration) error {
	d := reportInputs(r, base, exps, ens, vectors, took)
	if err := writeReportFigures(r.out, exps); err != nil {
		return err
	}
	return runlog.AtomicWriteFile(filepath.Join(r.out, "REPORT.md"), func(w io.Writer) error { return renderReport(w, d) })
}

// reportInputs computes the report's numbers from the runs.
func reportInputs(r *reportOptions, base Options, exps []*experiment, ens []*EnsembleSummary, vectors string, took time.Duration) *reportData {
	first := exps[0].runs[0].Summary
	d := &reportData{Out: r.out, Epochs: r.epochs, Seeds: r.seeds, Took: took.Round(time.Second), Device: first.Device,
		Libtorch: torch.Version(), Threads: r.threads, Arch: runtime.GOARCH, Target: r.target, SplitSeed: base.SplitSeed,
		TrainSize: first.TrainSize, ValSize: first.ValSize, TestSize: first.TestSize, VocabSize: first.VocabSize,
		MinCount: base.MinCount, Batch: base.Batch, LR: base.LR, Dropout: base.Model.Dropout, Embed: base.Model.Embed,
		A2: paramInputs(base, first.VocabSize)}
	var a1 []modelRow
	for _, e := range exps {
		switch {
		case e.part == "A4":
			d.A4 = append(d.A4, row(e, r.target))
		case e.part == "A5":
			d.A5 = append(d.A5, row(e, r.target))
		}
		if e.part == "A1" || e.id == "gru" {
			a1 = append(a1, row(e, r.target))
		}
	}
	if g := findExperiment(exps, "gru"); g != nil {
		d.A5 = append([]modelRow{row(g, r.target)}, d.A5...)
	}
	if vectors != "" {
		a := &embeddingSection{Coverage: vectorCoverage(base, vectors), Rows: a1}
		if len(a1) > 0 {
			a.Chosen = a1[0]
			for _, x := range a1 {
				if x.ValLoss.Mean < a.Chosen.ValLoss.Mean {
					a.Chosen = x
				}
			}
			a.ChosenGloVe = a.Chosen.ID == "gru-glove300"
		}
		d.A1 = a
	}
	if len(ens) > 0 {
		d.A6 = bestInputs(exps, ens, r.target)
	}
	d.A7 = scheduleInputs(exps, r.target)
	best := exps[0]
	val := func(e *experiment) float64 {
		return e.stat(func(o *outcome) float64 { return o.Summary.BestValue }).Mean
	}
	for _, e := range exps {
		if val(e) < val(best) {
			best = e
		}
	}
	d.Best = row(best, r.target)
	d.SeedTarget = d.Best.Acc.Mean >= 0.985 && d.Best.F1.Mean >= 0.94
	d.Issue16 = d.Best.Acc.Mean >= 0.99 && d.Best.F1.Mean >= 0.96
	return d
}

// bestInputs measures A6: --preset best's ensemble per seed and its members alone.
func bestInputs(exps []*experiment, ens []*EnsembleSummary, target float64) *bestSection {
	st := func(f func(*EnsembleSummary) float64) stat { return ensStat(ens, f) }
	b := &bestSection{Params: ens[0].Params,
		Acc:       st(func(s *EnsembleSummary) float64 { return s.TestAccuracy }),
		Precision: st(func(s *EnsembleSummary) float64 { return s.TestPrecisionSpam }),
		Recall:    st(func(s *EnsembleSummary) float64 { return s.TestRecallSpam }),
		F1:        st(func(s *EnsembleSummary) float64 { return s.TestF1Spam }),
		MCC:       st(func(s *EnsembleSummary) float64 { return s.TestMCC }),
		ValAcc:    st(func(s *EnsembleSummary) float64 { return s.ValAccuracy }),
		ValLoss:   st(func(s *EnsembleSummary) float64 { return s.ValLoss }),
	}
	b.TargetMet = b.Acc.Mean >= 0.99 && b.F1.Mean >= 0.96
	for _, name := range ensembleMembers() {
		b.Members = append(b.Members, presetRow{name, presets[name].Doc, strings.Join(presets[name].Args, " ")})
		if e := findExperiment(exps, name); e != nil {
			b.Alone = append(b.Alone, row(e, target))
		}
	}
	for i, s := range ens {
		x := ensembleRow{Seed: i + 1, Acc: s.TestAccuracy, Precision: s.TestPrecisionSpam, Recall: s.TestRecallSpam, F1: s.TestF1Spam,
			MCC: s.TestMCC, ValAcc: s.ValAccuracy, ValLoss: s.ValLoss, MemberAcc: s.MemberTestAcc, Confusion: s.TestConfusion, MSPerK: s.MSPerK}
		if len(s.MemberMSPerK) > 0 {
			x.FirstMemberMSPerK = s.MemberMSPerK[0]
		}
		b.Seeds = append(b.Seeds, x)
	}
	return b
}

// scheduleCells are the A4 models that A7 trains again with --schedule warmup-cosine.
var scheduleCells = []struct{ id, label string }{{"rnn", "RNN (1 layer)"}, {"lstm", "LSTM (1 layer)"}, {"gru", "GRU (1 layer)"}}

// scheduleInputs measures A7: each A4 model with --schedule warmup-cosine beside its
// constant-rate row (the same seeds), from the runs of both; nil without such runs.
func scheduleInputs(exps []*experiment, target float64) *scheduleSection {
	var s scheduleSection
	var firstRun *outcome
	for _, c := range scheduleCells {
		k, w := findExperiment(exps, c.id), findExperiment(exps, c.id+"-"+scheduleWarmupCosine)
		if k == nil || w == nil || len(k.runs) != len(w.runs) {
			continue
		}
		if firstRun == nil {
			firstRun = w.runs[0]
		}
		p := schedulePair{Label: c.label, Constant: row(k, target), Schedule: row(w, target), N: len(w.runs)}
		var dacc, dloss []float64
		for i := range w.runs {
			a, b := w.runs[i].Summary, k.runs[i].Summary
			dacc, dloss = append(dacc, a.TestAccuracy-b.TestAccuracy), append(dloss, a.BestValue-b.BestValue)
			if a.TestAccuracy > b.TestAccuracy {
				p.Better++
			}
		}
		p.DAcc, p.DLoss = meanStd(dacc), meanStd(dloss).Mean
		s.Pairs = append(s.Pairs, p)
	}
	if len(s.Pairs) == 0 {
		return nil
	}
	for _, h := range firstRun.History {
		s.LRs = append(s.LRs, h.Val["lr"])
	}
	s.Warmup, s.Cosine, s.StartFactor = defaultWarmup, len(firstRun.History)-defaultWarmup, warmupStartFactor
	return &s
}

// paramInputs counts A2's parameters: per tensor at hidden 80 and 120, per cell, and with the
// vocabulary and the layer sizes cut.
func paramInputs(base Options, vocab int) paramSection {
	cfg := base.Model
	cfg.Vocab = int64(vocab)
	c80, c120 := cfg, cfg
	c80.Hidden, c120.Hidden = 80, 120
	p := paramSection{Embed: cfg.Embed, Dense: cfg.Dense, Vocab: vocab,
		Total80: smsrnn.NumParams(c80), Total120: smsrnn.NumParams(c120),
		Cells80:     cellCounts{withCell(c80, "rnn"), withCell(c80, "lstm"), withCell(c80, "gru")},
		Cells120:    cellCounts{withCell(c120, "rnn"), withCell(c120, "lstm"), withCell(c120, "gru")},
		EmbedParams: cfg.Vocab * cfg.Embed, Vocabs: vocabSizes(base),
		FrozenTrainable: smsrnn.NumParams(c80) - c80.Vocab*c80.Embed,
	}
	p.EmbedShare = float64(p.EmbedParams) / float64(p.Total80)
	p.Growth = p.Total120 - p.Total80
	a, z := smsrnn.ParamShapes(c80), smsrnn.ParamShapes(c120)
	for i := range a {
		p.Tensors = append(p.Tensors, tensorRow{a[i].Name, a[i].Shape, z[i].Shape, a[i].Count(), z[i].Count()})
	}
	small := c80
	small.Embed = 50
	p.SmallEmbed = smsrnn.NumParams(small)
	small = c80
	small.Vocab = min(c80.Vocab, 2000)
	p.CapVocab = smsrnn.NumParams(small)
	small = c80
	small.Dense = 30
	p.SmallDense = smsrnn.NumParams(small)
	return p
}

func withCell(c smsrnn.Config, cell string) int64 {
	c.Cell = cell
	return smsrnn.NumParams(c)
}

// vocabSizes measures V for several cut-offs on the training part, and without
// placeholders; none if the data does not load.
func vocabSizes(base Options) []vocabRow {
	var out []vocabRow
	count := func(o Options) bool {
		ds, err := loadDataset(&o, nil)
		if err != nil {
			return false
		}
		cfg := base.Model
		cfg.Vocab = int64(ds.vocab.Len())
		out = append(out, vocabRow{o.MinCount, o.Placeholders, cfg.Vocab, smsrnn.NumParams(cfg)})
		return true
	}
	for _, mc := range []int{1, 2, 3} {
		o := base
		o.MinCount = mc
		if !count(o) {
			return nil
		}
	}
	o := base
	o.Placeholders = false
	count(o)
	return out
}

// vectorCoverage names the vectors file (name, format, sha256, rows kept) and how much of the
// training part it covers.
func vectorCoverage(base Options, path string) string {
	ds, err := loadDataset(&base, nil)
	if err != nil {
		return "coverage unknown"
	}
	vec, err := data.LoadVectors(path, data.VectorOptions{Keep: data.KeepSet(ds.vocab.Tokens())})
	if err != nil {
		return path + ", coverage unknown: " + err.Error()
	}
	var docs [][]string
	for _, m := range ds.split.Train {
		docs = append(docs, ds.tok.Tokenize(m.Text))
	}
	return vec.Record(vec.Coverage(docs)).String() + ", coverage of the training part"
}

// writeReportFigures draws a3_curves.png and a5_convergence.png.
func writeReportFigures(dir string, exps []*experiment) error {
	var a3, a5 []curves.Series
	for _, e := range exps {
		va := e.meanCurve(func(i int, r *outcome) float64 { return r.History[i].Val["val_accuracy"] })
		switch e.part {
		case "A4":
			a3 = append(a3,
				curves.Series{Name: e.id + " train", Panel: "loss", Values: e.meanCurve(func(i int, r *outcome) float64 { return r.History[i].TrainLoss })},
				curves.Series{Name: e.id + " val", Panel: "loss", Values: e.meanCurve(func(i int, r *outcome) float64 { return r.History[i].Val["val_loss"] })},
				curves.Series{Name: e.id + " train", Panel: "accuracy", Values: e.meanCurve(func(i int, r *outcome) float64 { return r.History[i].TrainAccuracy })},
				curves.Series{Name: e.id + " val", Panel: "accuracy", Values: va})
		case "A5":
			a5 = append(a5, curves.Series{Name: e.id, Panel: "validation accuracy", Values: va})
		}
	}
	if err := curves.Curves(filepath.Join(dir, "a3_curves.png"), "A3", a3...); err != nil {
		return err
	}
	return curves.Curves(filepath.Join(dir, "a5_convergence.png"), "A5", a5...)
}
