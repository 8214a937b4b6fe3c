package nn

import (
	"encoding/binary"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/seqtorch/seqtorch/torch"
	"github.com/seqtorch/seqtorch/torch/torchtest"
)

func TestSafetensorsFormat(t *testing.T) {
	torchtest.CheckLive(t)
	torchtest.Scope(t)
	path := filepath.Join(t.TempDir(), "x.safetensors")
	lin := &Linear{Weight: torch.FromSlice([]float32{1, 2, 3, 4, 5, 6}, 2, 3), Bias: torch.FromSlice([]float32{-1, 0.5})}
	if err := SaveSafetensors(path, lin, map[string]string{"k": "v"}); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	n := binary.LittleEndian.Uint64(raw[:8])
	if n%8 != 0 {
		t.Errorf("header length %d not padded to 8", n)
	}
	var header map[string]json.RawMessage
	if err := json.Unmarshal(raw[8:8+n], &header); err != nil {
		t.Fatal(err)
	}
	if string(header["__metadata__"]) != `{"k":"v"}` {
		t.Errorf("metadata = %s", header["__metadata__"])
	}
	if got := string(header["weight"]); got != `{"dtype":"F32","shape":[2,3],"data_offsets":[0,24]}` {
		t.Errorf("weight entry = %s", got)
	}
	if got := string(header["bias"]); got != `{"dtype":"F32","shape":[2],"data_offsets":[24,32]}` {
		t.Errorf("bias entry = %s", got)
	}
	data := raw[8+n:]
	if len(data) != 32 || binary.LittleEndian.Uint32(data[0:]) != 0x3f800000 || binary.LittleEndian.Uint32(data[24:]) != 0xbf800000 {
		t.Errorf("data = % x", data)
	}
	names, ts, meta, err := ReadSafetensors(path)
	if err != nil {
		t.Fatal(err)
	}
	defer closeAll(ts)
	if !slices.Equal(names, []string{"weight", "bias"}) || meta["k"] != "v" {
		t.Errorf("names %v meta %v", names, meta)
	}
}

func TestSafetensorsDTypes(t *testing.T) {
	torchtest.CheckLive(t)
	torchtest.Scope(t)
	path := filepath.Join(t.TempDir(), "d.safetensors")
	f16 := torch.FromSlice([]float32{0, 1, -2.5, 65504, 6.1035156e-05, 5.9604645e-08, 0.33325195}).ToDType(torch.Float16)
	in := []*torch.Tensor{
		torch.FromSlice([]float32{1.5, -2}),
		torch.FromSlice([]float64{3.25, -1e300}, 2, 1),
		torch.FromSlice([]int64{-7, 1 << 40}),
		torch.FromSlice([]int64{-7, 1 << 30}).ToDType(torch.Int32),
		torch.FromSlice([]int64{0, 255, 7}).ToDType(torch.Uint8),
		torch.FromSlice([]bool{true, false, true}),
		f16,
		torch.Scalar(4.5),
		torch.Zeros([]int64{0, 3}),
		// Larger than the 64 KiB read and write buffers, and not a multiple of them.
		torch.Randn([]int64{301, 97}),
		torch.Randn([]int64{20011}, torch.WithDType(torch.Float64)),
		torch.Randn([]int64{70001}).ToDType(torch.Float16),
	}
	names := []string{"f32", "f64", "i64", "i32", "u8", "bool", "f16", "scalar", "empty", "big f32", "big f64", "big f16"}
	if err := WriteSafetensors(path, names, in, nil); err != nil {
		t.Fatal(err)
	}
	gotNames, out, meta, err := ReadSafetensors(path)
	if err != nil {
		t.Fatal(err)
	}
	defer closeAll(out)
	if !slices.Equal(gotNames, names) || meta != nil {
		t.Fatalf("names %v meta %v", gotNames, meta)
	}
	for i := range in {
		if out[i].DType() != in[i].DType() || !slices.Equal(out[i].Shape(), in[i].Shape()) {
			t.Errorf("%s: got %v, want %v", names[i], out[i], in[i])
			continue
		}
		a, b := in[i].ToDType(torch.Float64).Float64s(), out[i].ToDType(torch.Float64).Float64s()
		for j := range a {
			if a[j] != b[j] {
				t.Errorf("%s[%d] = %v, want %v", names[i], j, b[j], a[j])
			}
		}
	}
}

