package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestVerifyWeights: the SHA-256 that summary.json records is checked; a flipped byte is one
// line naming the file; a summary without the key (an older run) is not checked.
func TestVerifyWeights(t *testing.T) {
	dir := t.TempDir()
	w := filepath.Join(dir, "model.safetensors")
	if err := os.WriteFile(w, []byte("weights"), 0o644); err != nil {
		t.Fatal(err)
	}
	sum, err := FileSHA256(w)
	if err != nil {
		t.Fatal(err)
	}
	if err := VerifyWeights(dir, w); err != nil {
		t.Errorf("no summary: %v", err)
	}
	os.WriteFile(filepath.Join(dir, SummaryFile), []byte(`{"epochs": 2}`), 0o644)
	if err := VerifyWeights(dir, w); err != nil {
		t.Errorf("a summary without %s: %v", WeightsSHA256Key, err)
	}
	os.WriteFile(filepath.Join(dir, SummaryFile), []byte(`{"weights_sha256": "`+sum+`"}`), 0o644)
	if err := VerifyWeights(dir, w); err != nil {
		t.Errorf("intact weights: %v", err)
	}
	os.WriteFile(w, []byte("weighTs"), 0o644)
	err = VerifyWeights(dir, w)
	if err == nil || !strings.HasPrefix(err.Error(), w+": SHA-256 ") || !strings.Contains(err.Error(), "changed or is corrupt") || strings.Contains(err.Error(), "\n") {
		t.Errorf("a flipped byte: %v", err)
	}
}

// TestRunFile: config.json's file names stay inside the model folder.
func TestRunFile(t *testing.T) {
	base := t.TempDir()
	dir := filepath.Join(base, "run")
	os.MkdirAll(dir, 0o755)
	os.WriteFile(filepath.Join(base, "outside.safetensors"), nil, 0o644)
	os.WriteFile(filepath.Join(dir, "model.safetensors"), nil, 0o644)
	os.Symlink(filepath.Join(base, "outside.safetensors"), filepath.Join(dir, "link.safetensors"))
	os.Symlink("model.safetensors", filepath.Join(dir, "inside.safetensors"))
	for name, ok := range map[string]bool{
		"model.safetensors": true, "inside.safetensors": true, "sub/missing.safetensors": true,
		"../outside.safetensors": false, filepath.Join(base, "outside.safetensors"): false, "link.safetensors": false, "": false,
	} {
		p, err := RunFile(dir, name, "weights")
		if (err == nil) != ok {
			t.Errorf("RunFile(%q) = %q, %v; want ok %v", name, p, err, ok)
		}
		if err != nil && !strings.Contains(err.Error(), "config.json: weights") {
			t.Errorf("RunFile(%q): %v does not name config.json's key", name, err)
		}
	}
}
