package curves_test

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/seqtorch/seqtorch/train/curves"
)

func ExampleCurves() {
	dir, _ := os.MkdirTemp("", "curves")
	defer os.RemoveAll(dir)

	series := curves.LossAccuracy(
		[]float64{0.69, 0.52, 0.41}, // train loss
		[]float64{0.70, 0.58, 0.49}, // validation loss
		[]float64{0.55, 0.71, 0.80}, // train accuracy
		[]float64{0.52, 0.66, 0.74}, // validation accuracy
	)
	err := curves.Curves(filepath.Join(dir, "curves.png"), "demo", series...)
	fmt.Println(err)
	// Output: <nil>
}

func ExampleScatter() {
	dir, _ := os.MkdirTemp("", "scatter")
	defer os.RemoveAll(dir)

	pts := [][2]float64{{0, 0}, {0.5, 0.2}, {4, 4}, {4.2, 3.9}}
	cats := []string{"binder", "binder", "non-binder", "non-binder"}
	err := curves.Scatter(filepath.Join(dir, "tsne.svg"), "t-SNE", pts, cats, nil)
	fmt.Println(err)
	// Output: <nil>
}
