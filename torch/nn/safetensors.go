// State dicts in the safetensors format, streamed one tensor at a time.

package nn

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"sort"

	"github.com/seqtorch/seqtorch/torch"
)

// maxHeader bounds the JSON header, as the safetensors library does (100 MB).
const maxHeader = 100 << 20

type stEntry struct {
	DType       string  `json:"dtype"`
	Shape       []int64 `json:"shape"`
	DataOffsets [2]int  `json:"data_offsets"`
}

// stCodes are the safetensors dtypes this package reads and writes: the torch dtype, the
// header's code and the size of one element in bytes.
var stCodes = []struct {
	dtype torch.DType
	code  string
	size  int
}{
	{torch.Float32, "F32", 4}, {torch.Float64, "F64", 8}, {torch.Int64, "I64", 8}, {torch.Int32, "I32", 4},
	{torch.Float16, "F16", 2}, {torch.Uint8, "U8", 1}, {torch.Bool, "BOOL", 1},
}

// stDType returns d's safetensors code and element size (see stCodes).
func stDType(d torch.DType) (string, int, error) {
	for _, c := range stCodes {
		if c.dtype == d {
			return c.code, c.size, nil
		}
	}
	return "", 0, fmt.Errorf("dtype %v has no safetensors encoding here", d)
}

// chunkBytes is the buffer size of safetensors reads and writes: tensor data is converted
// to and from little-endian bytes a buffer at a time, so saving or loading never holds more
// than one tensor's elements (and one buffer) in Go memory besides the tensors themselves.
const chunkBytes = 64 << 10

// putLE writes v as little-endian elements of size bytes each (put encodes one), filling
// w's free buffer space directly.
func putLE[T any](w *bufio.Writer, v []T, size int, put func([]byte, T)) error {
	for len(v) > 0 {
		buf := w.AvailableBuffer()
		n := min(len(v), cap(buf)/size)
		if n == 0 {
			if err := w.Flush(); err != nil {
				return err
			}
			continue
		}
		buf = buf[:n*size]
		for i, x := range v[:n] {
			put(buf[i*size:], x)
		}
		if _, err := w.Write(buf); err != nil {
			return err
		}
		v = v[n:]
	}
	return nil
}

// encodeTo writes t's elements (row-major, from any device) as little-endian bytes in the
// encoding stDType names.
func encodeTo(w *bufio.Writer, t *torch.Tensor) error {
	var err error
	terr := torch.Try(func() {
		switch t.DType() {
		case torch.Float32:
			err = putLE(w, t.Float32s(), 4, func(b []byte, x float32) { binary.LittleEndian.PutUint32(b, math.Float32bits(x)) })
		case torch.Float64:
			err = putLE(w, t.Float64s(), 8, func(b []byte, x float64) { binary.LittleEndian.PutUint64(b, math.Float64bits(x)) })
		case torch.Int64:
			err = putLE(w, t.Int64s(), 8, func(b []byte, x int64) { binary.LittleEndian.PutUint64(b, uint64(x)) })
		case torch.Bool:
			err = putLE(w, t.Bools(), 1, func(b []byte, x bool) {
				b[0] = 0
				if x {
					b[0] = 1
				}
			})
		case torch.Float16:
			f := t.ToDType(torch.Float32)
			defer f.Close()
			err = putLE(w, f.Float32s(), 2, func(b []byte, x float32) { binary.LittleEndian.PutUint16(b, f32ToF16(x)) })
		case torch.Int32:
			i := t.ToDType(torch.Int64)
			defer i.Close()
			err = putLE(w, i.Int64s(), 4, func(b []byte, x int64) { binary.LittleEndian.PutUint32(b, uint32(int32(x))) })
		case torch.Uint8:
			i := t.ToDType(torch.Int64)
			defer i.Close()
			err = putLE(w, i.Int64s(), 1, func(b []byte, x int64) { b[0] = byte(x) })
		default:
			_, _, err = stDType(t.DType()) // its error: every dtype it knows is a case above
		}
	})
	return errors.Join(terr, err)
}

// SaveSafetensors writes m's state dict to path in the safetensors format (an 8-byte
// little-endian header length, a JSON header giving each tensor's dtype, shape and
// data_offsets plus optional string metadata under "__metadata__", then the raw
// little-endian data), readable by safetensors.torch.load_file. Tensors are laid out in
// state_dict order. The file is replaced atomically (a temporary file, then a rename).
func SaveSafetensors(path string, m Module, metadata map[string]string) error {
	names, ts := StateDict(m)
	if err := WriteSafetensors(path, names, ts, metadata); err != nil {
		return fmt.Errorf("nn: SaveSafetensors: %w", err)
	}
	return nil
}

