package nn

// Ports of the semantic cases of PyTorch's test/nn/test_packed_sequence.py.

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/seqtorch/seqtorch/torch"
	"github.com/seqtorch/seqtorch/torch/torchtest"
)

// checkPadded checks that padded (batch first when batchFirst) holds seqs[b] in row b followed
// by pad.
func checkPadded(t *testing.T, padded *torch.Tensor, seqs []*torch.Tensor, batchFirst bool, pad float32) {
	t.Helper()
	if !batchFirst {
		padded = padded.Transpose(0, 1)
	}
	maxLen := padded.Size(1)
	for b, s := range seqs {
		row := padded.Narrow(0, int64(b), 1).SqueezeDim(0)
		l := s.Size(0)
		if !near32(f32(row.Narrow(0, 0, l).Contiguous()), f32(s), 0) {
			t.Fatalf("row %d does not start with its sequence", b)
		}
		for _, v := range f32(row.Narrow(0, l, maxLen-l).Contiguous()) {
			if v != pad {
				t.Fatalf("row %d padded with %v, want %v", b, v, pad)
			}
		}
	}
}

func TestPadSequence(t *testing.T) {
	torchtest.CheckLive(t)
	torchtest.Scope(t)
	a := torch.FromSlice([]int64{1, 2, 3})
	b := torch.FromSlice([]int64{4, 5})
	c := torch.FromSlice([]int64{6})
	for _, tc := range []struct {
		name       string
		seqs       []*torch.Tensor
		batchFirst bool
		pad        float64
		want       []int64
		shape      []int64
	}{
		{"batch first", []*torch.Tensor{b, a, c}, true, 0, []int64{4, 5, 0, 1, 2, 3, 6, 0, 0}, []int64{3, 3}},
		{"time major", []*torch.Tensor{b, a, c}, false, 0, []int64{4, 1, 6, 5, 2, 0, 0, 3, 0}, []int64{3, 3}},
		{"pad value", []*torch.Tensor{b, a, c}, true, 1, []int64{4, 5, 1, 1, 2, 3, 6, 1, 1}, []int64{3, 3}},
		{"sorted", []*torch.Tensor{a, b, c}, true, 0, []int64{1, 2, 3, 4, 5, 0, 6, 0, 0}, []int64{3, 3}},
		{"tensor sequences", []*torch.Tensor{torch.FromSlice([]int64{7, 6}, 1, 2), torch.FromSlice([]int64{-7, -1}, 1, 2)}, false, 0, []int64{7, 6, -7, -1}, []int64{1, 2, 2}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			torchtest.Scope(t)
			got := PadSequence(tc.seqs, PadSequenceOptions{BatchFirst: tc.batchFirst, PaddingValue: tc.pad})
			if !slices.Equal(got.Shape(), tc.shape) || got.DType() != torch.Int64 || !slices.Equal(got.Int64s(), tc.want) {
				t.Errorf("PadSequence = %v %v, want %v %v", got, got.Int64s(), tc.shape, tc.want)
			}
		})
	}
	// more dimensions
	rng := rand.New(rand.NewPCG(1, 2))
	const maxlen = 9
	for numDim := range 4 {
		t.Run(fmt.Sprintf("trailing dims %d", numDim), func(t *testing.T) {
			torchtest.Scope(t)
			var seqs []*torch.Tensor
			for i := int64(1); i <= maxlen; i++ {
				shape := []int64{i * i, 5}
				for range numDim {
					shape = append(shape, 4)
				}
				seqs = append(seqs, torch.Rand(shape))
			}
			rng.Shuffle(len(seqs), func(i, j int) { seqs[i], seqs[j] = seqs[j], seqs[i] })
			for _, bf := range []bool{true, false} {
				padded := PadSequence(seqs, PadSequenceOptions{BatchFirst: bf})
				want := append([]int64{int64(len(seqs)), maxlen * maxlen, 5}, seqs[0].Shape()[2:]...)
				if !bf {
					want[0], want[1] = want[1], want[0]
				}
				if !slices.Equal(padded.Shape(), want) {
					t.Fatalf("shape %v, want %v", padded.Shape(), want)
				}
				checkPadded(t, padded, seqs, bf, 0)
			}
		})
	}
	if err := torch.Try(func() { PadSequence(nil, PadSequenceOptions{}) }); err == nil {
		t.Error("PadSequence(nil) did not fail")
	}
}

