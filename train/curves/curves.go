// Package curves draws training pictures with gonum.org/v1/plot:
// learning curves (loss, accuracy or any other metric against epoch, one
// panel per metric) and 2-D embedding scatter plots with a colour per
// category. Files are PNG or SVG, chosen by the path's extension, and
// are written atomically.
package curves

import (
	"errors"
	"fmt"
	"image/color"
	"io"
	"math"
	"path/filepath"
	"slices"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
	"gonum.org/v1/plot/vg/vgsvg"

	"github.com/seqtorch/seqtorch/train/runlog"
)

// Size of one panel of a learning-curve figure and of a scatter figure.
const (
	PanelWidth    = 5 * vg.Inch
	PanelHeight   = 4 * vg.Inch
	ScatterWidth  = 7 * vg.Inch
	ScatterHeight = 6 * vg.Inch
	// DPI is the resolution of PNG output, so a panel is 480×384 pixels.
	DPI = 96
)

// Series is one line of a learning-curve figure.
type Series struct {
	// Name is the legend label, e.g. "train" or "validation".
	Name string
	// Panel names the metric and the panel the line is drawn in, e.g.
	// "loss" or "accuracy". Panels appear left to right in order of
	// first use.
	Panel string
	// Epochs are the x values; nil means 1, 2, ..., len(Values).
	Epochs []float64
	// Values are the y values. Non-finite values (e.g. NaN for an epoch
	// without validation) are skipped.
	Values []float64
}

// LossAccuracy returns the four usual series: train and validation loss
// in panel "loss" and train and validation accuracy in panel "accuracy".
// Nil slices are left out.
func LossAccuracy(trainLoss, valLoss, trainAcc, valAcc []float64) []Series {
	var s []Series
	add := func(name, panel string, v []float64) {
		if v != nil {
			s = append(s, Series{Name: name, Panel: panel, Values: v})
		}
	}
	add("train", "loss", trainLoss)
	add("validation", "loss", valLoss)
	add("train", "accuracy", trainAcc)
	add("validation", "accuracy", valAcc)
	return s
}

// Palette is a ten-colour qualitative palette (matplotlib's tab10).
var Palette = []color.RGBA{
	{0x1f, 0x77, 0xb4, 0xff}, {0xff, 0x7f, 0x0e, 0xff}, {0x2c, 0xa0, 0x2c, 0xff},
	{0xd6, 0x27, 0x28, 0xff}, {0x94, 0x67, 0xbd, 0xff}, {0x8c, 0x56, 0x4b, 0xff},
	{0xe3, 0x77, 0xc2, 0xff}, {0x7f, 0x7f, 0x7f, 0xff}, {0xbc, 0xbd, 0x22, 0xff},
	{0x17, 0xbe, 0xcf, 0xff},
}

// Colour returns the i-th palette colour, cycling.
func Colour(i int) color.RGBA {
	if i < 0 {
		i = -i
	}
	return Palette[i%len(Palette)]
}

// Hex formats c as "#rrggbb".
func Hex(c color.Color) string {
	r, g, b, _ := c.RGBA()
	return fmt.Sprintf("#%02x%02x%02x", r>>8, g>>8, b>>8)
}

// Curves writes a learning-curve figure to path (.png or .svg) with one
// panel per distinct Series.Panel, side by side, each PanelWidth ×
// PanelHeight. title, if not empty, prefixes each panel's title.
func Curves(path, title string, series ...Series) error {
	if len(series) == 0 {
		return errors.New("curves: no series")
	}
	var panels []string
	byPanel := map[string][]Series{}
	for i, s := range series {
		if len(s.Epochs) != 0 && len(s.Epochs) != len(s.Values) {
			return fmt.Errorf("curves: series %d (%q): %d epochs for %d values", i, s.Name, len(s.Epochs), len(s.Values))
		}
		if _, ok := byPanel[s.Panel]; !ok {
			panels = append(panels, s.Panel)
		}
		byPanel[s.Panel] = append(byPanel[s.Panel], s)
	}
	row := make([]*plot.Plot, len(panels))
	for i, name := range panels {
		p := plot.New()
		p.Title.Text = name
		if title != "" {
			p.Title.Text = title + ": " + name
		}
		p.X.Label.Text = "epoch"
		p.Y.Label.Text = name
		p.Add(plotter.NewGrid())
		var all plotter.XYs
		for k, s := range byPanel[name] {
			xys := finiteXYs(s)
			if len(xys) == 0 {
				continue
			}
			all = append(all, xys...)
			line, points, err := plotter.NewLinePoints(xys)
			if err != nil {
				return fmt.Errorf("curves: series %q: %w", s.Name, err)
			}
			c := Colour(k)
			line.Color = c
			line.Width = vg.Points(1.5)
			points.Color = c
			points.Shape = draw.CircleGlyph{}
			points.Radius = vg.Points(2)
			if len(xys) == 1 {
				p.Add(points)
			} else {
				p.Add(line, points)
			}
			p.Legend.Add(s.Name, line, points)
		}
		p.Legend.Top = legendOnTop(all)
		row[i] = p
	}
	w := PanelWidth * vg.Length(len(panels))
	return render(path, w, PanelHeight, func(dc draw.Canvas) {
		tiles := draw.Tiles{Rows: 1, Cols: len(panels), PadX: vg.Millimeter * 4,
			PadTop: vg.Millimeter * 2, PadBottom: vg.Millimeter * 2,
			PadLeft: vg.Millimeter * 2, PadRight: vg.Millimeter * 2}
		cs := plot.Align([][]*plot.Plot{row}, tiles, dc)
		for i, p := range row {
			p.Draw(cs[0][i])
		}
	})
}

