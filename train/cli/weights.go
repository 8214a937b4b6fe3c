package cli

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// WeightsSHA256Key is the key of a run folder's summary.json that records the SHA-256 of the
// model's weights file, which [VerifyWeights] checks before a model is loaded.
const WeightsSHA256Key = "weights_sha256"

// FileSHA256 returns the hex SHA-256 of the file at path.
func FileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("%s: %w", path, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// RunFile returns the path of the file name inside the run folder dir, as a run's
// config.json names it (what: the key, for messages). A name that leads outside the folder
// (an absolute path, "..", a symbolic link pointing out) is refused.
func RunFile(dir, name, what string) (string, error) {
	if name == "" || !filepath.IsLocal(name) {
		return "", fmt.Errorf("%s: %s %q: want a file name inside the model folder", filepath.Join(dir, ConfigFile), what, name)
	}
	path := filepath.Join(dir, name)
	real, err := filepath.EvalSymlinks(path)
	if errors.Is(err, fs.ErrNotExist) {
		return path, nil // the caller's open explains
	}
	if err != nil {
		return "", fmt.Errorf("%s: %w", path, err)
	}
	root, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return "", fmt.Errorf("%s: %w", dir, err)
	}
	if rel, err := filepath.Rel(root, real); err != nil || !filepath.IsLocal(rel) {
		return "", fmt.Errorf("%s: %s %q leads outside the model folder (to %s)", filepath.Join(dir, ConfigFile), what, name, real)
	}
	return path, nil
}

// VerifyWeights checks the weights file at path against the SHA-256 that the summary.json of
// the run folder dir records ([WeightsSHA256Key]); a folder whose summary records none (a run
// written before the key existed, or not finished) is not checked. A mismatch is one line
// naming the file.
func VerifyWeights(dir, path string) error {
	b, err := os.ReadFile(filepath.Join(dir, SummaryFile))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	var sum map[string]any
	if err := json.Unmarshal(b, &sum); err != nil {
		return fmt.Errorf("%s: %w", filepath.Join(dir, SummaryFile), err)
	}
	want, _ := sum[WeightsSHA256Key].(string)
	if want == "" {
		return nil
	}
	got, err := FileSHA256(path)
	if err != nil {
		return err
	}
	if !strings.EqualFold(got, want) {
		return fmt.Errorf("%s: SHA-256 %s…, but %s records %s…: the weights file was changed or is corrupt",
			path, got[:12], filepath.Join(dir, SummaryFile), want[:min(12, len(want))])
	}
	return nil
}