func TestPadSequenceGradient(t *testing.T) {
	torchtest.CheckLive(t)
	torchtest.Scope(t)
	a := torch.FromSlice([]float32{1, 2, 3}).SetRequiresGrad(true)
	b := torch.FromSlice([]float32{4}).SetRequiresGrad(true)
	PadSequence([]*torch.Tensor{a, b}, PadSequenceOptions{BatchFirst: true}).MulScalar(2).Sum().Backward()
	if g := a.Grad().Float32s(); !near32(g, []float32{2, 2, 2}, 0) {
		t.Errorf("grad a = %v", g)
	}
	if g := b.Grad().Float32s(); !near32(g, []float32{2}, 0) {
		t.Errorf("grad b = %v", g)
	}
}

func TestPackSequence(t *testing.T) {
	torchtest.CheckLive(t)
	torchtest.Scope(t)
	a := torch.FromSlice([]int64{1, 2, 3})
	b := torch.FromSlice([]int64{4, 5})
	c := torch.FromSlice([]int64{6})
	expected := []int64{1, 4, 6, 2, 5, 3}
	for _, tc := range []struct {
		name             string
		seqs             []*torch.Tensor
		enforceSorted    bool
		sorted, unsorted []int64 // nil: no indices
	}{
		{"sorted input, not enforced", []*torch.Tensor{a, b, c}, false, []int64{0, 1, 2}, []int64{0, 1, 2}},
		{"unsorted input", []*torch.Tensor{b, c, a}, false, []int64{2, 0, 1}, []int64{1, 2, 0}},
		{"enforce sorted", []*torch.Tensor{a, b, c}, true, nil, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			torchtest.Scope(t)
			p := PackSequence(tc.seqs, PackSequenceOptions{NoEnforceSorted: !tc.enforceSorted})
			defer p.Close()
			if got := p.BatchSizes.Int64s(); !slices.Equal(got, []int64{3, 2, 1}) {
				t.Errorf("batch sizes = %v", got)
			}
			if got := p.Data.Int64s(); !slices.Equal(got, expected) {
				t.Errorf("data = %v, want %v", got, expected)
			}
			if tc.sorted == nil {
				if p.SortedIndices != nil || p.UnsortedIndices != nil {
					t.Error("enforce_sorted packing has indices")
				}
				return
			}
			if got := p.SortedIndices.Int64s(); !slices.Equal(got, tc.sorted) {
				t.Errorf("sorted indices = %v, want %v", got, tc.sorted)
			}
			if got := p.UnsortedIndices.Int64s(); !slices.Equal(got, tc.unsorted) {
				t.Errorf("unsorted indices = %v, want %v", got, tc.unsorted)
			}
		})
	}
	t.Run("enforce sorted error", func(t *testing.T) {
		torchtest.Scope(t)
		f := func() { PackSequence([]*torch.Tensor{b, c, a}, PackSequenceOptions{}) }
		wantPanic(t, "nn.PackSequence", "nn.PackPaddedSequence: `lengths` array must be sorted in decreasing order", f)
		wantPanic(t, "nn.PackSequence", "You can pass `enforce_sorted=False`", f)
	})

	// compatibility with the other utilities, more dimensions
	rng := rand.New(rand.NewPCG(3, 4))
	const maxlen = 9
	compat := func(t *testing.T, seqs []*torch.Tensor, lengths []int64, batchFirst, enforceSorted bool) {
		t.Helper()
		padded := PadSequence(seqs, PadSequenceOptions{BatchFirst: batchFirst})
		packed := PackSequence(seqs, PackSequenceOptions{NoEnforceSorted: !enforceSorted})
		defer packed.Close()
		unpacked, _ := PadPackedSequence(packed, PadPackedOptions{BatchFirst: batchFirst})
		if !near32(f32(unpacked), f32(padded), 0) {
			t.Error("pad_packed_sequence(pack_sequence(s)) != pad_sequence(s)")
		}
		pp := PackPaddedSequence(padded, lengths, PackPaddedOptions{BatchFirst: batchFirst, NoEnforceSorted: !enforceSorted})
		defer pp.Close()
		if !equalPacked(packed, pp) {
			t.Error("pack_sequence(s) != pack_padded_sequence(pad_sequence(s), lengths)")
		}
	}
	for numDim := range 4 {
		t.Run(fmt.Sprintf("compatibility trailing dims %d", numDim), func(t *testing.T) {
			torchtest.Scope(t)
			var seqs []*torch.Tensor
			var lengths []int64
			for i := int64(maxlen); i > 0; i-- {
				shape := []int64{i * i, 5}
				for range numDim {
					shape = append(shape, 4)
				}
				lengths = append(lengths, i*i)
				seqs = append(seqs, torch.Rand(shape))
			}
			unsorted := append([]*torch.Tensor(nil), seqs...)
			rng.Shuffle(len(unsorted), func(i, j int) { unsorted[i], unsorted[j] = unsorted[j], unsorted[i] })
			unsortedLengths := make([]int64, len(unsorted))
			for i, s := range unsorted {
				unsortedLengths[i] = s.Size(0)
			}
			for _, bf := range []bool{true, false} {
				for _, es := range []bool{true, false} {
					compat(t, seqs, lengths, bf, es)
				}
				compat(t, unsorted, unsortedLengths, bf, false)
			}
		})
	}
}

