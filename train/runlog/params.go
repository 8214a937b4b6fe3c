package runlog

import (
	"fmt"
	"io"
	"strconv"
	"strings"
)

// Param describes one parameter tensor of a model.
type Param struct {
	// Name is the parameter's qualified name, e.g. "encoder.layer0.weight".
	Name string
	// Shape is the tensor's shape; an empty shape is a scalar.
	Shape []int64
	// Count is the number of elements. If zero it is computed from Shape.
	Count int64
	// Trainable tells whether the optimiser updates the parameter.
	Trainable bool
}

// Size returns p.Count, or the product of p.Shape when Count is zero.
func (p Param) Size() int64 {
	if p.Count != 0 {
		return p.Count
	}
	n := int64(1)
	for _, d := range p.Shape {
		n *= d
	}
	return n
}

// Totals sums parameter counts.
type Totals struct {
	Trainable int64 `json:"trainable"`
	Frozen    int64 `json:"frozen"`
	Total     int64 `json:"total"`
}

// SumParams returns the trainable, frozen and total element counts.
func SumParams(rows []Param) Totals {
	var t Totals
	for _, p := range rows {
		n := p.Size()
		if p.Trainable {
			t.Trainable += n
		} else {
			t.Frozen += n
		}
		t.Total += n
	}
	return t
}

// FormatParams writes rows as an aligned text table followed by the
// trainable, frozen and total counts, and returns the totals.
// Counts are printed with thousands separators.
func FormatParams(w io.Writer, rows []Param) (Totals, error) {
	header := [4]string{"name", "shape", "params", "trainable"}
	cells := make([][4]string, len(rows))
	width := [4]int{}
	for i := range header {
		width[i] = len(header[i])
	}
	for i, p := range rows {
		tr := "no"
		if p.Trainable {
			tr = "yes"
		}
		cells[i] = [4]string{p.Name, formatShape(p.Shape), Commas(p.Size()), tr}
		for j, c := range cells[i] {
			width[j] = max(width[j], len(c))
		}
	}
	tot := SumParams(rows)
	var b strings.Builder
	line := func(c [4]string) {
		// Left-align text columns, right-align the count.
		fmt.Fprintf(&b, "%-*s  %-*s  %*s  %s\n", width[0], c[0], width[1], c[1], width[2], c[2], c[3])
	}
	line(header)
	rule := strings.Repeat("-", width[0]+width[1]+width[2]+width[3]+6)
	b.WriteString(rule + "\n")
	for _, c := range cells {
		line(c)
	}
	b.WriteString(rule + "\n")
	nums := []string{Commas(tot.Trainable), Commas(tot.Frozen), Commas(tot.Total)}
	nw := 0
	for _, s := range nums {
		nw = max(nw, len(s))
	}
	fmt.Fprintf(&b, "trainable params: %*s\n", nw, nums[0])
	fmt.Fprintf(&b, "frozen params:    %*s\n", nw, nums[1])
	fmt.Fprintf(&b, "total params:     %*s\n", nw, nums[2])
	if _, err := io.WriteString(w, b.String()); err != nil {
		return tot, fmt.Errorf("runlog: write parameter table: %w", err)
	}
	return tot, nil
}

func formatShape(s []int64) string {
	parts := make([]string, len(s))
	for i, d := range s {
		parts[i] = strconv.FormatInt(d, 10)
	}
	return "[" + strings.Join(parts, " ") + "]"
}

// Commas formats n with a comma every three digits, e.g. 1234567 as
// "1,234,567".
func Commas(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	if neg {
		s = s[1:]
	}
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}
