package runlog

import (
	"bytes"
	"os"
	"strings"
	"testing"
)

func TestLineProgress(t *testing.T) {
	tests := []struct {
		name      string
		every     int
		total     int
		steps     int
		wantLines []string
	}{
		{"every tenth", 0, 20, 20, []string{
			"epoch 1: step 2/20 loss 0.5000 (mean 0.5000)",
			"epoch 1: step 18/20 loss 0.5000 (mean 0.5000)",
			"epoch 1: done 20/20 steps, mean loss 0.5000",
		}},
		{"explicit every", 3, 7, 7, []string{
			"epoch 1: step 3/7",
			"epoch 1: step 6/7",
			"epoch 1: done 7/7 steps",
		}},
		{"unknown total", 0, 0, 5, []string{
			"epoch 1: done 5 steps, mean loss 0.5000",
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			p := NewLineProgress(&buf, tc.every)
			p.Start(1, tc.total)
			for range tc.steps {
				p.Step(1, 0.5)
			}
			p.Done()
			out := buf.String()
			for _, w := range tc.wantLines {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
			lines := strings.Count(out, "\n")
			if tc.name == "every tenth" && lines != 10 {
				t.Errorf("%d lines, want 10:\n%s", lines, out)
			}
		})
	}
}

func TestBarProgress(t *testing.T) {
	var buf bytes.Buffer
	p := NewBarProgress(&buf)
	p.Step(1, 1) // before Start: ignored, no panic
	for epoch := 1; epoch <= 2; epoch++ {
		p.Start(epoch, 4)
		for range 4 {
			p.Step(1, 0.25)
		}
		p.Done()
	}
	p.Done()
	out := buf.String()
	if !strings.Contains(out, "epoch 2 loss 0.2500") || !strings.Contains(out, "4/4") {
		t.Errorf("bar output:\n%q", out)
	}
}

func TestNewProgressNonTerminal(t *testing.T) {
	var buf bytes.Buffer
	if _, ok := NewProgress(&buf).(*LineProgress); !ok {
		t.Error("buffer: want *LineProgress")
	}
	f, err := os.CreateTemp(t.TempDir(), "log")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, ok := NewProgress(f).(*LineProgress); !ok {
		t.Error("regular file: want *LineProgress")
	}
}
