package distributed

import (
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"time"
)

// Env is where a process stands in a launch: what torchrun (or the training commands' --nproc
// launcher) sets in the environment.
type Env struct {
	Rank, WorldSize           int // RANK, WORLD_SIZE: this process among all
	LocalRank, LocalWorldSize int // LOCAL_RANK, LOCAL_WORLD_SIZE: among those of this machine
	MasterAddr                string
	MasterPort                int // 0: MASTER_PORT unset
	// AgentStore: TORCHELASTIC_USE_AGENT_STORE is True, so torchrun's agent serves the store
	// at MasterAddr:MasterPort and every rank is its client; RestartCount is
	// TORCHELASTIC_RESTART_COUNT.
	AgentStore   bool
	RestartCount int
	// StoreFile is SEQTORCH_STORE_FILE, the c10d FileStore path that seqtorch's launcher gives
	// its workers; "" under torchrun, whose workers meet at MasterAddr:MasterPort.
	StoreFile string
	// Timeout is SEQTORCH_DIST_TIMEOUT ([DefaultTimeout] when unset).
	Timeout time.Duration
}

// The launch variables: torchrun's and seqtorch's own.
const (
	EnvRank           = "RANK"
	EnvWorldSize      = "WORLD_SIZE"
	EnvLocalRank      = "LOCAL_RANK"
	EnvLocalWorldSize = "LOCAL_WORLD_SIZE"
	EnvMasterAddr     = "MASTER_ADDR"
	EnvMasterPort     = "MASTER_PORT"
	EnvAgentStore     = "TORCHELASTIC_USE_AGENT_STORE"
	EnvRestartCount   = "TORCHELASTIC_RESTART_COUNT"
	// EnvStoreFile names the FileStore the ranks meet through (seqtorch's launcher).
	EnvStoreFile = "SEQTORCH_STORE_FILE"
	// EnvTimeout is the collectives' timeout, a Go duration.
	EnvTimeout = "SEQTORCH_DIST_TIMEOUT"
)

// EnvVars are the variables [ReadEnv] reads; a launcher clears them before setting its own.
var EnvVars = []string{EnvRank, EnvWorldSize, EnvLocalRank, EnvLocalWorldSize, EnvMasterAddr, EnvMasterPort,
	EnvAgentStore, EnvRestartCount, EnvStoreFile, EnvTimeout}

