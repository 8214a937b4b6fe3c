package jit_test

import (
	"archive/zip"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/seqtorch/seqtorch/torch"
	"github.com/seqtorch/seqtorch/torch/jit"
	"github.com/seqtorch/seqtorch/torch/jit/jittest"
	"github.com/seqtorch/seqtorch/torch/nn"
	"github.com/seqtorch/seqtorch/torch/optim"
)

func TestMain(m *testing.M) { jittest.Main(m) }

// expected is scripts/jit_ref.py's expected.json.
type expected struct {
	LSTM struct {
		IDs         []float64 `json:"ids"`
		IDsShape    []int64   `json:"ids_shape"`
		Lengths     []float64 `json:"lengths"`
		Logits      []float64 `json:"logits"`
		LogitsShape []int64   `json:"logits_shape"`
		Predict     []float64 `json:"predict"`
		Params      []string  `json:"params"`
	} `json:"lstm"`
	Finetune struct {
		Target []float64    `json:"target"`
		SGD    finetuneStep `json:"sgd"`
		Adam   finetuneStep `json:"adam"`
	} `json:"finetune"`
	GRU struct {
		X       []float64 `json:"x"`
		XShape  []int64   `json:"x_shape"`
		H0      []float64 `json:"h0"`
		H0Shape []int64   `json:"h0_shape"`
		Out     []float64 `json:"out"`
		OutSh   []int64   `json:"out_shape"`
		HN      []float64 `json:"h_n"`
		HNShape []int64   `json:"h_n_shape"`
		OutH0   []float64 `json:"out_h0"`
		HNH0    []float64 `json:"h_n_h0"`
	} `json:"gru"`
	Values struct {
		X          []float64            `json:"x"`
		XS         [][]float64          `json:"xs"`
		D          map[string][]float64 `json:"d"`
		Y          []float64            `json:"y"`
		Dict       map[string][]float64 `json:"dict"`
		Ints       []int64              `json:"ints"`
		Str        string               `json:"str"`
		Float      float64              `json:"float"`
		Bool       bool                 `json:"bool"`
		Opt        []float64            `json:"opt"`
		Bool2      bool                 `json:"bool2"`
		Opt2IsNone bool                 `json:"opt2_is_none"`
		Describe   map[string]int64     `json:"describe"`
	} `json:"values"`
	TupleDict struct {
		X    []float64            `json:"x"`
		A    []float64            `json:"a"`
		Dict map[string][]float64 `json:"dict"`
	} `json:"tupledict"`
}

type finetuneStep struct {
	Loss   float64              `json:"loss"`
	Params map[string][]float64 `json:"params"`
	Grads  map[string][]float64 `json:"grads"`
}

func load(t *testing.T) (string, *expected) {
	t.Helper()
	dir := jittest.Fixtures(t)
	var e expected
	jittest.Expected(t, &e)
	return dir, &e
}

// checkLive fails the test when tensors created during it are still live at its end.
func checkLive(t *testing.T) {
	t.Helper()
	start := torch.Live()
	t.Cleanup(func() {
		if n := torch.Live(); n != start {
			t.Errorf("torch.Live() = %d at the end, %d at the start", n, start)
		}
	})
}

func ints(v []float64) []int64 {
	out := make([]int64, len(v))
	for i, x := range v {
		out[i] = int64(x)
	}
	return out
}

func float32s(v []float64) []float32 {
	out := make([]float32, len(v))
	for i, x := range v {
		out[i] = float32(x)
	}
	return out
}

// near fails unless got equals want to tol (absolute).
func near(t *testing.T, what string, got, want []float64, tol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values, want %d", what, len(got), len(want))
	}
	worst := 0.0
	for i := range got {
		worst = max(worst, math.Abs(got[i]-want[i]))
	}
	if worst > tol || math.IsNaN(worst) {
		t.Errorf("%s: max |Go - PyTorch| = %.3g > %g", what, worst, tol)
	}
}

func tensorOf(t *testing.T, what string, v any) *torch.Tensor {
	t.Helper()
	x, ok := v.(*torch.Tensor)
	if !ok {
		t.Fatalf("%s: got %T, want *torch.Tensor", what, v)
	}
	return x
}

func mustLoad(t *testing.T, path string) *jit.Module {
	t.Helper()
	m, err := jit.Load(path, torch.CPU)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Close)
	return m
}

