// Package disttest runs tests on real ranks: the test binary starts itself again, once per rank,
// under the variables seqtorch's launcher sets (a FileStore rendezvous in the test's temporary
// folder), and each rank runs a named worker function on the group [distributed.Init] made.
//
//	var workers = map[string]disttest.Worker{"sum": func(g *distributed.ProcessGroup) error {...}}
//	func TestMain(m *testing.M) { disttest.Main(m, workers) }
//	func TestSum(t *testing.T) { disttest.RequireAll(t, disttest.Run(t, 2, "sum", time.Minute)) }
package disttest

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/seqtorch/seqtorch/torch"
	"github.com/seqtorch/seqtorch/torch/distributed"
)

// Worker is one rank's part of a test; an error fails the rank.
type Worker func(g *distributed.ProcessGroup) error

const workerVar = "SEQTORCH_TEST_WORKER"

// Main is a test package's TestMain: in a rank it runs the worker and exits; otherwise it runs
// the tests.
func Main(m *testing.M, workers map[string]Worker) {
	if name := os.Getenv(workerVar); name != "" {
		os.Exit(runWorker(workers, name))
	}
	os.Exit(m.Run())
}

// runWorker joins the group and runs the worker; it fails a worker that leaks tensors.
func runWorker(workers map[string]Worker, name string) int {
	w, ok := workers[name]
	if !ok {
		fmt.Fprintf(os.Stderr, "no worker %q\n", name)
		return 1
	}
	if err := torch.Load(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	e, ok, err := distributed.ReadEnv(nil)
	if err != nil || !ok {
		fmt.Fprintln(os.Stderr, "worker environment:", ok, err)
		return 1
	}
	g, err := distributed.Init(e, distributed.InitOptions{Heartbeat: 200 * time.Millisecond})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer g.Close()
	start := torch.Live()
	if err := w(g); err != nil {
		fmt.Fprintf(os.Stderr, "rank %d: %v\n", g.Rank(), err)
		return 1
	}
	if n := torch.Live(); n != start {
		fmt.Fprintf(os.Stderr, "rank %d: %d tensors leaked\n", g.Rank(), n-start)
		return 1
	}
	return 0
}

// Result is one rank's exit: Err from exec (nil for status 0) and its output.
type Result struct {
	Err    error
	Output string
}

// Run runs worker on n ranks (RANK 0..n-1, WORLD_SIZE n, SEQTORCH_DIST_TIMEOUT 20s unless env
// overrides) and returns each rank's result. Every rank is killed after limit.
func Run(t testing.TB, n int, worker string, limit time.Duration, env ...string) []Result {
	t.Helper()
	RequireDist(t)
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	cmds := make([]*exec.Cmd, n)
	outs := make([]*bytes.Buffer, n)
	for r := range cmds {
		c := exec.CommandContext(ctx, os.Args[0], "-test.run=^$")
		c.Env = append(os.Environ(), workerVar+"="+worker, fmt.Sprintf("RANK=%d", r),
			fmt.Sprintf("WORLD_SIZE=%d", n), "MASTER_ADDR=127.0.0.1",
			"SEQTORCH_STORE_FILE="+filepath.Join(dir, "store"), "SEQTORCH_DIST_TIMEOUT=20s")
		c.Env = append(c.Env, env...)
		outs[r] = new(bytes.Buffer)
		c.Stdout, c.Stderr = outs[r], outs[r]
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		cmds[r] = c
	}
	res := make([]Result, n)
	for r, c := range cmds {
		res[r].Err = c.Wait()
		res[r].Output = strings.TrimSpace(outs[r].String())
	}
	return res
}

// RequireAll fails t for every rank that failed.
func RequireAll(t testing.TB, res []Result) {
	t.Helper()
	for r, x := range res {
		if x.Err != nil {
			t.Errorf("rank %d: %v\n%s", r, x.Err, x.Output)
		}
	}
}

// RequireDist fails t when the shim has no torch/distributed.
func RequireDist(t testing.TB) {
	t.Helper()
	if err := torch.Load(); err != nil {
		t.Fatal(err)
	}
	if !distributed.Available() {
		t.Fatal("the shim was built without torch/distributed: is libgloo-dev installed? (make libtorch)")
	}
}
