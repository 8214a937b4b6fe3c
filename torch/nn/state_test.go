package nn

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/seqtorch/seqtorch/torch"
	"github.com/seqtorch/seqtorch/torch/torchtest"
)

func paramsEqual(t *testing.T, a, b Module) bool {
	t.Helper()
	pa, pb := a.NamedParameters(), b.NamedParameters()
	if len(pa) != len(pb) {
		return false
	}
	for i := range pa {
		if pa[i].Name != pb[i].Name || !near32(f32(pa[i].Value), f32(pb[i].Value), 0) {
			return false
		}
	}
	return true
}

func TestStateDictRoundTrip(t *testing.T) {
	formats := []struct {
		name string
		save func(string, Module) error
		load func(string, Module) error
	}{
		{"safetensors", func(p string, m Module) error {
			return SaveSafetensors(p, m, map[string]string{"format": "pt", "epoch": "3"})
		}, LoadSafetensors},
		{"torch", SaveTorch, LoadTorch},
	}
	for _, f := range formats {
		t.Run(f.name, func(t *testing.T) {
			torchtest.CheckLive(t)
			dir := t.TempDir()
			path := filepath.Join(dir, "model."+f.name)
			torch.ManualSeed(1)
			a := newSeedModel(t)
			defer Close(a)
			if err := f.save(path, a); err != nil {
				t.Fatal(err)
			}
			torch.ManualSeed(2)
			b := newSeedModel(t)
			defer Close(b)
			if paramsEqual(t, a, b) {
				t.Fatal("differently seeded models are equal")
			}
			if err := f.load(path, b); err != nil {
				t.Fatal(err)
			}
			if !paramsEqual(t, a, b) {
				t.Error("loaded parameters differ from the saved ones")
			}
			for _, p := range b.NamedParameters() {
				if !p.Value.RequiresGrad() {
					t.Errorf("%s lost requires_grad on load", p.Name)
				}
			}
			if matches, _ := filepath.Glob(filepath.Join(dir, "*.tmp*")); len(matches) != 0 {
				t.Errorf("temporary files left: %v", matches)
			}
		})
	}
}

func TestStrictLoadErrors(t *testing.T) {
	torchtest.CheckLive(t)
	dir := t.TempDir()
	small, err := NewLSTM(3, 4, RNNOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer Close(small)
	st := filepath.Join(dir, "small.safetensors")
	pt := filepath.Join(dir, "small.pt")
	if err := SaveSafetensors(st, small, nil); err != nil {
		t.Fatal(err)
	}
	if err := SaveTorch(pt, small); err != nil {
		t.Fatal(err)
	}
	wider, _ := NewLSTM(3, 5, RNNOptions{})
	bi, _ := NewLSTM(3, 4, RNNOptions{Bidirectional: true})
	noBias, _ := NewLSTM(3, 4, RNNOptions{NoBias: true})
	defer Close(wider)
	defer Close(bi)
	defer Close(noBias)
	for _, tc := range []struct {
		name                          string
		m                             Module
		missing, unexpected, mismatch int
		want                          []string
	}{
		{"shapes", wider, 0, 0, 4, []string{
			"size mismatch for weight_ih_l0: copying a param with shape (16, 3) from checkpoint, the shape in current model is (20, 3)",
			"size mismatch for bias_hh_l0: copying a param with shape (16) from checkpoint, the shape in current model is (20)"}},
		{"missing", bi, 4, 0, 0, []string{`missing key(s) in state_dict: "weight_ih_l0_reverse", "weight_hh_l0_reverse", "bias_ih_l0_reverse", "bias_hh_l0_reverse"`}},
		{"unexpected", noBias, 0, 2, 0, []string{`unexpected key(s) in state_dict: "bias_ih_l0", "bias_hh_l0"`}},
	} {
		for _, f := range []struct {
			name string
			path string
			load func(string, Module) error
		}{{"safetensors", st, LoadSafetensors}, {"torch", pt, LoadTorch}} {
			t.Run(tc.name+"/"+f.name, func(t *testing.T) {
				before := make([][]float32, 0)
				for _, p := range tc.m.NamedParameters() {
					before = append(before, f32(p.Value))
				}
				err := f.load(f.path, tc.m)
				var se *StateDictError
				if !errors.As(err, &se) {
					t.Fatalf("error %v is not a *StateDictError", err)
				}
				if len(se.Missing) != tc.missing || len(se.Unexpected) != tc.unexpected || len(se.Mismatched) != tc.mismatch {
					t.Errorf("missing %v, unexpected %v, mismatched %v", se.Missing, se.Unexpected, se.Mismatched)
				}
				if !strings.Contains(err.Error(), f.path) || !strings.Contains(err.Error(), "error(s) in loading state_dict") {
					t.Errorf("error lacks context: %v", err)
				}
				for _, w := range tc.want {
					wantErr(t, err, w)
				}
				for i, p := range tc.m.NamedParameters() {
					if !near32(f32(p.Value), before[i], 0) {
						t.Errorf("%s changed by a failed load", p.Name)
					}
				}
			})
		}
	}
}

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

func TestLoadStateDictConvertsDType(t *testing.T) {
	torchtest.CheckLive(t)
	torchtest.Scope(t)
	lin := NewLinear(2, 1, LinearOptions{})
	defer Close(lin)
	w := torch.FromSlice([]float64{0.5, -0.25}, 1, 2)
	b := torch.FromSlice([]float64{2}, 1)
	if err := LoadStateDict(lin, []string{"bias", "weight"}, []*torch.Tensor{b, w}); err != nil {
		t.Fatal(err)
	}
	if lin.Weight.DType() != torch.Float32 || !near32(lin.Weight.Float32s(), []float32{0.5, -0.25}, 0) || lin.Bias.Float32s()[0] != 2 {
		t.Errorf("weight %v bias %v", lin.Weight.Float32s(), lin.Bias.Float32s())
	}
	wantErr(t, LoadStateDict(lin, []string{"weight"}, nil), "1 names for 0 tensors")
}