// WriteSafetensors writes named tensors (from any device) to path in the safetensors format;
// see SaveSafetensors. The data is streamed to the file one tensor at a time.
func WriteSafetensors(path string, names []string, ts []*torch.Tensor, metadata map[string]string) error {
	if len(names) != len(ts) {
		return fmt.Errorf("write %s: %d names for %d tensors", path, len(names), len(ts))
	}
	header := make(map[string]any, len(names)+1)
	if len(metadata) > 0 {
		header["__metadata__"] = metadata
	}
	end := 0
	for i, n := range names {
		if n == "__metadata__" {
			return fmt.Errorf("write %s: %q is reserved and cannot name a tensor", path, n)
		}
		if _, dup := header[n]; dup {
			return fmt.Errorf("write %s: duplicate tensor name %q", path, n)
		}
		if ts[i].Closed() {
			return fmt.Errorf("write %s: tensor %q is nil or closed", path, n)
		}
		code, size, err := stDType(ts[i].DType())
		if err != nil {
			return fmt.Errorf("write %s: tensor %q: %w", path, n, err)
		}
		shape := ts[i].Shape()
		if shape == nil {
			shape = []int64{}
		}
		nbytes := int(ts[i].Numel()) * size
		header[n] = stEntry{DType: code, Shape: shape, DataOffsets: [2]int{end, end + nbytes}}
		end += nbytes
	}
	hj, err := json.Marshal(header)
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	for len(hj)%8 != 0 { // the safetensors library pads the header with spaces to 8 bytes
		hj = append(hj, ' ')
	}
	return writeAtomic(path, func(f io.Writer) error {
		w := bufio.NewWriterSize(f, chunkBytes)
		w.Write(binary.LittleEndian.AppendUint64(nil, uint64(len(hj))))
		w.Write(hj)
		for i, t := range ts {
			if err := encodeTo(w, t); err != nil {
				return fmt.Errorf("write %s: tensor %q: %w", path, names[i], err)
			}
		}
		return w.Flush()
	})
}

// ReadSafetensors reads every tensor of a safetensors file onto the CPU, in the order of the
// data they occupy (state_dict order for files SaveSafetensors wrote), with the header's
// metadata. The caller owns the tensors. Supported dtypes: F32, F64, F16, I64, I32, U8, BOOL.
// The header is checked whole before any data is read; the data is then streamed from the
// file one tensor at a time.
func ReadSafetensors(path string) (names []string, ts []*torch.Tensor, meta map[string]string, err error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("nn: ReadSafetensors: %w", err)
	}
	defer f.Close()
	fail := func(format string, a ...any) error {
		return fmt.Errorf("nn: ReadSafetensors %s: %s", path, fmt.Sprintf(format, a...))
	}
	st, err := f.Stat()
	if err != nil {
		return nil, nil, nil, fmt.Errorf("nn: ReadSafetensors: %w", err)
	}
	size := st.Size()
	r := bufio.NewReaderSize(f, chunkBytes)
	var lenBuf [8]byte
	if size < 8 {
		return nil, nil, nil, fail("file too short (%d bytes) for a safetensors header", size)
	}
	if _, err := io.ReadFull(r, lenBuf[:]); err != nil {
		return nil, nil, nil, fail("reading the header length: %v", err)
	}
	n := binary.LittleEndian.Uint64(lenBuf[:])
	if n > maxHeader || n > uint64(size-8) {
		return nil, nil, nil, fail("header length %d does not fit the file (%d bytes)", n, size)
	}
	hb := make([]byte, n)
	if _, err := io.ReadFull(r, hb); err != nil {
		return nil, nil, nil, fail("reading the header: %v", err)
	}
	dataLen := int(size - 8 - int64(n))
	var header map[string]json.RawMessage
	if err := json.Unmarshal(hb, &header); err != nil {
		return nil, nil, nil, fail("invalid JSON header: %v", err)
	}
	if m, ok := header["__metadata__"]; ok {
		if err := json.Unmarshal(m, &meta); err != nil {
			return nil, nil, nil, fail("__metadata__ must map strings to strings: %v", err)
		}
		delete(header, "__metadata__")
	}
	type item struct {
		name  string
		e     stEntry
		count int
	}
	items := make([]item, 0, len(header))
	for k, v := range header {
		var e stEntry
		if err := json.Unmarshal(v, &e); err != nil {
			return nil, nil, nil, fail("tensor %q: invalid entry: %v", k, err)
		}
		items = append(items, item{name: k, e: e})
	}
	sort.Slice(items, func(i, j int) bool {
		a, b := items[i].e.DataOffsets, items[j].e.DataOffsets
		if a[0] != b[0] {
			return a[0] < b[0]
		}
		return a[1] < b[1]
	})
	end := 0
	for i, it := range items {
		e := it.e
		size, err := elemSize(e.DType)
		if err != nil {
			return nil, nil, nil, fail("tensor %q: %v", it.name, err)
		}
		count := int64(1)
		for _, d := range e.Shape {
			if d < 0 {
				return nil, nil, nil, fail("tensor %q: negative dimension in shape %v", it.name, e.Shape)
			}
			count *= d
		}
		b, f := e.DataOffsets[0], e.DataOffsets[1]
		if b != end || f < b || f > dataLen {
			return nil, nil, nil, fail("tensor %q: data_offsets [%d, %d] do not follow the previous tensor (ending at %d) within the %d data bytes", it.name, b, f, end, dataLen)
		}
		if int64(f-b) != count*int64(size) {
			return nil, nil, nil, fail("tensor %q: %d data bytes for shape %v of %s", it.name, f-b, e.Shape, e.DType)
		}
		items[i].count = int(count)
		end = f
	}
	if end != dataLen {
		return nil, nil, nil, fail("%d bytes of data after the last tensor", dataLen-end)
	}
	var rerr error
	err = torch.Try(func() {
		for _, it := range items {
			t, err := decodeFrom(r, it.e.DType, it.e.Shape, it.count)
			if err != nil {
				rerr = fmt.Errorf("tensor %q: reading its data: %w", it.name, err)
				return
			}
			ts = append(ts, t)
			names = append(names, it.name)
		}
	})
	if err = errors.Join(err, rerr); err != nil {
		closeAll(ts)
		return nil, nil, nil, fail("%v", err)
	}
	return names, ts, meta, nil
}

