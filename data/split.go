package data

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"strings"
)

// SplitOptions sets the part sizes and seed of [SplitSMS]. The fractions are
// normalised by their sum; all zero means 70/15/15.
type SplitOptions struct {
	Train, Val, Test float64
	Seed             uint64
}

// SMSSplit holds the three parts of a split of the SMS data.
type SMSSplit struct {
	Train, Val, Test []SMS
}

// NormalizeText is the key used to group identical messages: lowercased, with
// runs of white space collapsed to one space and the ends trimmed.
func NormalizeText(s string) string {
	return strings.Join(strings.Fields(strings.ToLower(s)), " ")
}

// SplitSMS splits msgs into train, validation and test parts, stratified by
// label, such that messages with the same normalised text ([NormalizeText])
// always land in the same part (so duplicates cannot leak from train into
// test). Groups of identical texts get the majority label of their members
// (spam on a tie). Within each class the groups are shuffled with a PCG seeded
// by opt.Seed and assigned in order until each part reaches its share of the
// class's messages. The order of messages within a part follows the input.
func SplitSMS(msgs []SMS, opt SplitOptions) (SMSSplit, error) {
	fr := [3]float64{opt.Train, opt.Val, opt.Test}
	sum := 0.0
	for _, f := range fr {
		if f < 0 || math.IsNaN(f) || math.IsInf(f, 0) {
			return SMSSplit{}, fmt.Errorf("data: SplitSMS: want fractions >= 0, got %v/%v/%v", opt.Train, opt.Val, opt.Test)
		}
		sum += f
	}
	if sum == 0 {
		fr, sum = [3]float64{0.70, 0.15, 0.15}, 1
	}
	// Group by normalised text, in order of first appearance.
	type group struct {
		members []int
		spam    int
	}
	var groups []*group
	byText := map[string]*group{}
	for i, m := range msgs {
		k := NormalizeText(m.Text)
		g := byText[k]
		if g == nil {
			g = &group{}
			byText[k] = g
			groups = append(groups, g)
		}
		g.members = append(g.members, i)
		if m.Label == Spam {
			g.spam++
		}
	}
	part := make([]int, len(msgs))
	rng := rand.New(rand.NewPCG(opt.Seed, 0x5eed))
	for _, wantSpam := range []bool{false, true} {
		var gs []*group
		total := 0
		for _, g := range groups {
			if (2*g.spam >= len(g.members)) == wantSpam {
				gs = append(gs, g)
				total += len(g.members)
			}
		}
		rng.Shuffle(len(gs), func(i, j int) { gs[i], gs[j] = gs[j], gs[i] })
		cut1 := float64(total) * fr[0] / sum
		cut2 := float64(total) * (fr[0] + fr[1]) / sum
		done := 0
		for _, g := range gs {
			// Assign by the position of the group's midpoint, so a large
			// group does not systematically overshoot a part.
			mid := float64(done) + float64(len(g.members))/2
			p := 2
			switch {
			case mid <= cut1:
				p = 0
			case mid <= cut2:
				p = 1
			}
			for _, i := range g.members {
				part[i] = p
			}
			done += len(g.members)
		}
	}
	var s SMSSplit
	for i, m := range msgs {
		switch part[i] {
		case 0:
			s.Train = append(s.Train, m)
		case 1:
			s.Val = append(s.Val, m)
		default:
			s.Test = append(s.Test, m)
		}
	}
	return s, nil
}

// sortedKeys returns the keys of m in increasing order.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func sortStrings(s []string) { sort.Strings(s) }
