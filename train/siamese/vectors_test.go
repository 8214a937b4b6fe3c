package main

import (
	"archive/zip"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/seqtorch/seqtorch/data"
	"github.com/seqtorch/seqtorch/torch/torchtest"
	"github.com/seqtorch/seqtorch/train/cli"
)

// tinyVectorFiles writes testdata's tiny vectors as headerless GloVe text, gzip-compressed,
// and in a zip archive beside another file, and returns the paths to pass to --vectors.
func tinyVectorFiles(t *testing.T) map[string]string {
	t.Helper()
	w2v, err := os.ReadFile("testdata/vectors_tiny.txt")
	if err != nil {
		t.Fatal(err)
	}
	_, glove, _ := bytes.Cut(w2v, []byte("\n")) // drop the "N D" header
	dir := t.TempDir()
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(glove)
	zw.Close()
	var zb bytes.Buffer
	arc := zip.NewWriter(&zb)
	for _, name := range []string{"readme.txt", "tiny.8d.txt"} {
		f, _ := arc.Create(name)
		if name == "readme.txt" {
			f.Write([]byte("not vectors\n"))
		} else {
			f.Write(glove)
		}
	}
	arc.Close()
	nan := bytes.Replace(bytes.Clone(glove), []byte("\nan -0.8123 "), []byte("\nan NaN "), 1)
	return map[string]string{
		"word2vec text": "testdata/vectors_tiny.txt",
		"GloVe text":    write("tiny.txt", glove),
		"GloVe .gz":     write("tiny.txt.gz", gz.Bytes()),
		"GloVe .zip":    write("tiny.zip", zb.Bytes()) + ":tiny.8d.txt",
		"NaN":           write("nan.txt", nan),
	}
}

// TestVectorsFormats trains the same tiny study from the same vectors in each format: the
// TEST metrics are identical; a NaN is refused with its file and line.
func TestVectorsFormats(t *testing.T) {
	torchtest.CheckLive(t)
	files := tinyVectorFiles(t)
	var want map[string]any
	for _, name := range []string{"word2vec text", "GloVe text", "GloVe .gz", "GloVe .zip"} {
		so, se, err := runCmd(append(tinyArgs(t.TempDir(), "--json", "-", "--seed", "3"), "--vectors", files[name])...)
		if err != nil {
			t.Fatalf("%s: %v\n%s", name, err, se)
		}
		var sum map[string]any
		if err := json.Unmarshal([]byte(so), &sum); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		test := map[string]any{}
		for k, v := range sum {
			if strings.HasPrefix(k, "test_") || k == "vocab_with_vectors" {
				test[k] = v
			}
		}
		if want == nil {
			want = test
			continue
		}
		if a, b := mustJSON(t, test), mustJSON(t, want); a != b {
			t.Errorf("%s: %s, want %s (word2vec text)", name, a, b)
		}
	}
	_, _, err := runCmd(append(tinyArgs(t.TempDir()), "--vectors", files["NaN"])...)
	if err == nil || !strings.Contains(err.Error(), `nan.txt:2: value 1 of "an": want a finite number, got "NaN"`) {
		t.Errorf("NaN: %v", err)
	}
}

func mustJSON(t *testing.T, v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestMissingVectors: without the catalog's vectors, training and the report stop with one
// line that says what to download and how to pass it.
func TestMissingVectors(t *testing.T) {
	mirror := os.Getenv("SEQTORCH_MIRROR")
	if mirror == "" {
		mirror = data.DefaultMirrorDir()
	}
	if _, err := os.Stat(filepath.Join(mirror, "sick", "SICK.txt")); err != nil {
		t.Skipf("no data mirror (SEQTORCH_MIRROR): %v", err)
	}
	t.Setenv("SEQTORCH_DATA", t.TempDir())
	t.Setenv("SEQTORCH_MIRROR", mirror)
	if _, err := data.Ensure("sick"); err != nil { // SICK in the cache, so that only the vectors are missing
		t.Fatal(err)
	}
	t.Setenv("SEQTORCH_MIRROR", "")
	for _, args := range [][]string{
		{"--sick", "testdata/sick_tiny.txt", "--epochs", "1", "--device", "cpu", "--out", t.TempDir()},
		{"report", "--out", t.TempDir()},
	} {
		_, _, err := runCmd(args...)
		if !errors.Is(err, data.ErrNoVectors) {
			t.Fatalf("%q: %v, want data.ErrNoVectors", args, err)
		}
		var line bytes.Buffer
		if code := cli.ExitCode("siamese", err, &line); code != 1 {
			t.Errorf("%q: exit %d, want 1", args, code)
		}
		msg := line.String()
		for _, want := range []string{"siamese: no word vectors: ", "--vectors PATH", "glove.840B.300d.zip", "GoogleNews-vectors-negative300.bin.gz", "-h lists the flags"} {
			if !strings.Contains(msg, want) {
				t.Errorf("%q: message lacks %q: %s", args, want, msg)
			}
		}
		if strings.Count(msg, "\n") != 1 {
			t.Errorf("%q: not one line: %q", args, msg)
		}
	}
	// The report takes --vectors too.
	_, _, err := runCmd("report", "--out", t.TempDir(), "--vectors", "testdata/none.txt")
	if err == nil || !strings.Contains(err.Error(), "none.txt") {
		t.Errorf("report --vectors testdata/none.txt: %v", err)
	}
}
