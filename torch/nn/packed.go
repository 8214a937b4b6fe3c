package nn

import (
	"fmt"

	"github.com/seqtorch/seqtorch/torch"
)

// PackedSequence holds a batch of variable-length sequences packed time step by time step,
// as torch.nn.utils.rnn.PackedSequence. Data is (sum of lengths, *); BatchSizes (int64, on
// the CPU) holds how many sequences are still running at each step; SortedIndices and
// UnsortedIndices (int64, on Data's device) are nil when the batch was packed with
// enforceSorted, and otherwise map between the caller's batch order and the packed
// (decreasing length) order. A PackedSequence owns its tensors: Close frees them.
type PackedSequence struct {
	Data, BatchSizes, SortedIndices, UnsortedIndices *torch.Tensor
}

// Close frees the tensors of p. It is safe on a zero PackedSequence and idempotent.
func (p PackedSequence) Close() {
	p.Data.Close()
	p.BatchSizes.Close()
	p.SortedIndices.Close()
	p.UnsortedIndices.Close()
}

func detachOpt(t *torch.Tensor) *torch.Tensor {
	if t == nil {
		return nil
	}
	return t.Detach()
}

// To returns a copy of p with Data and the indices on device d, as PackedSequence.to(d);
// BatchSizes stays on the CPU. Unlike PyTorch, which returns p itself when nothing moves, it
// always returns new tensors (the caller owns both p and the result).
func (p PackedSequence) To(d torch.Device) PackedSequence {
	q := PackedSequence{Data: p.Data.To(d), BatchSizes: p.BatchSizes.Clone()}
	if p.SortedIndices != nil {
		q.SortedIndices = p.SortedIndices.To(d)
	}
	if p.UnsortedIndices != nil {
		q.UnsortedIndices = p.UnsortedIndices.To(d)
	}
	return q
}

// invertPermutation returns q with q[p[i]] = i, as torch.nn.utils.rnn.invert_permutation.
func invertPermutation(p []int64) []int64 {
	q := make([]int64, len(p))
	for i, v := range p {
		q[v] = int64(i)
	}
	return q
}

// The functions of torch.nn.utils.rnn take their keyword arguments as options structs whose
// zero value is PyTorch's defaults (batch_first=False, enforce_sorted=True, padding_value=0,
// total_length=None). A keyword whose default is True has a "No" field, as NoBias does for
// bias=True.

// PackPaddedOptions are pack_padded_sequence's keyword arguments.
type PackPaddedOptions struct {
	BatchFirst      bool // batch_first=True: the input is (B, T, *)
	NoEnforceSorted bool // enforce_sorted=False: sort the batch by length (see PackPaddedSequence)
}

// PadPackedOptions are pad_packed_sequence's keyword arguments.
type PadPackedOptions struct {
	BatchFirst   bool    // batch_first=True: the result is (B, T, *)
	PaddingValue float64 // padding_value
	// TotalLength > 0 pads to that many steps (at least the longest length); 0 pads to the
	// longest sequence (total_length=None).
	TotalLength int64
}

// PadSequenceOptions are pad_sequence's keyword arguments.
type PadSequenceOptions struct {
	BatchFirst   bool    // batch_first=True: the result is (B, maxL, *)
	PaddingValue float64 // padding_value
}

// PackSequenceOptions are pack_sequence's keyword arguments.
type PackSequenceOptions struct {
	NoEnforceSorted bool // enforce_sorted=False: the sequences need not be sorted by length
}

// UnpadSequenceOptions are unpad_sequence's keyword arguments.
type UnpadSequenceOptions struct {
	BatchFirst bool // batch_first=True: the padded input is (B, T, *)
}

