package curves

import (
	"bytes"
	"flag"
	"image"
	"image/color"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gonum.org/v1/plot/cmpimg"
	"gonum.org/v1/plot/plotter"
)

// update rewrites the golden images (gonum's own -regen flag, which importing cmpimg
// registers, does the same).
var update = flag.Bool("update", false, "rewrite the golden images in testdata")

// goldenDelta is the tolerance of the golden comparisons: cmpimg.EqualApprox's normalised
// colour distance that every pixel must stay within (0: identical; 1: anything). It absorbs
// anti-aliasing differences of a few levels, not a moved line, glyph or legend.
const goldenDelta = 0.05

// checkGolden compares the PNG at path with testdata/<name>_golden.png within goldenDelta.
// With -update (or -regen) it rewrites the golden image first. On a mismatch it writes the
// rendering and a difference image into the test's artifact directory (kept with -artifacts).
func checkGolden(t *testing.T, path, name string) {
	t.Helper()
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", name+"_golden.png")
	if *update || *cmpimg.GenerateTestData {
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (go test ./train/curves -update writes it)", err)
	}
	ok, err := cmpimg.EqualApprox("png", got, want, goldenDelta)
	if err != nil {
		t.Fatal(err)
	}
	if ok {
		return
	}
	dir := t.ArtifactDir()
	a, _, errA := image.Decode(bytes.NewReader(got))
	b, _, errB := image.Decode(bytes.NewReader(want))
	if errA == nil && errB == nil {
		diff := image.NewRGBA64(a.Bounds().Union(b.Bounds()))
		cmpimg.Diff(diff, a, b)
		var buf bytes.Buffer
		if err := png.Encode(&buf, diff); err == nil {
			_ = os.WriteFile(filepath.Join(dir, name+"_diff.png"), buf.Bytes(), 0o644)
		}
	}
	_ = os.WriteFile(filepath.Join(dir, name+".png"), got, 0o644)
	t.Errorf("%s differs from %s beyond the tolerance %g; the rendering and a difference image are in %s "+
		"(go test -artifacts keeps them); if the change is intended, go test ./train/curves -update rewrites the golden image",
		path, golden, goldenDelta, dir)
}

var pngMagic = []byte("\x89PNG\r\n\x1a\n")

// checkPNG asserts that path is a decodable PNG of w×h pixels.
func checkPNG(t *testing.T, path string, w, h int) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(b, pngMagic) {
		t.Fatalf("%s: missing PNG signature", path)
	}
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if got := img.Bounds().Size(); got.X != w || got.Y != h {
		t.Errorf("%s: size %v, want %dx%d", path, got, w, h)
	}
}

func checkSVG(t *testing.T, path string, wants ...string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	if !strings.Contains(s, "<svg") || !strings.HasSuffix(strings.TrimSpace(s), "</svg>") {
		t.Fatalf("%s: not an SVG document", path)
	}
	for _, w := range wants {
		if !strings.Contains(s, w) {
			t.Errorf("%s lacks %q", path, w)
		}
	}
}

const panelPx = 5 * DPI // PanelWidth in pixels

func TestCurves(t *testing.T) {
	loss := []float64{1.2, 0.8, 0.6, 0.5, 0.45}
	vloss := []float64{1.3, 0.9, math.NaN(), 0.7, 0.72}
	acc := []float64{0.5, 0.6, 0.7, 0.75, 0.8}
	tests := []struct {
		name   string
		file   string
		series []Series
		panels int
		golden string // testdata/<golden>_golden.png; "" for none
	}{
		{"loss and accuracy png", "curves.png", LossAccuracy(loss, vloss, acc, acc), 2, "curves"},
		{"single panel png", "loss.PNG", LossAccuracy(loss, nil, nil, nil), 1, ""},
		{"three panels with epochs", "three.png", []Series{
			{Name: "train", Panel: "loss", Epochs: []float64{2, 4, 6, 8, 10}, Values: loss},
			{Name: "val", Panel: "mcc", Values: acc},
			{Name: "val", Panel: "spearman", Values: []float64{0.3}},
		}, 3, "three_panels"},
		{"svg", "curves.svg", LossAccuracy(loss, vloss, acc, acc), 2, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, tc.file)
			if err := Curves(path, "run 1", tc.series...); err != nil {
				t.Fatal(err)
			}
			if strings.HasSuffix(tc.file, ".svg") {
				checkSVG(t, path, "loss", "accuracy", "validation")
			} else {
				checkPNG(t, path, tc.panels*panelPx, 4*DPI)
			}
			if tc.golden != "" {
				checkGolden(t, path, tc.golden)
			}
			ents, _ := os.ReadDir(dir)
			if len(ents) != 1 {
				t.Errorf("directory holds %d entries, want 1 (no temp files)", len(ents))
			}
		})
	}
}