func finiteXYs(s Series) plotter.XYs {
	xys := make(plotter.XYs, 0, len(s.Values))
	for i, v := range s.Values {
		x := float64(i + 1)
		if s.Epochs != nil {
			x = s.Epochs[i]
		}
		if isFinite(v) && isFinite(x) {
			xys = append(xys, plotter.XY{X: x, Y: v})
		}
	}
	return xys
}

func isFinite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

// Scatter writes a scatter plot of a 2-D embedding (e.g. from t-SNE) to
// path (.png or .svg), colouring each point by its category and listing
// the categories in a legend, sorted by name. categories may be nil (one
// colour, no legend); otherwise it must have one entry per point.
// colours maps category names to colours; categories missing from it
// take palette colours in sorted order.
func Scatter(path, title string, points [][2]float64, categories []string, colours map[string]color.Color) error {
	if len(points) == 0 {
		return errors.New("curves: scatter: no points")
	}
	if categories != nil && len(categories) != len(points) {
		return fmt.Errorf("curves: scatter: %d categories for %d points", len(categories), len(points))
	}
	groups := map[string]plotter.XYs{}
	for i, pt := range points {
		if !isFinite(pt[0]) || !isFinite(pt[1]) {
			return fmt.Errorf("curves: scatter: point %d is %v", i, pt)
		}
		c := ""
		if categories != nil {
			c = categories[i]
		}
		groups[c] = append(groups[c], plotter.XY{X: pt[0], Y: pt[1]})
	}
	names := make([]string, 0, len(groups))
	for c := range groups {
		names = append(names, c)
	}
	slices.Sort(names)

	p := plot.New()
	p.Title.Text = title
	p.HideAxes()
	p.Legend.Top = true
	p.Legend.Left = false
	for i, name := range names {
		sc, err := plotter.NewScatter(groups[name])
		if err != nil {
			return fmt.Errorf("curves: scatter: category %q: %w", name, err)
		}
		var col color.Color = Colour(i)
		if c, ok := colours[name]; ok && c != nil {
			col = c
		}
		sc.GlyphStyle = draw.GlyphStyle{Color: col, Radius: vg.Points(2.5), Shape: draw.CircleGlyph{}}
		p.Add(sc)
		if categories != nil {
			p.Legend.Add(name, sc)
		}
	}
	return render(path, ScatterWidth, ScatterHeight, func(dc draw.Canvas) { p.Draw(dc) })
}

// render draws onto a canvas of the format given by path's extension
// and writes it atomically. Panics inside the plotting library are
// turned into errors.
func render(path string, w, h vg.Length, drawFn func(draw.Canvas)) (err error) {
	var c interface {
		vg.CanvasSizer
		io.WriterTo
	}
	switch ext := strings.ToLower(filepath.Ext(path)); ext {
	case ".png":
		c = vgimg.PngCanvas{Canvas: vgimg.NewWith(vgimg.UseWH(w, h), vgimg.UseDPI(DPI))}
	case ".svg":
		c = vgsvg.New(w, h)
	default:
		return fmt.Errorf("curves: %s: unsupported extension %q (want .png or .svg)", path, ext)
	}
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("curves: drawing %s: %v", path, r)
		}
	}()
	dc := draw.New(c)
	// Opaque white background for PNG viewers that show transparency.
	dc.SetColor(color.White)
	dc.Fill(dc.Rectangle.Path())
	drawFn(dc)
	if err := runlog.AtomicWriteFile(path, func(wr io.Writer) error {
		_, err := c.WriteTo(wr)
		return err
	}); err != nil {
		return fmt.Errorf("curves: %w", err)
	}
	return nil
}

// legendOnTop reports whether the legend (drawn at the right) should go at the top: true unless
// the points in the right half of the plot lie mostly in its upper half, as rising accuracy
// curves do.
func legendOnTop(xys plotter.XYs) bool {
	if len(xys) == 0 {
		return true
	}
	xmin, xmax, ymin, ymax := plotter.XYRange(xys)
	if ymax <= ymin {
		return true
	}
	upper, n := 0, 0
	for _, p := range xys {
		if p.X >= (xmin+xmax)/2 {
			n++
			if (p.Y-ymin)/(ymax-ymin) > 0.5 {
				upper++
			}
		}
	}
	return 2*upper <= n
}
