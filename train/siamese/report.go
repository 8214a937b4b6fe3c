package main

import (
	"bytes"
	"context"
	"embed"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"text/template"
	"time"

	"github.com/seqtorch/seqtorch/data"
	"github.com/seqtorch/seqtorch/torch"
	"github.com/seqtorch/seqtorch/train/cli"
	"github.com/seqtorch/seqtorch/train/curves"
	"github.com/seqtorch/seqtorch/train/runlog"
	gstat "gonum.org/v1/gonum/stat"
)

// reportRun is one training run of the study.
type reportRun struct {
	Name string
	Args []string
	Sum  summary
	Err  error
}

// runReport is `siamese report --out DIR`: it trains every model of the study (as separate
// processes of this binary, --jobs at a time, one libtorch thread each) and writes REPORT.md
// with the measured numbers and the figures.
func runReport(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := cli.NewFlagSet("siamese report", "usage: go run ./train/siamese report [--out DIR] [flags]", stderr)
	out := fs.String("out", "runs/siamese-report", "report folder")
	epochs := fs.Int("epochs", 30, "epochs per run")
	seeds := fs.Int("seeds", 3, "seeds for the MaLSTM with/without augmentation comparison and for the best configuration (which trains twice as many: the second half pairs with the first into ensembles)")
	jobs := fs.Int("jobs", 2, "training processes at a time")
	extra := fs.String("train-args", "", "extra flags for every training run (space-separated)")
	vectors := fs.String("vectors", "", "word vectors for every run and the baseline: "+data.VectorFormats+"; default: GloVe 840B restricted to SICK from the data catalog")
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	if *seeds < 1 || *jobs < 1 || *epochs < 1 {
		return cli.Usagef("report: --seeds, --jobs and --epochs must be at least 1")
	}
	start := time.Now()
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("report: %w", err)
	}
	c, err := loadDefaultCorpus(*vectors)
	if err != nil {
		return err
	}
	blTrial, blTest, err := baseline(c, 3.5)
	if err != nil {
		return fmt.Errorf("report: baseline: %w", err)
	}

	// Each run prints its summary on stdout and replaces the run of an earlier report.
	common := []string{"--json", "-", "--force"}
	if *vectors != "" {
		abs, err := filepath.Abs(*vectors) // FILE.zip:MEMBER stays as it is
		if err != nil {
			return fmt.Errorf("report: %w", err)
		}
		common = append(common, "--vectors", abs)
	}
	if *extra != "" {
		common = append(common, strings.Fields(*extra)...)
	}
	var runs []*reportRun
	add := func(name string, a ...string) {
		args := append([]string{"--out", filepath.Join(*out, "runs", name), "--epochs", fmt.Sprint(*epochs)}, common...)
		runs = append(runs, &reportRun{Name: name, Args: append(args, a...)})
	}
	// The best configuration runs as users run it: --preset best, its own epochs. They go
	// first, being the longest.
	for s := 1; s <= 2*(*seeds); s++ {
		name := fmt.Sprintf("best-seed%d", s)
		runs = append(runs, &reportRun{Name: name, Args: append([]string{"--preset", "best", "--out", filepath.Join(*out, "runs", name), "--seed", fmt.Sprint(s), "--tsne", "0"}, common...)})
	}
	for s := 1; s <= *seeds; s++ {
		tsne := "0"
		if s == 1 {
			tsne = "0.3"
		}
		add(fmt.Sprintf("malstm-seed%d", s), "--loss", "malstm", "--seed", fmt.Sprint(s), "--tsne", tsne)
		add(fmt.Sprintf("malstm-synonyms-seed%d", s), "--loss", "malstm", "--seed", fmt.Sprint(s), "--tsne", "0", "--augment", "synonyms")
		// The tai head's TRIAL Pearson peaks near epoch 10 and then overfits: half the epochs.
		add(fmt.Sprintf("tai-seed%d", s), "--loss", "tai", "--seed", fmt.Sprint(s), "--tsne", "0", "--epochs", fmt.Sprint(max(*epochs/2, 1)))
	}
	add("contrastive-seed1", "--loss", "contrastive", "--seed", "1", "--tsne", "0")
	add("triplet-seed1", "--loss", "triplet", "--seed", "1", "--tsne", "0")

	fmt.Fprintf(stdout, "report: %d training runs, %d at a time, %d epochs each\n", len(runs), *jobs, *epochs)
	var wg sync.WaitGroup
	sem := make(chan struct{}, *jobs)
	var mu sync.Mutex
	for _, r := range runs {
		wg.Add(1)
		sem <- struct{}{} // in order: the longest runs, listed first, start first
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			t0 := time.Now()
			var so, se bytes.Buffer
			cmd := exec.CommandContext(ctx, self, r.Args...)
			cmd.Stdout, cmd.Stderr = &so, &se
			if err := cmd.Run(); err != nil {
				r.Err = fmt.Errorf("%s: %w: %s", r.Name, err, lastLine(se.String()))
			} else if err := json.Unmarshal(so.Bytes(), &r.Sum); err != nil {
				r.Err = fmt.Errorf("%s: reading its summary: %w", r.Name, err)
			}
			mu.Lock()
			if r.Err != nil {
				fmt.Fprintf(stdout, "  %-24s failed: %v\n", r.Name, r.Err)
			} else {
				fmt.Fprintf(stdout, "  %-24s test pearson %.4f spearman %.4f mse %.4f (%.0fs)\n", r.Name, r.Sum.TestPearson, r.Sum.TestSpearman, r.Sum.TestMSE, time.Since(t0).Seconds())
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	for _, r := range runs {
		if r.Err != nil {
			return fmt.Errorf("report: %w", r.Err)
		}
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	byName := map[string]*reportRun{}
	for _, r := range runs {
		byName[r.Name] = r
	}
	// Figures.
	for _, name := range []string{"malstm-seed1", "tai-seed1", "contrastive-seed1", "triplet-seed1"} {
		if err := copyFile(filepath.Join(*out, "curves-"+strings.TrimSuffix(name, "-seed1")+".png"), filepath.Join(*out, "runs", name, "curves.png")); err != nil {
			return fmt.Errorf("report: %w", err)
		}
	}
	for _, f := range []string{"tsne.png", "tsne.html"} {
		if err := copyFile(filepath.Join(*out, f), filepath.Join(*out, "runs", "malstm-seed1", f)); err != nil {
			return fmt.Errorf("report: %w", err)
		}
	}
	if err := augmentFigure(filepath.Join(*out, "augment.png"), *out, *seeds); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	ens, err := bestEnsembles(filepath.Join(*out, "runs"), c, *seeds)
	if err != nil {
		return fmt.Errorf("report: %w", err)
	}
	d := reportInputs(c, runs, byName, *seeds, blTrial, blTest, ens, time.Since(start))
	if err := runlog.AtomicWriteFile(filepath.Join(*out, "REPORT.md"), func(w io.Writer) error { return renderReport(w, d) }); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	fmt.Fprintf(stdout, "report: %s written in %.1f minutes\n", filepath.Join(*out, "REPORT.md"), time.Since(start).Minutes())
	return nil
}

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		return s[i+1:]
	}
	return s
}

