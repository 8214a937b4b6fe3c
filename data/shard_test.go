package data

import (
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// samplerShard is this test's transcription of PyTorch's DistributedSampler.__iter__ for
// the permutation perm: it returns the indices that rank takes.
func samplerShard(perm []int, rank, world int, dropLast bool) []int {
	n := len(perm)
	var numSamples int
	if dropLast && n%world != 0 {
		numSamples = int(math.Ceil(float64(n-world) / float64(world)))
	} else {
		numSamples = int(math.Ceil(float64(n) / float64(world)))
	}
	total := numSamples * world
	indices := slices.Clone(perm)
	if !dropLast {
		padding := total - len(indices)
		if padding <= len(indices) {
			indices = append(indices, indices[:padding]...)
		} else if padding > 0 {
			var rep []int
			for range int(math.Ceil(float64(padding) / float64(len(indices)))) {
				rep = append(rep, indices...)
			}
			indices = append(indices, rep[:padding]...)
		}
	} else {
		indices = indices[:total]
	}
	var out []int
	for p := rank; p < total; p += world {
		out = append(out, indices[p])
	}
	return out
}

// permutation returns the epoch's shuffled index list as BatchOptions documents it.
func permutation(n int, o BatchOptions, epoch int) []int {
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i
	}
	if o.Shuffle {
		rng := rand.New(rand.NewPCG(o.Seed, uint64(epoch)))
		rng.Shuffle(n, func(i, j int) { idx[i], idx[j] = idx[j], idx[i] })
	}
	return idx
}

func TestBatchesSharded(t *testing.T) {
	tests := []struct {
		n, world int
		opt      BatchOptions
		per      int // examples per rank, as DistributedSampler's num_samples
	}{
		{n: 10, world: 3, opt: BatchOptions{Size: 2, Shuffle: true, Seed: 1}, per: 4},
		{n: 10, world: 3, opt: BatchOptions{Size: 2, Shuffle: true, Seed: 1, DropLast: true}, per: 3},
		{n: 12, world: 4, opt: BatchOptions{Size: 2, Shuffle: true, Seed: 2}, per: 3},
		{n: 12, world: 4, opt: BatchOptions{Size: 2, Shuffle: true, Seed: 2, DropLast: true}, per: 3},
		{n: 2, world: 4, opt: BatchOptions{Size: 1, Shuffle: true, Seed: 3}, per: 1},
		{n: 2, world: 4, opt: BatchOptions{Size: 1, Shuffle: true, Seed: 3, DropLast: true}, per: 0},
		{n: 3, world: 8, opt: BatchOptions{Size: 4, Shuffle: true, Seed: 4}, per: 1}, // padding > n: the list repeats
		{n: 1, world: 2, opt: BatchOptions{Size: 3}, per: 1},
		{n: 0, world: 2, opt: BatchOptions{Size: 3}, per: 0},
		{n: 7, world: 2, opt: BatchOptions{Size: 2}, per: 4}, // no shuffle: 0..6 in order
		{n: 103, world: 4, opt: BatchOptions{Size: 5, Shuffle: true, Seed: 5, Bucket: 3}, per: 26},
		{n: 103, world: 4, opt: BatchOptions{Size: 5, Shuffle: true, Seed: 5, Bucket: 3, DropLast: true}, per: 25},
		{n: 64, world: 2, opt: BatchOptions{Size: 8, Shuffle: true, Seed: 6, Bucket: 2}, per: 32},
	}
	for _, tc := range tests {
		name := fmt.Sprintf("n%d/world%d/size%d/bucket%d/drop%v/shuffle%v", tc.n, tc.world, tc.opt.Size, tc.opt.Bucket, tc.opt.DropLast, tc.opt.Shuffle)
		t.Run(name, func(t *testing.T) {
			lengths := make([]int, tc.n)
			for i := range lengths {
				lengths[i] = 1 + (i*37)%11
			}
			ex := seqs(lengths...)
			for epoch := range 2 {
				perm := permutation(tc.n, tc.opt, epoch)
				count := map[int]int{}
				batches := -1
				for rank := range tc.world {
					o := tc.opt
					o.Rank, o.World = rank, tc.world
					var got []int
					nb := 0
					for b := range Batches(ex, o, epoch) {
						nb++
						if o.DropLast && b.B != o.size() {
							t.Errorf("rank %d: batch of %d with DropLast, want %d", rank, b.B, o.size())
						}
						got = append(got, b.Index...)
					}
					if nb != o.NumBatches(tc.n) {
						t.Errorf("rank %d: %d batches, NumBatches says %d", rank, nb, o.NumBatches(tc.n))
					}
					if batches >= 0 && nb != batches {
						t.Errorf("rank %d: %d batches, rank 0 has %d", rank, nb, batches)
					}
					batches = nb
					want := samplerShard(perm, rank, tc.world, tc.opt.DropLast)
					if !o.DropLast && len(got) != tc.per || len(want) != tc.per {
						t.Errorf("rank %d: %d examples (DistributedSampler %d), want %d", rank, len(got), len(want), tc.per)
					}
					if o.DropLast {
						want = want[:len(want)/o.size()*o.size()]
					}
					if o.Bucket == 0 && !o.DropLast && !slices.Equal(got, want) {
						t.Errorf("rank %d: indices %v, want DistributedSampler's %v", rank, got, want)
					}
					if !slices.Equal(slices.Sorted(slices.Values(got)), slices.Sorted(slices.Values(want))) {
						t.Errorf("rank %d: indices %v, want DistributedSampler's %v in any order", rank, got, want)
					}
					for _, i := range got {
						count[i]++
					}
				}
				if tc.opt.DropLast {
					for i, c := range count {
						if c > 1 {
							t.Errorf("example %d in %d shards with DropLast", i, c)
						}
					}
					continue
				}
				// Shards are disjoint but for the padding, and cover every example.
				extra := 0
				for i := range tc.n {
					if count[i] == 0 {
						t.Errorf("example %d in no shard", i)
					}
					extra += max(count[i]-1, 0)
				}
				if want := tc.per*tc.world - tc.n; tc.n > 0 && extra != want {
					t.Errorf("%d repeated examples, want the %d of the padding", extra, want)
				}
			}
		})
	}
}

