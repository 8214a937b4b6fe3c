package data

import (
	"fmt"
	"iter"
	"math/rand/v2"
	"slices"
)

// Example is one encoded single-text example (e.g. an SMS message).
type Example struct {
	IDs   []int64 // token ids
	Label int64   // class index
	Score float64 // regression target (0 if none)
}

// PairExample is one encoded sentence pair (e.g. a SICK pair).
type PairExample struct {
	A, B  []int64 // token ids of the two sentences
	Label int64   // class index (see Label)
	Score float64 // relatedness score
}

// Batch is a padded mini-batch of token sequences.
type Batch struct {
	IDs     []int64   // B*T token ids, row-major, padded with PadID (0)
	B, T    int       // batch size and padded length (max of Lengths)
	Lengths []int64   // true length of each row, always >= 1
	Labels  []int64   // one per row
	Scores  []float64 // one per row
	Index   []int     // index of each row's example in the input slice
}

// PairBatch is a padded mini-batch of sentence pairs. A and B are padded
// separately (A.T and B.T may differ); their Labels, Scores and Index are the
// same slices as the PairBatch's own.
type PairBatch struct {
	A, B   Batch
	Labels []int64
	Scores []float64
	Index  []int
}

// BatchOptions controls [Batches] and [PairBatches].
type BatchOptions struct {
	// Size is the batch size (values < 1 mean 32).
	Size int
	// Shuffle shuffles the examples every epoch with a PCG seeded by
	// (Seed, epoch), so each epoch has its own reproducible order.
	Shuffle bool
	Seed    uint64
	// Bucket, if > 0, sorts the examples by length within chunks of Bucket
	// batches (after shuffling) and then shuffles the order of the batches
	// (if Shuffle), which cuts padding. 50 is a good value.
	Bucket int
	// DropLast drops a final batch smaller than Size. With World >= 2 it also
	// shards as PyTorch's DistributedSampler(drop_last=True) does (see World).
	DropLast bool
	// Rank and World shard every epoch for data-parallel training: World is the
	// number of processes, Rank (0 <= Rank < World) this process's. World < 2
	// means no sharding (Rank must then be 0). A Rank out of range panics.
	//
	// With World >= 2 the examples are shuffled exactly as without sharding
	// (the PCG seeded by (Seed, epoch) gives every rank the same permutation)
	// and then split as PyTorch's DistributedSampler splits them. Without
	// DropLast the shuffled list is padded to ceil(n/World)*World entries by
	// repeating it from its start; with DropLast it is truncated to
	// floor(n/World)*World entries. This rank takes the entries at positions
	// Rank, Rank+World, Rank+2*World, ... Its shard is then bucketed, cut into
	// batches of Size (the batch size per process, as in PyTorch DDP; DropLast
	// drops the shard's last short batch) and the batches shuffled, so every
	// rank yields the same number of batches.
	Rank, World int
}

// EncodeSMS tokenizes and encodes messages. An empty token list becomes a
// single UnkID so that every sequence has length >= 1.
func EncodeSMS(msgs []SMS, tok Tokenizer, v *Vocab) []Example {
	out := make([]Example, len(msgs))
	for i, m := range msgs {
		out[i] = Example{IDs: nonEmpty(v.Encode(tok.Tokenize(m.Text))), Label: int64(m.Label)}
	}
	return out
}

// EncodePairs tokenizes and encodes sentence pairs, with Label as the class
// index and Score as the relatedness score. An empty token list becomes a
// single UnkID.
func EncodePairs(pairs []Pair, tok Tokenizer, v *Vocab) []PairExample {
	out := make([]PairExample, len(pairs))
	for i, p := range pairs {
		out[i] = PairExample{
			A:     nonEmpty(v.Encode(tok.Tokenize(p.A))),
			B:     nonEmpty(v.Encode(tok.Tokenize(p.B))),
			Label: int64(p.Label),
			Score: p.Score,
		}
	}
	return out
}

func nonEmpty(ids []int64) []int64 {
	if len(ids) == 0 {
		return []int64{UnkID}
	}
	return ids
}

// NumBatches returns how many batches an epoch over n examples has: with
// World >= 2, how many this rank yields (every rank yields as many).
func (o BatchOptions) NumBatches(n int) int {
	n = o.shardLen(n)
	s := o.size()
	if o.DropLast {
		return n / s
	}
	return (n + s - 1) / s
}

func (o BatchOptions) size() int {
	if o.Size < 1 {
		return 32
	}
	return o.Size
}

// checkRank panics when Rank is out of range for World.
func (o BatchOptions) checkRank() {
	if o.World < 2 && o.Rank != 0 || o.World >= 2 && (o.Rank < 0 || o.Rank >= o.World) {
		panic(fmt.Sprintf("data: BatchOptions.Rank %d is out of range for World %d (want 0 <= Rank < World, or Rank 0 when World < 2)", o.Rank, o.World))
	}
}