// PackPaddedSequence packs a padded batch, as torch.nn.utils.rnn.pack_padded_sequence. x is
// (T, B, *) or, with o.BatchFirst, (B, T, *); lengths holds each sequence's length (each in
// 1..T). By default (enforce_sorted) the lengths must be in decreasing order; with
// o.NoEnforceSorted the batch is sorted by length with torch.sort (descending), as PyTorch
// does, and the permutation is kept in SortedIndices/UnsortedIndices. The result is
// differentiable with respect to x. Invalid input panics with a *torch.Error whose Op is
// "nn.PackPaddedSequence", as PyTorch raises.
func PackPaddedSequence(x *torch.Tensor, lengths []int64, o PackPaddedOptions) (p PackedSequence) {
	const op = "nn.PackPaddedSequence"
	batchFirst, enforceSorted := o.BatchFirst, !o.NoEnforceSorted
	if x.Closed() {
		fail(op, "input is nil or closed")
	}
	shape := x.Shape()
	if len(shape) < 2 {
		fail(op, "expected input with at least 2 dims (%s), got %d", seqBatchNames(batchFirst), len(shape))
	}
	batchDim, timeDim := 1, 0
	if batchFirst {
		batchDim, timeDim = 0, 1
	}
	b, steps := shape[batchDim], shape[timeDim]
	if numel(shape) == 0 || len(lengths) == 0 {
		fail(op, "cannot pack an empty tensor (input shape %v)", shape)
	}
	if int64(len(lengths)) != b {
		fail(op, "expected len(lengths) to be equal to batch size, but got %d (batch size %d)", len(lengths), b)
	}
	for i, l := range lengths {
		if l <= 0 {
			fail(op, "length of all samples has to be greater than 0, but lengths[%d] = %d", i, l)
		}
		if l > steps {
			fail(op, "lengths[%d] = %d exceeds the sequence length %d of the input", i, l, steps)
		}
		if enforceSorted && i > 0 && l > lengths[i-1] {
			fail(op, "`lengths` array must be sorted in decreasing order when `enforce_sorted` is True (lengths[%d] = %d > lengths[%d] = %d). You can pass `enforce_sorted=False` to pack_padded_sequence and/or pack_sequence to sidestep this requirement if you do not need ONNX exportability", i, l, i-1, lengths[i-1])
		}
	}
	defer func() {
		if r := recover(); r != nil {
			p.Close()
			panic(renamed(op, r))
		}
	}()
	lt := torch.FromSlice(append([]int64(nil), lengths...))
	defer lt.Close()
	if enforceSorted {
		p.Data, p.BatchSizes = torch.PackPadded(x, lt, batchFirst)
		return p
	}
	sortedLengths, idx := lt.Sort(0, true)
	defer sortedLengths.Close()
	defer idx.Close()
	dev := x.Device()
	inv := torch.FromSlice(invertPermutation(idx.Int64s()))
	defer inv.Close()
	p.SortedIndices = idx.To(dev)
	p.UnsortedIndices = inv.To(dev)
	in := x.IndexSelect(int64(batchDim), p.SortedIndices)
	defer in.Close()
	p.Data, p.BatchSizes = torch.PackPadded(in, sortedLengths, batchFirst)
	return p
}

// fail panics with a *torch.Error for op.
func fail(op, format string, a ...any) {
	panic(&torch.Error{Op: op, Msg: fmt.Sprintf(format, a...)})
}

// renamed returns r, a recovered panic value, to be panicked again: a *torch.Error raised by
// an operation that op called becomes one naming op, with the inner operation's name at the
// start of its message (so "nn.PackSequence: nn.PackPaddedSequence: ..." tells both); any
// other value is returned as it is.
func renamed(op string, r any) any {
	if te, ok := r.(*torch.Error); ok && te.Op != op {
		return &torch.Error{Op: op, Msg: te.Op + ": " + te.Msg}
	}
	return r
}

func seqBatchNames(batchFirst bool) string {
	if batchFirst {
		return "batch, seq, *"
	}
	return "seq, batch, *"
}

func numel(shape []int64) int64 {
	n := int64(1)
	for _, d := range shape {
		n *= d
	}
	return n
}

