package torch

import (
	"archive/zip"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestLoadDictWholeModel: a torch.save(model) file (a pickled object of a Python class, not a
// dict of tensors) is refused with a message that says to save the state dict.
func TestLoadDictWholeModel(t *testing.T) {
	start := Live()
	path := filepath.Join(t.TempDir(), "model.pt")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	zw := zip.NewWriter(f)
	w, err := zw.Create("model/data.pkl")
	if err != nil {
		t.Fatal(err)
	}
	// pickle protocol 2 of __main__.RNNModel() with an empty __dict__, as torch.save(model)
	// starts: PROTO 2, GLOBAL, EMPTY_TUPLE, NEWOBJ, EMPTY_DICT, BUILD, STOP.
	if _, err := w.Write([]byte("\x80\x02c__main__\nRNNModel\n)\x81}b.")); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	_, _, err = LoadDict(path)
	if err == nil {
		t.Fatal("LoadDict accepted a pickled model")
	}
	for _, want := range []string{"__main__.RNNModel", "torch.save(model.state_dict(), path)"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
	if got := Live(); got != start {
		t.Errorf("Live() = %d, want %d", got, start)
	}
}