// TestGoldenTolerance: the golden comparison's tolerance lets a rendering through unchanged
// but not with one line's values changed a little, nor with another title.
func TestGoldenTolerance(t *testing.T) {
	want, err := os.ReadFile(filepath.Join("testdata", "curves_golden.png"))
	if err != nil {
		t.Fatal(err)
	}
	loss := []float64{1.2, 0.8, 0.6, 0.5, 0.45}
	vloss := []float64{1.3, 0.9, math.NaN(), 0.7, 0.72}
	acc := []float64{0.5, 0.6, 0.7, 0.75, 0.8}
	moved := []float64{1.2, 0.8, 0.6, 0.5, 0.47}
	for _, c := range []struct {
		name, title string
		series      []Series
		equal       bool
	}{
		{"same", "run 1", LossAccuracy(loss, vloss, acc, acc), true},
		{"last train loss +0.02", "run 1", LossAccuracy(moved, vloss, acc, acc), false},
		{"other title", "run 2", LossAccuracy(loss, vloss, acc, acc), false},
	} {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "c.png")
			if err := Curves(path, c.title, c.series...); err != nil {
				t.Fatal(err)
			}
			got, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			ok, err := cmpimg.EqualApprox("png", got, want, goldenDelta)
			if err != nil {
				t.Fatal(err)
			}
			if ok != c.equal {
				t.Errorf("equal to the golden image within %g: %v, want %v", goldenDelta, ok, c.equal)
			}
		})
	}
}

func TestCurvesErrors(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name   string
		path   string
		series []Series
	}{
		{"no series", filepath.Join(dir, "a.png"), nil},
		{"bad extension", filepath.Join(dir, "a.gif"), LossAccuracy([]float64{1}, nil, nil, nil)},
		{"epoch length", filepath.Join(dir, "b.png"), []Series{{Name: "x", Panel: "loss", Epochs: []float64{1}, Values: []float64{1, 2}}}},
		{"missing dir", filepath.Join(dir, "no", "c.png"), LossAccuracy([]float64{1, 2}, nil, nil, nil)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := Curves(tc.path, "", tc.series...); err == nil {
				t.Error("expected error")
			}
		})
	}
}

func TestScatter(t *testing.T) {
	pts := [][2]float64{{0, 0}, {1, 1}, {5, 5}, {6, 5}, {-3, 2}}
	cats := []string{"pos", "pos", "neg", "neg", "other"}
	tests := []struct {
		name    string
		file    string
		cats    []string
		colours map[string]color.Color
		golden  string // testdata/<golden>_golden.png; "" for none
	}{
		{"png categories", "emb.png", cats, map[string]color.Color{"pos": color.RGBA{0, 0, 255, 255}}, "scatter"},
		{"png no categories", "plain.png", nil, nil, ""},
		{"svg", "emb.svg", cats, nil, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), tc.file)
			if err := Scatter(path, "t-SNE", pts, tc.cats, tc.colours); err != nil {
				t.Fatal(err)
			}
			if strings.HasSuffix(tc.file, ".svg") {
				checkSVG(t, path, "pos", "neg", "other")
			} else {
				checkPNG(t, path, 7*DPI, 6*DPI)
			}
			if tc.golden != "" {
				checkGolden(t, path, tc.golden)
			}
		})
	}
}

func TestScatterErrors(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name string
		pts  [][2]float64
		cats []string
	}{
		{"empty", nil, nil},
		{"category count", [][2]float64{{0, 0}}, []string{"a", "b"}},
		{"nan", [][2]float64{{math.NaN(), 0}}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := Scatter(filepath.Join(dir, "x.png"), "", tc.pts, tc.cats, nil); err == nil {
				t.Error("expected error")
			}
		})
	}
}

func TestHex(t *testing.T) {
	tests := []struct {
		c    color.Color
		want string
	}{
		{Colour(0), "#1f77b4"}, {Colour(11), "#ff7f0e"}, {color.White, "#ffffff"},
	}
	for _, tc := range tests {
		t.Run(tc.want, func(t *testing.T) {
			if got := Hex(tc.c); got != tc.want {
				t.Errorf("Hex = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestLegendOnTop(t *testing.T) {
	cases := []struct {
		name string
		ys   []float64
		want bool
	}{
		{"falling loss", []float64{1, 0.5, 0.3, 0.2}, true},
		{"rising accuracy", []float64{0.90, 0.95, 0.97, 0.98}, false},
		{"flat", []float64{1, 1, 1}, true},
		{"empty", nil, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			xys := make(plotter.XYs, len(c.ys))
			for i, y := range c.ys {
				xys[i] = plotter.XY{X: float64(i + 1), Y: y}
			}
			if got := legendOnTop(xys); got != c.want {
				t.Errorf("legendOnTop = %v, want %v", got, c.want)
			}
		})
	}
}