func TestReadSafetensorsRejectsCorruptFiles(t *testing.T) {
	torchtest.CheckLive(t)
	dir := t.TempDir()
	write := func(name string, header string, data []byte) string {
		p := filepath.Join(dir, name)
		var b []byte
		b = binary.LittleEndian.AppendUint64(b, uint64(len(header)))
		b = append(b, header...)
		b = append(b, data...)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	short := filepath.Join(dir, "short")
	os.WriteFile(short, []byte{1, 2}, 0o644)
	huge := filepath.Join(dir, "huge")
	os.WriteFile(huge, binary.LittleEndian.AppendUint64(nil, 1<<40), 0o644)
	for _, tc := range []struct {
		name, path, want string
	}{
		{"missing", filepath.Join(dir, "nope"), "no such file"},
		{"short", short, "file too short"},
		{"huge header", huge, "does not fit the file"},
		{"bad json", write("j", "{nope", nil), "invalid JSON header"},
		{"dtype", write("d", `{"a":{"dtype":"BF16","shape":[1],"data_offsets":[0,2]}}`, make([]byte, 2)), `unsupported dtype "BF16"`},
		{"size", write("s", `{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}}`, make([]byte, 4)), "4 data bytes for shape [2]"},
		{"overrun", write("o", `{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}`, make([]byte, 4)), "data_offsets [0, 8]"},
		{"gap", write("g", `{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`, make([]byte, 8)), "do not follow the previous tensor"},
		{"trailing", write("t", `{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}`, make([]byte, 8)), "4 bytes of data after the last tensor"},
		{"negative dim", write("n", `{"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,0]}}`, nil), "negative dimension"},
		{"metadata", write("m", `{"__metadata__":{"a":1}}`, nil), "__metadata__ must map strings to strings"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			torchtest.Scope(t)
			_, ts, _, err := ReadSafetensors(tc.path)
			if ts != nil {
				t.Error("tensors returned with an error")
			}
			wantErr(t, err, tc.want)
		})
	}
	lin := NewLinear(2, 2, LinearOptions{})
	defer Close(lin)
	wantErr(t, LoadSafetensors(short, lin), "file too short")
	wantErr(t, LoadTorch(short, lin), "LoadTorch")
}

func TestWriteSafetensorsErrors(t *testing.T) {
	torchtest.CheckLive(t)
	torchtest.Scope(t)
	dir := t.TempDir()
	x := torch.Zeros([]int64{1})
	closed := torch.Zeros([]int64{1})
	closed.Close()
	for _, tc := range []struct {
		name  string
		path  string
		names []string
		ts    []*torch.Tensor
		want  string
	}{
		{"count", filepath.Join(dir, "a"), []string{"a", "b"}, []*torch.Tensor{x}, "2 names for 1 tensors"},
		{"duplicate", filepath.Join(dir, "a"), []string{"a", "a"}, []*torch.Tensor{x, x}, `duplicate tensor name "a"`},
		{"reserved", filepath.Join(dir, "a"), []string{"__metadata__"}, []*torch.Tensor{x}, "reserved"},
		{"closed", filepath.Join(dir, "a"), []string{"a"}, []*torch.Tensor{closed}, "nil or closed"},
		{"no dir", filepath.Join(dir, "no", "such", "a"), []string{"a"}, []*torch.Tensor{x}, "no such file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			torchtest.Scope(t)
			wantErr(t, WriteSafetensors(tc.path, tc.names, tc.ts, nil), tc.want)
		})
	}
}

func TestHalfConversion(t *testing.T) {
	for _, tc := range []struct {
		f float32
		h uint16
	}{
		{0, 0}, {1, 0x3c00}, {-2, 0xc000}, {65504, 0x7bff}, {1e6, 0x7c00}, {6.1035156e-05, 0x0400},
		{5.9604645e-08, 0x0001}, {1e-9, 0}, {1.0009766, 0x3c01}, {1.00048828125, 0x3c00}, // tie to even
	} {
		if got := f32ToF16(tc.f); got != tc.h {
			t.Errorf("f32ToF16(%v) = %#04x, want %#04x", tc.f, got, tc.h)
		}
		if tc.f < 1e5 && tc.f > 1e-8 || tc.f == 0 || tc.f < 0 {
			if got := f16ToF32(tc.h); got != tc.f && tc.f != 1.00048828125 {
				t.Errorf("f16ToF32(%#04x) = %v, want %v", tc.h, got, tc.f)
			}
		}
	}
}
