package atenops_test

import (
	"fmt"

	"github.com/seqtorch/seqtorch/torch/atenops"
)

// Which Go wrapper runs an ATen operator, and its schema.
func ExampleFind() {
	o, ok := atenops.Find("aten::topk")
	fmt.Println(ok, o.GoName, o.Method, o.Versions)
	fmt.Println(o.Schema)
	// Output:
	// true Topk true 1.13 2.6
	// aten::topk(Tensor self, int k, int dim=-1, bool largest=True, bool sorted=True) -> (Tensor values, Tensor indices)
}
