package curves_test

import (
	"fmt"
	"image/png"
	"log"
	"math"
	"os"
	"path/filepath"
	"strings"

	"gonum.org/v1/plot/vg"

	"github.com/seqtorch/seqtorch/train/curves"
)

// ExampleCurves draws the usual learning curves of a three-epoch run. LossAccuracy puts the
// two losses in panel "loss" and the two accuracies in panel "accuracy"; Curves draws one
// panel per distinct Panel, side by side, each PanelWidth × PanelHeight at DPI dots per
// inch, so the PNG's width grows with the number of panels. A non-finite value (here the
// validation loss of epoch 2, say a skipped validation) is left out: that line joins epochs
// 1 and 3.
func ExampleCurves() {
	dir, err := os.MkdirTemp("", "curves")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	series := curves.LossAccuracy(
		[]float64{0.69, 0.52, 0.41},       // train loss
		[]float64{0.70, math.NaN(), 0.49}, // validation loss
		[]float64{0.55, 0.71, 0.80},       // train accuracy
		[]float64{0.52, 0.66, 0.74},       // validation accuracy
	)
	panels := map[string]bool{}
	for _, s := range series {
		fmt.Printf("panel %-8s  line %-10s  %v\n", s.Panel, s.Name, s.Values)
		panels[s.Panel] = true
	}

	path := filepath.Join(dir, "curves.png")
	if err := curves.Curves(path, "demo", series...); err != nil {
		log.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		log.Fatal(err)
	}
	defer f.Close()
	img, err := png.DecodeConfig(f)
	if err != nil {
		log.Fatal(err)
	}
	px := func(l vg.Length) int { return int(l / vg.Inch * curves.DPI) }
	fmt.Printf("curves.png: %d×%d pixels = %d panels of %d×%d\n",
		img.Width, img.Height, len(panels), px(curves.PanelWidth), px(curves.PanelHeight))
	// Output:
	// panel loss      line train       [0.69 0.52 0.41]
	// panel loss      line validation  [0.7 NaN 0.49]
	// panel accuracy  line train       [0.55 0.71 0.8]
	// panel accuracy  line validation  [0.52 0.66 0.74]
	// curves.png: 960×384 pixels = 2 panels of 480×384
}

// ExampleScatter draws a 2-D embedding coloured by category, with a legend. Categories
// missing from the colours map take palette colours in sorted order: "binder" the first,
// "non-binder" the second, whatever the order of the points; the SVG fills the points with
// them.
func ExampleScatter() {
	dir, err := os.MkdirTemp("", "scatter")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	pts := [][2]float64{{0, 0}, {0.5, 0.2}, {4, 4}, {4.2, 3.9}}
	cats := []string{"non-binder", "binder", "non-binder", "binder"}
	path := filepath.Join(dir, "tsne.svg")
	if err := curves.Scatter(path, "t-SNE", pts, cats, nil); err != nil {
		log.Fatal(err)
	}
	svg, err := os.ReadFile(path)
	if err != nil {
		log.Fatal(err)
	}
	for i, name := range []string{"binder", "non-binder"} {
		hex := curves.Hex(curves.Colour(i))
		fmt.Printf("%-10s %s  in the SVG: %v\n", name, hex, strings.Contains(strings.ToLower(string(svg)), "fill:"+hex))
	}
	// Output:
	// binder     #1f77b4  in the SVG: true
	// non-binder #ff7f0e  in the SVG: true
}
