package tsne

import (
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestHTML(t *testing.T) {
	pts := [][2]float64{{0, 0}, {1, 2}, {-3, 1}}
	labels := []string{"pos", "neg", "pos"}
	texts := []string{
		"MKTAYIAK <script>alert('x')</script>",
		`quote " and & ampersand`,
		"plain",
	}
	tests := []struct {
		name    string
		labels  []string
		texts   []string
		colours map[string]string
		want    []string
		notWant []string
	}{
		{
			name: "escaped", labels: labels, texts: texts,
			colours: map[string]string{"neg": `red" onmouseover="evil()`},
			want: []string{
				"&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;",
				"quote &#34; and &amp; ampersand",
				"[pos] plain",
				"pos (2)", "neg (1)",
				"<svg", "</svg>", "<title>",
			},
			notWant: []string{"<script>alert", `onmouseover="evil`},
		},
		{name: "no labels or texts", want: []string{"<circle", `fill="#1f77b4"`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "tsne.html")
			if err := HTML(path, pts, tc.labels, tc.texts, tc.colours); err != nil {
				t.Fatal(err)
			}
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			s := string(b)
			if n := strings.Count(s, "<circle"); n != len(pts) {
				t.Errorf("%d circles, want %d", n, len(pts))
			}
			for _, w := range tc.want {
				if !strings.Contains(s, w) {
					t.Errorf("page lacks %q", w)
				}
			}
			for _, w := range tc.notWant {
				if strings.Contains(s, w) {
					t.Errorf("page contains unescaped %q", w)
				}
			}
		})
	}
}

func TestHTMLErrors(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name          string
		pts           [][2]float64
		labels, texts []string
	}{
		{"no points", nil, nil, nil},
		{"labels length", [][2]float64{{0, 0}}, []string{"a", "b"}, nil},
		{"texts length", [][2]float64{{0, 0}}, nil, []string{}},
		{"infinite", [][2]float64{{0, math.Inf(1)}}, nil, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := HTML(filepath.Join(dir, "x.html"), tc.pts, tc.labels, tc.texts, nil); err == nil {
				t.Error("expected error")
			}
		})
	}
}