func equalPacked(a, b PackedSequence) bool {
	if !near32(f32(a.Data), f32(b.Data), 0) || !slices.Equal(a.BatchSizes.Int64s(), b.BatchSizes.Int64s()) {
		return false
	}
	if (a.SortedIndices == nil) != (b.SortedIndices == nil) {
		return false
	}
	return a.SortedIndices == nil ||
		(slices.Equal(a.SortedIndices.Int64s(), b.SortedIndices.Int64s()) && slices.Equal(a.UnsortedIndices.Int64s(), b.UnsortedIndices.Int64s()))
}

func TestPackPaddedSequence(t *testing.T) {
	type testCase struct {
		sortedLengths []int64
		shuffle       bool
	}
	rng := rand.New(rand.NewPCG(5, 6))
	for _, tc := range []testCase{
		{[]int64{10, 8, 4, 2, 2, 2, 1}, false},
		{[]int64{11, 10, 8, 6, 4, 3, 1}, false},
		{[]int64{11, 10, 8, 6, 4, 3, 1}, true},
	} {
		for _, batchFirst := range []bool{true, false} {
			t.Run(fmt.Sprintf("%v/shuffle=%v/batch_first=%v", tc.sortedLengths, tc.shuffle, batchFirst), func(t *testing.T) {
				torchtest.CheckLive(t)
				torchtest.Scope(t)
				maxLen := tc.sortedLengths[0]
				B := int64(len(tc.sortedLengths))
				// padded[n, i, k] = (i+1)*100 + 5n + k + 1 for n < len_i, else 0: (T, B, 5)
				vals := make([]float32, maxLen*B*5)
				for i, l := range tc.sortedLengths {
					for n := range l {
						for k := range int64(5) {
							vals[(n*B+int64(i))*5+k] = float32(int64(i+1)*100 + 5*n + k + 1)
						}
					}
				}
				padded := torch.FromSlice(vals, maxLen, B, 5)
				// expected packed data: for each step n, the running sequences in order
				var expected []float32
				var batchSizes []int64
				for n := range maxLen {
					bs := int64(0)
					for i, l := range tc.sortedLengths {
						if l > n {
							bs++
							for k := range int64(5) {
								expected = append(expected, float32(int64(i+1)*100+5*n+k+1))
							}
						}
					}
					batchSizes = append(batchSizes, bs)
				}
				lengths := append([]int64(nil), tc.sortedLengths...)
				var unsortedIdx []int64
				if tc.shuffle {
					perm := rng.Perm(int(B))
					unsortedIdx = make([]int64, B)
					for i, p := range perm {
						unsortedIdx[i] = int64(p)
						lengths[i] = tc.sortedLengths[p]
					}
					idx := torch.FromSlice(unsortedIdx)
					padded = padded.IndexSelect(1, idx)
				}
				padded = padded.Detach().SetRequiresGrad(true)
				src := padded
				if batchFirst {
					src = padded.Transpose(0, 1)
				}
				packed := PackPaddedSequence(src, lengths, PackPaddedOptions{BatchFirst: batchFirst, NoEnforceSorted: tc.shuffle})
				defer packed.Close()
				if !near32(packed.Data.Float32s(), expected, 0) {
					t.Error("packed data differs")
				}
				if !slices.Equal(packed.BatchSizes.Int64s(), batchSizes) {
					t.Errorf("batch sizes = %v, want %v", packed.BatchSizes.Int64s(), batchSizes)
				}
				if tc.shuffle {
					if !slices.Equal(packed.UnsortedIndices.Int64s(), unsortedIdx) {
						t.Errorf("unsorted indices = %v, want %v", packed.UnsortedIndices.Int64s(), unsortedIdx)
					}
				} else if packed.UnsortedIndices != nil {
					t.Error("unexpected unsorted indices")
				}
				// inverse
				unpacked, unpackedLen := PadPackedSequence(packed, PadPackedOptions{BatchFirst: batchFirst})
				if !slices.Equal(unpacked.Shape(), src.Shape()) || !near32(f32(unpacked), f32(src.Contiguous()), 0) {
					t.Error("pad_packed_sequence does not invert pack_padded_sequence")
				}
				if !slices.Equal(unpackedLen, lengths) {
					t.Errorf("lengths = %v, want %v", unpackedLen, lengths)
				}
				// gradient: flows to the valid steps only
				gradOut := torch.Randn(unpacked.Shape())
				unpacked.BackwardWith(gradOut, false)
				if batchFirst {
					gradOut = gradOut.Transpose(0, 1)
				}
				grad := padded.Grad()
				for i, l := range lengths {
					gi := grad.Narrow(1, int64(i), 1)
					if !near32(f32(gi.Narrow(0, 0, l).Contiguous()), f32(gradOut.Narrow(1, int64(i), 1).Narrow(0, 0, l).Contiguous()), 0) {
						t.Errorf("sequence %d: gradient of valid steps differs", i)
					}
					if l < maxLen {
						if s := gi.Narrow(0, l, maxLen-l).Abs().Sum().Item(); s != 0 {
							t.Errorf("sequence %d: padding got gradient %v", i, s)
						}
					}
				}
			})
		}
	}
}

