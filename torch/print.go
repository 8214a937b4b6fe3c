package torch

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"sync/atomic"
)

// SciMode chooses between fixed-point and scientific notation for floating-point tensors, as
// the sci_mode argument of torch.set_printoptions.
type SciMode int8

// The notations. SciAuto, the zero value, is PyTorch's default (sci_mode=None): scientific
// notation when the printed values span more than three orders of magnitude, exceed 1e8, or
// (for non-integers) fall below 1e-4.
const (
	SciAuto SciMode = iota // let the values decide (sci_mode=None)
	SciOn                  // always scientific (sci_mode=True)
	SciOff                 // never scientific (sci_mode=False)
)

// PrintOptions are the options of torch.set_printoptions. A zero field means PyTorch's
// default, so the zero PrintOptions is PyTorch's default profile; a precision or threshold of
// 0 therefore cannot be asked for (use Threshold: 1 to summarize nearly everything).
type PrintOptions struct {
	Precision int     // digits after the decimal point of floats (default 4)
	Threshold int     // tensors with more elements than this are summarized (default 1000); math.MaxInt never summarizes (profile="full")
	EdgeItems int     // elements shown at each end of a summarized dimension (default 3)
	Linewidth int     // characters per line before wrapping (default 80)
	SciMode   SciMode // fixed-point or scientific notation (default SciAuto)
}

var printOpts atomic.Pointer[PrintOptions]

// SetPrintOptions sets the options Tensor.String uses from now on, in every goroutine, and
// returns the previous ones, so that
//
//	defer torch.SetPrintOptions(torch.SetPrintOptions(torch.PrintOptions{Precision: 2}))
//
// changes them for the rest of a function. It is safe to call from any goroutine; a String
// running meanwhile uses either the old or the new options, never a mix.
func SetPrintOptions(o PrintOptions) PrintOptions {
	prev := printOpts.Swap(&o)
	if prev == nil {
		return PrintOptions{}
	}
	return *prev
}

// effective returns o with zero fields replaced by PyTorch's defaults.
func (o PrintOptions) effective() PrintOptions {
	if o.Precision <= 0 {
		o.Precision = 4
	}
	if o.Threshold <= 0 {
		o.Threshold = 1000
	}
	if o.EdgeItems <= 0 {
		o.EdgeItems = 3
	}
	if o.Linewidth <= 0 {
		o.Linewidth = 80
	}
	return o
}

func currentPrintOptions() PrintOptions {
	if p := printOpts.Load(); p != nil {
		return p.effective()
	}
	return PrintOptions{}.effective()
}

// String returns the tensor as PyTorch's repr(t) prints it, so fmt.Print(t) shows what
// print(t) shows in Python: the values, with PyTorch's number formatting (precision 4, "1."
// for integral floats, scientific notation when the magnitudes call for it, nan and inf), the
// summary with "..." of a tensor above 1000 elements (3 items at each end of every long
// dimension), lines wrapped at 80 characters, and the suffixes PyTorch adds: device='cuda:N'
// for a CUDA tensor, dtype=torch.X for a dtype other than float32, int64 and bool (every dtype
// but float32 for an empty tensor), size=(…) for an empty tensor that is not 1-dim, and
// requires_grad=True. SetPrintOptions changes the precision, threshold, edge items, line width
// and notation, as torch.set_printoptions does.
//
// One difference: PyTorch prints grad_fn=<MulBackward0> (the autograd node's name) instead of
// requires_grad=True for a tensor computed from one that requires grad; String prints
// requires_grad=True for those too, since the node's name is not available cheaply.
//
// String copies at most the printed elements to the host (a summarized tensor is reduced on
// its device first) and closes every temporary tensor it makes, so Live is unchanged. It
// never panics: a closed tensor prints as tensor(<closed>) and a nil one as <nil>.
func (t *Tensor) String() (s string) {
	if t == nil {
		return "<nil>"
	}
	if t.Closed() {
		return "tensor(<closed>)"
	}
	defer func() {
		if r := recover(); r != nil {
			if t.Closed() { // closed by another goroutine while printing
				s = "tensor(<closed>)"
				return
			}
			s = fmt.Sprintf("tensor(<error: %v>)", r)
		}
	}()
	return t.repr(currentPrintOptions())
}

const printPrefix = "tensor("

