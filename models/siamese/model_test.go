package siamese

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/seqtorch/seqtorch/torch"
	"github.com/seqtorch/seqtorch/torch/nn"
	"github.com/seqtorch/seqtorch/torch/torchtest"
)

func randomEmbedding(v, d int64) []float32 {
	r := rand.New(rand.NewPCG(1, 2))
	e := make([]float32, v*d)
	for i := int(d); i < len(e); i++ { // row 0 (padding) stays zero
		e[i] = float32(r.NormFloat64())
	}
	return e
}

func newTestModel(t *testing.T, cfg Config) *Model {
	t.Helper()
	torch.ManualSeed(7)
	m, err := New(cfg, randomEmbedding(cfg.Vocab, cfg.Embed))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Close)
	return m
}

// batch returns a padded (B, T) id tensor of the given sequences.
func batch(seqs [][]int64) (*torch.Tensor, []int64) {
	tmax := 0
	for _, s := range seqs {
		tmax = max(tmax, len(s))
	}
	ids := make([]int64, len(seqs)*tmax)
	lens := make([]int64, len(seqs))
	for i, s := range seqs {
		copy(ids[i*tmax:], s)
		lens[i] = int64(len(s))
	}
	return torch.FromSlice(ids, int64(len(seqs)), int64(tmax)), lens
}

func TestEncodeShapesAndPadding(t *testing.T) {
	torchtest.CheckLive(t)
	cases := []struct {
		name string
		cfg  Config
		h    []int64 // shape of H
		feat int64
	}{
		{"uni-last", Config{Vocab: 10, Embed: 4, Hidden: []int64{3}}, []int64{1, 3, 3}, 3},
		{"bi-last", Config{Vocab: 10, Embed: 4, Hidden: []int64{3}, Bidirectional: true}, []int64{2, 3, 3}, 6},
		{"bi-2layers-mean", Config{Vocab: 10, Embed: 4, Hidden: []int64{3, 3}, Bidirectional: true, Pooling: PoolMean}, []int64{4, 3, 3}, 6},
		{"stacked-sizes-max", Config{Vocab: 10, Embed: 4, Hidden: []int64{5, 2}, Bidirectional: true, Pooling: PoolMax}, []int64{2, 3, 2}, 4},
		{"meanmax", Config{Vocab: 10, Embed: 4, Hidden: []int64{3}, Pooling: PoolMeanMax}, []int64{1, 3, 3}, 6},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := newTestModel(t, c.cfg)
			m.SetTraining(false)
			torch.WithScope(func(*torch.Scope) {
				seqs := [][]int64{{2, 3}, {4, 5, 6, 7}, {8}}
				ids, lens := batch(seqs)
				out := m.Encode(ids, lens)
				if got := out.H.Shape(); !slices.Equal(got, c.h) {
					t.Errorf("H shape %v, want %v", got, c.h)
				}
				if got := out.Features.Shape(); !slices.Equal(got, []int64{3, c.feat}) {
					t.Errorf("features shape %v, want [3 %d]", got, c.feat)
				}
				if c.cfg.FeatureDim() != c.feat {
					t.Errorf("FeatureDim %d, want %d", c.cfg.FeatureDim(), c.feat)
				}
				// Each row must equal the row encoded alone (no padding leaks in).
				all := out.Features.Float32s()
				for i, s := range seqs {
					one, l1 := batch([][]int64{s})
					o1 := m.Encode(one, l1)
					alone := o1.Features.Float32s()
					for k, v := range alone {
						if d := math.Abs(float64(v - all[i*int(c.feat)+k])); d > 1e-5 {
							t.Fatalf("row %d feature %d: batched %v, alone %v", i, k, all[i*int(c.feat)+k], v)
						}
					}
				}
			})
		})
	}
}