func TestPackPaddedSequenceErrors(t *testing.T) {
	torchtest.CheckLive(t)
	torchtest.Scope(t)
	closed := torch.Zeros([]int64{2, 2})
	closed.Close()
	a := torch.Ones([]int64{25, 300})
	b := torch.Ones([]int64{22, 300})
	bA := PadSequence([]*torch.Tensor{b, a}, PadSequenceOptions{})
	for _, tc := range []struct {
		name          string
		x             *torch.Tensor
		lengths       []int64
		batchFirst    bool
		enforceSorted bool
		want          string
	}{
		{"unsorted", torch.Randn([]int64{3, 3}), []int64{1, 3, 2}, false, true, "You can pass `enforce_sorted=False`"},
		{"wrong order", bA, []int64{22, 25}, false, true, "must be sorted in decreasing order"},
		{"empty", torch.Randn([]int64{0, 0}), nil, false, true, "cannot pack an empty tensor"},
		{"empty batch first", torch.Randn([]int64{0, 1, 10}), []int64{11, 14}, true, true, "cannot pack an empty tensor"},
		{"count", torch.Randn([]int64{4, 3, 2}), []int64{4, 2}, false, false, "expected len(lengths) to be equal to batch size, but got 2 (batch size 3)"},
		{"count batch first", torch.Randn([]int64{4, 3, 2}), []int64{3, 2, 1}, true, false, "but got 3 (batch size 4)"},
		{"zero length", torch.Randn([]int64{4, 3, 2}), []int64{4, 0, 2}, false, false, "lengths[1] = 0"},
		{"too long", torch.Randn([]int64{4, 3, 2}), []int64{5, 3, 2}, false, true, "lengths[0] = 5 exceeds the sequence length 4"},
		{"too long batch first", torch.Randn([]int64{3, 4, 2}), []int64{3, 5, 2}, true, false, "lengths[1] = 5 exceeds the sequence length 4"},
		{"1-D", torch.Randn([]int64{4}), []int64{4}, false, true, "expected input with at least 2 dims"},
		{"nil", nil, []int64{1}, false, true, "input is nil or closed"},
		{"closed", closed, []int64{1, 1}, false, true, "input is nil or closed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			torchtest.Scope(t)
			wantPanic(t, "nn.PackPaddedSequence", tc.want, func() {
				p := PackPaddedSequence(tc.x, tc.lengths, PackPaddedOptions{BatchFirst: tc.batchFirst, NoEnforceSorted: !tc.enforceSorted})
				p.Close()
			})
		})
	}
}

