package curves

import (
	"bytes"
	"image/color"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gonum.org/v1/plot/plotter"
)

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
	}{
		{"loss and accuracy png", "curves.png", LossAccuracy(loss, vloss, acc, acc), 2},
		{"single panel png", "loss.PNG", LossAccuracy(loss, nil, nil, nil), 1},
		{"three panels with epochs", "three.png", []Series{
			{Name: "train", Panel: "loss", Epochs: []float64{2, 4, 6, 8, 10}, Values: loss},
			{Name: "val", Panel: "mcc", Values: acc},
			{Name: "val", Panel: "spearman", Values: []float64{0.3}},
		}, 3},
		{"svg", "curves.svg", LossAccuracy(loss, vloss, acc, acc), 2},
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
			ents, _ := os.ReadDir(dir)
			if len(ents) != 1 {
				t.Errorf("directory holds %d entries, want 1 (no temp files)", len(ents))
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
	}{
		{"png categories", "emb.png", cats, map[string]color.Color{"pos": color.RGBA{0, 0, 255, 255}}},
		{"png no categories", "plain.png", nil, nil},
		{"svg", "emb.svg", cats, nil},
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