// readHistory reads the TRIAL Pearson per epoch from a run's metrics.jsonl.
func readHistory(dir string) ([]float64, error) {
	b, err := os.ReadFile(filepath.Join(dir, runlog.MetricsFile))
	if err != nil {
		return nil, err
	}
	var out []float64
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			return nil, fmt.Errorf("%s: %w", runlog.MetricsFile, err)
		}
		v, _ := m["val_pearson"].(float64)
		out = append(out, v)
	}
	return out, nil
}

// augmentFigure plots the TRIAL Pearson per epoch of the runs with and without augmentation.
func augmentFigure(path, out string, seeds int) error {
	var series []curves.Series
	for s := 1; s <= seeds; s++ {
		for _, kind := range []string{"", "-synonyms"} {
			h, err := readHistory(filepath.Join(out, "runs", fmt.Sprintf("malstm%s-seed%d", kind, s)))
			if err != nil {
				return err
			}
			name := fmt.Sprintf("no augmentation, seed %d", s)
			if kind != "" {
				name = fmt.Sprintf("synonyms, seed %d", s)
			}
			series = append(series, curves.Series{Name: name, Panel: "TRIAL pearson", Values: h})
		}
	}
	return curves.Curves(path, "MaLSTM", series...)
}

// stat is a mean and a sample standard deviation.
type stat struct{ Mean, Std float64 }