// intPadded returns random int64 sequences of random lengths in 1..6, sorted by decreasing
// length and padded time-major, as the PyTorch test's _padded_sequence.
func intPadded(rng *rand.Rand) (*torch.Tensor, []int64) {
	const batch, maxLen = 5, 6
	var lengths []int64
	for range batch {
		lengths = append(lengths, 1+rng.Int64N(maxLen))
	}
	for i := range lengths { // sort decreasing
		for j := i + 1; j < len(lengths); j++ {
			if lengths[j] > lengths[i] {
				lengths[i], lengths[j] = lengths[j], lengths[i]
			}
		}
	}
	seqs := make([]*torch.Tensor, batch)
	for i, l := range lengths {
		v := make([]int64, l)
		for j := range v {
			v[j] = rng.Int64N(256) - 128
		}
		seqs[i] = torch.FromSlice(v)
	}
	padded := PadSequence(seqs, PadSequenceOptions{})
	closeAll(seqs)
	return padded, lengths
}

func TestTotalLength(t *testing.T) {
	torchtest.CheckLive(t)
	torchtest.Scope(t)
	rng := rand.New(rand.NewPCG(7, 8))
	padded, lengths := intPadded(rng)
	maxLength := lengths[0]
	packed := PackPaddedSequence(padded, lengths, PackPaddedOptions{})
	defer packed.Close()
	for _, total := range []int64{-1, maxLength - 1} {
		for _, bf := range []bool{true, false} {
			wantPanic(t, "nn.PadPackedSequence", "expected total_length to be at least the length of the longest sequence in input", func() {
				PadPackedSequence(packed, PadPackedOptions{BatchFirst: bf, TotalLength: total})
			})
		}
	}
	for _, bf := range []bool{true, false} {
		noExtra, _ := PadPackedSequence(packed, PadPackedOptions{BatchFirst: bf})
		for _, delta := range []int64{0, 1, 8} {
			t.Run(fmt.Sprintf("batch_first=%v/delta=%d", bf, delta), func(t *testing.T) {
				torchtest.Scope(t)
				total := maxLength + delta
				unpacked, got := PadPackedSequence(packed, PadPackedOptions{BatchFirst: bf, TotalLength: total})
				if !slices.Equal(got, lengths) {
					t.Errorf("lengths = %v, want %v", got, lengths)
				}
				timeDim := 0
				if bf {
					timeDim = 1
				}
				if unpacked.Size(timeDim) != total {
					t.Errorf("time dim = %d, want %d", unpacked.Size(timeDim), total)
				}
				head := unpacked.Narrow(int64(timeDim), 0, maxLength).Contiguous()
				if !slices.Equal(head.Int64s(), noExtra.Contiguous().Int64s()) {
					t.Error("padded prefix differs from the unpadded result")
				}
				if delta > 0 {
					if s := unpacked.Narrow(int64(timeDim), maxLength, delta).Abs().Sum().Item(); s != 0 {
						t.Errorf("extra padding sums to %v", s)
					}
				}
			})
		}
	}
}

