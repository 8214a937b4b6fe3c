package torch

/*
#include <stdlib.h>
#include "shim.h"
*/
import "C"

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"unsafe"
)

// Linear returns x·wᵀ + b, as torch.nn.functional.linear (b may be nil).
func Linear(x, w, b *Tensor) *Tensor {
	hb := b.acquireOpt("Linear")
	defer b.release()
	return x.apply2("Linear", w, func(hx, hw C.st_tensor, out *C.st_tensor) C.st_err { return C.st_linear(hx, hw, hb, out) })
}

// Embedding looks up rows of w for the int64 indices idx, as torch.nn.functional.embedding.
// paddingIdx < 0 means none; the padding row receives no gradient.
func Embedding(w, idx *Tensor, paddingIdx int64) *Tensor {
	if paddingIdx < 0 {
		paddingIdx = -1
	}
	return w.apply2("Embedding", idx, func(hw, hi C.st_tensor, out *C.st_tensor) C.st_err {
		return C.st_embedding(hw, hi, C.int64_t(paddingIdx), out)
	})
}

// RNNMode selects the recurrent cell of RNNForward, as the mode argument of
// torch.nn.RNNBase.
type RNNMode int

// Recurrent cells: Mode followed by PyTorch's mode string ('RNN_TANH', 'RNN_RELU', 'LSTM',
// 'GRU'). The values are the shim's (enum st_rnn_mode in shim.h).
const (
	ModeRNNTanh RNNMode = C.ST_RNN_TANH
	ModeRNNReLU RNNMode = C.ST_RNN_RELU
	ModeLSTM    RNNMode = C.ST_LSTM
	ModeGRU     RNNMode = C.ST_GRU
)

var rnnModeNames = [...]string{ModeRNNTanh: "RNN_TANH", ModeRNNReLU: "RNN_RELU", ModeLSTM: "LSTM", ModeGRU: "GRU"}

// String returns PyTorch's mode string: "RNN_TANH", "RNN_RELU", "LSTM" or "GRU".
func (m RNNMode) String() string {
	if m >= 0 && int(m) < len(rnnModeNames) && rnnModeNames[m] != "" {
		return rnnModeNames[m]
	}
	return fmt.Sprintf("RNNMode(%d)", int(m))
}

// Class returns the name of the torch.nn class that runs the mode: "RNN", "LSTM" or "GRU".
func (m RNNMode) Class() string {
	switch m {
	case ModeLSTM:
		return "LSTM"
	case ModeGRU:
		return "GRU"
	}
	return "RNN"
}

// RNNConfig carries the settings torch.nn.RNNBase passes to its kernels.
type RNNConfig struct {
	HasBiases     bool
	NumLayers     int64
	Dropout       float64
	Train         bool
	Bidirectional bool
	BatchFirst    bool // ignored by the packed variant
	// Fused runs an LSTM or GRU on CPU tensors with seqtorch's fused kernels: one matrix
	// product and one gate loop per step, and a hand-written backward, in place of libtorch's
	// op-by-op at::lstm / at::gru. Results agree with libtorch's to float rounding. Ignored by
	// the RNN cells and on CUDA (where cuDNN fuses already).
	Fused bool
}

// RNNForward runs a stack of recurrent layers over a padded input, as the kernels behind
// torch.nn.RNN/LSTM/GRU. hx holds h0 (and c0 for LSTM); params holds, per layer and direction,
// w_ih, w_hh (and b_ih, b_hh with biases). c is nil except for LSTM.
func RNNForward(mode RNNMode, input *Tensor, hx, params []*Tensor, cfg RNNConfig) (out, h, c *Tensor) {
	hh, ph, in, release := acquireRNN(hx, params, input)
	defer release()
	var o, hn, cn C.st_tensor
	check("RNNForward", C.st_rnn(C.int(mode), in[0], handlesPtr(hh), C.int(len(hh)),
		handlesPtr(ph), C.int(len(ph)), cbool(cfg.HasBiases), C.int64_t(cfg.NumLayers), C.double(cfg.Dropout),
		cbool(cfg.Train), cbool(cfg.Bidirectional), cbool(cfg.BatchFirst), cbool(cfg.Fused), &o, &hn, &cn))
	return wrapRNN(o, hn, cn)
}

// RNNForwardPacked is RNNForward over packed data (PackedSequence.data and batch_sizes).
func RNNForwardPacked(mode RNNMode, data, batchSizes *Tensor, hx, params []*Tensor, cfg RNNConfig) (out, h, c *Tensor) {
	hh, ph, in, release := acquireRNN(hx, params, data, batchSizes)
	defer release()
	var o, hn, cn C.st_tensor
	check("RNNForward", C.st_rnn_packed(C.int(mode), in[0], in[1],
		handlesPtr(hh), C.int(len(hh)), handlesPtr(ph), C.int(len(ph)), cbool(cfg.HasBiases),
		C.int64_t(cfg.NumLayers), C.double(cfg.Dropout), cbool(cfg.Train), cbool(cfg.Bidirectional), cbool(cfg.Fused),
		&o, &hn, &cn))
	return wrapRNN(o, hn, cn)
}