// String formats s to four decimals.
func (s stat) String() string { return fmt.Sprintf("%.4f ± %.4f", s.Mean, s.Std) }

// meanStd returns the mean and the sample standard deviation (0 for a single value).
func meanStd(xs []float64) stat {
	if len(xs) < 2 {
		return stat{gstat.Mean(xs, nil), 0}
	}
	m, sd := gstat.MeanStdDev(xs, nil)
	return stat{m, sd}
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
		"commas":  runlog.Commas,
		"percent": func(x float64) float64 { return 100 * x },
		"join":    strings.Join,
		"add1":    func(i int) int { return i + 1 },
		"list":    func(v ...any) []any { return v },
	}, d, "report.md.tmpl", "report_quoted.md.tmpl")
}

// reportData is what the report's templates read: the numbers of one report run, computed
// from its runs and the corpus.
type reportData struct {
	Minutes float64 // wall time of the report
	Runs    int     // training runs
	Seeds   int     // --seeds

	// The corpus.
	Pairs, Train, Trial, Test          int
	Neutral, Entailment, Contradiction int
	Relatedness                        [4]int // pairs with a score in [1,2), [2,3), [3,4), [4,5]
	Vocab, Found                       int    // tokens, and those with a pretrained vector
	Vectors                            string // the vectors file and its coverage
	// The similarity threshold of the distance heads against TRAIN: its median score, the
	// share of pairs at or above the threshold and at or above 3, and the share of its
	// ENTAILMENT pairs at or above the threshold.
	Median, Similar, SimilarAt3, EntailmentSimilar float64

	// Seed 1 of each head (A6, A7, A9).
	MaLSTM, Tai, Contrastive, Triplet summary
	TaiHidden                         int64 // the tai head's hidden size
	TaiHeadParams                     int64 // the tai head's trainable parameters

	BaselineTrial, BaselineTest scores // averaged word vectors + cosine
	Heads                       []headRow
	BestHead                    string  // the head with the best mean TEST Pearson
	BestMean                    float64 // its mean
	MaLSTMMean, TaiMean         float64 // mean TEST Pearson of the two regression heads
	MaLSTMTarget, TaiTarget     bool    // whether each reaches 0.85

	Augment augmentSection
	Best    bestSection
}

// headRow is one regression head over the seeds.
type headRow struct {
	Head                          string
	Pearson, Spearman, MSE, Trial stat
	PerSeed                       []float64 // TEST Pearson of each seed
}

// augmentSection is A8: MaLSTM with and without synonym augmentation, seed by seed.
type augmentSection struct {
	Synonyms         summary // seed 1 with augmentation
	Seeds            []augmentRow
	Pearson, Synonym stat    // mean TEST Pearson without and with augmentation
	Spearman, SynRho float64 // mean TEST Spearman without and with
	MSE, SynMSE      float64 // mean TEST MSE without and with
	BestMean         float64 // the higher of the two mean TEST Pearsons
	Target           bool    // whether BestMean reaches 0.85
}

// augmentRow is one seed's MaLSTM without (Plain) and with (Synonyms) augmentation.
type augmentRow struct {
	Seed            int
	Plain, Synonyms summary
}

// bestSection is A10: --preset best over 2·seeds seeds and its two-model ensembles.
type bestSection struct {
	Args                          string    // --preset best's flags
	Seeds                         []summary // seeds 1..2·seeds
	Pearson, Spearman, MSE, Trial stat      // over seeds 1..seeds
	Target                        bool      // whether the mean TEST Pearson reaches 0.885
	Ensembles                     []ensembleRun
	EnsPearson, EnsSpearman       stat
	EnsMSE, EnsTrial              stat
	EnsTarget                     bool // whether the ensembles' mean TEST Pearson reaches 0.885
	TestPairs, Batch              int  // TEST pairs scored for the timing, in batches of Batch
}

