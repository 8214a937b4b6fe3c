package tsne

import (
	"cmp"
	"math"
	"slices"
)

// barnesHut holds sparse symmetric joint probabilities in CSR form.
type barnesHut struct {
	n, workers int
	theta2     float64
	rowPtr     []int
	col        []int32
	val        []float64
	neg        []float64 // repulsive force numerators, 2 per point
	z          []float64 // per-point partial sums of the kernel
	tree       quadtree
}

func newBarnesHut(data []float64, n, d int, perp, theta float64, workers int) *barnesHut {
	k := min(n-1, int(3*perp))
	nbr := make([]int32, n*k)
	cond := make([]float64, n*k)
	parallel(n, workers, func(lo, hi int) {
		h := &maxHeap{idx: make([]int32, 0, k), dist: make([]float64, 0, k)}
		dist := make([]float64, k)
		for i := lo; i < hi; i++ {
			h.idx, h.dist = h.idx[:0], h.dist[:0]
			xi := data[i*d : (i+1)*d]
			for j := range n {
				if j == i {
					continue
				}
				dj := sqDist(xi, data[j*d:(j+1)*d])
				if len(h.idx) < k {
					h.push(int32(j), dj)
				} else if dj < h.dist[0] {
					h.replaceTop(int32(j), dj)
				}
			}
			copy(nbr[i*k:], h.idx)
			copy(dist, h.dist)
			calibrate(dist, cond[i*k:(i+1)*k], perp)
		}
	})

	// Symmetrise: P_ij = p(j|i) + p(i|j), then normalise to sum 1.
	type entry struct {
		i, j int32
		v    float64
	}
	es := make([]entry, 0, 2*n*k)
	for i := range n {
		for m := range k {
			j := nbr[i*k+m]
			v := cond[i*k+m]
			es = append(es, entry{int32(i), j, v}, entry{j, int32(i), v})
		}
	}
	slices.SortFunc(es, func(a, b entry) int {
		if c := cmp.Compare(a.i, b.i); c != 0 {
			return c
		}
		return cmp.Compare(a.j, b.j)
	})
	b := &barnesHut{
		n: n, workers: workers, theta2: theta * theta,
		rowPtr: make([]int, n+1),
		neg:    make([]float64, 2*n),
		z:      make([]float64, n),
	}
	var sum float64
	for e := 0; e < len(es); {
		f := e + 1
		v := es[e].v
		for f < len(es) && es[f].i == es[e].i && es[f].j == es[e].j {
			v += es[f].v
			f++
		}
		b.col = append(b.col, es[e].j)
		b.val = append(b.val, v)
		b.rowPtr[es[e].i+1]++
		sum += v
		e = f
	}
	for i := range n {
		b.rowPtr[i+1] += b.rowPtr[i]
	}
	for m := range b.val {
		b.val[m] /= sum
	}
	return b
}

func (b *barnesHut) gradient(y, grad []float64, exag float64, wantCost bool) float64 {
	b.tree.build(y)
	parallel(b.n, b.workers, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			xi, yi := y[2*i], y[2*i+1]
			// Attractive forces over the sparse neighbours.
			var px, py float64
			for m := b.rowPtr[i]; m < b.rowPtr[i+1]; m++ {
				j := b.col[m]
				dx, dy := xi-y[2*j], yi-y[2*j+1]
				a := exag * b.val[m] / (1 + dx*dx + dy*dy)
				px += a * dx
				py += a * dy
			}
			grad[2*i], grad[2*i+1] = px, py
			// Repulsive forces from the quadtree.
			var acc force
			b.tree.visit(0, int32(i), xi, yi, b.theta2, &acc)
			b.neg[2*i], b.neg[2*i+1] = acc.fx, acc.fy
			b.z[i] = acc.z
		}
	})
	var z float64
	for _, v := range b.z {
		z += v
	}
	for k := range grad {
		grad[k] -= b.neg[k] / z
	}
	if !wantCost {
		return 0
	}
	var c float64
	for i := range b.n {
		for m := b.rowPtr[i]; m < b.rowPtr[i+1]; m++ {
			j := b.col[m]
			dx, dy := y[2*i]-y[2*j], y[2*i+1]-y[2*j+1]
			c += kl(b.val[m], 1/(1+dx*dx+dy*dy)/z)
		}
	}
	return c
}

// maxHeap keeps the k smallest distances seen, largest on top.
type maxHeap struct {
	idx  []int32
	dist []float64
}

func (h *maxHeap) push(i int32, d float64) {
	h.idx = append(h.idx, i)
	h.dist = append(h.dist, d)
	c := len(h.idx) - 1
	for c > 0 {
		p := (c - 1) / 2
		if h.dist[p] >= h.dist[c] {
			break
		}
		h.swap(p, c)
		c = p
	}
}

func (h *maxHeap) replaceTop(i int32, d float64) {
	h.idx[0], h.dist[0] = i, d
	n := len(h.idx)
	p := 0
	for {
		l, r, m := 2*p+1, 2*p+2, p
		if l < n && h.dist[l] > h.dist[m] {
			m = l
		}
		if r < n && h.dist[r] > h.dist[m] {
			m = r
		}
		if m == p {
			return
		}
		h.swap(p, m)
		p = m
	}
}