// acquireRNN acquires the tensors of an RNN call (see acquireAll): the handles of hx, params
// and inputs, in that order, and release, which gives them all back (defer it). A closed or
// nil tensor panics with none left acquired.
func acquireRNN(hx, params []*Tensor, inputs ...*Tensor) (hh, ph, in []C.st_tensor, release func()) {
	all := slices.Concat(hx, params, inputs)
	hs := acquireAll("RNNForward", all)
	nh, np := len(hx), len(hx)+len(params)
	return hs[:nh:nh], hs[nh:np:np], hs[np:], func() { releaseAll(all) }
}

func wrapRNN(o, hn, cn C.st_tensor) (out, h, c *Tensor) {
	out, h = newTensor(o), newTensor(hn)
	if cn != nil {
		c = newTensor(cn)
	}
	return out, h, c
}

// PackPadded packs a padded batch whose lengths (int64, CPU) are sorted in decreasing order,
// as torch._pack_padded_sequence: it returns the packed data and batch sizes.
func PackPadded(input, lengths *Tensor, batchFirst bool) (data, batchSizes *Tensor) {
	hi := input.acquire("PackPadded")
	defer input.release()
	hl := lengths.acquire("PackPadded")
	defer lengths.release()
	var d, b C.st_tensor
	check("PackPadded", C.st_pack_padded(hi, hl, cbool(batchFirst), &d, &b))
	return newTensor(d), newTensor(b)
}

// PadPacked inverts PackPadded, as torch._pad_packed_sequence; totalLength <= 0 pads to the
// longest sequence. It returns the padded tensor and the lengths.
func PadPacked(data, batchSizes *Tensor, batchFirst bool, paddingValue float64, totalLength int64) (padded, lengths *Tensor) {
	var p, l C.st_tensor
	if totalLength <= 0 {
		totalLength = -1
	}
	hd := data.acquire("PadPacked")
	defer data.release()
	hb := batchSizes.acquire("PadPacked")
	defer batchSizes.release()
	check("PadPacked", C.st_pad_packed(hd, hb, cbool(batchFirst),
		C.double(paddingValue), C.int64_t(totalLength), &p, &l))
	return newTensor(p), newTensor(l)
}

// Reduction is how a loss combines per-element values. Its zero value is ReductionMean,
// PyTorch's default.
type Reduction int

// Reductions.
const (
	ReductionMean Reduction = iota
	ReductionSum
	ReductionNone
)

// code maps to the shim's enum st_reduction (at::Reduction's values).
func (r Reduction) code() C.int {
	switch r {
	case ReductionNone:
		return C.ST_REDUCTION_NONE
	case ReductionSum:
		return C.ST_REDUCTION_SUM
	}
	return C.ST_REDUCTION_MEAN
}

// CrossEntropy is torch.nn.functional.cross_entropy over class logits (weight may be nil;
// PyTorch's default ignoreIndex is -100).
func CrossEntropy(input, target, weight *Tensor, r Reduction, ignoreIndex int64, labelSmoothing float64) *Tensor {
	hw := weight.acquireOpt("CrossEntropy")
	defer weight.release()
	return input.apply2("CrossEntropy", target, func(hi, ht C.st_tensor, out *C.st_tensor) C.st_err {
		return C.st_cross_entropy(hi, ht, hw, r.code(), C.int64_t(ignoreIndex), C.double(labelSmoothing), out)
	})
}

// NLLLoss is torch.nn.functional.nll_loss over log-probabilities.
func NLLLoss(input, target, weight *Tensor, r Reduction, ignoreIndex int64) *Tensor {
	hw := weight.acquireOpt("NLLLoss")
	defer weight.release()
	return input.apply2("NLLLoss", target, func(hi, ht C.st_tensor, out *C.st_tensor) C.st_err {
		return C.st_nll_loss(hi, ht, hw, r.code(), C.int64_t(ignoreIndex), out)
	})
}

// MSELoss is torch.nn.functional.mse_loss.
func MSELoss(input, target *Tensor, r Reduction) *Tensor {
	return input.apply2("MSELoss", target, func(hi, ht C.st_tensor, out *C.st_tensor) C.st_err {
		return C.st_mse_loss(hi, ht, r.code(), out)
	})
}

