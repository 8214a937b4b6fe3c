package data

import (
	"strings"
	"testing"
)

const sickHead = "pair_ID\tsentence_A\tsentence_B\tentailment_label\trelatedness_score\tentailment_AB\tentailment_BA\tsentence_A_original\tsentence_B_original\tsentence_A_dataset\tsentence_B_dataset\tSemEval_set\r\n"
const semHead = "pair_ID\tsentence_A\tsentence_B\trelatedness_score\tentailment_judgment\n"

func sickRow(id, label, score, set string) string {
	return id + "\tA man runs\tA person runs\t" + label + "\t" + score + "\tA_entails_B\tB_neutral_A\tx\ty\tFLICKR\tFLICKR\t" + set + "\r\n"
}

func TestReadSICK(t *testing.T) {
	tests := []struct {
		name, in string
		n        int
		err      string
	}{
		{"ok", sickHead + sickRow("1", "ENTAILMENT", "4.5", "TRAIN") + sickRow("2", "NEUTRAL", "1", "TEST"), 2, ""},
		{"no final newline", sickHead + strings.TrimSuffix(sickRow("1", "ENTAILMENT", "4.5", "TRIAL"), "\r\n"), 1, ""},
		{"empty", "", 0, `f:1: want header`},
		{"bad header", "id\ta\n", 0, `f:1: want header`},
		{"columns", sickHead + "1\ta\tb\n", 0, "f:2: want 12 tab-separated columns, got 3"},
		{"label", sickHead + sickRow("1", "ENTAIL", "4.5", "TRAIN"), 0, `f:2: entailment_label: want NEUTRAL, ENTAILMENT or CONTRADICTION, got "ENTAIL"`},
		{"score range", sickHead + sickRow("1", "NEUTRAL", "5.5", "TRAIN"), 0, "f:2: relatedness_score: want a number in [1, 5], got 5.5"},
		{"score nan", sickHead + sickRow("1", "NEUTRAL", "NaN", "TRAIN"), 0, `f:2: relatedness_score: want a number in [1, 5], got "NaN"`},
		{"score text", sickHead + sickRow("1", "NEUTRAL", "high", "TRAIN"), 0, `f:2: relatedness_score: want a number in [1, 5], got "high"`},
		{"split", sickHead + sickRow("1", "NEUTRAL", "3", "DEV"), 0, `f:2: SemEval_set: want TRAIN, TRIAL or TEST, got "DEV"`},
		{"id", sickHead + sickRow("x", "NEUTRAL", "3", "TRAIN"), 0, `f:2: pair_ID: want a non-negative integer, got "x"`},
		{"utf8", sickHead + sickRow("1", "NEUTRAL", "3", "TRAIN\xfe"), 0, "f:2: invalid UTF-8"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ReadSICK(strings.NewReader(tc.in), "f")
			if checkErr(t, err, tc.err, true) {
				return
			}
			if len(got) != tc.n {
				t.Fatalf("got %d pairs, want %d", len(got), tc.n)
			}
			if got[0].A != "A man runs" || got[0].Label != Entailment || got[0].Score != 4.5 || got[0].Line != 2 {
				t.Errorf("first pair = %+v", got[0])
			}
		})
	}
}

func TestReadSICKSemEval(t *testing.T) {
	tests := []struct {
		name, in string
		err      string
	}{
		{"ok", semHead + "7\tA b\tC d\t3.6\tCONTRADICTION\n", ""},
		{"label order", semHead + "7\tA b\tC d\tCONTRADICTION\t3.6\n", `f:2: relatedness_score: want a number in [1, 5], got "CONTRADICTION"`},
		{"full header", sickHead, "f:1: want header"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ReadSICKSemEval(strings.NewReader(tc.in), "f", SplitTrial)
			if checkErr(t, err, tc.err, true) {
				return
			}
			want := Pair{ID: 7, A: "A b", B: "C d", Score: 3.6, Label: Contradiction, Split: SplitTrial, Line: 2}
			if len(got) != 1 || got[0] != want {
				t.Errorf("got %+v, want %+v", got, want)
			}
		})
	}
}

func TestLoadSICKReal(t *testing.T) {
	pairs, err := LoadSICK(mirrorFile(t, "sick/SICK.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if len(pairs) != 9840 {
		t.Fatalf("got %d pairs, want 9840", len(pairs))
	}
	labels := map[Label]int{}
	for _, p := range pairs {
		labels[p.Label]++
	}
	if labels[Neutral] != 5595 || labels[Entailment] != 2821 || labels[Contradiction] != 1424 {
		t.Errorf("labels = %v", labels)
	}
	train, trial, test := SplitSICK(pairs)
	if len(train) != 4439 || len(trial) != 495 || len(test) != 4906 {
		t.Errorf("splits = %d/%d/%d, want 4439/495/4906", len(train), len(trial), len(test))
	}
	for _, tc := range []struct {
		file  string
		split Split
		n     int
	}{
		{"SICK_train.txt", SplitTrain, 4500},
		{"SICK_trial.txt", SplitTrial, 500},
		{"SICK_test_annotated.txt", SplitTest, 4927},
	} {
		t.Run(tc.file, func(t *testing.T) {
			ps, err := LoadSICKSemEval(mirrorFile(t, "sick/"+tc.file), tc.split)
			if err != nil {
				t.Fatal(err)
			}
			if len(ps) != tc.n || ps[0].Split != tc.split {
				t.Errorf("got %d pairs (split %v), want %d", len(ps), ps[0].Split, tc.n)
			}
		})
	}
}
