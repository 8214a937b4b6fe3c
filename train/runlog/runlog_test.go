package runlog

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRunFiles(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "runs", "r1")
	r, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	type rec struct {
		Epoch int     `json:"epoch"`
		Loss  float64 `json:"loss"`
	}
	for i := range 3 {
		if err := r.WriteEpoch(rec{i, 1 / float64(i+1)}); err != nil {
			t.Fatal(err)
		}
	}
	// Each line must be on disk before Close.
	b, err := os.ReadFile(filepath.Join(dir, MetricsFile))
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(b), "\n"); n != 3 {
		t.Fatalf("metrics.jsonl has %d lines before close, want 3", n)
	}
	if err := r.WriteEpoch(map[string]float64{"bad": math.NaN()}); err == nil {
		t.Error("NaN record: expected error")
	}
	if err := r.WriteJSON("config.json", map[string]int{"batch": 32}); err != nil {
		t.Fatal(err)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if err := r.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if err := r.WriteEpoch(rec{}); err == nil {
		t.Error("WriteEpoch after Close: expected error")
	}

	// Reopening appends.
	r2, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := r2.WriteEpoch(rec{3, 0.25}); err != nil {
		t.Fatal(err)
	}
	if err := r2.Close(); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(filepath.Join(dir, MetricsFile))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	var got []rec
	for sc.Scan() {
		var x rec
		if err := json.Unmarshal(sc.Bytes(), &x); err != nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		got = append(got, x)
	}
	if len(got) != 4 || got[3].Epoch != 3 || got[1].Loss != 0.5 {
		t.Errorf("records = %+v", got)
	}

	var cfg map[string]int
	b, err = os.ReadFile(filepath.Join(dir, "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &cfg); err != nil || cfg["batch"] != 32 {
		t.Errorf("config.json = %s (%v)", b, err)
	}
	assertNoTemp(t, dir)
}

func assertNoTemp(t *testing.T, dir string) {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if strings.Contains(e.Name(), ".tmp-") {
			t.Errorf("temporary file left behind: %s", e.Name())
		}
	}
}

func TestOpenErrors(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct{ name, dir string }{
		{"empty", ""},
		{"under a file", filepath.Join(file, "sub")},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := Open(tc.dir); err == nil {
				t.Error("expected error")
			}
		})
	}
}

func TestAtomicWriteFile(t *testing.T) {
	errBoom := errors.New("boom")
	tests := []struct {
		name    string
		write   func(w io.Writer) error
		want    string
		wantErr error
	}{
		{"replaces", func(w io.Writer) error { _, err := io.WriteString(w, "new"); return err }, "new", nil},
		{"keeps old on error", func(w io.Writer) error {
			_, _ = io.WriteString(w, "partial")
			return errBoom
		}, "old", errBoom},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "out.txt")
			if err := os.WriteFile(path, []byte("old"), 0o644); err != nil {
				t.Fatal(err)
			}
			err := AtomicWriteFile(path, tc.write)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			b, _ := os.ReadFile(path)
			if string(b) != tc.want {
				t.Errorf("content %q, want %q", b, tc.want)
			}
			assertNoTemp(t, dir)
		})
	}
	if err := AtomicWriteFile(filepath.Join(t.TempDir(), "missing", "x"), func(io.Writer) error { return nil }); err == nil {
		t.Error("missing directory: expected error")
	}
}

var sampleParams = []Param{
	{Name: "embed.weight", Shape: []int64{1000, 64}, Trainable: false},
	{Name: "encoder.layer0.weight", Shape: []int64{64, 64}, Trainable: true},
	{Name: "encoder.layer0.bias", Shape: []int64{64}, Trainable: true},
	{Name: "head.scale", Shape: nil, Count: 1, Trainable: true},
}

func TestFormatParams(t *testing.T) {
	var buf bytes.Buffer
	tot, err := FormatParams(&buf, sampleParams)
	if err != nil {
		t.Fatal(err)
	}
	want := Totals{Trainable: 4096 + 64 + 1, Frozen: 64000, Total: 68161}
	if tot != want {
		t.Errorf("totals = %+v, want %+v", tot, want)
	}
	golden, err := os.ReadFile(filepath.Join("testdata", "params.golden"))
	if err != nil {
		t.Fatal(err)
	}
	if buf.String() != string(golden) {
		t.Errorf("table mismatch:\n%s\nwant:\n%s", buf.String(), golden)
	}

	r, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if _, err := r.WriteParams(sampleParams); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(r.Path(ParamsFile))
	if err != nil || string(b) != string(golden) {
		t.Errorf("params.txt = %q, %v", b, err)
	}
}

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

func TestFormatParamsWriteError(t *testing.T) {
	if _, err := FormatParams(failWriter{}, sampleParams); err == nil {
		t.Error("expected error")
	}
}

func TestCommas(t *testing.T) {
	tests := []struct {
		n    int64
		want string
	}{
		{0, "0"}, {999, "999"}, {1000, "1,000"}, {1234567, "1,234,567"}, {-12345, "-12,345"},
	}
	for _, tc := range tests {
		t.Run(tc.want, func(t *testing.T) {
			if got := Commas(tc.n); got != tc.want {
				t.Errorf("Commas(%d) = %q", tc.n, got)
			}
		})
	}
}

func TestRemoveTemp(t *testing.T) {
	dir := t.TempDir()
	files := []struct {
		name string
		temp bool
	}{
		{".summary.json.tmp-123", true},
		{".checkpoint.tmp-9", true},
		{"summary.json", false},
		{"notes.tmp-1", false}, // not hidden: not ours
		{".hidden", false},
	}
	for _, f := range files {
		if got := IsTemp(f.name); got != f.temp {
			t.Errorf("IsTemp(%q) = %v, want %v", f.name, got, f.temp)
		}
		if err := os.WriteFile(filepath.Join(dir, f.name), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := RemoveTemp(dir); err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		_, err := os.Stat(filepath.Join(dir, f.name))
		if gone := err != nil; gone != f.temp {
			t.Errorf("%s: removed %v, want %v", f.name, gone, f.temp)
		}
	}
	if err := RemoveTemp(filepath.Join(dir, "missing")); err != nil {
		t.Errorf("missing folder: %v", err)
	}
}
