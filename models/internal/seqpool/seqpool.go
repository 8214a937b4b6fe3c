// Package seqpool reduces a batch of padded sequence outputs, (B, T, F), over each row's
// valid steps (the first lengths[b]): the poolings of the models' encoders. Steps past a
// row's length never count, whatever they hold.
package seqpool

import (
	"math"

	"github.com/seqtorch/seqtorch/torch"
)

// Mask returns the (B, T, 1) boolean mask of the valid steps, t < lengths[b], on dev.
func Mask(lengths []int64, t int64, dev torch.Device) *torch.Tensor {
	b := int64(len(lengths))
	valid := make([]bool, b*t)
	for i, l := range lengths {
		for j := range min(l, t) {
			valid[int64(i)*t+j] = true
		}
	}
	return torch.FromSlice(valid, b, t, 1).To(dev)
}

// Max returns the element-wise maximum of x (B, T, F) over each row's valid steps, (B, F).
func Max(x *torch.Tensor, lengths []int64) *torch.Tensor {
	mask := Mask(lengths, x.Size(1), x.Device())
	v, _ := x.MaskedFill(mask.LogicalNot(), math.Inf(-1)).MaxDim(1, false)
	return v
}

// Mean returns the mean of x (B, T, F) over each row's valid steps, (B, F).
func Mean(x *torch.Tensor, lengths []int64) *torch.Tensor {
	mask := Mask(lengths, x.Size(1), x.Device())
	n := make([]float32, len(lengths))
	for i, l := range lengths {
		n[i] = float32(l)
	}
	return x.MaskedFill(mask.LogicalNot(), 0).SumDim(false, 1).Div(torch.FromSlice(n, int64(len(n)), 1).To(x.Device()))
}