func (h *maxHeap) swap(a, b int) {
	h.idx[a], h.idx[b] = h.idx[b], h.idx[a]
	h.dist[a], h.dist[b] = h.dist[b], h.dist[a]
}

// maxDepth bounds the quadtree depth so that coincident points end up
// together in one leaf instead of splitting forever.
const maxDepth = 48

type qnode struct {
	cx, cy, hw float64 // box centre and half-width (boxes are square)
	sx, sy     float64 // centre of mass (sums while building)
	n          int32   // number of points below
	child      int32   // index of the first of four children, or -1
	head       int32   // first point of a leaf's list, or -1
	depth      int32
}

// quadtree is a point-region quadtree over a 2-D layout, rebuilt at
// every iteration and reusing its memory.
type quadtree struct {
	nodes []qnode
	next  []int32 // linked lists of points in leaves
	y     []float64
}

type force struct{ fx, fy, z float64 }

func (t *quadtree) build(y []float64) {
	n := len(y) / 2
	t.y = y
	if cap(t.next) < n {
		t.next = make([]int32, n)
	}
	t.next = t.next[:n]
	minX, minY := math.Inf(1), math.Inf(1)
	maxX, maxY := math.Inf(-1), math.Inf(-1)
	for i := range n {
		minX, maxX = min(minX, y[2*i]), max(maxX, y[2*i])
		minY, maxY = min(minY, y[2*i+1]), max(maxY, y[2*i+1])
	}
	hw := max(maxX-minX, maxY-minY)/2*(1+1e-9) + 1e-12
	t.nodes = append(t.nodes[:0], qnode{
		cx: (minX + maxX) / 2, cy: (minY + maxY) / 2, hw: hw,
		child: -1, head: -1,
	})
	for i := range n {
		t.insert(int32(i))
	}
	for k := range t.nodes {
		nd := &t.nodes[k]
		if nd.n > 0 {
			nd.sx /= float64(nd.n)
			nd.sy /= float64(nd.n)
		}
	}
}

func (t *quadtree) quadrant(ni int32, x, y float64) int32 {
	nd := &t.nodes[ni]
	q := nd.child
	if x >= nd.cx {
		q++
	}
	if y >= nd.cy {
		q += 2
	}
	return q
}

func (t *quadtree) insert(p int32) {
	x, y := t.y[2*p], t.y[2*p+1]
	ni := int32(0)
	for {
		nd := &t.nodes[ni]
		nd.n++
		nd.sx += x
		nd.sy += y
		if nd.child < 0 {
			if nd.head < 0 {
				nd.head = p
				t.next[p] = -1
				return
			}
			if nd.depth >= maxDepth {
				t.next[p] = nd.head
				nd.head = p
				return
			}
			// Split the leaf, which holds exactly one point, and move
			// that point into its child.
			old := nd.head
			nd.head = -1
			t.split(ni)
			ox, oy := t.y[2*old], t.y[2*old+1]
			c := &t.nodes[t.quadrant(ni, ox, oy)]
			c.n, c.sx, c.sy, c.head = 1, ox, oy, old
			t.next[old] = -1
		}
		ni = t.quadrant(ni, x, y)
	}
}

func (t *quadtree) split(ni int32) {
	nd := t.nodes[ni]
	h := nd.hw / 2
	first := int32(len(t.nodes))
	for q := range 4 {
		cx, cy := nd.cx-h, nd.cy-h
		if q&1 != 0 {
			cx = nd.cx + h
		}
		if q&2 != 0 {
			cy = nd.cy + h
		}
		t.nodes = append(t.nodes, qnode{cx: cx, cy: cy, hw: h, child: -1, head: -1, depth: nd.depth + 1})
	}
	t.nodes[ni].child = first
}

// visit accumulates the repulsive force on point i at (x, y).
func (t *quadtree) visit(ni, i int32, x, y, theta2 float64, acc *force) {
	nd := &t.nodes[ni]
	if nd.n == 0 {
		return
	}
	if nd.child < 0 {
		for j := nd.head; j >= 0; j = t.next[j] {
			if j == i {
				continue
			}
			dx, dy := x-t.y[2*j], y-t.y[2*j+1]
			q := 1 / (1 + dx*dx + dy*dy)
			acc.z += q
			q2 := q * q
			acc.fx += q2 * dx
			acc.fy += q2 * dy
		}
		return
	}
	dx, dy := x-nd.sx, y-nd.sy
	d2 := dx*dx + dy*dy
	w := 2 * nd.hw
	if w*w < theta2*d2 {
		q := 1 / (1 + d2)
		m := float64(nd.n) * q
		acc.z += m
		mq := m * q
		acc.fx += mq * dx
		acc.fy += mq * dy
		return
	}
	for c := nd.child; c < nd.child+4; c++ {
		t.visit(c, i, x, y, theta2, acc)
	}
}