// L1Loss is torch.nn.functional.l1_loss.
func L1Loss(input, target *Tensor, r Reduction) *Tensor {
	return input.apply2("L1Loss", target, func(hi, ht C.st_tensor, out *C.st_tensor) C.st_err {
		return C.st_l1_loss(hi, ht, r.code(), out)
	})
}

// BCEWithLogits is torch.nn.functional.binary_cross_entropy_with_logits (weight and posWeight
// may be nil).
func BCEWithLogits(input, target, weight, posWeight *Tensor, r Reduction) *Tensor {
	hw := weight.acquireOpt("BCEWithLogits")
	defer weight.release()
	hp := posWeight.acquireOpt("BCEWithLogits")
	defer posWeight.release()
	return input.apply2("BCEWithLogits", target, func(hi, ht C.st_tensor, out *C.st_tensor) C.st_err {
		return C.st_bce_with_logits(hi, ht, hw, hp, r.code(), out)
	})
}

// TripletMarginLoss is torch.nn.functional.triplet_margin_loss (PyTorch defaults: margin 1,
// p 2, eps 1e-6, swap false).
func TripletMarginLoss(anchor, positive, negative *Tensor, margin, p, eps float64, swap bool, r Reduction) *Tensor {
	hn := negative.acquire("TripletMarginLoss")
	defer negative.release()
	return anchor.apply2("TripletMarginLoss", positive, func(ha, hp C.st_tensor, out *C.st_tensor) C.st_err {
		return C.st_triplet_margin_loss(ha, hp, hn, C.double(margin), C.double(p), C.double(eps), cbool(swap), r.code(), out)
	})
}

// PairwiseDistance is torch.nn.functional.pairwise_distance: ‖a − b + eps‖_p along the last dim.
func PairwiseDistance(a, b *Tensor, p, eps float64, keepdim bool) *Tensor {
	return a.apply2("PairwiseDistance", b, func(ha, hb C.st_tensor, out *C.st_tensor) C.st_err {
		return C.st_pairwise_distance(ha, hb, C.double(p), C.double(eps), cbool(keepdim), out)
	})
}

// SaveDict writes named tensors as a dict in PyTorch's torch.save format (readable by
// torch.load in Python). The file is written atomically: a temporary file, then a rename.
func SaveDict(path string, names []string, ts []*Tensor) error {
	if len(names) != len(ts) {
		return fmt.Errorf("torch: SaveDict %s: %d names for %d tensors", path, len(names), len(ts))
	}
	f, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("torch: SaveDict: %w", err)
	}
	tmp := f.Name()
	f.Close()
	defer os.Remove(tmp)
	cnames := make([]*C.char, len(names))
	for i, n := range names {
		cnames[i] = C.CString(n)
		defer C.free(unsafe.Pointer(cnames[i]))
	}
	var cn **C.char
	if len(cnames) > 0 {
		cn = &cnames[0]
	}
	var hs []C.st_tensor
	if err := Try(func() { hs = acquireAll("SaveDict", ts) }); err != nil {
		return err
	}
	defer releaseAll(ts)
	ctmp := C.CString(tmp)
	defer C.free(unsafe.Pointer(ctmp))
	if err := checkErr("SaveDict", C.st_save_dict(ctmp, cn, handlesPtr(hs), C.int(len(hs)))); err != nil {
		return fmt.Errorf("torch: SaveDict %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("torch: SaveDict: %w", err)
	}
	return nil
}

// LoadDict reads a dict of named tensors saved by SaveDict or by torch.save in Python
// (a state_dict, say). The caller owns the returned tensors.
func LoadDict(path string) (names []string, ts []*Tensor, err error) {
	if _, err := os.Stat(path); err != nil {
		return nil, nil, fmt.Errorf("torch: LoadDict: %w", err)
	}
	cpath := C.CString(path)
	defer C.free(unsafe.Pointer(cpath))
	var cn **C.char
	var ch *C.st_tensor
	var n C.int
	if err := checkErr("LoadDict", C.st_load_dict(cpath, &cn, &ch, &n)); err != nil {
		// Not libtorch's own format: read it as a Python torch.save file.
		names, ts, perr := loadPythonDict(path)
		if perr != nil {
			return nil, nil, fmt.Errorf("torch: LoadDict %s: not a dict of tensors saved by torch.save: %v", path, perr)
		}
		return names, ts, nil
	}
	if n == 0 {
		return nil, nil, nil
	}
	defer C.st_free_names(cn, n)
	defer C.st_free_array(unsafe.Pointer(ch))
	cnames := unsafe.Slice(cn, int(n))
	chs := unsafe.Slice(ch, int(n))
	for i := range int(n) {
		names = append(names, C.GoString(cnames[i]))
		ts = append(ts, newTensor(chs[i]))
	}
	return names, ts, nil
}
