package data

import (
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"
)

// Label is a SICK entailment label.
type Label int8

// SICK entailment labels. The integer values are the class indices used in
// batches (Batch.Labels).
const (
	Neutral       Label = 0
	Entailment    Label = 1
	Contradiction Label = 2
)

// NumLabels is the number of SICK entailment classes.
const NumLabels = 3

// String returns the label as written in the SICK files, e.g. "NEUTRAL".
func (l Label) String() string {
	switch l {
	case Neutral:
		return "NEUTRAL"
	case Entailment:
		return "ENTAILMENT"
	case Contradiction:
		return "CONTRADICTION"
	}
	return fmt.Sprintf("Label(%d)", int8(l))
}

// ParseLabel parses "NEUTRAL", "ENTAILMENT" or "CONTRADICTION".
func ParseLabel(s string) (Label, error) {
	switch s {
	case "NEUTRAL":
		return Neutral, nil
	case "ENTAILMENT":
		return Entailment, nil
	case "CONTRADICTION":
		return Contradiction, nil
	}
	return 0, fmt.Errorf("want NEUTRAL, ENTAILMENT or CONTRADICTION, got %q", truncate(s, 40))
}

// Split names a part of a data set.
type Split int8

// Splits. SICK uses the SemEval-2014 names TRAIN, TRIAL (validation) and TEST.
const (
	SplitNone  Split = 0 // not known
	SplitTrain Split = 1
	SplitTrial Split = 2 // the validation part
	SplitTest  Split = 3
)

// String returns "TRAIN", "TRIAL", "TEST" or "" for SplitNone.
func (s Split) String() string {
	switch s {
	case SplitNone:
		return ""
	case SplitTrain:
		return "TRAIN"
	case SplitTrial:
		return "TRIAL"
	case SplitTest:
		return "TEST"
	}
	return fmt.Sprintf("Split(%d)", int8(s))
}

// ParseSplit parses "TRAIN", "TRIAL" or "TEST".
func ParseSplit(s string) (Split, error) {
	switch s {
	case "TRAIN":
		return SplitTrain, nil
	case "TRIAL":
		return SplitTrial, nil
	case "TEST":
		return SplitTest, nil
	}
	return SplitNone, fmt.Errorf("want TRAIN, TRIAL or TEST, got %q", truncate(s, 40))
}

// Pair is one SICK sentence pair.
type Pair struct {
	ID    int     // pair_ID
	A, B  string  // sentence_A, sentence_B
	Score float64 // relatedness score in [1, 5]
	Label Label   // entailment label
	Split Split   // SemEval_set (SplitNone if the file does not say)
	Line  int     // 1-based line number in the source file (0 for generated pairs)
}

// Header columns of the SICK files.
var (
	sickFullHeader = []string{"pair_ID", "sentence_A", "sentence_B", "entailment_label",
		"relatedness_score", "entailment_AB", "entailment_BA", "sentence_A_original",
		"sentence_B_original", "sentence_A_dataset", "sentence_B_dataset", "SemEval_set"}
	sickSemEvalHeader = []string{"pair_ID", "sentence_A", "sentence_B", "relatedness_score",
		"entailment_judgment"}
)

// ReadSICK reads the full SICK release (SICK.txt): a header row and 12
// tab-separated columns, pair_ID sentence_A sentence_B entailment_label
// relatedness_score entailment_AB entailment_BA sentence_A_original
// sentence_B_original sentence_A_dataset sentence_B_dataset SemEval_set.
// LF and CRLF line ends are accepted; empty lines are skipped. name is used in
// error messages ("name:line: want ..., got ...").
func ReadSICK(r io.Reader, name string) ([]Pair, error) {
	return readSICK(r, name, sickFullHeader, SplitNone)
}

// ReadSICKSemEval reads one file of the SemEval-2014 Task 1 release
// (SICK_train.txt, SICK_trial.txt, SICK_test_annotated.txt): a header row and 5
// tab-separated columns, pair_ID sentence_A sentence_B relatedness_score
// entailment_judgment (the score comes before the label). Every pair gets the
// given split.
func ReadSICKSemEval(r io.Reader, name string, split Split) ([]Pair, error) {
	return readSICK(r, name, sickSemEvalHeader, split)
}

// LoadSICK reads the full SICK release at path (see [ReadSICK]).
func LoadSICK(path string) ([]Pair, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("data: %w", err)
	}
	defer f.Close()
	return ReadSICK(f, baseName(path))
}

// LoadSICKSemEval reads a SemEval-format SICK file at path (see
// [ReadSICKSemEval]).
func LoadSICKSemEval(path string, split Split) ([]Pair, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("data: %w", err)
	}
	defer f.Close()
	return ReadSICKSemEval(f, baseName(path), split)
}

func readSICK(r io.Reader, name string, header []string, split Split) ([]Pair, error) {
	lr := newLineReader(r, name)
	full := len(header) == len(sickFullHeader)
	sawHeader := false
	var out []Pair
	for s, err := range lr.lines(skipEmpty | validUTF8) {
		if err != nil {
			return nil, err
		}
		cols := strings.Split(s, "\t")
		if !sawHeader {
			if strings.Join(cols, "\t") != strings.Join(header, "\t") {
				return nil, lr.errorf("want header %q, got %q", strings.Join(header, " "), truncate(strings.Join(cols, " "), 200))
			}
			sawHeader = true
			continue
		}
		if len(cols) != len(header) {
			return nil, lr.errorf("want %d tab-separated columns, got %d", len(header), len(cols))
		}
		// Own copies of the two sentences: slices of s would keep the whole line (with its
		// original sentences and labels) alive for as long as the pair.
		p := Pair{A: strings.Clone(cols[1]), B: strings.Clone(cols[2]), Split: split, Line: lr.line}
		id, err := strconv.Atoi(cols[0])
		if err != nil || id < 0 {
			return nil, lr.errorf("pair_ID: want a non-negative integer, got %q", truncate(cols[0], 40))
		}
		p.ID = id
		scoreCol, labelCol := 4, 3
		if !full {
			scoreCol, labelCol = 3, 4
		}
		if p.Score, err = parseScore(cols[scoreCol]); err != nil {
			return nil, lr.errorf("relatedness_score: %v", err)
		}
		if p.Label, err = ParseLabel(cols[labelCol]); err != nil {
			return nil, lr.errorf("%s: %v", header[labelCol], err)
		}
		if full {
			if p.Split, err = ParseSplit(cols[11]); err != nil {
				return nil, lr.errorf("SemEval_set: %v", err)
			}
		}
		if strings.TrimSpace(p.A) == "" || strings.TrimSpace(p.B) == "" {
			return nil, lr.errorf("want non-empty sentence_A and sentence_B")
		}
		out = append(out, p)
	}
	if !sawHeader {
		return nil, fmt.Errorf("%s:1: want header %q, got an empty file", name, strings.Join(header, " "))
	}
	return out, nil
}

// parseScore parses a relatedness score and checks it lies in [1, 5].
func parseScore(s string) (float64, error) {
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(v) {
		return 0, fmt.Errorf("want a number in [1, 5], got %q", truncate(s, 40))
	}
	if v < 1 || v > 5 {
		return 0, fmt.Errorf("want a number in [1, 5], got %v", v)
	}
	return v, nil
}

// SplitSICK partitions pairs by their SemEval_set. Pairs with SplitNone are
// left out.
func SplitSICK(pairs []Pair) (train, trial, test []Pair) {
	for _, p := range pairs {
		switch p.Split {
		case SplitTrain:
			train = append(train, p)
		case SplitTrial:
			trial = append(trial, p)
		case SplitTest:
			test = append(test, p)
		}
	}
	return train, trial, test
}
