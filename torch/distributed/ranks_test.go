package distributed_test

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

// The tests start real ranks: this test binary, run again with SEQTORCH_TEST_WORKER naming a
// function of workers, under the variables seqtorch's launcher sets (a FileStore rendezvous).
var workers = map[string]func(g *distributed.ProcessGroup) error{}

func TestMain(m *testing.M) {
	if name := os.Getenv("SEQTORCH_TEST_WORKER"); name != "" {
		os.Exit(runWorker(name))
	}
	os.Exit(m.Run())
}

func runWorker(name string) int {
	if err := torch.Load(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	e, ok, err := distributed.ReadEnv(nil)
	if err != nil || !ok {
		fmt.Fprintln(os.Stderr, "worker env:", ok, err)
		return 1
	}
	g, err := distributed.Init(e, distributed.InitOptions{Heartbeat: 200 * time.Millisecond})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer g.Close()
	start := torch.Live()
	err = workers[name](g)
	if err != nil {
		fmt.Fprintf(os.Stderr, "rank %d: %v\n", g.Rank(), err)
		return 1
	}
	if n := torch.Live(); n != start {
		fmt.Fprintf(os.Stderr, "rank %d: %d tensors leaked\n", g.Rank(), n-start)
		return 1
	}
	return 0
}

// rankResult is one rank's exit.
type rankResult struct {
	err    error
	stderr string
}

// runRanks runs worker on n ranks and returns each rank's result; every rank is killed after
// limit.
func runRanks(t *testing.T, n int, worker string, limit time.Duration, env ...string) []rankResult {
	t.Helper()
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	cmds := make([]*exec.Cmd, n)
	outs := make([]*bytes.Buffer, n)
	for r := range cmds {
		c := exec.CommandContext(ctx, os.Args[0], "-test.run=^$")
		c.Env = append(os.Environ(), "SEQTORCH_TEST_WORKER="+worker, fmt.Sprintf("RANK=%d", r),
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
	res := make([]rankResult, n)
	for r, c := range cmds {
		res[r].err = c.Wait()
		res[r].stderr = strings.TrimSpace(outs[r].String())
	}
	return res
}

func requireAll(t *testing.T, res []rankResult) {
	t.Helper()
	for r, x := range res {
		if x.err != nil {
			t.Errorf("rank %d: %v\n%s", r, x.err, x.stderr)
		}
	}
}

func requireDist(t *testing.T) {
	t.Helper()
	if err := torch.Load(); err != nil {
		t.Fatal(err)
	}
	if !distributed.Available() {
		t.Fatal("the shim was built without torch/distributed: is libgloo-dev installed? (make libtorch)")
	}
}