// TestLSTMClassifier: the scripted and the traced classifier (pack_padded_sequence inside)
// give PyTorch's logits; the exported predict method its labels.
func TestLSTMClassifier(t *testing.T) {
	dir, e := load(t)
	checkLive(t)
	for _, name := range []string{"lstm_script.pt", "lstm_trace.pt"} {
		t.Run(name, func(t *testing.T) {
			m := mustLoad(t, filepath.Join(dir, name))
			m.SetTraining(false)
			if m.Training() {
				t.Error("Training() after SetTraining(false)")
			}
			var names []string
			for _, p := range m.NamedParameters() {
				names = append(names, p.Name)
			}
			if !slices.Equal(names, e.LSTM.Params) {
				t.Errorf("NamedParameters: %v, want %v", names, e.LSTM.Params)
			}
			torch.WithScope(func(s *torch.Scope) {
				ids := torch.FromSlice(ints(e.LSTM.IDs), e.LSTM.IDsShape...)
				lengths := torch.FromSlice(ints(e.LSTM.Lengths), int64(len(e.LSTM.Lengths)))
				torch.NoGrad(func() {
					out, err := m.Forward(ids, lengths)
					if err != nil {
						t.Fatal(err)
					}
					logits := tensorOf(t, "forward", out)
					if !slices.Equal(logits.Shape(), e.LSTM.LogitsShape) {
						t.Fatalf("logits shape %v, want %v", logits.Shape(), e.LSTM.LogitsShape)
					}
					near(t, name+" logits", logits.ToDType(torch.Float64).Float64s(), e.LSTM.Logits, 1e-6)
				})
				if name == "lstm_script.pt" {
					f, err := m.Method("predict")
					if err != nil {
						t.Fatal(err)
					}
					if want := "predict(Tensor ids, Tensor lengths) -> Tensor"; f.Schema() != want {
						t.Errorf("schema %q, want %q", f.Schema(), want)
					}
					out, err := f.Call(ids, lengths)
					if err != nil {
						t.Fatal(err)
					}
					if got := tensorOf(t, "predict", out).Int64s(); !slices.Equal(got, ints(e.LSTM.Predict)) {
						t.Errorf("predict %v, want %v", got, e.LSTM.Predict)
					}
				}
			})
		})
	}
}

// TestLoadOnDevice: the scripted classifier loaded with jit.Load(path, dev) onto
// $SEQTORCH_TEST_DEVICE (jittest.Device: "cpu" by default, "cuda" under scripts/gpu-check.sh)
// holds its parameters there and gives PyTorch's CPU logits for ids on that device: to 1e-6 on
// the CPU, 1e-4 on CUDA (cuDNN's LSTM). It logs the largest difference.
func TestLoadOnDevice(t *testing.T) {
	dir, e := load(t)
	dev, err := torch.ParseDevice(jittest.Device())
	if err != nil {
		t.Fatalf("$%s: %v", jittest.DeviceEnv, err)
	}
	tol := 1e-6
	if dev != torch.CPU {
		tol = 1e-4
	}
	checkLive(t)
	m, err := jit.Load(filepath.Join(dir, "lstm_script.pt"), dev)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	m.SetTraining(false)
	if m.Device() != dev {
		t.Errorf("Device() = %s, want %s", m.Device(), dev)
	}
	for _, p := range m.NamedParameters() {
		if p.Value.Device() != dev {
			t.Errorf("parameter %s on %s, want %s", p.Name, p.Value.Device(), dev)
		}
	}
	torch.WithScope(func(s *torch.Scope) {
		ids := torch.FromSlice(ints(e.LSTM.IDs), e.LSTM.IDsShape...).To(dev)
		lengths := torch.FromSlice(ints(e.LSTM.Lengths), int64(len(e.LSTM.Lengths))).To(dev)
		torch.NoGrad(func() {
			out, err := m.Forward(ids, lengths)
			if err != nil {
				t.Fatal(err)
			}
			logits := tensorOf(t, "forward", out)
			if logits.Device() != dev {
				t.Errorf("logits on %s, want %s", logits.Device(), dev)
			}
			if !slices.Equal(logits.Shape(), e.LSTM.LogitsShape) {
				t.Fatalf("logits shape %v, want %v", logits.Shape(), e.LSTM.LogitsShape)
			}
			got := logits.To(torch.CPU).ToDType(torch.Float64).Float64s()
			near(t, dev.String()+" logits", got, e.LSTM.Logits, tol)
			worst := 0.0
			for i := range got {
				worst = max(worst, math.Abs(got[i]-e.LSTM.Logits[i]))
			}
			t.Logf("lstm_script.pt on %s: max |Go - PyTorch| = %.3g (tolerance %g)", dev, worst, tol)
		})
	})
}

// TestGRU: a scripted GRU with an optional h0 (left out and given) and a traced one; the
// (output, h_n) tuple comes back as []any.
func TestGRU(t *testing.T) {
	dir, e := load(t)
	checkLive(t)
	g := e.GRU
	cases := []struct {
		file   string
		h0     bool
		out, h []float64
	}{
		{"gru_script.pt", false, g.Out, g.HN},
		{"gru_script.pt", true, g.OutH0, g.HNH0},
		{"gru_trace.pt", false, g.Out, g.HN},
	}
	for _, c := range cases {
		t.Run(fmt.Sprintf("%s/h0=%v", c.file, c.h0), func(t *testing.T) {
			m := mustLoad(t, filepath.Join(dir, c.file))
			torch.WithScope(func(s *torch.Scope) {
				args := []any{torch.FromSlice(float32s(g.X), g.XShape...)}
				if c.h0 {
					args = append(args, torch.FromSlice(float32s(g.H0), g.H0Shape...))
				}
				out, err := m.Forward(args...)
				if err != nil {
					t.Fatal(err)
				}
				tup, ok := out.([]any)
				if !ok || len(tup) != 2 {
					t.Fatalf("forward: %T %v, want a 2-tuple", out, out)
				}
				o, h := tensorOf(t, "output", tup[0]), tensorOf(t, "h_n", tup[1])
				if !slices.Equal(o.Shape(), g.OutSh) || !slices.Equal(h.Shape(), g.HNShape) {
					t.Fatalf("shapes %v %v, want %v %v", o.Shape(), h.Shape(), g.OutSh, g.HNShape)
				}
				near(t, "output", o.ToDType(torch.Float64).Float64s(), c.out, 1e-6)
				near(t, "h_n", h.ToDType(torch.Float64).Float64s(), c.h, 1e-6)
			})
		})
	}
}

// TestValues: every Go value kind in and out of a scripted module, a traced one returning a
// tuple with a dict, and another exported method.
func TestValues(t *testing.T) {
	dir, e := load(t)
	checkLive(t)
	v := e.Values
	m := mustLoad(t, filepath.Join(dir, "values_script.pt"))
	if got := len(m.NamedBuffers()); got != 1 || m.NamedBuffers()[0].Name != "offset" {
		t.Errorf("NamedBuffers: %v", m.NamedBuffers())
	}
	torch.WithScope(func(s *torch.Scope) {
		x := torch.FromSlice(float32s(v.X), 2, 3)
		xs := []*torch.Tensor{torch.FromSlice(float32s(v.XS[0]), 2), torch.FromSlice(float32s(v.XS[1]), 2)}
		d := map[string]any{"p": torch.FromSlice(float32s(v.D["p"]), 3, 2), "q": torch.FromSlice(float32s(v.D["q"]), 4, 2)}
		for _, flag := range []bool{true, false} {
			out, err := m.Forward(x, xs, d, 1.5, 7, flag, "hi")
			if err != nil {
				t.Fatal(err)
			}
			tup, ok := out.([]any)
			if !ok || len(tup) != 7 {
				t.Fatalf("forward: %T, want a 7-tuple", out)
			}
			near(t, "y", tensorOf(t, "y", tup[0]).ToDType(torch.Float64).Float64s(), v.Y, 1e-6)
			od, ok := tup[1].(map[string]any)
			if !ok || len(od) != len(v.Dict) {
				t.Fatalf("dict: %T %v", tup[1], tup[1])
			}
			for k, want := range v.Dict {
				near(t, "dict "+k, tensorOf(t, k, od[k]).ToDType(torch.Float64).Float64s(), want, 1e-6)
			}
			if got, ok := tup[2].([]int64); !ok || !slices.Equal(got, v.Ints) {
				t.Errorf("ints: %#v, want %v", tup[2], v.Ints)
			}
			if tup[3] != v.Str || tup[4] != v.Float {
				t.Errorf("str, float: %#v %#v, want %q %v", tup[3], tup[4], v.Str, v.Float)
			}
			if flag {
				if tup[5] != v.Bool {
					t.Errorf("bool %v, want %v", tup[5], v.Bool)
				}
				near(t, "optional", tensorOf(t, "optional", tup[6]).ToDType(torch.Float64).Float64s(), v.Opt, 1e-6)
			} else if tup[5] != v.Bool2 || tup[6] != nil || !v.Opt2IsNone {
				t.Errorf("bool, optional: %v %v, want %v nil", tup[5], tup[6], v.Bool2)
			}
		}
		f, err := m.Method("describe")
		if err != nil {
			t.Fatal(err)
		}
		out, err := f.Call([]any{int64(3), "ab"}, []string{"x", "yyy"})
		if err != nil {
			t.Fatal(err)
		}
		got, ok := out.(map[string]any)
		if !ok || len(got) != len(v.Describe) {
			t.Fatalf("describe: %#v, want %v", out, v.Describe)
		}
		for k, want := range v.Describe {
			if got[k] != want {
				t.Errorf("describe[%q] = %#v, want %d", k, got[k], want)
			}
		}

		td := mustLoad(t, filepath.Join(dir, "tupledict_trace.pt"))
		out, err = td.Forward(torch.FromSlice(float32s(e.TupleDict.X), 2, 3))
		if err != nil {
			t.Fatal(err)
		}
		tup, ok := out.([]any)
		if !ok || len(tup) != 2 {
			t.Fatalf("traced forward: %T", out)
		}
		near(t, "traced a", tensorOf(t, "a", tup[0]).ToDType(torch.Float64).Float64s(), e.TupleDict.A, 1e-6)
		dd, ok := tup[1].(map[string]any)
		if !ok {
			t.Fatalf("traced dict: %T", tup[1])
		}
		for k, want := range e.TupleDict.Dict {
			near(t, "traced dict "+k, tensorOf(t, k, dd[k]).ToDType(torch.Float64).Float64s(), want, 1e-6)
		}
	})
}

// oneLine fails unless err is a one-line error holding every part.
func oneLine(t *testing.T, what string, err error, parts ...string) {
	t.Helper()
	if err == nil {
		t.Errorf("%s: no error", what)
		return
	}
	msg := err.Error()
	t.Logf("%s: %s", what, msg)
	if strings.Contains(msg, "\n") {
		t.Errorf("%s: error spans lines:\n%s", what, msg)
	}
	for _, p := range parts {
		if !strings.Contains(msg, p) {
			t.Errorf("%s: error %q does not say %q", what, msg, p)
		}
	}
}

// TestCallErrors: a missing method, wrong argument counts and types, an error raised inside
// the TorchScript code, a closed tensor, a closed module: one line each, naming the file, the
// method and its schema.
func TestCallErrors(t *testing.T) {
	dir, _ := load(t)
	checkLive(t)
	path := filepath.Join(dir, "lstm_script.pt")
	m := mustLoad(t, path)
	schema := "forward(Tensor ids, Tensor lengths) -> Tensor"
	_, err := m.Method("classify")
	oneLine(t, "missing method", err, path, `"classify"`, schema, "predict(")
	torch.WithScope(func(s *torch.Scope) {
		ids := torch.FromSlice([]int64{1, 2, 3}, 1, 3)
		lengths := torch.FromSlice([]int64{3}, 1)
		_, err = m.Forward(ids)
		oneLine(t, "one argument", err, path, "forward", "takes 2 arguments, got 1", schema)
		_, err = m.Forward(ids, lengths, ids)
		oneLine(t, "three arguments", err, path, "takes 2 arguments, got 3", schema)
		_, err = m.Forward(ids, "3")
		oneLine(t, "a string for a tensor", err, path, "argument 2 (lengths): a Tensor cannot take a Go string", schema)
		_, err = m.Forward(ids, struct{}{})
		oneLine(t, "a struct", err, path, "argument 2: cannot pass a Go struct {}")
		_, err = m.Forward(ids, torch.FromSlice([]int64{3, 3}, 2)) // lengths of the wrong size
		oneLine(t, "wrong lengths", err, path, "forward", schema)
		closed := torch.FromSlice([]int64{3}, 1)
		closed.Close()
		_, err = m.Forward(ids, closed)
		oneLine(t, "closed tensor", err, path, "closed tensor")

		vm := mustLoad(t, filepath.Join(dir, "values_script.pt"))
		f, err := vm.Method("fail")
		if err != nil {
			t.Fatal(err)
		}
		_, err = f.Call(torch.FromSlice([]float32{1, 2}, 2))
		oneLine(t, "TorchScript raises", err, "fail", "RuntimeError", "is invalid for input of size 2", "fail(Tensor x) -> Tensor")
		_, err = vm.Forward(torch.FromSlice([]float32{1, 2, 3}, 1, 3), []*torch.Tensor{}, map[string]any{"p": int64(1)}, 1.0, 1, true, "x")
		oneLine(t, "dict value type", err, `argument 3 (d)["p"]: a Tensor cannot take a Go int64`)
		_, err = vm.Forward(torch.FromSlice([]float32{1, 2, 3}, 1, 3), []*torch.Tensor{nil}, map[string]any{}, 1.0, 1, true, "x")
		oneLine(t, "nil in a tensor list", err, "argument 2 (xs)[0]: a Tensor cannot take a Go nil")
	})
	m.Close()
	_, err = m.Forward()
	if err != jit.ErrClosed {
		t.Errorf("forward on a closed module: %v, want ErrClosed", err)
	}
}

