package serve

import (
	"fmt"
	"io"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// window is how many recent observations a latency summary's quantiles are computed over.
const window = 4096

// batchBuckets are the upper bounds of the batch-size histogram.
var batchBuckets = []float64{1, 2, 4, 8, 16, 32, 64, 128, 256}

// quantiles are those a summary reports.
var quantiles = []float64{0.5, 0.9, 0.99}

// summary is a Prometheus summary: a count and sum over all observations and quantiles over
// the last [window] of them.
type summary struct {
	count  uint64
	sum    float64
	recent []float64 // ring buffer
	next   int
}

func (s *summary) observe(v float64) {
	s.count++
	s.sum += v
	if len(s.recent) < window {
		s.recent = append(s.recent, v)
		return
	}
	s.recent[s.next] = v
	s.next = (s.next + 1) % window
}

// quantile returns the q-quantile of the recent observations (nearest rank), NaN without any.
func quantile(sorted []float64, q float64) float64 {
	if len(sorted) == 0 {
		return math.NaN()
	}
	i := int(math.Ceil(q*float64(len(sorted)))) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

// requestKey identifies a request counter.
type requestKey struct {
	route string
	code  int
}

// Metrics counts what a server did, for GET /metrics (Prometheus text format 0.0.4). It is
// safe for concurrent use.
//
// Exposed, with namespace ns:
//
//	ns_http_requests_total{route,code}          counter: requests answered
//	ns_http_request_duration_seconds{route}     summary: latency, quantiles 0.5/0.9/0.99 over the last 4096
//	ns_http_requests_in_flight                  gauge: requests being handled
//	ns_batch_size                               histogram: messages (or pairs) per forward pass
//	ns_batch_duration_seconds                   summary: time of one forward pass
//	ns_items_total                              counter: messages (or pairs) run through the model
//	ns_batch_errors_total                       counter: forward passes that failed
type Metrics struct {
	ns string

	mu        sync.Mutex
	requests  map[requestKey]uint64
	latency   map[string]*summary
	inFlight  int64
	batchHist []uint64 // per bucket (not cumulative), plus +Inf at the end
	batchSum  float64
	batchN    uint64
	batchTime summary
	items     uint64
	batchErrs uint64
}

// NewMetrics returns empty metrics whose names start with namespace + "_".
func NewMetrics(namespace string) *Metrics {
	return &Metrics{ns: namespace, requests: map[requestKey]uint64{}, latency: map[string]*summary{},
		batchHist: make([]uint64, len(batchBuckets)+1)}
}

// RequestStarted counts a request in flight; RequestDone ends it.
func (m *Metrics) RequestStarted() {
	m.mu.Lock()
	m.inFlight++
	m.mu.Unlock()
}

// RequestDone records a finished request of route with its status code and latency.
func (m *Metrics) RequestDone(route string, code int, d time.Duration) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.inFlight--
	m.requests[requestKey{route, code}]++
	s := m.latency[route]
	if s == nil {
		s = &summary{}
		m.latency[route] = s
	}
	s.observe(d.Seconds())
}

// BatchDone records one forward pass over n items that took d (failed: err != nil).
func (m *Metrics) BatchDone(n int, d time.Duration, err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	i := sort.SearchFloat64s(batchBuckets, float64(n))
	m.batchHist[i]++
	m.batchSum += float64(n)
	m.batchN++
	m.batchTime.observe(d.Seconds())
	m.items += uint64(n)
	if err != nil {
		m.batchErrs++
	}
}

// Requests returns how many requests of route were answered with code.
func (m *Metrics) Requests(route string, code int) uint64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.requests[requestKey{route, code}]
}

// Batches returns the number of forward passes and the items they ran.
func (m *Metrics) Batches() (passes, items uint64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.batchN, m.items
}