func TestParamsNames(t *testing.T) {
	torchtest.CheckLive(t)
	lstm := func(prefix string, layers int, rev bool) []string {
		var out []string
		for l := range layers {
			for _, suf := range []string{"", "_reverse"} {
				if suf != "" && !rev {
					continue
				}
				for _, k := range []string{"weight_ih", "weight_hh", "bias_ih", "bias_hh"} {
					out = append(out, fmt.Sprintf("%s.%s_l%d%s", prefix, k, l, suf))
				}
			}
		}
		return out
	}
	cases := []struct {
		name      string
		cfg       Config
		names     []string
		trainable int64
	}{
		{"one-lstm", Config{Vocab: 10, Embed: 4, Hidden: []int64{3}},
			slices.Concat([]string{"embedding.weight"}, lstm("lstm", 1, false)), 12*4 + 12*3 + 24},
		{"two-layers-bi", Config{Vocab: 10, Embed: 4, Hidden: []int64{3, 3}, Bidirectional: true},
			slices.Concat([]string{"embedding.weight"}, lstm("lstm", 2, true)), 2*(12*4+12*3+24) + 2*(12*6+12*3+24)},
		// lstm_1: 2 dirs * (20*4 + 20*5 + 40); lstm_2: 2 dirs * (8*10 + 8*2 + 16)
		{"sizes-differ", Config{Vocab: 10, Embed: 4, Hidden: []int64{5, 2}, Bidirectional: true},
			slices.Concat([]string{"embedding.weight"}, lstm("lstm_1", 1, true), lstm("lstm_2", 1, true)), 2*(20*4+20*5+40) + 2*(8*10+8*2+16)},
		// similarity: wh 6 features * 2 -> 7, wp 7 -> 5
		{"tai-head", Config{Vocab: 10, Embed: 4, Hidden: []int64{3}, Bidirectional: true, SimilarityHidden: 7},
			slices.Concat([]string{"embedding.weight"}, lstm("lstm", 1, true), []string{"similarity.wh.weight", "similarity.wh.bias", "similarity.wp.weight", "similarity.wp.bias"}),
			2*(12*4+12*3+24) + 12*7 + 7 + 7*5 + 5},
		// the entailment classifier: we 7 -> 3 after wp
		{"tai-entailment", Config{Vocab: 10, Embed: 4, Hidden: []int64{3}, Bidirectional: true, SimilarityHidden: 7, Entailment: true},
			slices.Concat([]string{"embedding.weight"}, lstm("lstm", 1, true), []string{"similarity.wh.weight", "similarity.wh.bias", "similarity.wp.weight", "similarity.wp.bias", "similarity.we.weight", "similarity.we.bias"}),
			2*(12*4+12*3+24) + 12*7 + 7 + 7*5 + 5 + 7*3 + 3},
		// the learned MaLSTM scale is the model's own parameter, first in the state dict
		{"learned-scale", Config{Vocab: 10, Embed: 4, Hidden: []int64{3}, Scale: ScaleLearned},
			slices.Concat([]string{"scale", "embedding.weight"}, lstm("lstm", 1, false)), 1 + 12*4 + 12*3 + 24},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := newTestModel(t, c.cfg)
			if err := nn.CheckRegistered(m); err != nil {
				t.Error(err)
			}
			names, _ := nn.StateDict(m)
			if !slices.Equal(names, c.names) {
				t.Errorf("state dict keys\n%v\nwant\n%v", names, c.names)
			}
			tr, tot := nn.NumParams(m)
			if tr != c.trainable || tot != c.trainable+40 {
				t.Errorf("NumParams = %d, %d; want %d, %d", tr, tot, c.trainable, c.trainable+40)
			}
			if m.Embedding.Weight.RequiresGrad() {
				t.Error("the embedding table is trainable")
			}
		})
	}
}

