package distributed

import (
	"fmt"
	"strings"
	"sync"
	"time"
)

// health is a group's heartbeat: every rank adds 1 to its own key in the store every beat, on a
// store connection of its own, so that a rank whose collective failed can tell which ranks
// stopped (died, or hang with their process stopped) from which are alive.
type health struct {
	store *Store // the heartbeat's own connection
	rank  int
	size  int
	beat  time.Duration
	// host: the rank whose process serves the store (0 for a TCP store rank 0 serves; -1 when
	// none does: a file store, torchrun's agent store).
	host int
	stop chan struct{}
	done sync.WaitGroup
}

func heartbeatKey(rank int) string { return fmt.Sprintf("seqtorch/heartbeat/%d", rank) }

// failedKey counts the failures rank has diagnosed: a rank that saw a collective fail and is
// about to exit is not the rank that stopped.
func failedKey(rank int) string { return fmt.Sprintf("seqtorch/failed/%d", rank) }

// startHealth starts the heartbeat of rank on store (the caller closes it after close).
func startHealth(store *Store, rank, size, host int, beat time.Duration) *health {
	h := &health{store: store, rank: rank, size: size, beat: beat, host: host, stop: make(chan struct{})}
	h.done.Add(1)
	go func() {
		defer h.done.Done()
		t := time.NewTicker(beat)
		defer t.Stop()
		for {
			h.store.Add(heartbeatKey(rank), 1) // a store that is gone is diagnose's business
			select {
			case <-h.stop:
				return
			case <-t.C:
			}
		}
	}()
	return h
}

func (h *health) close() {
	close(h.stop)
	h.done.Wait()
}

// diagnose reads every other rank's heartbeat twice, three beats apart, and names the ranks
// whose count did not move and that did not report a failure of their own; "" when there are
// none (the failure is not a rank that stopped).
func (h *health) diagnose() string {
	h.store.Add(failedKey(h.rank), 1) // an unreachable store shows below
	read := func() ([]int64, error) {
		v := make([]int64, h.size)
		for r := range v {
			if r == h.rank {
				continue
			}
			n, err := h.store.Add(heartbeatKey(r), 0)
			if err != nil {
				return nil, err
			}
			v[r] = n
		}
		return v, nil
	}
	unreachable := func(err error) string {
		if h.host >= 0 {
			return fmt.Sprintf("rank %d, which serves the store, is unreachable (it has probably died): %v", h.host, err)
		}
		return fmt.Sprintf("the store is unreachable: %v", err)
	}
	before, err := read()
	if err != nil {
		return unreachable(err)
	}
	time.Sleep(3 * h.beat)
	after, err := read()
	if err != nil {
		return unreachable(err)
	}
	var stopped []string
	for r := range after {
		if r == h.rank || after[r] != before[r] {
			continue
		}
		if n, err := h.store.Add(failedKey(r), 0); err == nil && n > 0 {
			continue // it failed too, and has exited since
		}
		stopped = append(stopped, fmt.Sprint(r))
	}
	switch len(stopped) {
	case 0:
		return ""
	case 1:
		return "rank " + stopped[0] + " stopped (no heartbeat for " + (3 * h.beat).String() + "; it died or hangs)"
	}
	return "ranks " + strings.Join(stopped, ", ") + " stopped (no heartbeat for " + (3 * h.beat).String() + "; they died or hang)"
}