// TestLoadErrors: files that are not TorchScript archives, a module saved by a newer
// PyTorch: one line naming the file and what to do.
func TestLoadErrors(t *testing.T) {
	dir, _ := load(t)
	checkLive(t)
	tmp := t.TempDir()
	// a safetensors file of the module's parameters, written by nn
	m := mustLoad(t, filepath.Join(dir, "lstm_script.pt"))
	st := filepath.Join(tmp, "model.safetensors")
	if err := nn.SaveSafetensors(st, m, nil); err != nil {
		t.Fatal(err)
	}
	text := filepath.Join(tmp, "notes.txt")
	os.WriteFile(text, []byte("hello\n"), 0o644)
	newer := filepath.Join(tmp, "newer.pt")
	rewriteVersion(t, filepath.Join(dir, "lstm_script.pt"), newer, "99")
	sd := filepath.Join(dir, "state_dict.pt")
	cases := []struct {
		path  string
		parts []string
	}{
		{sd, []string{sd, "is a torch.save file", "not a TorchScript archive", "torch.jit.script(model).save(path)"}},
		{st, []string{st, "is a safetensors file", "not a TorchScript archive"}},
		{text, []string{text, "not a TorchScript archive"}},
		{filepath.Join(tmp, "missing.pt"), []string{"missing.pt", "no such file"}},
		{tmp, []string{tmp, "is a folder"}},
		{newer, []string{newer, "saved by a newer PyTorch", "version 99", "reads up to version"}},
	}
	for _, c := range cases {
		m, err := jit.Load(c.path, torch.CPU)
		if err == nil {
			m.Close()
		}
		oneLine(t, filepath.Base(c.path), err, c.parts...)
	}
}