func fmtFloat(v float64) string {
	switch {
	case math.IsNaN(v):
		return "NaN"
	case math.IsInf(v, 1):
		return "+Inf"
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}

// labelValue escapes a Prometheus label value.
func labelValue(s string) string {
	return strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(s)
}

func writeSummary(w io.Writer, name, labels string, s *summary) {
	sorted := slices.Clone(s.recent)
	slices.Sort(sorted)
	sep := ""
	if labels != "" {
		sep = ","
	}
	for _, q := range quantiles {
		fmt.Fprintf(w, "%s{%s%squantile=\"%s\"} %s\n", name, labels, sep, fmtFloat(q), fmtFloat(quantile(sorted, q)))
	}
	braces := ""
	if labels != "" {
		braces = "{" + labels + "}"
	}
	fmt.Fprintf(w, "%s_sum%s %s\n%s_count%s %d\n", name, braces, fmtFloat(s.sum), name, braces, s.count)
}

// WriteTo writes the metrics in Prometheus text format.
func (m *Metrics) WriteTo(w io.Writer) (int64, error) {
	var b strings.Builder
	m.mu.Lock()
	n := m.ns + "_"

	fmt.Fprintf(&b, "# HELP %shttp_requests_total Requests answered, by route and status code.\n# TYPE %shttp_requests_total counter\n", n, n)
	keys := make([]requestKey, 0, len(m.requests))
	for k := range m.requests {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b requestKey) int {
		if c := strings.Compare(a.route, b.route); c != 0 {
			return c
		}
		return a.code - b.code
	})
	for _, k := range keys {
		fmt.Fprintf(&b, "%shttp_requests_total{route=\"%s\",code=\"%d\"} %d\n", n, labelValue(k.route), k.code, m.requests[k])
	}

	fmt.Fprintf(&b, "# HELP %shttp_request_duration_seconds Request latency; quantiles over the last %d requests of the route.\n# TYPE %shttp_request_duration_seconds summary\n", n, window, n)
	routes := make([]string, 0, len(m.latency))
	for r := range m.latency {
		routes = append(routes, r)
	}
	slices.Sort(routes)
	for _, r := range routes {
		writeSummary(&b, n+"http_request_duration_seconds", fmt.Sprintf("route=\"%s\"", labelValue(r)), m.latency[r])
	}

	fmt.Fprintf(&b, "# HELP %shttp_requests_in_flight Requests being handled.\n# TYPE %shttp_requests_in_flight gauge\n%shttp_requests_in_flight %d\n", n, n, n, m.inFlight)

	fmt.Fprintf(&b, "# HELP %sbatch_size Messages (or pairs) per forward pass.\n# TYPE %sbatch_size histogram\n", n, n)
	var cum uint64
	for i, le := range batchBuckets {
		cum += m.batchHist[i]
		fmt.Fprintf(&b, "%sbatch_size_bucket{le=\"%s\"} %d\n", n, fmtFloat(le), cum)
	}
	cum += m.batchHist[len(batchBuckets)]
	fmt.Fprintf(&b, "%sbatch_size_bucket{le=\"+Inf\"} %d\n%sbatch_size_sum %s\n%sbatch_size_count %d\n", n, cum, n, fmtFloat(m.batchSum), n, m.batchN)

	fmt.Fprintf(&b, "# HELP %sbatch_duration_seconds Time of one forward pass; quantiles over the last %d passes.\n# TYPE %sbatch_duration_seconds summary\n", n, window, n)
	writeSummary(&b, n+"batch_duration_seconds", "", &m.batchTime)

	fmt.Fprintf(&b, "# HELP %sitems_total Messages (or pairs) run through the model.\n# TYPE %sitems_total counter\n%sitems_total %d\n", n, n, n, m.items)
	fmt.Fprintf(&b, "# HELP %sbatch_errors_total Forward passes that failed.\n# TYPE %sbatch_errors_total counter\n%sbatch_errors_total %d\n", n, n, n, m.batchErrs)
	m.mu.Unlock()
	k, err := io.WriteString(w, b.String())
	return int64(k), err
}