func TestTaiTarget(t *testing.T) {
	cases := []struct {
		y    float64
		want []float32
	}{
		{1, []float32{1, 0, 0, 0, 0}},
		{2.3, []float32{0, 0.7, 0.3, 0, 0}},
		{4.5, []float32{0, 0, 0, 0.5, 0.5}},
		{5, []float32{0, 0, 0, 0, 1}},
	}
	for _, c := range cases {
		p, _, err := TaiTarget([]float64{c.y})
		if err != nil {
			t.Fatal(err)
		}
		for i := range p {
			if math.Abs(float64(p[i]-c.want[i])) > 1e-6 {
				t.Errorf("TaiTarget(%v) = %v, want %v", c.y, p, c.want)
				break
			}
		}
	}
	for _, y := range []float64{0.5, 5.5, math.NaN()} {
		if _, _, err := TaiTarget([]float64{y}); err == nil {
			t.Errorf("TaiTarget(%v) succeeded", y)
		}
	}
}

func TestLosses(t *testing.T) {
	torchtest.CheckLive(t)
	fa := []float32{0, 0, 1, 1, 2, 2}
	fb := []float32{0, 1, 1, 1, 0, 0}
	scores := []float64{5, 1, 3}
	cases := []struct {
		head Head
		want float64
	}{
		// sims exp(-1), exp(0), exp(-4); targets 1, 0, 0.5
		{Head{Loss: MaLSTM}, (sq(math.Exp(-1)-1) + sq(1-0) + sq(math.Exp(-4)-0.5)) / 3},
		// d = 1, 0, sqrt(8); y = 1, 0, 0 (threshold 3.5); margin 2
		{Head{Loss: Contrastive, Margin: 2, Threshold: 3.5}, (1 + 2 + 0) / 3.0},
		// anchor 0 only; d(a0, p0) = 1; hardest negative b2 = (0, 0) at distance 0
		{Head{Loss: Triplet, Margin: 1, Threshold: 3.5}, 1 + 1 - 0},
		// a head with wp zeroed predicts the uniform distribution; the integer scores have
		// one-hot targets, so KL(p ‖ 1/5) = log 5 per pair
		{Head{Loss: Tai}, math.Log(5)},
		// a zeroed entailment classifier predicts 1/3 for each label: cross entropy log 3
		{Head{Loss: Tai, EntailmentWeight: 0.5}, math.Log(5) + 0.5*math.Log(3)},
	}
	tai := NewTaiSimilarity(2, 3)
	tai.AddEntailment()
	defer nn.Close(tai)
	torch.NoGrad(func() {
		for _, p := range []*torch.Tensor{tai.WP.Weight, tai.WP.Bias, tai.WE.Weight, tai.WE.Bias} {
			p.Fill(0)
		}
	})
	labels := []int64{1, 0, 2}
	for _, c := range cases {
		t.Run(fmt.Sprintf("%v-%v", c.head.Loss, c.head.EntailmentWeight), func(t *testing.T) {
			if c.head.Loss == Tai {
				c.head.Module = tai
			}
			torch.WithScope(func(*torch.Scope) {
				a := torch.FromSlice(fa, 3, 2)
				b := torch.FromSlice(fb, 3, 2)
				loss, sim, err := c.head.ForwardLabeled(a, b, scores, labels)
				if err != nil {
					t.Fatal(err)
				}
				if got := loss.Item(); math.Abs(got-c.want) > 1e-4 {
					t.Errorf("loss %v, want %v", got, c.want)
				}
				if sim.Numel() != 3 {
					t.Errorf("sim has %d values", sim.Numel())
				}
			})
		})
	}
}

func sq(x float64) float64 { return x * x }

