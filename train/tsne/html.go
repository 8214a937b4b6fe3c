package tsne

import (
	"errors"
	"fmt"
	"html/template"
	"io"
	"math"
	"slices"

	"github.com/seqtorch/seqtorch/train/runlog"
)

// palette is matplotlib's tab10, used for categories without a colour.
var palette = []string{
	"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
	"#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf",
}

const (
	htmlWidth  = 800.0
	htmlHeight = 640.0
	htmlMargin = 16.0
)

type htmlPoint struct {
	X, Y   string
	Colour string
	Label  string
	Text   string
}

type htmlLegend struct {
	Label  string
	Colour string
	Count  int
}

type htmlPage struct {
	Title         string
	Width, Height float64
	Points        []htmlPoint
	Legend        []htmlLegend
}

var pageTmpl = template.Must(template.New("page").Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{{.Title}}</title>
<style>
body { font-family: sans-serif; margin: 1em; color: #222; }
.wrap { display: flex; gap: 1.5em; align-items: flex-start; }
svg { border: 1px solid #ccc; background: #fff; }
circle { stroke: #fff; stroke-width: 0.5; opacity: 0.85; }
circle:hover { stroke: #000; stroke-width: 2; opacity: 1; }
#info { min-height: 3em; max-width: 800px; white-space: pre-wrap; word-break: break-word; }
.legend li { list-style: none; margin: 0.2em 0; }
.legend span { display: inline-block; width: 0.9em; height: 0.9em; border-radius: 50%; margin-right: 0.4em; vertical-align: middle; }
</style>
</head>
<body>
<h1>{{.Title}}</h1>
<div class="wrap">
<svg xmlns="http://www.w3.org/2000/svg" width="{{.Width}}" height="{{.Height}}" viewBox="0 0 {{.Width}} {{.Height}}" id="plot">
{{- range .Points}}
<circle cx="{{.X}}" cy="{{.Y}}" r="4" fill="{{.Colour}}" data-label="{{.Label}}"><title>{{if .Label}}[{{.Label}}] {{end}}{{.Text}}</title></circle>
{{- end}}
</svg>
<ul class="legend">
{{- range .Legend}}
<li><span style="background-color: {{.Colour}}"></span>{{.Label}} ({{.Count}})</li>
{{- end}}
</ul>
</div>
<p id="info">Hover over a point to show its text.</p>
<script>
document.getElementById("plot").addEventListener("mouseover", function (e) {
  if (e.target.tagName.toLowerCase() !== "circle") { return; }
  var t = e.target.querySelector("title");
  document.getElementById("info").textContent = t ? t.textContent : "";
});
</script>
</body>
</html>
`))

// HTML writes a self-contained HTML page with an inline SVG scatter plot
// of points. Hovering over a point shows its text (as an SVG tooltip
// and below the plot). labels gives each point's category, coloured by
// colours (category → CSS colour) or, when missing there, by a default
// palette in sorted category order; texts gives each point's hover text.
// labels and texts may be nil, otherwise they need one entry per point.
// All text is HTML-escaped. The file is written atomically.
func HTML(path string, points [][2]float64, labels, texts []string, colours map[string]string) error {
	return HTMLTitle(path, "t-SNE", points, labels, texts, colours)
}

// HTMLTitle is HTML with a page title.
func HTMLTitle(path, title string, points [][2]float64, labels, texts []string, colours map[string]string) error {
	page, err := buildPage(title, points, labels, texts, colours)
	if err != nil {
		return fmt.Errorf("tsne: html %s: %w", path, err)
	}
	if err := runlog.AtomicWriteFile(path, func(w io.Writer) error {
		return pageTmpl.Execute(w, page)
	}); err != nil {
		return fmt.Errorf("tsne: html: %w", err)
	}
	return nil
}

func buildPage(title string, points [][2]float64, labels, texts []string, colours map[string]string) (*htmlPage, error) {
	if len(points) == 0 {
		return nil, errors.New("no points")
	}
	if labels != nil && len(labels) != len(points) {
		return nil, fmt.Errorf("%d labels for %d points", len(labels), len(points))
	}
	if texts != nil && len(texts) != len(points) {
		return nil, fmt.Errorf("%d texts for %d points", len(texts), len(points))
	}
	minX, minY := math.Inf(1), math.Inf(1)
	maxX, maxY := math.Inf(-1), math.Inf(-1)
	counts := map[string]int{}
	for i, p := range points {
		if !isFinite(p[0]) || !isFinite(p[1]) {
			return nil, fmt.Errorf("point %d is %v", i, p)
		}
		minX, maxX = min(minX, p[0]), max(maxX, p[0])
		minY, maxY = min(minY, p[1]), max(maxY, p[1])
		if labels != nil {
			counts[labels[i]]++
		}
	}
	cats := make([]string, 0, len(counts))
	for c := range counts {
		cats = append(cats, c)
	}
	slices.Sort(cats)
	colourOf := map[string]string{}
	page := &htmlPage{Title: title, Width: htmlWidth, Height: htmlHeight}
	for i, c := range cats {
		col, ok := colours[c]
		if !ok || col == "" {
			col = palette[i%len(palette)]
		}
		colourOf[c] = col
		page.Legend = append(page.Legend, htmlLegend{Label: c, Colour: col, Count: counts[c]})
	}
	// Map data to the canvas keeping the aspect ratio, y pointing up.
	span := max(maxX-minX, maxY-minY)
	if span == 0 {
		span = 1
	}
	scale := min(htmlWidth, htmlHeight) - 2*htmlMargin
	offX := (htmlWidth - (maxX-minX)/span*scale) / 2
	offY := (htmlHeight - (maxY-minY)/span*scale) / 2
	page.Points = make([]htmlPoint, len(points))
	for i, p := range points {
		hp := htmlPoint{
			X:      fmt.Sprintf("%.2f", offX+(p[0]-minX)/span*scale),
			Y:      fmt.Sprintf("%.2f", htmlHeight-offY-(p[1]-minY)/span*scale),
			Colour: palette[0],
		}
		if labels != nil {
			hp.Label = labels[i]
			hp.Colour = colourOf[labels[i]]
		}
		if texts != nil {
			hp.Text = texts[i]
		}
		page.Points[i] = hp
	}
	return page, nil
}

func isFinite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }
