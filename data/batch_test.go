package data

import (
	"slices"
	"testing"
)

func seqs(lengths ...int) []Example {
	ex := make([]Example, len(lengths))
	for i, n := range lengths {
		ids := make([]int64, n)
		for j := range ids {
			ids[j] = int64(i + 2)
		}
		ex[i] = Example{IDs: ids, Label: int64(i % 2), Score: float64(i)}
	}
	return ex
}

func TestBatches(t *testing.T) {
	ex := seqs(3, 1, 0, 5, 2, 4, 1)
	tests := []struct {
		name    string
		opt     BatchOptions
		batches int
	}{
		{"sequential", BatchOptions{Size: 3}, 3},
		{"drop last", BatchOptions{Size: 3, DropLast: true}, 2},
		{"shuffle", BatchOptions{Size: 2, Shuffle: true, Seed: 7}, 4},
		{"bucket", BatchOptions{Size: 2, Shuffle: true, Seed: 7, Bucket: 2}, 4},
		{"default size", BatchOptions{}, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			seen := map[int]bool{}
			n := 0
			for b := range Batches(ex, tc.opt, 0) {
				n++
				if len(b.IDs) != b.B*b.T || len(b.Lengths) != b.B || len(b.Labels) != b.B || len(b.Scores) != b.B || len(b.Index) != b.B {
					t.Fatalf("inconsistent batch %+v", b)
				}
				for k, i := range b.Index {
					if seen[i] {
						t.Fatalf("example %d twice", i)
					}
					seen[i] = true
					want := ex[i].IDs
					if len(want) == 0 {
						want = []int64{UnkID}
					}
					row := b.IDs[k*b.T : (k+1)*b.T]
					if int(b.Lengths[k]) != len(want) || !slices.Equal(row[:len(want)], want) {
						t.Errorf("row %d = %v (len %d), want %v", k, row, b.Lengths[k], want)
					}
					for _, x := range row[len(want):] {
						if x != PadID {
							t.Errorf("row %d padding %v", k, row)
						}
					}
					if b.Labels[k] != ex[i].Label || b.Scores[k] != ex[i].Score {
						t.Errorf("row %d label/score wrong", k)
					}
				}
			}
			if n != tc.batches || n != tc.opt.NumBatches(len(ex)) {
				t.Errorf("got %d batches, want %d (NumBatches %d)", n, tc.batches, tc.opt.NumBatches(len(ex)))
			}
			if !tc.opt.DropLast && len(seen) != len(ex) {
				t.Errorf("saw %d examples, want %d", len(seen), len(ex))
			}
		})
	}
}

func order(ex []Example, opt BatchOptions, epoch int) []int {
	var idx []int
	for b := range Batches(ex, opt, epoch) {
		idx = append(idx, b.Index...)
	}
	return idx
}

func TestBatchesShuffleSeeded(t *testing.T) {
	ex := seqs(make([]int, 100)...)
	opt := BatchOptions{Size: 10, Shuffle: true, Seed: 1}
	a, b := order(ex, opt, 0), order(ex, opt, 0)
	if !slices.Equal(a, b) {
		t.Error("same seed and epoch gave different orders")
	}
	if slices.Equal(a, order(ex, opt, 1)) {
		t.Error("epochs 0 and 1 gave the same order")
	}
	opt.Seed = 2
	if slices.Equal(a, order(ex, opt, 0)) {
		t.Error("seeds 1 and 2 gave the same order")
	}
}

func TestBucketingCutsPadding(t *testing.T) {
	lengths := make([]int, 1000)
	for i := range lengths {
		lengths[i] = 1 + (i*7919)%60
	}
	ex := seqs(lengths...)
	padding := func(opt BatchOptions) int {
		p := 0
		for b := range Batches(ex, opt, 3) {
			p += len(b.IDs)
		}
		return p
	}
	plain := padding(BatchOptions{Size: 16, Shuffle: true, Seed: 1})
	bucket := padding(BatchOptions{Size: 16, Shuffle: true, Seed: 1, Bucket: 20})
	if bucket >= plain {
		t.Errorf("bucketed batches hold %d ids, plain %d; want fewer", bucket, plain)
	}
	t.Logf("padded ids: plain %d, bucketed %d", plain, bucket)
}

func TestPairBatches(t *testing.T) {
	ex := []PairExample{
		{A: []int64{2, 3}, B: []int64{4}, Label: 1, Score: 4.5},
		{A: []int64{5}, B: nil, Label: 2, Score: 1},
		{A: []int64{6, 7, 8}, B: []int64{9, 10}, Label: 0, Score: 3},
	}
	var got []PairBatch
	for b := range PairBatches(ex, BatchOptions{Size: 2}, 0) {
		got = append(got, b)
	}
	if len(got) != 2 {
		t.Fatalf("got %d batches", len(got))
	}
	b := got[0]
	if b.A.T != 2 || b.B.T != 1 || !slices.Equal(b.A.IDs, []int64{2, 3, 5, 0}) || !slices.Equal(b.B.IDs, []int64{4, UnkID}) {
		t.Errorf("batch 0 = %+v", b)
	}
	if !slices.Equal(b.B.Lengths, []int64{1, 1}) || !slices.Equal(b.Labels, []int64{1, 2}) || !slices.Equal(b.A.Scores, []float64{4.5, 1}) {
		t.Errorf("batch 0 lengths/labels/scores = %v %v %v", b.B.Lengths, b.Labels, b.A.Scores)
	}
	// Stopping early must not panic.
	for range PairBatches(ex, BatchOptions{Size: 1}, 0) {
		break
	}
}

func TestEncodeSICKReal(t *testing.T) {
	pairs, err := LoadSICK(mirrorFile(t, "sick/SICK.txt"))
	if err != nil {
		t.Fatal(err)
	}
	train, _, _ := SplitSICK(pairs)
	tok := SICKTokenizer{Lower: true}
	var docs [][]string
	for _, p := range train {
		docs = append(docs, tok.Tokenize(p.A), tok.Tokenize(p.B))
	}
	voc := BuildVocab(docs, VocabOptions{})
	ex := EncodePairs(train, tok, voc)
	n := 0
	for b := range PairBatches(ex, BatchOptions{Size: 25, Shuffle: true, Seed: 1, Bucket: 50}, 0) {
		n += b.A.B
	}
	if n != len(train) {
		t.Errorf("batched %d pairs, want %d", n, len(train))
	}
}