// rewriteVersion copies a TorchScript archive with its version record replaced (as a newer
// PyTorch would write it).
func rewriteVersion(t *testing.T, src, dst, version string) {
	t.Helper()
	zr, err := zip.OpenReader(src)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	f, err := os.Create(dst)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zw := zip.NewWriter(f)
	for _, e := range zr.File {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: e.Name, Method: zip.Store})
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasSuffix(e.Name, "/version") || strings.HasSuffix(e.Name, "/.data/version") {
			io.WriteString(w, version+"\n")
			continue
		}
		r, err := e.Open()
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(w, r)
		r.Close()
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestFinetune: one training step through a loaded module (Backward through Forward, an
// optimizer of torch/optim over its parameters) equals the same step in PyTorch, with SGD
// (momentum) and with Adam; the saved module loads again, in Go and in PyTorch, with the
// updated parameters.
func TestFinetune(t *testing.T) {
	dir, e := load(t)
	checkLive(t)
	steps := []struct {
		name string
		want finetuneStep
		opt  func(ps []*torch.Tensor) (closingOptimizer, error)
	}{
		{"sgd", e.Finetune.SGD, func(ps []*torch.Tensor) (closingOptimizer, error) {
			lr := 0.5
			return optim.NewSGD(ps, optim.SGDOptions{LR: &lr, Momentum: 0.9})
		}},
		{"adam", e.Finetune.Adam, func(ps []*torch.Tensor) (closingOptimizer, error) {
			lr := 0.01
			return optim.NewAdam(ps, optim.AdamOptions{LR: &lr})
		}},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			m := mustLoad(t, filepath.Join(dir, "lstm_script.pt"))
			m.SetTraining(true)
			opt, err := st.opt(nn.Trainable(m))
			if err != nil {
				t.Fatal(err)
			}
			defer opt.Close()
			torch.WithScope(func(s *torch.Scope) {
				ids := torch.FromSlice(ints(e.LSTM.IDs), e.LSTM.IDsShape...)
				lengths := torch.FromSlice(ints(e.LSTM.Lengths), int64(len(e.LSTM.Lengths)))
				target := torch.FromSlice(ints(e.Finetune.Target), int64(len(e.Finetune.Target)))
				opt.ZeroGrad()
				out, err := m.Forward(ids, lengths)
				if err != nil {
					t.Fatal(err)
				}
				loss := nn.CrossEntropyLoss(tensorOf(t, "logits", out), target, nn.CrossEntropyOptions{})
				loss.Backward()
				near(t, "loss", []float64{loss.Item()}, []float64{st.want.Loss}, 1e-6)
				for _, p := range m.NamedParameters() {
					near(t, "grad "+p.Name, p.Value.Grad().ToDType(torch.Float64).Float64s(), st.want.Grads[p.Name], 1e-6)
				}
				opt.Step()
			})
			names, ts := nn.StateDict(m)
			if len(names) != len(st.want.Params) {
				t.Fatalf("state dict: %d names, want %d", len(names), len(st.want.Params))
			}
			for i, n := range names {
				torch.WithScope(func(s *torch.Scope) {
					near(t, "param "+n, ts[i].ToDType(torch.Float64).Float64s(), st.want.Params[n], 1e-6)
				})
			}
			if st.name != "adam" {
				return
			}
			// Save, and load again in Go and in PyTorch: the updated parameters come along.
			saved := filepath.Join(t.TempDir(), "tuned.pt")
			if err := m.Save(saved); err != nil {
				t.Fatal(err)
			}
			m.SetTraining(false)
			m2 := mustLoad(t, saved)
			m2.SetTraining(false)
			var goLogits []float64
			torch.WithScope(func(s *torch.Scope) {
				ids := torch.FromSlice(ints(e.LSTM.IDs), e.LSTM.IDsShape...)
				lengths := torch.FromSlice(ints(e.LSTM.Lengths), int64(len(e.LSTM.Lengths)))
				torch.NoGrad(func() {
					a, err := m.Forward(ids, lengths)
					if err != nil {
						t.Fatal(err)
					}
					b, err := m2.Forward(ids, lengths)
					if err != nil {
						t.Fatal(err)
					}
					goLogits = tensorOf(t, "a", a).ToDType(torch.Float64).Float64s()
					near(t, "reloaded", tensorOf(t, "b", b).ToDType(torch.Float64).Float64s(), goLogits, 0)
				})
			})
			in := filepath.Join(t.TempDir(), "ids.json")
			b, _ := json.Marshal(map[string]any{"ids": ints(e.LSTM.IDs), "ids_shape": e.LSTM.IDsShape, "lengths": ints(e.LSTM.Lengths)})
			os.WriteFile(in, b, 0o644)
			out, err := jittest.Output(t.TempDir(), time.Minute, jittest.Script("jit_ref.py"), "check", saved, in)
			if err != nil {
				t.Fatal(err)
			}
			var py []float64
			if err := json.Unmarshal(out, &py); err != nil {
				t.Fatalf("%v: %s", err, out)
			}
			near(t, "Go-saved module in PyTorch", goLogits, py, 1e-6)
		})
	}
}

// TestConcurrentForward: many goroutines call Forward on one module at once (each under its
// own NoGrad) and all get the same logits; SetTraining and Close wait for them.
func TestConcurrentForward(t *testing.T) {
	dir, e := load(t)
	checkLive(t)
	m := mustLoad(t, filepath.Join(dir, "lstm_script.pt"))
	m.SetTraining(false)
	const workers, rounds = 6, 5
	var wg sync.WaitGroup
	errs := make(chan error, workers*rounds)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			torch.WithScope(func(s *torch.Scope) {
				ids := torch.FromSlice(ints(e.LSTM.IDs), e.LSTM.IDsShape...)
				lengths := torch.FromSlice(ints(e.LSTM.Lengths), int64(len(e.LSTM.Lengths)))
				for range rounds {
					torch.NoGrad(func() {
						out, err := m.Forward(ids, lengths)
						if err != nil {
							errs <- err
							return
						}
						got := out.(*torch.Tensor).ToDType(torch.Float64).Float64s()
						for i := range got {
							if math.Abs(got[i]-e.LSTM.Logits[i]) > 1e-6 {
								errs <- fmt.Errorf("logit %d: %g, want %g", i, got[i], e.LSTM.Logits[i])
								return
							}
						}
					})
				}
			})
		}()
	}
	m.SetTraining(false) // waits for calls in progress; never races them
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// closingOptimizer is an optimizer that frees its state (SGD's momentum, Adam's moments).
type closingOptimizer interface {
	optim.Optimizer
	Close()
}
