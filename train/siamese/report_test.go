package main

import (
	"bytes"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/seqtorch/seqtorch/data"
	"github.com/seqtorch/seqtorch/train/cli/clitest"
)

// fixedSummary is a run summary with made-up numbers derived from k, for the template tests.
func fixedSummary(loss string, k float64) summary {
	s := summary{Loss: loss, TestPearson: 0.85 + k/1000, TestSpearman: 0.79 + k/1000, TestMSE: 0.28 - k/1000,
		TestAccuracy: 0.85, TrialPearson: 0.86 + k/1000, ParamsTrainable: 161200, ParamsFrozen: 694200, ParamsTotal: 855400,
		TrainPairs: 4439, Epochs: 30, BestEpoch: 7, SecondsPerEpoch: 9.5, Optimizer: "adam", LR: 1e-3,
		Hidden: []int64{50, 50}, Bidirectional: true, Scale: "learned", ScaleValue: 0.7315, Margin: 1, Threshold: 3.5,
		TSNEPoints: 1480, TSNESeconds: 12.3}
	s.Agreement, s.Chance = 0.41, 0.12
	return s
}

// fixedReport is a report with made-up numbers and no runs behind it.
func fixedReport() *reportData {
	tai, best := fixedSummary("tai", 2), fixedSummary("tai", 5)
	tai.Hidden, tai.Epochs, tai.TaiHidden = []int64{50}, 15, 50
	best.Hidden, best.Epochs, best.TaiHidden, best.Entailment = []int64{300}, 10, 150, 0.5
	syn := fixedSummary("malstm", 1)
	syn.AugmentedPairs, syn.TrainPairs, syn.AugmentDropped = 4102, 8541, 337
	triplet := fixedSummary("triplet", -200)
	triplet.Margin = 0.5
	return &reportData{Minutes: 18, Runs: 16, Seeds: 2,
		Pairs: 9840, Train: 4439, Trial: 495, Test: 4906, Neutral: 5595, Entailment: 2821, Contradiction: 1424,
		Relatedness: [4]int{923, 1373, 3872, 3672}, Vocab: 2312, Found: 2306, Vectors: "vectors.txt (word2vec text; coverage: types 99.74%)",
		Median: 3.6, Similar: 0.59, SimilarAt3: 0.76, EntailmentSimilar: 0.99,
		MaLSTM: fixedSummary("malstm", 0), Tai: tai, Contrastive: fixedSummary("contrastive", -100), Triplet: triplet,
		TaiHidden: 50, TaiHeadParams: 30305,
		BaselineTrial: scores{Pearson: 0.72}, BaselineTest: scores{Pearson: 0.71, Spearman: 0.6, MSE: 0.9, Accuracy: 0.7},
		Heads: []headRow{{Head: "malstm", Pearson: stat{0.853, 0.002}, Spearman: stat{0.79, 0.001}, MSE: stat{0.28, 0.01}, Trial: stat{0.86, 0.002}, PerSeed: []float64{0.851, 0.855}},
			{Head: "tai", Pearson: stat{0.861, 0.003}, Spearman: stat{0.8, 0.001}, MSE: stat{0.27, 0.01}, Trial: stat{0.87, 0.001}, PerSeed: []float64{0.859, 0.863}}},
		BestHead: "tai", BestMean: 0.861, MaLSTMMean: 0.853, TaiMean: 0.861, MaLSTMTarget: true, TaiTarget: true,
		Augment: augmentSection{Synonyms: syn, Seeds: []augmentRow{{1, fixedSummary("malstm", 0), syn}},
			Pearson: stat{0.85, 0}, Synonym: stat{0.851, 0}, Spearman: 0.79, SynRho: 0.791, MSE: 0.28, SynMSE: 0.279, BestMean: 0.851, Target: true},
		Best: bestSection{Args: "--loss tai --hidden 300 --tai-hidden 150 --entailment 0.5 --epochs 10", Seeds: []summary{best, fixedSummary("tai", 6)},
			Pearson: stat{0.8836, 0.0006}, Spearman: stat{0.82, 0.001}, MSE: stat{0.22, 0.002}, Trial: stat{0.888, 0.001},
			Ensembles: []ensembleRun{{Members: []string{"best-seed1", "best-seed2"}, Single: ensembleScores{MSPerKPair: 120},
				Ens: ensembleScores{TestPairs: 4906, MSPerKPair: 240, Test: scores{Pearson: 0.8883, Spearman: 0.83, MSE: 0.21}, Trial: scores{Pearson: 0.893}}}},
			EnsPearson: stat{0.8883, 0.0003}, EnsSpearman: stat{0.83, 0}, EnsMSE: stat{0.21, 0}, EnsTrial: stat{0.893, 0},
			EnsTarget: true, TestPairs: 4906, Batch: evalBatch},
	}
}

// TestReportTemplate executes the report's templates on fixed data and compares the result
// with testdata/report.golden (go test -run TestReportTemplate -update rewrites it). A parse or
// execution error, a field the data lacks or a bad format verb fails the test.
func TestReportTemplate(t *testing.T) {
	var b bytes.Buffer
	if err := renderReport(&b, fixedReport()); err != nil {
		t.Fatal(err)
	}
	got := b.String()
	checkRendered(t, got)
	for _, want := range []string{"### Quoted: tried during tuning", "**Quoted.**", "References, quoted and not rerun",
		"| tai | **0.8610 ± 0.0030** |", "| best-seed1 + best-seed2 | 0.8883 |"} {
		if !strings.Contains(got, want) {
			t.Errorf("the report lacks %q", want)
		}
	}
	clitest.Golden(t, filepath.Join("testdata", "report.golden"), got, *update)
}

