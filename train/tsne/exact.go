package tsne

// exact holds the dense symmetric joint probabilities P.
type exact struct {
	n, workers int
	p          []float64 // n×n, row-major, zero diagonal, sums to 1
	z          []float64 // per-row partial sums of the Student-t kernel
	neg        []float64 // repulsive force numerators, 2 per point
}

func newExact(data []float64, n, d int, perp float64, workers int) *exact {
	cond := make([]float64, n*n)
	parallel(n, workers, func(lo, hi int) {
		dist := make([]float64, n-1)
		prob := make([]float64, n-1)
		for i := lo; i < hi; i++ {
			xi := data[i*d : (i+1)*d]
			k := 0
			for j := range n {
				if j != i {
					dist[k] = sqDist(xi, data[j*d:(j+1)*d])
					k++
				}
			}
			calibrate(dist, prob, perp)
			k = 0
			for j := range n {
				if j != i {
					cond[i*n+j] = prob[k]
					k++
				}
			}
		}
	})
	// Symmetrise: P = (P + Pᵀ) / sum.
	p := make([]float64, n*n)
	var sum float64
	for i := range n {
		for j := range n {
			v := cond[i*n+j] + cond[j*n+i]
			p[i*n+j] = v
			sum += v
		}
	}
	for i := range p {
		p[i] /= sum
	}
	return &exact{n: n, workers: workers, p: p, z: make([]float64, n), neg: make([]float64, 2*n)}
}

func (e *exact) gradient(y, grad []float64, exag float64, wantCost bool) float64 {
	n := e.n
	// grad_i = Σ_j exag·P_ij·q_ij·(y_i−y_j) − (1/Z) Σ_j q_ij²·(y_i−y_j),
	// with q_ij = 1/(1+|y_i−y_j|²) and Z = Σ_{i≠j} q_ij.
	neg := e.neg
	parallel(n, e.workers, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			xi, yi := y[2*i], y[2*i+1]
			row := e.p[i*n : (i+1)*n]
			var px, py, nx, ny, z float64
			for j := range n {
				if j == i {
					continue
				}
				dx, dy := xi-y[2*j], yi-y[2*j+1]
				q := 1 / (1 + dx*dx + dy*dy)
				z += q
				a := exag * row[j] * q
				px += a * dx
				py += a * dy
				q2 := q * q
				nx += q2 * dx
				ny += q2 * dy
			}
			grad[2*i], grad[2*i+1] = px, py
			neg[2*i], neg[2*i+1] = nx, ny
			e.z[i] = z
		}
	})
	var z float64
	for _, v := range e.z {
		z += v
	}
	for k := range grad {
		grad[k] -= neg[k] / z
	}
	if !wantCost {
		return 0
	}
	var c float64
	for i := range n {
		for j := range n {
			if j == i {
				continue
			}
			dx, dy := y[2*i]-y[2*j], y[2*i+1]-y[2*j+1]
			c += kl(e.p[i*n+j], 1/(1+dx*dx+dy*dy)/z)
		}
	}
	return c
}
