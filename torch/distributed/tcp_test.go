package distributed_test

import (
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/seqtorch/seqtorch/torch/distributed"
	"github.com/seqtorch/seqtorch/torch/distributed/disttest"
)

// freePort returns a loopback port that was free a moment ago.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// requireLoopbackServer skips on a libtorch whose TCPStore server listens on every interface
// (1.13): tests open loopback ports only. make compat runs these on libtorch 2.6.
func requireLoopbackServer(t *testing.T) {
	t.Helper()
	disttest.RequireDist(t)
	if !distributed.ServerBindsHostOnly() {
		t.Skip("this libtorch's TCPStore server listens on every interface; tests stay on loopback (libtorch >= 2 runs this)")
	}
}

// TestTCPStoreRendezvous: the env:// rendezvous without torchrun's agent, rank 0 serving the
// store at MASTER_ADDR:MASTER_PORT.
func TestTCPStoreRendezvous(t *testing.T) {
	requireLoopbackServer(t)
	port := freePort(t)
	disttest.RequireAll(t, disttest.Run(t, 2, "collectives", time.Minute,
		"SEQTORCH_STORE_FILE=", fmt.Sprintf("MASTER_PORT=%d", port)))
}

// TestAgentStore: under torchrun, its agent serves the store and every rank is a client that
// keeps its keys under /worker/attempt_N. This test plays the agent.
func TestAgentStore(t *testing.T) {
	requireLoopbackServer(t)
	port := freePort(t)
	agent, err := distributed.NewTCPStore(distributed.TCPStoreOptions{Port: port, IsServer: true, Timeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	defer agent.Close()
	disttest.RequireAll(t, disttest.Run(t, 2, "collectives", time.Minute,
		"SEQTORCH_STORE_FILE=", fmt.Sprintf("MASTER_PORT=%d", port),
		"TORCHELASTIC_USE_AGENT_STORE=True", "TORCHELASTIC_RESTART_COUNT=3"))
	for r := range 2 {
		key := fmt.Sprintf("/worker/attempt_3/default_pg/seqtorch/heartbeat/%d", r)
		if n, err := agent.Add(key, 0); err != nil || n < 1 {
			t.Errorf("agent store key %s: %d, %v; want rank %d's heartbeat there", key, n, err, r)
		}
	}
}