// repr builds PyTorch's repr with options o (defaults filled in).
func (t *Tensor) repr(o PrintOptions) string {
	shape := t.Shape()
	dt := t.DType()
	dev := t.Device()
	indent := len(printPrefix)
	var suffixes []string
	if dev.Type != CPUDevice {
		suffixes = append(suffixes, "device='"+dev.String()+"'")
	}
	var body string
	if numel(shape) == 0 {
		if len(shape) != 1 {
			suffixes = append(suffixes, "size="+pyTuple(shape))
		}
		if dt != Float32 {
			suffixes = append(suffixes, "dtype=torch."+dt.String())
		}
		body = "[]"
	} else {
		if dt != Float32 && dt != Int64 && dt != Bool {
			suffixes = append(suffixes, "dtype=torch."+dt.String())
		}
		body = t.valuesString(shape, dt, o, indent)
	}
	if t.RequiresGrad() {
		suffixes = append(suffixes, "requires_grad=True")
	}
	return addSuffixes(printPrefix+body, suffixes, indent, o.Linewidth)
}

// pyTuple formats a shape as Python formats a tuple: (0, 3), (0,).
func pyTuple(shape []int64) string {
	parts := make([]string, len(shape))
	for i, d := range shape {
		parts[i] = strconv.FormatInt(d, 10)
	}
	if len(parts) == 1 {
		return "(" + parts[0] + ",)"
	}
	return "(" + strings.Join(parts, ", ") + ")"
}

// addSuffixes appends ", suffix" items and the closing parenthesis, starting a new line
// (indented by indent) where a suffix would pass the line width, with PyTorch's reckoning of
// the last line's length (_add_suffixes).
func addSuffixes(s string, suffixes []string, indent, linewidth int) string {
	var b strings.Builder
	b.WriteString(s)
	last := len(s) - strings.LastIndexByte(s, '\n') + 1
	for _, suf := range suffixes {
		if last+len(suf)+2 > linewidth {
			b.WriteString(",\n" + strings.Repeat(" ", indent) + suf)
			last = indent + len(suf)
		} else {
			b.WriteString(", " + suf)
			last += len(suf) + 2
		}
	}
	b.WriteByte(')')
	return b.String()
}

// valuesString prints the elements of a non-empty tensor of the given shape and dtype.
func (t *Tensor) valuesString(shape []int64, dt DType, o PrintOptions, indent int) string {
	edge := int64(o.EdgeItems)
	summarize := numel(shape) > int64(o.Threshold)
	// cut[d]: dimension d is shown as its first and last edge items, with "..." between.
	cut := make([]bool, len(shape))
	kept := append([]int64(nil), shape...)
	if summarize {
		for d, n := range shape {
			if n > 2*edge {
				cut[d] = true
				kept[d] = 2 * edge
			}
		}
	}
	var strs []string // the elements of kept, row-major, unpadded
	var f *numberFormat
	NoGrad(func() { strs, f = t.printedElements(shape, cut, edge, dt, o) })
	p := printer{strs: strs, fmt: f, shape: kept, cut: cut, edge: int(edge), linewidth: o.Linewidth}
	p.strides = make([]int, len(kept))
	stride := 1
	for d := len(kept) - 1; d >= 0; d-- {
		p.strides[d] = stride
		stride *= int(kept[d])
	}
	if len(kept) == 0 {
		return p.pad(strs[0])
	}
	return p.tensor(0, 0, indent)
}

// printedElements copies the elements that will be printed (those of the summary when
// summarizing) to the host and formats them; the float formatter is chosen from these
// elements only, as PyTorch chooses it from get_summarized_data.
func (t *Tensor) printedElements(shape []int64, cut []bool, edge int64, dt DType, o PrintOptions) ([]string, *numberFormat) {
	src := t
	closeSrc := func() {
		if src != t {
			src.Close()
		}
	}
	defer func() { closeSrc() }()
	for d, c := range cut {
		if !c {
			continue
		}
		n := shape[d]
		idx := make([]int64, 0, 2*edge)
		for i := int64(0); i < edge; i++ {
			idx = append(idx, i)
		}
		for i := n - edge; i < n; i++ {
			idx = append(idx, i)
		}
		it := FromSlice(idx)
		next := func() *Tensor {
			defer it.Close()
			return src.IndexSelect(int64(d), it)
		}()
		closeSrc()
		src = next
	}
	switch dt {
	case Float64, Float32, Float16:
		var vals []float64
		if dt == Float64 {
			vals = src.Float64s()
		} else {
			c := src.ToDType(Float64)
			defer c.Close()
			vals = c.Float64s()
		}
		f := newFloatFormat(vals, o)
		strs := make([]string, len(vals))
		for i, v := range vals {
			strs[i] = f.float(v)
		}
		return strs, f
	case Bool:
		vals := src.Bools()
		strs := make([]string, len(vals))
		for i, v := range vals {
			strs[i] = "False"
			if v {
				strs[i] = "True"
			}
		}
		return strs, newIntFormat(strs)
	default: // integers
		var vals []int64
		if dt == Int64 {
			vals = src.Int64s()
		} else {
			c := src.ToDType(Int64)
			defer c.Close()
			vals = c.Int64s()
		}
		strs := make([]string, len(vals))
		for i, v := range vals {
			strs[i] = strconv.FormatInt(v, 10)
		}
		return strs, newIntFormat(strs)
	}
}

