package distributed_test

import (
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/seqtorch/seqtorch/torch"
	"github.com/seqtorch/seqtorch/torch/distributed"
	"github.com/seqtorch/seqtorch/torch/distributed/disttest"
)

// TestConcurrentUse: a store and a group of one used from many goroutines at once, then
// closed while they may still call: every call either works or returns an error.
func TestConcurrentUse(t *testing.T) {
	disttest.RequireDist(t)
	store, err := distributed.NewFileStore(filepath.Join(t.TempDir(), "store"), 1, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	g, err := distributed.NewProcessGroupGloo(store, 0, 1, distributed.GlooOptions{Host: "127.0.0.1", Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	const workers, rounds = 8, 20
	var wg sync.WaitGroup
	errs := make(chan error, workers*rounds)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			x := torch.FromSlice([]float32{1, 2}, 2)
			defer x.Close()
			for i := range rounds {
				key := fmt.Sprintf("k%d", w)
				if err := store.Set(key, []byte{byte(i)}); err != nil {
					errs <- err
				}
				if n, err := store.Add("count", 1); err != nil || n < 1 {
					errs <- fmt.Errorf("add: %d, %v", n, err)
				}
				if err := g.AllReduce(x, distributed.Sum); err != nil {
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if n, err := store.Add("count", 0); err != nil || n != workers*rounds {
		t.Errorf("count %d, %v; want %d", n, err, workers*rounds)
	}
	// Close while other goroutines keep calling: they get errors, never a crash.
	var wg2 sync.WaitGroup
	for range 4 {
		wg2.Add(1)
		go func() {
			defer wg2.Done()
			x := torch.FromSlice([]float32{1}, 1)
			defer x.Close()
			for range 50 {
				_ = g.AllReduce(x, distributed.Sum)
				_, _ = store.Add("after", 1)
			}
		}()
	}
	g.Close()
	store.Close()
	wg2.Wait()
	x := torch.FromSlice([]float32{1}, 1)
	defer x.Close()
	if err := g.AllReduce(x, distributed.Sum); err != distributed.ErrClosed {
		t.Errorf("all_reduce on a closed group: %v, want ErrClosed", err)
	}
	if _, err := store.Add("x", 1); err == nil {
		t.Error("Add on a closed store: no error")
	}
}
