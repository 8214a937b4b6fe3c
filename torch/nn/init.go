package nn

import (
	"fmt"
	"math"
	"strings"

	"github.com/seqtorch/seqtorch/torch"
)

// This file mirrors torch.nn.init. The functions live in package nn, named Init + the
// CamelCase of PyTorch's name (nn.init.xavier_uniform_ is InitXavierUniform), rather than in a
// package of their own: Go cannot name a package init, and nn's constructors use them.
//
// Each fills its tensor in place without recording autograd (inside torch.NoGrad, as PyTorch's
// torch.no_grad()), drawing from libtorch's default generator with the same calls, bounds and
// order as torch/nn/init.py, so that after torch.ManualSeed(s) the tensor equals PyTorch's
// after torch.manual_seed(s). Bounds are computed in float64 as Python computes them. A tensor
// with a zero-sized dimension is left as it is where PyTorch's function is a no-op for it.
// Invalid arguments (a mode or nonlinearity PyTorch does not know, fewer than two
// dimensions where fans are needed) panic with *torch.Error, as PyTorch raises ValueError.

// InitUniform fills t with values drawn from U(a, b), as nn.init.uniform_(t, a, b) (PyTorch's
// defaults are a=0, b=1).
func InitUniform(t *torch.Tensor, a, b float64) {
	torch.NoGrad(func() { t.UniformInPlace(a, b) })
}

// InitNormal fills t with values drawn from N(mean, std²), as nn.init.normal_(t, mean, std)
// (PyTorch's defaults are mean=0, std=1).
func InitNormal(t *torch.Tensor, mean, std float64) {
	torch.NoGrad(func() { t.NormalInPlace(mean, std) })
}

// InitConstant fills t with val, as nn.init.constant_.
func InitConstant(t *torch.Tensor, val float64) {
	torch.NoGrad(func() { t.Fill(val) })
}

// InitOnes fills t with ones, as nn.init.ones_.
func InitOnes(t *torch.Tensor) { InitConstant(t, 1) }

// InitZeros fills t with zeros, as nn.init.zeros_.
func InitZeros(t *torch.Tensor) { InitConstant(t, 0) }

// CalculateGain returns the recommended gain for a nonlinearity, as nn.init.calculate_gain:
//
//	linear, conv1d, conv2d, conv3d, conv_transpose1d/2d/3d, sigmoid   1
//	tanh                                                              5/3
//	relu                                                              √2
//	leaky_relu                                                        √(2 / (1 + negative_slope²))
//	selu                                                              3/4
//
// param is leaky_relu's negative slope; nil means PyTorch's default 0.01. An unknown
// nonlinearity panics with *torch.Error.
func CalculateGain(nonlinearity string, param *float64) float64 {
	switch nonlinearity {
	case "linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d", "conv_transpose3d", "sigmoid":
		return 1
	case "tanh":
		return 5.0 / 3
	case "relu":
		return math.Sqrt(2.0)
	case "leaky_relu":
		slope := 0.01
		if param != nil {
			slope = *param
		}
		return math.Sqrt(2.0 / (1 + slope*slope))
	case "selu":
		return 3.0 / 4
	}
	panic(&torch.Error{Op: "nn.CalculateGain", Msg: fmt.Sprintf("Unsupported nonlinearity %s", nonlinearity)})
}

// CalculateFanInAndFanOut returns the fans of a weight tensor, as PyTorch's
// nn.init._calculate_fan_in_and_fan_out: for a shape (out, in, k₁, k₂, ...) the receptive
// field r = k₁·k₂·…, fan_in = in·r and fan_out = out·r. A tensor with fewer than two
// dimensions panics with *torch.Error.
func CalculateFanInAndFanOut(t *torch.Tensor) (fanIn, fanOut int64) {
	return fans("nn.CalculateFanInAndFanOut", t.Shape())
}

func fans(op string, shape []int64) (fanIn, fanOut int64) {
	if len(shape) < 2 {
		panic(&torch.Error{Op: op, Msg: "Fan in and fan out can not be computed for tensor with fewer than 2 dimensions"})
	}
	r := int64(1)
	for _, s := range shape[2:] {
		r *= s
	}
	return shape[1] * r, shape[0] * r
}

// InitXavierUniform fills t with values drawn from U(−a, a), a = gain·√(6 / (fan_in +
// fan_out)), as nn.init.xavier_uniform_(t, gain) (Glorot & Bengio, 2010; PyTorch's default
// gain is 1).
func InitXavierUniform(t *torch.Tensor, gain float64) {
	in, out := fans("nn.InitXavierUniform", t.Shape())
	std := gain * math.Sqrt(2.0/float64(in+out))
	a := math.Sqrt(3.0) * std
	InitUniform(t, -a, a)
}

