package tsne_test

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"

	"github.com/seqtorch/seqtorch/train/tsne"
)

func Example() {
	// Two clusters of 40 points in 20 dimensions.
	rng := rand.New(rand.NewPCG(1, 1))
	var x [][]float64
	var labels []string
	for i := range 80 {
		row := make([]float64, 20)
		for j := range row {
			row[j] = rng.NormFloat64()
		}
		label := "a"
		if i%2 == 1 {
			row[0] += 8
			label = "b"
		}
		x = append(x, row)
		labels = append(labels, label)
	}

	y, err := tsne.Embed(x, tsne.Options{Perplexity: 10, Seed: 1})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(len(y), "points")

	dir, _ := os.MkdirTemp("", "tsne")
	defer os.RemoveAll(dir)
	texts := make([]string, len(y))
	for i := range texts {
		texts[i] = fmt.Sprintf("sequence #%d", i)
	}
	err = tsne.HTML(filepath.Join(dir, "tsne.html"), y, labels, texts, map[string]string{"a": "steelblue"})
	fmt.Println(err)
	// Output:
	// 80 points
	// <nil>
}