// checkPacked validates the structure of p (not its values) for op; it panics with a
// *torch.Error naming op.
func checkPacked(op string, p PackedSequence) {
	if p.Data.Closed() || p.BatchSizes.Closed() {
		fail(op, "packed sequence has a nil or closed Data or BatchSizes")
	}
	if (p.SortedIndices == nil) != (p.UnsortedIndices == nil) {
		fail(op, "packed sequence must have both SortedIndices and UnsortedIndices or neither")
	}
	if p.BatchSizes.Device() != torch.CPU {
		fail(op, "batch_sizes should always be on CPU, got %v. Instances of PackedSequence should never be created manually. They should be instantiated by functions like pack_sequence and pack_padded_sequences in nn.utils.rnn", p.BatchSizes.Device())
	}
	if p.BatchSizes.DType() != torch.Int64 || p.BatchSizes.Dim() != 1 || p.BatchSizes.Numel() == 0 {
		fail(op, "batch_sizes must be a non-empty 1-D int64 tensor, got %v", p.BatchSizes)
	}
	if p.Data.Dim() < 1 {
		fail(op, "packed data must have at least 1 dim, got 0")
	}
}

// PadPackedSequence unpacks p into a padded batch, as
// torch.nn.utils.rnn.pad_packed_sequence: it returns (T, B, *) or, with o.BatchFirst,
// (B, T, *) filled with o.PaddingValue past each sequence's end, and the lengths, both in the
// caller's original batch order. o.TotalLength > 0 pads to that many steps (it must be at
// least the longest length); 0 pads to the longest sequence (PyTorch's total_length=None).
// Invalid input panics with a *torch.Error whose Op is "nn.PadPackedSequence".
func PadPackedSequence(p PackedSequence, o PadPackedOptions) (padded *torch.Tensor, lengths []int64) {
	const op = "nn.PadPackedSequence"
	batchFirst, paddingValue, totalLength := o.BatchFirst, o.PaddingValue, o.TotalLength
	checkPacked(op, p)
	maxLen := p.BatchSizes.Numel()
	if totalLength < 0 || (totalLength > 0 && totalLength < maxLen) {
		fail(op, "expected total_length to be at least the length of the longest sequence in input, but got total_length=%d and max sequence length being %d", totalLength, maxLen)
	}
	if totalLength > 0 {
		maxLen = totalLength
	}
	defer func() {
		if r := recover(); r != nil {
			panic(renamed(op, r))
		}
	}()
	out, lt := torch.PadPacked(p.Data, p.BatchSizes, batchFirst, paddingValue, maxLen)
	defer lt.Close()
	lengths = lt.Int64s()
	if p.UnsortedIndices == nil {
		return out, lengths
	}
	defer out.Close()
	batchDim := int64(1)
	if batchFirst {
		batchDim = 0
	}
	perm := p.UnsortedIndices.Int64s()
	if len(perm) != len(lengths) {
		fail(op, "unsorted_indices has %d entries for a batch of %d", len(perm), len(lengths))
	}
	reordered := make([]int64, len(perm))
	for i, j := range perm {
		reordered[i] = lengths[j]
	}
	return out.IndexSelect(batchDim, p.UnsortedIndices), reordered
}

// PadSequence stacks variable-length sequences (each (Lᵢ, *), same trailing dims, dtype and
// device) into (maxL, B, *) or, with o.BatchFirst, (B, maxL, *), filling with o.PaddingValue,
// as torch.nn.utils.rnn.pad_sequence. It is differentiable. An empty list or mismatched
// trailing dims panic with *torch.Error (use torch.Run at a boundary).
func PadSequence(seqs []*torch.Tensor, o PadSequenceOptions) *torch.Tensor {
	batchFirst, paddingValue := o.BatchFirst, o.PaddingValue
	if len(seqs) == 0 {
		panic(&torch.Error{Op: "nn.PadSequence", Msg: "received an empty list of sequences"})
	}
	maxLen := int64(0)
	for i, s := range seqs {
		if s.Dim() < 1 {
			panic(&torch.Error{Op: "nn.PadSequence", Msg: fmt.Sprintf("sequence %d is a 0-dim tensor; expected (L, *)", i)})
		}
		maxLen = max(maxLen, s.Size(0))
	}
	rows := make([]*torch.Tensor, len(seqs))
	defer func() {
		for i, r := range rows {
			if r != seqs[i] {
				r.Close()
			}
		}
	}()
	for i, s := range seqs {
		shape := s.Shape()
		if shape[0] == maxLen {
			rows[i] = s
			continue
		}
		shape[0] = maxLen - shape[0]
		fill := torch.Full(shape, paddingValue, torch.WithDType(s.DType()), torch.WithDevice(s.Device()))
		rows[i] = torch.Cat([]*torch.Tensor{s, fill}, 0)
		fill.Close()
	}
	dim := int64(1)
	if batchFirst {
		dim = 0
	}
	return torch.Stack(rows, dim)
}