// shardLen returns how many of n examples this rank's shard holds.
func (o BatchOptions) shardLen(n int) int {
	o.checkRank()
	switch {
	case o.World < 2:
		return n
	case o.DropLast:
		return n / o.World
	}
	return (n + o.World - 1) / o.World
}

// shard returns this rank's part of the shuffled index list idx (see
// [BatchOptions.World]); without sharding it returns idx.
func (o BatchOptions) shard(idx []int) []int {
	m := o.shardLen(len(idx))
	if o.World < 2 {
		return idx
	}
	out := make([]int, m)
	for k := range out {
		// Position p of the padded (or truncated) list holds idx[p%n]: padding
		// repeats the list from its start as often as needed.
		out[k] = idx[(o.Rank+k*o.World)%len(idx)]
	}
	return out
}

// order returns the batches of one epoch as lists of example indices.
func (o BatchOptions) order(n int, length func(i int) int, epoch int) [][]int {
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i
	}
	rng := rand.New(rand.NewPCG(o.Seed, uint64(epoch)))
	if o.Shuffle {
		rng.Shuffle(n, func(i, j int) { idx[i], idx[j] = idx[j], idx[i] })
	}
	idx = o.shard(idx)
	n = len(idx)
	size := o.size()
	if o.Bucket > 0 {
		chunk := o.Bucket * size
		for s := 0; s < n; s += chunk {
			part := idx[s:min(s+chunk, n)]
			slices.SortStableFunc(part, func(a, b int) int { return length(a) - length(b) })
		}
	}
	var batches [][]int
	for s := 0; s < n; s += size {
		e := min(s+size, n)
		if e-s < size && o.DropLast {
			break
		}
		batches = append(batches, idx[s:e])
	}
	if o.Bucket > 0 && o.Shuffle {
		rng.Shuffle(len(batches), func(i, j int) { batches[i], batches[j] = batches[j], batches[i] })
	}
	return batches
}

// Batches yields the batches of one epoch over ex; see [BatchOptions].
// Empty id lists are batched as a single UnkID (length 1).
func Batches(ex []Example, opt BatchOptions, epoch int) iter.Seq[Batch] {
	return func(yield func(Batch) bool) {
		for _, b := range opt.order(len(ex), func(i int) int { return len(ex[i].IDs) }, epoch) {
			var bt Batch
			bt.Index = slices.Clip(b)
			seqs := make([][]int64, len(b))
			bt.Labels = make([]int64, len(b))
			bt.Scores = make([]float64, len(b))
			for k, i := range b {
				seqs[k] = ex[i].IDs
				bt.Labels[k] = ex[i].Label
				bt.Scores[k] = ex[i].Score
			}
			pad(&bt, seqs)
			if !yield(bt) {
				return
			}
		}
	}
}

// PairBatches yields the batches of one epoch over pairs; see
// [BatchOptions]. With Bucket, pairs are sorted by the longer of their two
// sentences.
func PairBatches(ex []PairExample, opt BatchOptions, epoch int) iter.Seq[PairBatch] {
	return func(yield func(PairBatch) bool) {
		length := func(i int) int { return max(len(ex[i].A), len(ex[i].B)) }
		for _, b := range opt.order(len(ex), length, epoch) {
			pb := PairBatch{Index: slices.Clip(b), Labels: make([]int64, len(b)), Scores: make([]float64, len(b))}
			as := make([][]int64, len(b))
			bs := make([][]int64, len(b))
			for k, i := range b {
				as[k], bs[k] = ex[i].A, ex[i].B
				pb.Labels[k] = ex[i].Label
				pb.Scores[k] = ex[i].Score
			}
			pad(&pb.A, as)
			pad(&pb.B, bs)
			for _, s := range []*Batch{&pb.A, &pb.B} {
				s.Labels, s.Scores, s.Index = pb.Labels, pb.Scores, pb.Index
			}
			if !yield(pb) {
				return
			}
		}
	}
}

// pad fills IDs, B, T and Lengths of bt from seqs.
func pad(bt *Batch, seqs [][]int64) {
	bt.B = len(seqs)
	bt.Lengths = make([]int64, len(seqs))
	bt.T = 1
	for _, s := range seqs {
		bt.T = max(bt.T, len(s))
	}
	bt.IDs = make([]int64, bt.B*bt.T)
	for k, s := range seqs {
		if len(s) == 0 {
			s = []int64{UnkID}
		}
		copy(bt.IDs[k*bt.T:], s)
		bt.Lengths[k] = int64(len(s))
	}
}
