package torch

import (
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
)

// waitLive runs the garbage collector until Live() is at most want (the collector frees
// unreachable tensors through cleanups, which run on another goroutine). It reports whether
// that happened within a generous deadline; it does not time anything.
func waitLive(want int64) bool {
	deadline := time.Now().Add(30 * time.Second)
	for Live() > want {
		if time.Now().After(deadline) {
			return false
		}
		runtime.GC()
		time.Sleep(time.Millisecond)
	}
	return true
}

// TestUnscopedLoopBounded: a loop that never closes its tensors and opens no scope, as
// PyTorch code is written, stays bounded: the package runs the collector when the storage of
// unscoped tensors passes its goal, and the collected tensors are freed.
func TestUnscopedLoopBounded(t *testing.T) {
	const budget = 8 << 20
	prev := SetMemoryBudget(budget)
	defer SetMemoryBudget(prev)
	runtime.GC()
	if !waitLive(Live()) {
		t.Fatal("no progress")
	}
	start := Live()
	before := ReadMemStats()
	const mib = 1 << 20
	var peak int64
	for range 1000 { // 1000 MiB allocated in all, 1 MiB at a time
		x := Zeros([]int64{mib / 4}) // float32
		y := x.AddScalar(1)
		if y.Numel() != mib/4 {
			t.Fatal("wrong size")
		}
		peak = max(peak, ReadMemStats().UnscopedBytes-before.UnscopedBytes)
	}
	after := ReadMemStats()
	t.Logf("peak %d MiB counted, %d collections", peak/mib, after.Collections-before.Collections)
	if after.Collections == before.Collections {
		t.Errorf("no collection ran for 1000 MiB of unclosed tensors")
	}
	// The goal is the survivors plus the budget; the cleanups of a collection run
	// concurrently with the loop, so allow a wide margin, far below the 1000 MiB made.
	if peak > 32*budget {
		t.Errorf("unscoped storage peaked at %d MiB with a %d MiB budget", peak/mib, budget/mib)
	}
	if after.Collected <= before.Collected {
		t.Errorf("Collected did not grow: %d -> %d", before.Collected, after.Collected)
	}
	if !waitLive(start) {
		t.Errorf("Live() = %d, want %d after collecting", Live(), start)
	}
}

// TestMemStatsAccount: an unscoped tensor counts its storage until closed; a scoped one is
// never counted; Keep counts it from then on.
func TestMemStatsAccount(t *testing.T) {
	checkLive(t)
	base := ReadMemStats().UnscopedBytes
	x := Zeros([]int64{1000}, WithDType(Float64))
	if got := ReadMemStats().UnscopedBytes - base; got != 8000 {
		t.Errorf("unscoped tensor counted %d bytes, want 8000", got)
	}
	x.Close()
	if got := ReadMemStats().UnscopedBytes - base; got != 0 {
		t.Errorf("after Close: %d bytes counted, want 0", got)
	}
	s := NewScope()
	y := Zeros([]int64{100})
	if got := ReadMemStats().UnscopedBytes - base; got != 0 {
		t.Errorf("scoped tensor counted: %d bytes", got)
	}
	s.Keep(y)
	if got := ReadMemStats().UnscopedBytes - base; got != 400 {
		t.Errorf("kept tensor counted %d bytes, want 400", got)
	}
	s.Close()
	y.Close()
	if got := ReadMemStats().UnscopedBytes - base; got != 0 {
		t.Errorf("at the end: %d bytes counted, want 0", got)
	}
}

// TestClosedByScopeMessage: using a tensor that its scope freed names where the scope was
// opened.
func TestClosedByScopeMessage(t *testing.T) {
	checkLive(t)
	s := NewScope()
	_, file, line, _ := runtime.Caller(0)
	x := Zeros([]int64{2})
	s.Close()
	err := Try(func() { x.Sum() })
	want := filepath.Base(file) + ":" + strconv.Itoa(line-1)
	if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "Keep") {
		t.Errorf("error %v does not name the scope opened at %s", err, want)
	}
	y := Zeros([]int64{2})
	y.Close()
	err = Try(func() { y.Sum() })
	if err == nil || strings.Contains(err.Error(), "Scope") {
		t.Errorf("a tensor closed by Close: error %v", err)
	}
}