func TestPackedTo(t *testing.T) {
	torchtest.CheckLive(t)
	torchtest.Scope(t)
	rng := rand.New(rand.NewPCG(9, 10))
	for _, enforceSorted := range []bool{true, false} {
		padded, lengths := intPadded(rng)
		a := PackPaddedSequence(padded, lengths, PackPaddedOptions{NoEnforceSorted: !enforceSorted})
		b := a.To(torch.CPU)
		if !equalPacked(a, b) || b.Data == a.Data {
			t.Error("To(cpu) should return an equal, separately owned PackedSequence")
		}
		b.Close()
		if torch.CUDAAvailable() {
			g := a.To(torch.CUDA(0))
			if g.Data.Device() != torch.CUDA(0) || g.BatchSizes.Device() != torch.CPU {
				t.Error("To(cuda) must move data and indices but keep batch sizes on the CPU")
			}
			back := g.To(torch.CPU)
			if !equalPacked(a, back) {
				t.Error("round trip through CUDA changed the packed sequence")
			}
			back.Close()
			g.Close()
		}
		a.Close()
	}
}

func TestPadPackedSequenceErrors(t *testing.T) {
	torchtest.CheckLive(t)
	torchtest.Scope(t)
	wantPanic(t, "nn.PadPackedSequence", "nil or closed", func() { PadPackedSequence(PackedSequence{}, PadPackedOptions{}) })
	wantPanic(t, "nn.PadPackedSequence", "batch_sizes must be a non-empty 1-D int64 tensor", func() {
		PadPackedSequence(PackedSequence{Data: torch.Zeros([]int64{3}), BatchSizes: torch.FromSlice([]float32{3})}, PadPackedOptions{})
	})
	// A libtorch failure inside names the utility, then the op libtorch rejected.
	bad := PackedSequence{Data: torch.Zeros([]int64{2, 3}), BatchSizes: torch.FromSlice([]int64{3})}
	wantPanic(t, "nn.PadPackedSequence", "PadPacked: ", func() { PadPackedSequence(bad, PadPackedOptions{}) })
	wantPanic(t, "nn.UnpackSequence", "nn.PadPackedSequence: ", func() { UnpackSequence(bad) })
}

func TestUnpadAndUnpackSequence(t *testing.T) {
	torchtest.CheckLive(t)
	torchtest.Scope(t)
	seqs := []*torch.Tensor{torch.FromSlice([]int64{1, 2, 3}), torch.FromSlice([]int64{4, 5}), torch.FromSlice([]int64{6})}
	lengths := []int64{3, 2, 1}
	for _, bf := range []bool{true, false} {
		padded := PadSequence(seqs, PadSequenceOptions{BatchFirst: bf})
		got := UnpadSequence(padded, lengths, UnpadSequenceOptions{BatchFirst: bf})
		for i := range seqs {
			if !slices.Equal(got[i].Int64s(), seqs[i].Int64s()) {
				t.Errorf("batch_first=%v: sequence %d = %v", bf, i, got[i].Int64s())
			}
		}
		closeAll(got)
	}
	rng := rand.New(rand.NewPCG(11, 12))
	for numDim := range 4 {
		var many []*torch.Tensor
		for i := int64(1); i <= 9; i++ {
			shape := []int64{i * i, 5}
			for range numDim {
				shape = append(shape, 4)
			}
			many = append(many, torch.Rand(shape))
		}
		rng.Shuffle(len(many), func(i, j int) { many[i], many[j] = many[j], many[i] })
		p := PackSequence(many, PackSequenceOptions{NoEnforceSorted: true})
		got := UnpackSequence(p)
		p.Close()
		for i := range many {
			if !slices.Equal(got[i].Shape(), many[i].Shape()) || !near32(f32(got[i].Contiguous()), f32(many[i]), 0) {
				t.Errorf("trailing dims %d: sequence %d differs", numDim, i)
			}
		}
		closeAll(got)
	}
	wantPanic(t, "nn.UnpadSequence", "at least 2 dims", func() { UnpadSequence(seqs[0], []int64{3}, UnpadSequenceOptions{}) })
	wantPanic(t, "nn.UnpadSequence", "lengths[1] = 9 is outside 0..3", func() {
		UnpadSequence(PadSequence(seqs, PadSequenceOptions{BatchFirst: true}), []int64{3, 9, 1}, UnpadSequenceOptions{BatchFirst: true})
	})
	wantPanic(t, "nn.PackSequence", "received an empty list of sequences", func() { PackSequence(nil, PackSequenceOptions{}) })
}