// checkRendered fails t if a report shows a missing value or a bad format verb.
func checkRendered(t *testing.T, report string) {
	t.Helper()
	for _, bad := range []string{"<no value>", "%!", "<nil>", "NaN"} {
		if strings.Contains(report, bad) {
			t.Errorf("the report contains %q:\n%s", bad, report)
		}
	}
}

// TestReportInputs computes the report's numbers from made-up run summaries and the tiny
// corpus, and renders them: the means, the corpus counts and the threshold shares are the
// ones computed here.
func TestReportInputs(t *testing.T) {
	c, err := loadCorpus("testdata/sick_tiny.txt", "testdata/vectors_tiny.txt", augmentSpec{Kind: "none"}, 1)
	if err != nil {
		t.Fatal(err)
	}
	const seeds = 2
	byName := map[string]*reportRun{}
	var runs []*reportRun
	add := func(name string, s summary) {
		r := &reportRun{Name: name, Sum: s}
		runs, byName[name] = append(runs, r), r
	}
	for s := 1; s <= 2*seeds; s++ {
		b := fixedSummary("tai", float64(s))
		b.Hidden, b.TaiHidden, b.Entailment = []int64{300}, 150, 0.5
		add(fmt.Sprintf("best-seed%d", s), b)
	}
	for s := 1; s <= seeds; s++ {
		add(fmt.Sprintf("malstm-seed%d", s), fixedSummary("malstm", float64(10*s)))
		add(fmt.Sprintf("malstm-synonyms-seed%d", s), fixedSummary("malstm", float64(20*s)))
		tai := fixedSummary("tai", float64(30*s))
		tai.Hidden, tai.TaiHidden = []int64{50}, 50
		add(fmt.Sprintf("tai-seed%d", s), tai)
	}
	add("contrastive-seed1", fixedSummary("contrastive", 0))
	add("triplet-seed1", fixedSummary("triplet", 0))
	var ens []ensembleRun
	for s := 1; s <= seeds; s++ {
		ens = append(ens, ensembleRun{Members: []string{fmt.Sprintf("best-seed%d", s), fmt.Sprintf("best-seed%d", s+seeds)},
			Ens: ensembleScores{TestPairs: len(c.test), Test: scores{Pearson: 0.88 + float64(s)/100}}})
	}
	d := reportInputs(c, runs, byName, seeds, scores{}, scores{}, ens, 90*time.Second)

	if d.Pairs != len(c.train)+len(c.trial)+len(c.test) || d.Neutral+d.Entailment+d.Contradiction != d.Pairs {
		t.Errorf("pairs %d, labels %d+%d+%d; want the corpus's %d+%d+%d", d.Pairs, d.Neutral, d.Entailment, d.Contradiction, len(c.train), len(c.trial), len(c.test))
	}
	if h := d.Heads[0]; h.Head != "malstm" || fmt.Sprintf("%.4f", h.Pearson.Mean) != "0.8650" || len(h.PerSeed) != seeds {
		t.Errorf("malstm head: %+v; want a mean TEST Pearson of 0.8650 over %d seeds", h, seeds)
	}
	if d.BestHead != "tai" || !d.TaiTarget {
		t.Errorf("best head %q (tai target %v); want tai, at or above 0.85", d.BestHead, d.TaiTarget)
	}
	if got := fmt.Sprintf("%.4f", d.Best.Pearson.Mean); got != "0.8515" || len(d.Best.Seeds) != 2*seeds {
		t.Errorf("best: mean TEST Pearson %s over %d runs; want 0.8515 over seeds 1-2 of %d runs", got, len(d.Best.Seeds), 2*seeds)
	}
	if got := fmt.Sprintf("%.4f", d.Best.EnsPearson.Mean); got != "0.8950" || !d.Best.EnsTarget {
		t.Errorf("ensembles: mean TEST Pearson %s (target %v); want 0.8950, reached", got, d.Best.EnsTarget)
	}
	median, similar, _, _ := thresholdStats(c.train, 3.5)
	if d.Median != median || d.Similar != similar || !(similar > 0 && similar < 1) {
		t.Errorf("threshold shares: median %v, similar %v; want %v, %v", d.Median, d.Similar, median, similar)
	}
	var b bytes.Buffer
	if err := renderReport(&b, d); err != nil {
		t.Fatal(err)
	}
	checkRendered(t, b.String())
}

func TestThresholdStats(t *testing.T) {
	pairs := []data.Pair{{Score: 1, Label: data.Neutral}, {Score: 3, Label: data.Neutral}, {Score: 3.6, Label: data.Entailment},
		{Score: 4.5, Label: data.Entailment}, {Score: 3.2, Label: data.Entailment}}
	median, similar, at3, entailment := thresholdStats(pairs, 3.5)
	if got := fmt.Sprintf("%.2f %.2f %.2f %.3f", median, similar, at3, entailment); got != "3.20 0.40 0.80 0.667" {
		t.Errorf("thresholdStats = %s; want 3.20 0.40 0.80 0.667 (median, shares at 3.5 and 3, entailment share)", got)
	}
	if median, _, _, _ := thresholdStats(pairs[:4], 3.5); fmt.Sprintf("%.2f", median) != "3.30" {
		t.Errorf("median of an even count = %v, want 3.3", median)
	}
}