// reportInputs computes the report's numbers from the runs and the corpus.
func reportInputs(c *corpus, runs []*reportRun, byName map[string]*reportRun, seeds int, blTrial, blTest scores, ens []ensembleRun, took time.Duration) *reportData {
	sum := func(name string) summary { return byName[name].Sum }
	d := &reportData{Minutes: took.Minutes(), Runs: len(runs), Seeds: seeds,
		Train: len(c.train), Trial: len(c.trial), Test: len(c.test), Vocab: c.vocab.Len() - 2, Found: c.found,
		Vectors: c.vectorsUsed.String(), MaLSTM: sum("malstm-seed1"), Tai: sum("tai-seed1"),
		Contrastive: sum("contrastive-seed1"), Triplet: sum("triplet-seed1"), TaiHidden: taiHidden(byName),
		BaselineTrial: blTrial, BaselineTest: blTest}
	d.Pairs = d.Train + d.Trial + d.Test
	for _, set := range [][]data.Pair{c.train, c.trial, c.test} {
		for _, q := range set {
			switch q.Label {
			case data.Neutral:
				d.Neutral++
			case data.Entailment:
				d.Entailment++
			case data.Contradiction:
				d.Contradiction++
			}
			d.Relatedness[min(int(q.Score)-1, 3)]++
		}
	}
	d.Median, d.Similar, d.SimilarAt3, d.EntailmentSimilar = thresholdStats(c.train, d.MaLSTM.Threshold)
	t := d.Tai
	d.TaiHeadParams = t.ParamsTrainable - lstmParams(t.ParamsFrozen, t.Hidden, t.Bidirectional, c.vocab.Len())

	d.BestMean = math.Inf(-1)
	for _, head := range []string{"malstm", "tai"} {
		h := headRow{Head: head}
		var r, sp, e, tr []float64
		for s := 1; s <= seeds; s++ {
			x := sum(fmt.Sprintf("%s-seed%d", head, s))
			r, sp, e, tr = append(r, x.TestPearson), append(sp, x.TestSpearman), append(e, x.TestMSE), append(tr, x.TrialPearson)
		}
		h.Pearson, h.Spearman, h.MSE, h.Trial, h.PerSeed = meanStd(r), meanStd(sp), meanStd(e), meanStd(tr), r
		d.Heads = append(d.Heads, h)
		if h.Pearson.Mean > d.BestMean {
			d.BestMean, d.BestHead = h.Pearson.Mean, head
		}
	}
	d.MaLSTMMean, d.TaiMean = d.Heads[0].Pearson.Mean, d.Heads[1].Pearson.Mean
	d.MaLSTMTarget, d.TaiTarget = d.MaLSTMMean >= 0.85, d.TaiMean >= 0.85

	a := &d.Augment
	a.Synonyms = sum("malstm-synonyms-seed1")
	var r0, r1, s0, s1, e0, e1 []float64
	for s := 1; s <= seeds; s++ {
		x, g := sum(fmt.Sprintf("malstm-seed%d", s)), sum(fmt.Sprintf("malstm-synonyms-seed%d", s))
		a.Seeds = append(a.Seeds, augmentRow{s, x, g})
		r0, r1 = append(r0, x.TestPearson), append(r1, g.TestPearson)
		s0, s1 = append(s0, x.TestSpearman), append(s1, g.TestSpearman)
		e0, e1 = append(e0, x.TestMSE), append(e1, g.TestMSE)
	}
	a.Pearson, a.Synonym = meanStd(r0), meanStd(r1)
	a.Spearman, a.SynRho, a.MSE, a.SynMSE = meanStd(s0).Mean, meanStd(s1).Mean, meanStd(e0).Mean, meanStd(e1).Mean
	a.BestMean = math.Max(a.Pearson.Mean, a.Synonym.Mean)
	a.Target = a.BestMean >= 0.85

	d.Best = bestInputs(byName, seeds, ens)
	return d
}