// PackSequence packs a list of variable-length sequences (each (Lᵢ, *)), as
// torch.nn.utils.rnn.pack_sequence: PackPaddedSequence(PadSequence(seqs), lengths). By
// default (enforce_sorted) the sequences must come in decreasing length. Invalid input panics
// with a *torch.Error whose Op is "nn.PackSequence".
func PackSequence(seqs []*torch.Tensor, o PackSequenceOptions) PackedSequence {
	const op = "nn.PackSequence"
	if len(seqs) == 0 {
		fail(op, "received an empty list of sequences")
	}
	defer func() {
		if r := recover(); r != nil {
			panic(renamed(op, r))
		}
	}()
	lengths := make([]int64, len(seqs))
	for i, s := range seqs {
		lengths[i] = s.Size(0)
	}
	padded := PadSequence(seqs, PadSequenceOptions{})
	defer padded.Close()
	return PackPaddedSequence(padded, lengths, PackPaddedOptions{NoEnforceSorted: o.NoEnforceSorted})
}

// UnpadSequence splits a padded batch back into its sequences, as
// torch.nn.utils.rnn.unpad_sequence: padded is (T, B, *) or, with o.BatchFirst, (B, T, *).
// The caller owns the returned tensors (views of padded). Invalid input panics with a
// *torch.Error whose Op is "nn.UnpadSequence".
func UnpadSequence(padded *torch.Tensor, lengths []int64, o UnpadSequenceOptions) []*torch.Tensor {
	const op = "nn.UnpadSequence"
	batchFirst := o.BatchFirst
	if padded.Closed() {
		fail(op, "input is nil or closed")
	}
	shape := padded.Shape()
	if len(shape) < 2 {
		fail(op, "expected input with at least 2 dims (%s), got %d", seqBatchNames(batchFirst), len(shape))
	}
	batchDim, timeDim := int64(1), 0
	if batchFirst {
		batchDim, timeDim = 0, 1
	}
	if int64(len(lengths)) != shape[batchDim] {
		fail(op, "got %d lengths for a batch of %d", len(lengths), shape[batchDim])
	}
	for i, l := range lengths {
		if l < 0 || l > shape[timeDim] {
			fail(op, "lengths[%d] = %d is outside 0..%d", i, l, shape[timeDim])
		}
	}
	out := make([]*torch.Tensor, 0, len(lengths))
	defer func() {
		if r := recover(); r != nil {
			closeAll(out)
			panic(renamed(op, r))
		}
	}()
	for i, l := range lengths {
		row := padded.Narrow(batchDim, int64(i), 1)
		seq := row.SqueezeDim(batchDim)
		row.Close()
		out = append(out, seq.Narrow(0, 0, l))
		seq.Close()
	}
	return out
}

// UnpackSequence splits a packed batch back into its sequences in the original order, as
// torch.nn.utils.rnn.unpack_sequence. The caller owns the returned tensors. Invalid input
// panics with a *torch.Error whose Op is "nn.UnpackSequence".
func UnpackSequence(p PackedSequence) []*torch.Tensor {
	const op = "nn.UnpackSequence"
	defer func() {
		if r := recover(); r != nil {
			panic(renamed(op, r))
		}
	}()
	padded, lengths := PadPackedSequence(p, PadPackedOptions{BatchFirst: true})
	defer padded.Close()
	return UnpadSequence(padded, lengths, UnpadSequenceOptions{BatchFirst: true})
}