// InitXavierNormal fills t with values drawn from N(0, std²), std = gain·√(2 / (fan_in +
// fan_out)), as nn.init.xavier_normal_(t, gain) (PyTorch's default gain is 1).
func InitXavierNormal(t *torch.Tensor, gain float64) {
	in, out := fans("nn.InitXavierNormal", t.Shape())
	std := gain * math.Sqrt(2.0/float64(in+out))
	InitNormal(t, 0, std)
}

// KaimingOptions are the keyword arguments of nn.init.kaiming_uniform_ and kaiming_normal_;
// the zero value is PyTorch's defaults (a=0, mode='fan_in', nonlinearity='leaky_relu').
type KaimingOptions struct {
	A            float64 // the negative slope of the rectifier after this layer (leaky_relu only)
	Mode         string  // "fan_in" (or "") preserves the forward pass's variance, "fan_out" the backward's
	Nonlinearity string  // a CalculateGain name; "" means "leaky_relu"; "relu" is the usual choice
}

func (o KaimingOptions) std(op string, shape []int64) float64 {
	in, out := fans(op, shape)
	fan := in
	switch strings.ToLower(o.Mode) {
	case "", "fan_in":
	case "fan_out":
		fan = out
	default:
		panic(&torch.Error{Op: op, Msg: fmt.Sprintf("Mode %s not supported, please use one of [fan_in, fan_out]", o.Mode)})
	}
	nl := o.Nonlinearity
	if nl == "" {
		nl = "leaky_relu"
	}
	a := o.A
	gain := CalculateGain(nl, &a)
	return gain / math.Sqrt(float64(fan))
}

func hasZeroDim(shape []int64) bool {
	for _, s := range shape {
		if s == 0 {
			return true
		}
	}
	return false
}

// InitKaimingUniform fills t with values drawn from U(−bound, bound), bound = gain·√(3 / fan),
// as nn.init.kaiming_uniform_ (He et al., 2015), where fan is fan_in or fan_out (o.Mode) and
// gain is CalculateGain(o.Nonlinearity, o.A). A tensor with a zero-sized dimension is left
// as it is.
func InitKaimingUniform(t *torch.Tensor, o KaimingOptions) {
	shape := t.Shape()
	if hasZeroDim(shape) {
		return
	}
	bound := math.Sqrt(3.0) * o.std("nn.InitKaimingUniform", shape)
	InitUniform(t, -bound, bound)
}

// InitKaimingNormal fills t with values drawn from N(0, std²), std = gain / √fan, as
// nn.init.kaiming_normal_ (see InitKaimingUniform for fan and gain). A tensor with a
// zero-sized dimension is left as it is.
func InitKaimingNormal(t *torch.Tensor, o KaimingOptions) {
	shape := t.Shape()
	if hasZeroDim(shape) {
		return
	}
	InitNormal(t, 0, o.std("nn.InitKaimingNormal", shape))
}

// InitOrthogonal fills t with a (semi-)orthogonal matrix scaled by gain, as
// nn.init.orthogonal_(t, gain) (Saxe et al., 2013; PyTorch's default gain is 1): t viewed as
// rows = t.Size(0) by cols = numel/rows, a matrix A of that shape (transposed when rows < cols)
// drawn from N(0, 1), its reduced QR factorisation A = QR, Q multiplied column-wise by
// sign(diag(R)) (so the result is uniform over orthogonal matrices), transposed back, times
// gain. Tensors with fewer than two dimensions panic with *torch.Error; an empty tensor is
// left as it is.
func InitOrthogonal(t *torch.Tensor, gain float64) {
	if t.Dim() < 2 {
		panic(&torch.Error{Op: "nn.InitOrthogonal", Msg: "Only tensors with 2 or more dimensions are supported"})
	}
	if t.Numel() == 0 {
		return
	}
	rows := t.Size(0)
	cols := t.Numel() / rows
	torch.NoGrad(func() {
		s := torch.NewScope()
		defer s.Close()
		flat := torch.Zeros([]int64{rows, cols}, torch.WithDType(t.DType()), torch.WithDevice(t.Device()))
		flat.NormalInPlace(0, 1)
		if rows < cols {
			flat = flat.T()
		}
		q, r := torch.LinalgQr(flat, "reduced")
		q = q.Mul(r.Diag(0).Sign())
		if rows < cols {
			q = q.T()
		}
		view := t.View(rows, cols)
		view.CopyFrom(q)
		t.MulScalarInPlace(gain)
	})
}
