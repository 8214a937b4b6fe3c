package metrics_test

import (
	"fmt"

	"github.com/seqtorch/seqtorch/train/metrics"
)

func Example() {
	pred := []int{1, 1, 1, 0, 0, 0, 1, 0, 1, 0}
	labels := []int{1, 1, 0, 0, 0, 1, 1, 0, 0, 0}

	acc, _ := metrics.Accuracy(pred, labels)
	p, r, f1, _ := metrics.PrecisionRecallF1(pred, labels, 1)
	mcc, _ := metrics.MCC(pred, labels)
	fmt.Printf("acc=%.2f P=%.2f R=%.2f F1=%.3f MCC=%.3f\n", acc, p, r, f1, mcc)
	// Output: acc=0.70 P=0.60 R=0.75 F1=0.667 MCC=0.408
}

func ExampleNewConfusion() {
	c, err := metrics.NewConfusion([]int{0, 2, 1, 1}, []int{0, 1, 1, 2}, 3)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(c.Counts)
	// Output: [[1 0 0] [0 1 1] [0 1 0]]
}

func ExampleSpearman() {
	rho, _ := metrics.Spearman([]float64{1, 2, 2, 3}, []float64{10, 20, 30, 40})
	r, _ := metrics.Pearson([]float64{1, 2, 3}, []float64{2, 4, 6})
	fmt.Printf("rho=%.4f r=%.1f\n", rho, r)
	// Output: rho=0.9487 r=1.0
}

func ExampleQuantile() {
	latencies := []float64{210, 190, 205, 480, 200} // µs
	p50, _ := metrics.Quantile(latencies, 0.5)
	p99, _ := metrics.Quantile(latencies, 0.99)
	fmt.Printf("p50 %.0f µs, p99 %.1f µs\n", p50, p99)
	// Output: p50 205 µs, p99 469.2 µs
}