// ReadEnv reads the launch variables through getenv (nil: os.Getenv); an empty variable counts
// as unset. ok is false when RANK and WORLD_SIZE are both unset: the process is not launched,
// and e is a world of one (rank 0 of 1). LOCAL_RANK and LOCAL_WORLD_SIZE default to a single
// machine's values. A malformed or inconsistent value is a one-line error naming the variable
// and what it should be.
func ReadEnv(getenv func(string) string) (e Env, ok bool, err error) {
	if getenv == nil {
		getenv = os.Getenv
	}
	e = Env{WorldSize: 1, LocalWorldSize: 1, Timeout: DefaultTimeout}
	rank, world := getenv(EnvRank), getenv(EnvWorldSize)
	switch {
	case rank == "" && world == "":
		return e, false, nil
	case rank == "":
		return e, false, fmt.Errorf("%s=%s is set but %s is not: a worker needs both (neither, to run alone)", EnvWorldSize, world, EnvRank)
	case world == "":
		return e, false, fmt.Errorf("%s=%s is set but %s is not: a worker needs both (neither, to run alone)", EnvRank, rank, EnvWorldSize)
	}
	if e.WorldSize, err = envInt(EnvWorldSize, world, 1, 1<<30, "a positive integer"); err != nil {
		return e, false, err
	}
	if e.Rank, err = envInt(EnvRank, rank, 0, e.WorldSize-1, fmt.Sprintf("an integer from 0 to %d (below %s=%d)", e.WorldSize-1, EnvWorldSize, e.WorldSize)); err != nil {
		return e, false, err
	}
	e.LocalWorldSize = e.WorldSize
	if v := getenv(EnvLocalWorldSize); v != "" {
		if e.LocalWorldSize, err = envInt(EnvLocalWorldSize, v, 1, e.WorldSize, fmt.Sprintf("an integer from 1 to %s=%d", EnvWorldSize, e.WorldSize)); err != nil {
			return e, false, err
		}
	}
	e.LocalRank = e.Rank % e.LocalWorldSize
	if v := getenv(EnvLocalRank); v != "" {
		if e.LocalRank, err = envInt(EnvLocalRank, v, 0, e.LocalWorldSize-1, fmt.Sprintf("an integer from 0 to %d (below %s=%d)", e.LocalWorldSize-1, EnvLocalWorldSize, e.LocalWorldSize)); err != nil {
			return e, false, err
		}
	}
	e.MasterAddr = getenv(EnvMasterAddr)
	if v := getenv(EnvMasterPort); v != "" {
		if e.MasterPort, err = envInt(EnvMasterPort, v, 1, 65535, "a TCP port from 1 to 65535"); err != nil {
			return e, false, err
		}
	}
	switch v := getenv(EnvAgentStore); strings.ToLower(v) {
	case "", "false", "0":
	case "true", "1":
		e.AgentStore = true
		if v := getenv(EnvRestartCount); v != "" {
			if e.RestartCount, err = envInt(EnvRestartCount, v, 0, 1<<30, "a non-negative integer"); err != nil {
				return e, false, err
			}
		}
	default:
		return e, false, fmt.Errorf("%s=%s: want True or False", EnvAgentStore, v)
	}
	e.StoreFile = getenv(EnvStoreFile)
	if v := getenv(EnvTimeout); v != "" {
		if e.Timeout, err = time.ParseDuration(v); err != nil || e.Timeout <= 0 {
			return e, false, fmt.Errorf("%s=%s: want a positive Go duration such as 5m or 90s", EnvTimeout, v)
		}
	}
	if e.WorldSize > 1 && e.StoreFile == "" {
		switch {
		case e.MasterPort == 0:
			return e, false, fmt.Errorf("%s is unset and so is %s: rank %d of %d needs one of them to meet the other ranks", EnvMasterPort, EnvStoreFile, e.Rank, e.WorldSize)
		case e.MasterAddr == "":
			return e, false, fmt.Errorf("%s is unset (and %s too): rank %d of %d needs the address of rank 0's store", EnvMasterAddr, EnvStoreFile, e.Rank, e.WorldSize)
		}
	}
	return e, true, nil
}

// envInt parses the value v of the variable name as an integer from lo to hi.
func envInt(name, v string, lo, hi int, want string) (int, error) {
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		return 0, fmt.Errorf("%s=%s: want %s", name, v, want)
	}
	return n, nil
}

// IsLoopback reports whether addr (a host name or an IP address) is this machine's loopback.
func IsLoopback(addr string) bool {
	if addr == "localhost" {
		return true
	}
	ip := net.ParseIP(addr)
	return ip != nil && ip.IsLoopback()
}

// InitOptions configure [Init].
type InitOptions struct {
	// Backend is "gloo" (default) or "nccl".
	Backend string
	// Timeout bounds the rendezvous and every collective (0: Env.Timeout, else DefaultTimeout).
	Timeout time.Duration
	// Warn receives warnings (a store reachable from other machines); nil: os.Stderr.
	Warn io.Writer
	// Heartbeat is the heartbeat's period (0: 1 s).
	Heartbeat time.Duration
}