// elemSize returns the element size of a safetensors code (see stCodes).
func elemSize(code string) (int, error) {
	for _, c := range stCodes {
		if c.code == code {
			return c.size, nil
		}
	}
	return 0, fmt.Errorf("unsupported dtype %q (supported: F32, F64, F16, I64, I32, U8, BOOL)", code)
}

// getLE reads count little-endian elements of size bytes each (get decodes one) from r's
// buffer, a buffer at a time.
func getLE[T any](r *bufio.Reader, count, size int, get func([]byte) T) ([]T, error) {
	v := make([]T, count)
	per := r.Size() / size
	for i := 0; i < count; {
		n := min(count-i, per)
		b, err := r.Peek(n * size)
		if err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return nil, err
		}
		for k := range v[i : i+n] {
			v[i+k] = get(b[k*size:])
		}
		r.Discard(n * size)
		i += n
	}
	return v, nil
}

// decodeFrom reads one tensor's data (count elements of safetensors dtype code, validated by
// the caller) from r into a new CPU tensor of the given shape.
func decodeFrom(r *bufio.Reader, code string, shape []int64, count int) (*torch.Tensor, error) {
	var t *torch.Tensor
	var convert torch.DType = -1
	var err error
	switch code {
	case "F32":
		var v []float32
		if v, err = getLE(r, count, 4, func(b []byte) float32 { return math.Float32frombits(binary.LittleEndian.Uint32(b)) }); err == nil {
			t = torch.FromSlice(v)
		}
	case "F16":
		var v []float32
		if v, err = getLE(r, count, 2, func(b []byte) float32 { return f16ToF32(binary.LittleEndian.Uint16(b)) }); err == nil {
			t, convert = torch.FromSlice(v), torch.Float16
		}
	case "F64":
		var v []float64
		if v, err = getLE(r, count, 8, func(b []byte) float64 { return math.Float64frombits(binary.LittleEndian.Uint64(b)) }); err == nil {
			t = torch.FromSlice(v)
		}
	case "I64":
		var v []int64
		if v, err = getLE(r, count, 8, func(b []byte) int64 { return int64(binary.LittleEndian.Uint64(b)) }); err == nil {
			t = torch.FromSlice(v)
		}
	case "I32":
		var v []int64
		if v, err = getLE(r, count, 4, func(b []byte) int64 { return int64(int32(binary.LittleEndian.Uint32(b))) }); err == nil {
			t, convert = torch.FromSlice(v), torch.Int32
		}
	case "U8":
		var v []int64
		if v, err = getLE(r, count, 1, func(b []byte) int64 { return int64(b[0]) }); err == nil {
			t, convert = torch.FromSlice(v), torch.Uint8
		}
	case "BOOL":
		var v []bool
		if v, err = getLE(r, count, 1, func(b []byte) bool { return b[0] != 0 }); err == nil {
			t = torch.FromSlice(v)
		}
	default:
		err = fmt.Errorf("unsupported dtype %q", code)
	}
	if err != nil {
		return nil, err
	}
	if convert >= 0 {
		c := t.ToDType(convert)
		t.Close()
		t = c
	}
	out := t.Reshape(shape...)
	t.Close()
	return out, nil
}

// LoadSafetensors loads a safetensors state dict into m, strictly: missing keys, unexpected
// keys and shape mismatches are all reported in one error (see LoadStateDict).
func LoadSafetensors(path string, m Module) error {
	names, ts, _, err := ReadSafetensors(path)
	if err != nil {
		return err
	}
	defer closeAll(ts)
	if err := LoadStateDict(m, names, ts); err != nil {
		return fmt.Errorf("nn: LoadSafetensors %s: %w", path, err)
	}
	return nil
}
