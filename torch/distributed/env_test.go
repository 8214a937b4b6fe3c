package distributed_test

import (
	"testing"
	"time"

	"github.com/seqtorch/seqtorch/torch/distributed"
)

func TestReadEnv(t *testing.T) {
	base := distributed.Env{WorldSize: 1, LocalWorldSize: 1, Timeout: distributed.DefaultTimeout}
	tests := []struct {
		name string
		env  map[string]string
		want distributed.Env
		ok   bool
		err  string
	}{
		{"not a worker", nil, base, false, ""},
		{"not a worker, other variables", map[string]string{"MASTER_PORT": "x", "LOCAL_RANK": "y"}, base, false, ""},
		{"launched", map[string]string{"RANK": "1", "WORLD_SIZE": "2", "LOCAL_RANK": "1", "LOCAL_WORLD_SIZE": "2",
			"MASTER_ADDR": "127.0.0.1", "MASTER_PORT": "", "SEQTORCH_STORE_FILE": "/tmp/s", "SEQTORCH_DIST_TIMEOUT": "1m30s"},
			distributed.Env{Rank: 1, WorldSize: 2, LocalRank: 1, LocalWorldSize: 2, MasterAddr: "127.0.0.1", StoreFile: "/tmp/s", Timeout: 90 * time.Second}, true, ""},
		{"torchrun, two machines", map[string]string{"RANK": "5", "WORLD_SIZE": "8", "LOCAL_RANK": "1", "LOCAL_WORLD_SIZE": "4",
			"MASTER_ADDR": "node0", "MASTER_PORT": "29500"},
			distributed.Env{Rank: 5, WorldSize: 8, LocalRank: 1, LocalWorldSize: 4, MasterAddr: "node0", MasterPort: 29500, Timeout: distributed.DefaultTimeout}, true, ""},
		{"local defaults", map[string]string{"RANK": "0", "WORLD_SIZE": "1"},
			distributed.Env{WorldSize: 1, LocalWorldSize: 1, Timeout: distributed.DefaultTimeout}, true, ""},
		{"world alone", map[string]string{"WORLD_SIZE": "2"}, base, false,
			"WORLD_SIZE=2 is set but RANK is not: a worker needs both (neither, to run alone)"},
		{"rank alone", map[string]string{"RANK": "0"}, base, false,
			"RANK=0 is set but WORLD_SIZE is not: a worker needs both (neither, to run alone)"},
		{"world not a number", map[string]string{"RANK": "0", "WORLD_SIZE": "two"}, base, false, "WORLD_SIZE=two: want a positive integer"},
		{"world 0", map[string]string{"RANK": "0", "WORLD_SIZE": "0"}, base, false, "WORLD_SIZE=0: want a positive integer"},
		{"rank = world", map[string]string{"RANK": "2", "WORLD_SIZE": "2"}, base, false, "RANK=2: want an integer from 0 to 1 (below WORLD_SIZE=2)"},
		{"negative rank", map[string]string{"RANK": "-1", "WORLD_SIZE": "2"}, base, false, "RANK=-1: want an integer from 0 to 1 (below WORLD_SIZE=2)"},
		{"local world too big", map[string]string{"RANK": "0", "WORLD_SIZE": "2", "LOCAL_WORLD_SIZE": "3"}, base, false,
			"LOCAL_WORLD_SIZE=3: want an integer from 1 to WORLD_SIZE=2"},
		{"local rank too big", map[string]string{"RANK": "0", "WORLD_SIZE": "2", "LOCAL_RANK": "2"}, base, false,
			"LOCAL_RANK=2: want an integer from 0 to 1 (below LOCAL_WORLD_SIZE=2)"},
		{"bad port", map[string]string{"RANK": "0", "WORLD_SIZE": "2", "MASTER_PORT": "70000"}, base, false,
			"MASTER_PORT=70000: want a TCP port from 1 to 65535"},
		{"torchrun's agent store", map[string]string{"RANK": "1", "WORLD_SIZE": "2", "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": "29400",
			"TORCHELASTIC_USE_AGENT_STORE": "True", "TORCHELASTIC_RESTART_COUNT": "2"},
			distributed.Env{Rank: 1, WorldSize: 2, LocalRank: 1, LocalWorldSize: 2, MasterAddr: "127.0.0.1", MasterPort: 29400,
				AgentStore: true, RestartCount: 2, Timeout: distributed.DefaultTimeout}, true, ""},
		{"bad agent flag", map[string]string{"RANK": "0", "WORLD_SIZE": "1", "TORCHELASTIC_USE_AGENT_STORE": "maybe"}, base, false,
			"TORCHELASTIC_USE_AGENT_STORE=maybe: want True or False"},
		{"bad timeout", map[string]string{"RANK": "0", "WORLD_SIZE": "1", "SEQTORCH_DIST_TIMEOUT": "5"}, base, false,
			"SEQTORCH_DIST_TIMEOUT=5: want a positive Go duration such as 5m or 90s"},
		{"no rendezvous", map[string]string{"RANK": "1", "WORLD_SIZE": "2", "MASTER_ADDR": "h"}, base, false,
			"MASTER_PORT is unset and so is SEQTORCH_STORE_FILE: rank 1 of 2 needs one of them to meet the other ranks"},
		{"no address", map[string]string{"RANK": "1", "WORLD_SIZE": "2", "MASTER_PORT": "29500"}, base, false,
			"MASTER_ADDR is unset (and SEQTORCH_STORE_FILE too): rank 1 of 2 needs the address of rank 0's store"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w, ok, err := distributed.ReadEnv(func(name string) string { return tc.env[name] })
			switch {
			case tc.err != "" && (err == nil || err.Error() != tc.err):
				t.Fatalf("err %v, want %q", err, tc.err)
			case tc.err == "" && err != nil:
				t.Fatal(err)
			case tc.err == "" && (w != tc.want || ok != tc.ok):
				t.Errorf("got %+v, %v; want %+v, %v", w, ok, tc.want, tc.ok)
			}
		})
	}
}