// TestEntailmentErrors: an entailment weight without the classifier or without one label per
// pair is an error, not a panic.
func TestEntailmentErrors(t *testing.T) {
	torchtest.CheckLive(t)
	plain := NewTaiSimilarity(2, 3)
	defer nn.Close(plain)
	with := NewTaiSimilarity(2, 3)
	with.AddEntailment()
	defer nn.Close(with)
	cases := []struct {
		name   string
		module *TaiSimilarity
		labels []int64
		want   string
	}{
		{"no classifier", plain, []int64{0, 1}, "entailment classifier"},
		{"no labels", with, nil, "0 entailment labels for 2 pairs"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			torch.WithScope(func(*torch.Scope) {
				f := torch.FromSlice([]float32{0, 1, 1, 0}, 2, 2)
				h := Head{Loss: Tai, Module: c.module, EntailmentWeight: 1}
				_, _, err := h.ForwardLabeled(f, f, []float64{1, 2}, c.labels)
				if err == nil || !strings.Contains(err.Error(), c.want) {
					t.Errorf("error %v, want %q", err, c.want)
				}
			})
		})
	}
	if err := (Config{Vocab: 10, Embed: 4, Hidden: []int64{3}, Entailment: true}).Validate(); err == nil {
		t.Error("Entailment without SimilarityHidden validated")
	}
}

func TestConfigErrors(t *testing.T) {
	bad := []Config{
		{Vocab: 0, Embed: 4, Hidden: []int64{3}},
		{Vocab: 5, Embed: 4},
		{Vocab: 5, Embed: 4, Hidden: []int64{0}},
		{Vocab: 5, Embed: 4, Hidden: []int64{3}, Dropout: 1},
	}
	for _, c := range bad {
		if _, err := New(c, make([]float32, max(c.Vocab*c.Embed, 0))); err == nil {
			t.Errorf("New(%+v) succeeded", c)
		}
	}
	if _, err := New(Config{Vocab: 5, Embed: 4, Hidden: []int64{3}}, make([]float32, 3)); err == nil {
		t.Error("New with a short embedding succeeded")
	}
	for _, s := range []string{"x", ""} {
		if _, err := ParseLoss(s); err == nil {
			t.Errorf("ParseLoss(%q) succeeded", s)
		}
	}
}

func TestEncodeErrors(t *testing.T) {
	torchtest.CheckLive(t)
	m := newTestModel(t, Config{Vocab: 10, Embed: 4, Hidden: []int64{3}, Bidirectional: true})
	cases := []struct {
		name string
		ids  [][]int64
		lens []int64
	}{
		{"length zero", [][]int64{{1, 2}, {3, 4}}, []int64{2, 0}},
		{"length past the end", [][]int64{{1, 2}, {3, 4}}, []int64{2, 3}},
		{"lengths for another batch", [][]int64{{1, 2}, {3, 4}}, []int64{2}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			torch.WithScope(func(*torch.Scope) {
				ids, _ := batch(c.ids)
				err := torch.Try(func() { m.Encode(ids, c.lens) })
				var te *torch.Error
				if !errors.As(err, &te) {
					t.Errorf("Encode did not panic with a *torch.Error: %v", err)
				}
			})
		})
	}
	if _, err := (Head{Loss: Tai}).Similarity(nil, nil); err == nil {
		t.Error("a tai head without its module succeeded")
	}
}