// bestInputs measures A10: the best configuration's single models and ensembles.
func bestInputs(byName map[string]*reportRun, seeds int, ens []ensembleRun) bestSection {
	b := bestSection{Args: strings.Join(presets["best"].Args, " "), Ensembles: ens, Batch: evalBatch}
	var r, sp, e, tr []float64
	for s := 1; s <= 2*seeds; s++ {
		x := byName[fmt.Sprintf("best-seed%d", s)].Sum
		b.Seeds = append(b.Seeds, x)
		if s <= seeds {
			r, sp, e, tr = append(r, x.TestPearson), append(sp, x.TestSpearman), append(e, x.TestMSE), append(tr, x.TrialPearson)
		}
	}
	b.Pearson, b.Spearman, b.MSE, b.Trial = meanStd(r), meanStd(sp), meanStd(e), meanStd(tr)
	b.Target = b.Pearson.Mean >= 0.885
	r, sp, e, tr = nil, nil, nil, nil
	for _, x := range ens {
		r, sp, e, tr = append(r, x.Ens.Test.Pearson), append(sp, x.Ens.Test.Spearman), append(e, x.Ens.Test.MSE), append(tr, x.Ens.Trial.Pearson)
	}
	b.EnsPearson, b.EnsSpearman, b.EnsMSE, b.EnsTrial = meanStd(r), meanStd(sp), meanStd(e), meanStd(tr)
	b.EnsTarget = b.EnsPearson.Mean >= 0.885
	if len(ens) > 0 {
		b.TestPairs = ens[0].Ens.TestPairs
	}
	return b
}

// thresholdStats describes a similarity threshold against pairs: their median score, the
// share at or above the threshold and at or above 3, and the share of their ENTAILMENT pairs
// at or above the threshold.
func thresholdStats(pairs []data.Pair, threshold float64) (median, similar, at3, entailment float64) {
	scores := make([]float64, len(pairs))
	var n, n3, ent, entSimilar float64
	for i, q := range pairs {
		scores[i] = q.Score
		if q.Score >= threshold {
			n++
		}
		if q.Score >= 3 {
			n3++
		}
		if q.Label == data.Entailment {
			ent++
			if q.Score >= threshold {
				entSimilar++
			}
		}
	}
	if len(pairs) == 0 {
		return math.NaN(), math.NaN(), math.NaN(), math.NaN()
	}
	slices.Sort(scores)
	median = (scores[(len(scores)-1)/2] + scores[len(scores)/2]) / 2
	total := float64(len(pairs))
	return median, n / total, n3 / total, entSimilar / max(ent, 1)
}

// ensembleRun is one ensemble of the best configuration: seed s's model with seed s+seeds's.
type ensembleRun struct {
	Members []string
	Single  ensembleScores // seed s's model alone, measured the same way (its inference cost)
	Ens     ensembleScores
}

// bestEnsembles scores, for s = 1..seeds, the best configuration's model of seed s alone and
// averaged with seed s+seeds's (evaluate --model A,B), with one libtorch thread.
func bestEnsembles(runs string, c *corpus, seeds int) ([]ensembleRun, error) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if err := torch.SetNumThreads(1); err != nil {
		return nil, err
	}
	var out []ensembleRun
	for s := 1; s <= seeds; s++ {
		e := ensembleRun{Members: []string{fmt.Sprintf("best-seed%d", s), fmt.Sprintf("best-seed%d", s+seeds)}}
		for i, dirs := range []string{filepath.Join(runs, e.Members[0]), filepath.Join(runs, e.Members[0]) + "," + filepath.Join(runs, e.Members[1])} {
			sc, err := loadScorer(dirs, "", "cpu")
			if err != nil {
				return nil, err
			}
			es, err := evaluateScorer(sc, c.trial, c.test)
			sc.close()
			if err != nil {
				return nil, err
			}
			if i == 0 {
				e.Single = es
			} else {
				e.Ens = es
			}
		}
		out = append(out, e)
	}
	return out, nil
}

// taiHidden returns the tai head's hidden size used by the report's runs.
func taiHidden(byName map[string]*reportRun) int64 {
	if r := byName["tai-seed1"]; r != nil && r.Sum.TaiHidden > 0 {
		return r.Sum.TaiHidden
	}
	return 50
}

// lstmParams counts the trainable parameters of an LSTM stack over a frozen embedding table of
// frozen parameters and vocab rows: per layer and direction 4H·(in + H + 2).
func lstmParams(frozen int64, hidden []int64, bidirectional bool, vocab int) int64 {
	in := frozen / int64(vocab)
	dirs := int64(1)
	if bidirectional {
		dirs = 2
	}
	var n int64
	for _, h := range hidden {
		n += dirs * 4 * h * (in + h + 2)
		in = dirs * h
	}
	return n
}