// physicalCores counts distinct (package, core) pairs in sysfs, as PyTorch's default thread
// count does (0 when sysfs has no topology).
func physicalCores() int {
	cores := map[string]bool{}
	for cpu := 0; ; cpu++ {
		dir := "/sys/devices/system/cpu/cpu" + strconv.Itoa(cpu) + "/topology/"
		p, err1 := os.ReadFile(dir + "physical_package_id")
		c, err2 := os.ReadFile(dir + "core_id")
		if err1 != nil || err2 != nil {
			break
		}
		cores[strings.TrimSpace(string(p))+"/"+strings.TrimSpace(string(c))] = true
	}
	return len(cores)
}

// TestNumThreads: the default is the physical core count (as PyTorch's), and OpenBLAS
// follows SetNumThreads unless OPENBLAS_NUM_THREADS chose its count.
func TestNumThreads(t *testing.T) {
	n := NumThreads()
	if os.Getenv("OMP_NUM_THREADS") == "" && os.Getenv("MKL_NUM_THREADS") == "" && runtime.NumCPU() == len(affinityCPUs()) {
		if want := physicalCores(); want > 0 && n != want {
			t.Errorf("NumThreads() = %d by default, want the %d physical cores", n, want)
		}
	}
	defer func() {
		if err := SetNumThreads(n); err != nil {
			t.Error(err)
		}
	}()
	for _, k := range []int{1, 2} {
		if err := SetNumThreads(k); err != nil {
			t.Fatal(err)
		}
		if got := NumThreads(); got != k {
			t.Errorf("NumThreads() = %d after SetNumThreads(%d)", got, k)
		}
		if strings.Contains(BLAS(), "openblas") {
			want := k
			if env, err := strconv.Atoi(os.Getenv("OPENBLAS_NUM_THREADS")); err == nil && env > 0 {
				want = env // the environment's choice stands
			}
			if got := BLASThreads(); got != want {
				t.Errorf("BLASThreads() = %d after SetNumThreads(%d), want %d (OPENBLAS_NUM_THREADS=%q)", got, k, want, os.Getenv("OPENBLAS_NUM_THREADS"))
			}
		}
	}
}

// affinityCPUs lists the CPUs sysfs knows (the test checks the default only when the process
// may run on all of them).
func affinityCPUs() []string {
	m, _ := filepath.Glob("/sys/devices/system/cpu/cpu[0-9]*")
	return m
}

// TestPace: the budget in use doubles while the last eight collections took more than a
// tenth of the time they spanned, up to 8 times the budget set, and halves back, not below
// it, when they took less than a fortieth; two collections close together among rare ones
// (as within one training step) do not stretch it.
func TestPace(t *testing.T) {
	const mib = 1 << 20
	prev := SetMemoryBudget(16 * mib)
	defer SetMemoryBudget(prev)
	saved := gcHistory
	defer func() { gcHistory = saved }()
	ms := time.Millisecond
	for _, c := range []struct {
		name  string
		start int64
		took  time.Duration
		gaps  []time.Duration // from one collection's start to the next's, cycled
		want  int64
	}{
		{"frequent: doubles", 16 * mib, 5 * ms, []time.Duration{40 * ms}, 32 * mib},
		{"frequent at the cap: stays", 128 * mib, 5 * ms, []time.Duration{40 * ms}, 128 * mib},
		{"in between: stays", 32 * mib, 5 * ms, []time.Duration{100 * ms}, 32 * mib},
		{"rare: halves", 64 * mib, 5 * ms, []time.Duration{300 * ms}, 32 * mib},
		{"rare at the budget: stays", 16 * mib, 5 * ms, []time.Duration{300 * ms}, 16 * mib},
		{"pairs within a step: stays", 16 * mib, 5 * ms, []time.Duration{15 * ms, 140 * ms}, 16 * mib},
	} {
		gcHistory = saved
		gcHistory.n = 0
		start := time.Now()
		for i := range gcWindow {
			gcPaced.Store(c.start) // judge the last collection alone
			pace(start, c.took)
			start = start.Add(c.gaps[i%len(c.gaps)])
		}
		if got := gcPaced.Load(); got != c.want {
			t.Errorf("%s: budget in use %d MiB, want %d MiB", c.name, got/mib, c.want/mib)
		}
	}
}
