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

// Env is where a process stands in a launch: what torchrun (or seqtorch's --nproc launcher)
// sets in the environment.
type Env struct {
	Rank, WorldSize           int    // RANK, WORLD_SIZE
	LocalRank, LocalWorldSize int    // LOCAL_RANK, LOCAL_WORLD_SIZE (default: Rank, WorldSize)
	MasterAddr                string // MASTER_ADDR (default 127.0.0.1)
	MasterPort                int    // MASTER_PORT (0: unset)
	// AgentStore: TORCHELASTIC_USE_AGENT_STORE is True, so torchrun's agent serves the store
	// at MasterAddr:MasterPort and every rank is its client; RestartCount is
	// TORCHELASTIC_RESTART_COUNT.
	AgentStore   bool
	RestartCount int
	// StoreFile is SEQTORCH_STORE_FILE: the ranks rendezvous through a FileStore there instead
	// of a TCP store (seqtorch's local launcher sets it).
	StoreFile string
	// Timeout is SEQTORCH_DIST_TIMEOUT, a Go duration (0: unset).
	Timeout time.Duration
}

// EnvVars are the variables [ReadEnv] reads; a launcher clears them before setting its own.
var EnvVars = []string{"RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT",
	"TORCHELASTIC_USE_AGENT_STORE", "TORCHELASTIC_RESTART_COUNT", "SEQTORCH_STORE_FILE", "SEQTORCH_DIST_TIMEOUT"}

// ReadEnv reads the launch variables through getenv (nil: os.Getenv). ok is false when neither
// RANK nor WORLD_SIZE is set (not launched); a malformed or inconsistent value is an error
// naming the variable.
func ReadEnv(getenv func(string) string) (e Env, ok bool, err error) {
	if getenv == nil {
		getenv = os.Getenv
	}
	rank, world := getenv("RANK"), getenv("WORLD_SIZE")
	if rank == "" && world == "" {
		return Env{}, false, nil
	}
	num := func(name string, def int) (int, error) {
		s := getenv(name)
		if s == "" {
			if def >= 0 {
				return def, nil
			}
			return 0, fmt.Errorf("%s is not set (RANK and WORLD_SIZE go together)", name)
		}
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 0 {
			return 0, fmt.Errorf("%s=%q: want a non-negative integer", name, s)
		}
		return n, nil
	}
	if e.Rank, err = num("RANK", -1); err != nil {
		return Env{}, false, err
	}
	if e.WorldSize, err = num("WORLD_SIZE", -1); err != nil {
		return Env{}, false, err
	}
	if e.WorldSize < 1 || e.Rank >= e.WorldSize {
		return Env{}, false, fmt.Errorf("RANK=%d with WORLD_SIZE=%d: want 0 <= RANK < WORLD_SIZE", e.Rank, e.WorldSize)
	}
	if e.LocalRank, err = num("LOCAL_RANK", e.Rank); err != nil {
		return Env{}, false, err
	}
	if e.LocalWorldSize, err = num("LOCAL_WORLD_SIZE", e.WorldSize); err != nil {
		return Env{}, false, err
	}
	if e.LocalRank >= e.LocalWorldSize {
		return Env{}, false, fmt.Errorf("LOCAL_RANK=%d with LOCAL_WORLD_SIZE=%d: want LOCAL_RANK < LOCAL_WORLD_SIZE", e.LocalRank, e.LocalWorldSize)
	}
	if e.MasterPort, err = num("MASTER_PORT", 0); err != nil {
		return Env{}, false, err
	}
	if e.MasterPort > 65535 {
		return Env{}, false, fmt.Errorf("MASTER_PORT=%d: want a port, 1..65535", e.MasterPort)
	}
	e.MasterAddr = getenv("MASTER_ADDR")
	if e.MasterAddr == "" {
		e.MasterAddr = "127.0.0.1"
	}
	switch v := getenv("TORCHELASTIC_USE_AGENT_STORE"); strings.ToLower(v) {
	case "", "false", "0":
	case "true", "1":
		e.AgentStore = true
		if e.RestartCount, err = num("TORCHELASTIC_RESTART_COUNT", 0); err != nil {
			return Env{}, false, err
		}
	default:
		return Env{}, false, fmt.Errorf("TORCHELASTIC_USE_AGENT_STORE=%q: want True or False", v)
	}
	e.StoreFile = getenv("SEQTORCH_STORE_FILE")
	if s := getenv("SEQTORCH_DIST_TIMEOUT"); s != "" {
		if e.Timeout, err = time.ParseDuration(s); err != nil || e.Timeout <= 0 {
			return Env{}, false, fmt.Errorf("SEQTORCH_DIST_TIMEOUT=%q: want a positive Go duration such as 5m", s)
		}
	}
	if e.StoreFile == "" && !e.AgentStore && e.MasterPort == 0 && e.WorldSize > 1 {
		return Env{}, false, fmt.Errorf("MASTER_PORT is not set: the ranks need the store's port (or SEQTORCH_STORE_FILE)")
	}
	return e, true, nil
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
	open := func(server bool, t time.Duration) (*Store, error) {
		switch {
		case e.StoreFile != "":
			return NewFileStore(e.StoreFile, -1, t)
		case e.AgentStore:
			base, err := NewTCPStore(TCPStoreOptions{Host: e.MasterAddr, Port: e.MasterPort, Timeout: t})
			if err != nil {
				return nil, err
			}
			s, err := NewPrefixStore(fmt.Sprintf("/worker/attempt_%d", e.RestartCount), base)
			if err != nil {
				base.Close()
				return nil, err
			}
			closers = append(closers, base.Close)
			return s, nil
		}
		return NewTCPStore(TCPStoreOptions{Host: e.MasterAddr, Port: e.MasterPort, IsServer: server,
			WorldSize: e.WorldSize, Timeout: t})
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
	base, err := open(e.Rank == 0, timeout)
	if err != nil {
		return nil, err
	}
	closers = append(closers, base.Close)
	store, err := NewPrefixStore("default_pg", base)
	if err != nil {
		return nil, err
	}
	closers = append(closers, store.Close)
	// The heartbeat's own connection, with a short timeout: diagnosing must not wait minutes.
	hbBase, err := open(false, 5*time.Second)
	if err != nil {
		return nil, err
	}
	hbStore, err := NewPrefixStore("default_pg", hbBase)
	if err != nil {
		hbBase.Close()
		return nil, err
	}
	hs := startHealth(hbStore, e.Rank, e.WorldSize, host, beat)
	closers = append(closers, func() { hs.close(); hbBase.Close() })

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
		return nil, err
	}
	g.health = hs
	g.owned = closers
	return g, nil
}
