package nn

import (
	"errors"
	"path/filepath"
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
	small := NewLSTM(3, 4, RNNOptions{})
	defer Close(small)
	st := filepath.Join(dir, "small.safetensors")
	pt := filepath.Join(dir, "small.pt")
	if err := SaveSafetensors(st, small, nil); err != nil {
		t.Fatal(err)
	}
	if err := SaveTorch(pt, small); err != nil {
		t.Fatal(err)
	}
	wider := NewLSTM(3, 5, RNNOptions{})
	bi := NewLSTM(3, 4, RNNOptions{Bidirectional: true})
	noBias := NewLSTM(3, 4, RNNOptions{NoBias: true})
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
				torchtest.Scope(t)
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