func TestScaledManhattan(t *testing.T) {
	torchtest.CheckLive(t)
	fa := []float32{0, 0, 1, 1, 2, 2}
	fb := []float32{0, 1, 1, 1, 0, 0}
	scores := []float64{5, 1, 3}
	// L1 distances 1, 0, 4; targets 1, 0, 0.5
	want := func(alpha float64) float64 {
		return (sq(math.Exp(-alpha)-1) + sq(1-0) + sq(math.Exp(-4*alpha)-0.5)) / 3
	}
	m := newTestModel(t, Config{Vocab: 10, Embed: 4, Hidden: []int64{1}, Bidirectional: true, Scale: ScaleDim})
	if _, f := m.ScoreScale(); f != 0.5 {
		t.Errorf("dim scale factor %v, want 1/2", f)
	}
	ml := newTestModel(t, Config{Vocab: 10, Embed: 4, Hidden: []int64{1}, Scale: ScaleLearned})
	alpha, f := ml.ScoreScale()
	if alpha == nil || f != 1 || !alpha.RequiresGrad() || alpha.Item() != 1 {
		t.Fatalf("learned scale %v, factor %v: want a trainable 1 and factor 1", alpha, f)
	}
	torch.NoGrad(func() { alpha.Fill(0.5) })
	for _, c := range []struct {
		head Head
		want float64
	}{
		{Head{Loss: MaLSTM, Factor: 0.5}, want(0.5)},
		{Head{Loss: MaLSTM, Alpha: alpha, Factor: 1}, want(0.5)},
		{Head{Loss: MaLSTM, Alpha: alpha, Factor: 0.5}, want(0.25)},
	} {
		torch.WithScope(func(*torch.Scope) {
			loss, _, err := c.head.Forward(torch.FromSlice(fa, 3, 2), torch.FromSlice(fb, 3, 2), scores)
			if err != nil {
				t.Fatal(err)
			}
			if got := loss.Item(); math.Abs(got-c.want) > 1e-5 {
				t.Errorf("alpha %v factor %v: loss %v, want %v", c.head.Alpha != nil, c.head.Factor, got, c.want)
			}
			if c.head.Alpha != nil {
				loss.Backward()
				if g := alpha.Grad(); g == nil || g.Item() == 0 {
					t.Error("no gradient reaches the learned scale")
				}
				alpha.ZeroGrad()
			}
		})
	}
	for _, s := range []string{"", "one", "learned", "dim"} {
		if _, err := ParseScale(s); err != nil {
			t.Errorf("ParseScale(%q): %v", s, err)
		}
	}
	if _, err := ParseScale("half"); err == nil {
		t.Error("ParseScale(half) succeeded")
	}
}

// TestEnumNames pins the names of losses and pooling modes both ways (they are written to and
// read from config files and flags) and the text of a value without a name.
func TestEnumNames(t *testing.T) {
	for _, tc := range []struct {
		name  string
		got   string
		parse func(string) (int, error)
		want  int
	}{
		{"malstm", MaLSTM.String(), func(s string) (int, error) { l, err := ParseLoss(s); return int(l), err }, int(MaLSTM)},
		{"tai", Tai.String(), func(s string) (int, error) { l, err := ParseLoss(s); return int(l), err }, int(Tai)},
		{"last", PoolLast.String(), func(s string) (int, error) { p, err := ParsePooling(s); return int(p), err }, int(PoolLast)},
		{"meanmax", PoolMeanMax.String(), func(s string) (int, error) { p, err := ParsePooling(s); return int(p), err }, int(PoolMeanMax)},
	} {
		if tc.got != tc.name {
			t.Errorf("String() = %q, want %q", tc.got, tc.name)
		}
		if v, err := tc.parse(tc.name); err != nil || v != tc.want {
			t.Errorf("parse %q = %d, %v; want %d", tc.name, v, err, tc.want)
		}
	}
	if got := Loss(9).String(); got != "Loss(9)" {
		t.Errorf("Loss(9).String() = %q", got)
	}
	if got := Pooling(-1).String(); got != "Pooling(-1)" {
		t.Errorf("Pooling(-1).String() = %q", got)
	}
	if _, err := ParsePooling("median"); err == nil || !strings.Contains(err.Error(), `unknown pooling "median"`) {
		t.Errorf("ParsePooling(median): %v", err)
	}
}

func TestConfigWithNames(t *testing.T) {
	base := Config{Vocab: 5, Embed: 3, Hidden: []int64{4}}
	c, err := base.WithNames("meanmax", "dim")
	if err != nil || c.Pooling != PoolMeanMax || c.Scale != ScaleDim || c.Vocab != 5 || len(c.Hidden) != 1 {
		t.Errorf("WithNames(meanmax, dim) = %+v, %v", c, err)
	}
	if c, err := base.WithNames("max", ""); err != nil || c.Scale != ScaleOne {
		t.Errorf(`WithNames(max, "") = %+v, %v; want scale one`, c, err)
	}
	for _, names := range [][2]string{{"median", "one"}, {"max", "huge"}} {
		if _, err := base.WithNames(names[0], names[1]); err == nil {
			t.Errorf("WithNames(%q, %q): no error", names[0], names[1])
		}
	}
}