func TestPairBatchesSharded(t *testing.T) {
	ex := make([]PairExample, 9)
	for i := range ex {
		ex[i] = PairExample{A: make([]int64, 1+i%3), B: make([]int64, 1+i%4), Label: int64(i)}
	}
	single := seqs(make([]int, len(ex))...)
	for rank := range 2 {
		o := BatchOptions{Size: 2, Shuffle: true, Seed: 9, Rank: rank, World: 2}
		var pairs, singles []int
		for b := range PairBatches(ex, o, 1) {
			pairs = append(pairs, b.Index...)
		}
		for b := range Batches(single, o, 1) {
			singles = append(singles, b.Index...)
		}
		if !slices.Equal(pairs, singles) || len(pairs) != 5 {
			t.Errorf("rank %d: pair shard %v, single shard %v; want the same 5 indices", rank, pairs, singles)
		}
	}
}

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// TestBatchesUnshardedUnchanged compares World 0 and 1 with testdata/batches_unsharded.json:
// the batch orders of the code before sharding existed (written when a copy of that code, then
// in this test, still agreed with today's to the last index). -update rewrites it from today's.
func TestBatchesUnshardedUnchanged(t *testing.T) {
	length := func(i int) int { return 1 + (i*7919)%23 }
	golden := filepath.Join("testdata", "batches_unsharded.json")
	var want map[string][][]int
	if !*update {
		b, err := os.ReadFile(golden)
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(b, &want); err != nil {
			t.Fatal(err)
		}
	}
	got := map[string][][]int{}
	for _, world := range []int{0, 1} {
		for _, n := range []int{0, 1, 7, 100, 257} {
			for _, o := range []BatchOptions{
				{},
				{Size: 3},
				{Size: 8, DropLast: true},
				{Size: 5, Shuffle: true, Seed: 11},
				{Size: 4, Shuffle: true, Seed: 12, Bucket: 3},
				{Size: 4, Shuffle: true, Seed: 12, Bucket: 3, DropLast: true},
				{Size: 6, Bucket: 2},
			} {
				o.World = world
				for epoch := range 3 {
					key := fmt.Sprintf("n=%d size=%d shuffle=%v seed=%d bucket=%d droplast=%v epoch=%d",
						n, o.Size, o.Shuffle, o.Seed, o.Bucket, o.DropLast, epoch)
					order := o.order(n, length, epoch)
					if o.NumBatches(n) != len(order) {
						t.Errorf("World %d, %s: NumBatches %d, want %d", world, key, o.NumBatches(n), len(order))
					}
					if *update {
						got[key] = order
						continue
					}
					if w, ok := want[key]; !ok || !slices.EqualFunc(order, w, slices.Equal) {
						t.Errorf("World %d, %s: %v, want %v", world, key, order, w)
					}
				}
			}
		}
	}
	if *update {
		b, err := json.Marshal(got)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(golden, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestBatchesBadRank(t *testing.T) {
	tests := []struct{ rank, world int }{
		{-1, 2}, {2, 2}, {5, 4}, {1, 1}, {1, 0}, {-1, 0},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("rank%d/world%d", tc.rank, tc.world), func(t *testing.T) {
			o := BatchOptions{Rank: tc.rank, World: tc.world}
			for what, f := range map[string]func(){
				"Batches":    func() { _ = o.order(4, func(int) int { return 1 }, 0) },
				"NumBatches": func() { o.NumBatches(4) },
			} {
				func() {
					defer func() {
						r := recover()
						if msg, _ := r.(string); !strings.Contains(msg, fmt.Sprintf("Rank %d is out of range for World %d", tc.rank, tc.world)) {
							t.Errorf("%s: panic %v, want one naming the rank and the world", what, r)
						}
					}()
					f()
				}()
			}
		})
	}
}
