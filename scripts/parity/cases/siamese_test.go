package cases

import (
	"slices"
	"testing"

	"github.com/seqtorch/seqtorch/models/siamese/parityref"
)

// TestSiameseCasesRegistered checks that every Siamese parity case (each loss head) is in the
// suite.
func TestSiameseCasesRegistered(t *testing.T) {
	var names []string
	for _, c := range All() {
		names = append(names, c.Name)
	}
	for _, head := range []string{"malstm", "contrastive", "triplet", "tai"} {
		if !slices.ContainsFunc(parityref.Cases(), func(c parityref.Case) bool { return c.Config.Loss == head }) {
			t.Errorf("no siamese parity case for the %s head", head)
		}
	}
	for _, c := range parityref.Cases() {
		if !slices.Contains(names, "model/siamese/"+c.Name) {
			t.Errorf("case model/siamese/%s is not registered", c.Name)
		}
	}
}