// Init joins the process group that e describes (torch.distributed.init_process_group with the
// env:// method): it opens the store (a FileStore on e.StoreFile; else torchrun's agent store;
// else a TCP store that rank 0 serves at MasterAddr:MasterPort), wraps it in PrefixStore
// "default_pg" as PyTorch does, creates the group and starts its heartbeat. Close the group to
// release them all.
func Init(e Env, o InitOptions) (g *ProcessGroup, err error) {
	timeout := o.Timeout
	if timeout <= 0 {
		timeout = orDefault(e.Timeout)
	}
	if e.MasterAddr == "" {
		e.MasterAddr = "127.0.0.1"
	}
	beat := o.Heartbeat
	if beat <= 0 {
		beat = time.Second
	}
	warn := o.Warn
	if warn == nil {
		warn = os.Stderr
	}
	var closers []func()
	defer func() {
		if err != nil {
			for i := len(closers) - 1; i >= 0; i-- {
				closers[i]()
			}
		}
	}()
	host := -1 // the rank that serves the store
	// open connects to the job's store (server: also serve it) and returns it under the
	// "default_pg" prefix, as PyTorch does; closers gets everything it opened, so an error here
	// or later in Init releases it.
	open := func(server bool, t time.Duration) (*Store, error) {
		var base *Store
		var err error
		switch {
		case e.StoreFile != "":
			base, err = NewFileStore(e.StoreFile, -1, t)
		case e.AgentStore:
			var agent *Store
			if agent, err = NewTCPStore(TCPStoreOptions{Host: e.MasterAddr, Port: e.MasterPort, Timeout: t}); err != nil {
				return nil, err
			}
			closers = append(closers, agent.Close)
			base, err = NewPrefixStore(fmt.Sprintf("/worker/attempt_%d", e.RestartCount), agent)
		default:
			base, err = NewTCPStore(TCPStoreOptions{Host: e.MasterAddr, Port: e.MasterPort, IsServer: server,
				WorldSize: e.WorldSize, Timeout: t})
		}
		if err != nil {
			return nil, err
		}
		closers = append(closers, base.Close)
		s, err := NewPrefixStore("default_pg", base)
		if err != nil {
			return nil, err
		}
		closers = append(closers, s.Close)
		return s, nil
	}
	if e.StoreFile == "" && !e.AgentStore {
		host = 0
		if e.Rank == 0 {
			if !IsLoopback(e.MasterAddr) {
				fmt.Fprintf(warn, "warning: the c10d store listens on %s:%d, reachable from other machines; it has no authentication\n", e.MasterAddr, e.MasterPort)
			} else if !ServerBindsHostOnly() {
				fmt.Fprintf(warn, "warning: this libtorch's c10d TCPStore listens on port %d of every interface, not only %s; it has no authentication\n", e.MasterPort, e.MasterAddr)
			}
		}
	}
	store, err := open(e.Rank == 0, timeout)
	if err != nil {
		if e.Rank != 0 && host == 0 {
			err = fmt.Errorf("rank 0's store did not answer within %v (the rendezvous timeout): %w", timeout, err)
		}
		return nil, err
	}
	// The heartbeat's own connection, with a short timeout: diagnosing must not wait minutes.
	hbStore, err := open(false, 5*time.Second)
	if err != nil {
		return nil, err
	}
	hs := startHealth(hbStore, e.Rank, e.WorldSize, host, beat)
	closers = append(closers, hs.close)

	switch o.Backend {
	case "", "gloo":
		gopt := GlooOptions{Timeout: timeout}
		if iface := os.Getenv("GLOO_SOCKET_IFNAME"); iface != "" {
			gopt.Interface = iface
		} else if IsLoopback(e.MasterAddr) {
			gopt.Host = "127.0.0.1"
		}
		g, err = NewProcessGroupGloo(store, e.Rank, e.WorldSize, gopt)
	case "nccl":
		g, err = NewProcessGroupNCCL(store, e.Rank, e.WorldSize, timeout)
	default:
		return nil, fmt.Errorf("distributed: backend %q: want gloo or nccl", o.Backend)
	}
	if err != nil {
		if missing := absentRanks(hbStore, e.Rank, e.WorldSize); missing != "" {
			err = fmt.Errorf("%s did not join within %v (the rendezvous timeout): %w", missing, timeout, err)
		}
		return nil, err
	}
	g.health = hs
	g.owned = closers
	return g, nil
}

// absentRanks names the ranks other than self whose heartbeat never reached the store (they
// never joined), as "rank 1" or "ranks 1, 3"; "" when every rank joined or the store cannot
// tell.
func absentRanks(hb *Store, self, size int) string {
	var missing []string
	for r := range size {
		if r == self {
			continue
		}
		n, err := hb.Add(heartbeatKey(r), 0)
		if err != nil {
			return ""
		}
		if n == 0 {
			missing = append(missing, fmt.Sprint(r))
		}
	}
	switch len(missing) {
	case 0:
		return ""
	case 1:
		return "rank " + missing[0]
	}
	return "ranks " + strings.Join(missing, ", ")
}
