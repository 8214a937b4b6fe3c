package main

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/seqtorch/seqtorch/train/cli/clitest"
)

// fixedRow is a model row with made-up numbers derived from k, for the template tests.
func fixedRow(id, label string, k float64) modelRow {
	s := func(m float64) stat { return stat{m + k/1000, k / 10000} }
	return modelRow{ID: id, Label: label, Params: 340000 + int64(k)*1000, Trainable: 19000 + int64(k),
		Acc: s(0.98), Precision: s(0.95), Recall: s(0.9), F1: s(0.93), MCC: s(0.92),
		ValLoss: s(0.05), ValAcc: s(0.985), BestEpoch: stat{3 + k/10, 0.5}, SecondsPerEpoch: stat{0.4 + k/10, 0.01},
		Conv:      convergence{stat{2 + k/10, 0.5}, int(k) % 3},
		Confusion: [][]int{{720 + int(k), 4}, {12, 100}},
	}
}

// fixedReport is a report with every section, made-up numbers and no runs behind it.
func fixedReport() *reportData {
	gru := fixedRow("gru", "GRU (1 layer)", 3)
	return &reportData{Out: "runs/sms-report", Epochs: 6, Seeds: 2, Took: 7*time.Minute + 4*time.Second,
		Device: "cpu", Libtorch: "1.13.0", Threads: 1, Arch: "amd64", Target: 0.98, SplitSeed: 2024,
		TrainSize: 3903, ValSize: 835, TestSize: 836, VocabSize: 3226, MinCount: 2, Batch: 32, LR: 1e-3, Dropout: 0.3, Embed: 100,
		A1: &embeddingSection{Coverage: "vectors.txt (word2vec text; coverage: types 9.31%, tokens 36.47%), coverage of the training part",
			Rows:   []modelRow{gru, fixedRow("gru-glove300", "GRU, GloVe 300-d, fine-tuned", 4)},
			Chosen: fixedRow("gru-glove300", "GRU, GloVe 300-d, fine-tuned", 4), ChosenGloVe: true},
		A2: paramSection{Embed: 100, Dense: 60, Vocab: 3226,
			Tensors: []tensorRow{{"embedding.weight", []int64{3226, 100}, []int64{3226, 100}, 322600, 322600},
				{"rnn.weight_hh_l0", []int64{80, 80}, []int64{120, 120}, 6400, 14400}},
			Total80: 342142, Total120: 356622, Growth: 14480,
			Cells80: cellCounts{342142, 385822, 371262}, Cells120: cellCounts{356622, 436542, 409902},
			EmbedParams: 322600, EmbedShare: 0.943,
			Vocabs:     []vocabRow{{1, true, 6458, 665342}, {2, false, 3526, 372142}},
			SmallEmbed: 176842, CapVocab: 219542, SmallDense: 339652, FrozenTrainable: 19542},
		A4: []modelRow{fixedRow("rnn", "RNN (1 layer)", 1), fixedRow("lstm", "LSTM (1 layer)", 2), gru},
		A5: []modelRow{gru, fixedRow("bigru", "BiGRU E100 F60", 5)},
		A6: &bestSection{Members: []presetRow{{"words", "one model", "--cell lstm"}, {"raw", "words as written", "--placeholders=false"}},
			Params: 2000000,
			Seeds: []ensembleRow{{Seed: 1, Acc: 0.992, Precision: 0.97, Recall: 0.95, F1: 0.96, MCC: 0.955, ValAcc: 0.9924, ValLoss: 0.04,
				MemberAcc: []float64{0.987, 0.989}, Confusion: [][]int{{720, 4}, {5, 107}}, MSPerK: 95.4, FirstMemberMSPerK: 30.2}},
			Acc: stat{0.992, 0.0007}, F1: stat{0.9696, 0.002}, Precision: stat{0.97, 0}, Recall: stat{0.95, 0}, MCC: stat{0.955, 0},
			ValAcc: stat{0.9924, 0}, ValLoss: stat{0.04, 0}, TargetMet: true,
			Alone: []modelRow{fixedRow("words", "--preset words", 6), fixedRow("raw", "--preset raw", 7)}},
		A7: &scheduleSection{Warmup: 1, Cosine: 5, StartFactor: 0.1, LRs: []float64{1e-4, 1e-3, 9.05e-4},
			Pairs: []schedulePair{{Label: "GRU (1 layer)", Constant: gru, Schedule: fixedRow("gru-warmup-cosine", "GRU (1 layer)", 8),
				DAcc: stat{-0.0012, 0.0021}, DLoss: 0.0013, Better: 1, N: 2}}},
		Best:       fixedRow("gru-glove300", "GRU, GloVe 300-d, fine-tuned", 4),
		SeedTarget: true,
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
	for _, bad := range []string{"<no value>", "%!", "<nil>"} {
		if strings.Contains(got, bad) {
			t.Errorf("the report contains %q:\n%s", bad, got)
		}
	}
	clitest.Golden(t, filepath.Join("testdata", "report.golden"), got, *update)
}

// TestReportTemplateSections: without vectors, ensembles and schedule runs, A1 says so and A6
// and A7 are left out; the quoted blocks are labelled.
func TestReportTemplateSections(t *testing.T) {
	d := fixedReport()
	var full bytes.Buffer
	if err := renderReport(&full, d); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"## A6.", "## A7.", "### Quoted: how `--preset best` was chosen", "**Quoted.**",
		"Reference points, quoted and not rerun", "| 1 | 99.20 | 0.9700 |", "| GRU (1 layer) | warmup-cosine | "} {
		if !strings.Contains(full.String(), want) {
			t.Errorf("the full report lacks %q", want)
		}
	}
	d.A1, d.A6, d.A7 = nil, nil, nil
	var b bytes.Buffer
	if err := renderReport(&b, d); err != nil {
		t.Fatal(err)
	}
	s := b.String()
	if !strings.Contains(s, "No pretrained vectors were compared in this run") {
		t.Error("without vectors, A1 does not say so")
	}
	for _, absent := range []string{"## A6", "## A7", "Ensembles tried", "--preset best"} {
		if strings.Contains(s, absent) {
			t.Errorf("without ensembles and schedule runs, the report contains %q", absent)
		}
	}
}