// numberFormat is PyTorch's _Formatter: one notation and one width for all of a tensor's
// elements.
type numberFormat struct {
	floating bool
	intMode  bool // floats that are all integral: "3."
	sci      bool
	prec     int
	width    int
}

func newIntFormat(strs []string) *numberFormat {
	f := &numberFormat{intMode: true, width: 1}
	for _, s := range strs {
		f.width = max(f.width, len(s))
	}
	return f
}

func newFloatFormat(vals []float64, o PrintOptions) *numberFormat {
	f := &numberFormat{floating: true, intMode: true, prec: o.Precision, width: 1}
	lo, hi := math.Inf(1), 0.0
	var nz []float64
	for _, v := range vals {
		if v == 0 || math.IsNaN(v) || math.IsInf(v, 0) {
			continue
		}
		nz = append(nz, v)
		a := math.Abs(v)
		lo, hi = min(lo, a), max(hi, a)
		if v != math.Ceil(v) {
			f.intMode = false
		}
	}
	if len(nz) == 0 {
		return f // as PyTorch: no finite non-zero value, so the notation option is not applied
	}
	switch {
	case f.intMode && (hi/lo > 1000 || hi > 1e8):
		f.sci = true
		for _, v := range nz {
			f.width = max(f.width, len(pyFloat(v, 'e', f.prec)))
		}
	case f.intMode:
		for _, v := range nz {
			f.width = max(f.width, len(pyFloat(v, 'f', 0))+1)
		}
	case hi/lo > 1000 || hi > 1e8 || lo < 1e-4:
		f.sci = true
		for _, v := range nz {
			f.width = max(f.width, len(pyFloat(v, 'e', f.prec)))
		}
	default:
		for _, v := range nz {
			f.width = max(f.width, len(pyFloat(v, 'f', f.prec)))
		}
	}
	if o.SciMode != SciAuto {
		f.sci = o.SciMode == SciOn
	}
	return f
}

// float formats v without padding, as _Formatter.format does before padding.
func (f *numberFormat) float(v float64) string {
	switch {
	case f.sci:
		return pyFloat(v, 'e', f.prec)
	case f.intMode:
		s := pyFloat(v, 'f', 0)
		if !math.IsNaN(v) && !math.IsInf(v, 0) {
			s += "."
		}
		return s
	default:
		return pyFloat(v, 'f', f.prec)
	}
}

// pyFloat formats v as Python's "{:.Nf}" / "{:.Ne}" do (nan, inf, -inf).
func pyFloat(v float64, verb byte, prec int) string {
	switch {
	case math.IsNaN(v):
		return "nan"
	case math.IsInf(v, 1):
		return "inf"
	case math.IsInf(v, -1):
		return "-inf"
	}
	return strconv.FormatFloat(v, verb, prec, 64)
}

// printer lays out formatted elements as _tensor_str_with_formatter does.
type printer struct {
	strs      []string
	fmt       *numberFormat
	shape     []int64 // shape of strs (summarized dimensions hold 2*edge items)
	strides   []int
	cut       []bool
	edge      int
	linewidth int
}

func (p *printer) pad(s string) string {
	if n := p.fmt.width - len(s); n > 0 {
		return strings.Repeat(" ", n) + s
	}
	return s
}

// tensor prints dimension d (and those after it) of the block starting at element off.
func (p *printer) tensor(d, off, indent int) string {
	n := int(p.shape[d])
	if d == len(p.shape)-1 {
		return p.vector(off, indent, n)
	}
	var slices []string
	for i := 0; i < n; i++ {
		if p.cut[d] && i == p.edge {
			slices = append(slices, "...")
		}
		slices = append(slices, p.tensor(d+1, off+i*p.strides[d], indent+1))
	}
	rest := len(p.shape) - d // dims of this block
	sep := "," + strings.Repeat("\n", rest-1) + strings.Repeat(" ", indent+1)
	return "[" + strings.Join(slices, sep) + "]"
}

// vector prints the last dimension: n elements from off, wrapped at the line width.
func (p *printer) vector(off, indent, n int) string {
	d := len(p.shape) - 1
	perLine := max(1, int(math.Floor(float64(p.linewidth-indent)/float64(p.fmt.width+2))))
	data := make([]string, 0, n+1)
	for i := 0; i < n; i++ {
		if p.cut[d] && i == p.edge {
			data = append(data, " ...")
		}
		data = append(data, p.pad(p.strs[off+i]))
	}
	var lines []string
	for i := 0; i < len(data); i += perLine {
		lines = append(lines, strings.Join(data[i:min(i+perLine, len(data))], ", "))
	}
	return "[" + strings.Join(lines, ",\n"+strings.Repeat(" ", indent+1)) + "]"
}
