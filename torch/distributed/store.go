package distributed

/*
#cgo CFLAGS: -I${SRCDIR}/../csrc
#include <stdlib.h>
#include "shim.h"
*/
import "C"

import (
	"fmt"
	"net"
	"sync"
	"syscall"
	"time"
	"unsafe"

	"github.com/seqtorch/seqtorch/torch"
)

// Store is a c10d key-value store (TCPStore, FileStore or PrefixStore): the ranks of a group
// rendezvous through it. Its methods are safe from many goroutines; Close waits for the calls
// in progress.
type Store struct {
	mu   sync.RWMutex
	h    C.st_store
	base *Store // a PrefixStore's store, which must outlive it
	desc string
}

// DefaultTimeout is how long store and group operations wait when no timeout is given: 5
// minutes (PyTorch waits 30).
const DefaultTimeout = 5 * time.Minute

// TCPStoreOptions configure [NewTCPStore].
type TCPStoreOptions struct {
	Host string // the server's address; "" means 127.0.0.1
	Port int    // the server's port
	// IsServer makes this store also the server (rank 0's, in PyTorch's env:// rendezvous).
	IsServer bool
	// WorldSize is the number of clients, for the server's bookkeeping (0: unknown).
	WorldSize int
	// Timeout bounds every operation, the connection included (0: DefaultTimeout).
	Timeout time.Duration
}

// features reports what the shim was built with (shim.h's st_dist_feature bits).
func features() (int, error) {
	var f C.int
	if err := shimErr("Features", C.st_dist_features(&f)); err != nil {
		return 0, err
	}
	return int(f), nil
}

// Available reports whether the libtorch seqtorch runs on has c10d with Gloo.
func Available() bool {
	f, err := features()
	return err == nil && f&C.ST_DIST_GLOO != 0
}

// NCCLAvailable reports whether the libtorch has the NCCL process group.
func NCCLAvailable() bool {
	f, err := features()
	return err == nil && f&C.ST_DIST_NCCL != 0
}

// ServerBindsHostOnly reports whether a TCPStore server made here listens on its Host's address
// only (libtorch >= 2, where this package binds the socket); libtorch 1.13's listens on every
// interface.
func ServerBindsHostOnly() bool {
	f, err := features()
	return err == nil && f&C.ST_DIST_LISTEN_FD != 0
}

func shimErr(op string, e C.st_err) error {
	return torch.ShimError(op, unsafe.Pointer(e))
}

func millis(d time.Duration) C.int64_t {
	if d <= 0 {
		d = DefaultTimeout
	}
	return C.int64_t(d / time.Millisecond)
}

// NewTCPStore connects to (and with IsServer, starts) c10d's TCPStore at Host:Port. A server's
// socket listens on Host's address only where [ServerBindsHostOnly].
func NewTCPStore(o TCPStoreOptions) (*Store, error) {
	if o.Host == "" {
		o.Host = "127.0.0.1"
	}
	if o.Port < 0 || o.Port > 65535 {
		return nil, fmt.Errorf("distributed: TCP store port %d: want 0..65535", o.Port)
	}
	addr := net.JoinHostPort(o.Host, fmt.Sprint(o.Port))
	fd := C.int(-1)
	if o.IsServer && ServerBindsHostOnly() {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			return nil, fmt.Errorf("distributed: TCP store server on %s: %w", addr, err)
		}
		f, err := ln.(*net.TCPListener).File() // a duplicate descriptor, in blocking mode
		ln.Close()
		if err != nil {
			return nil, fmt.Errorf("distributed: TCP store server on %s: %w", addr, err)
		}
		// libtorch adopts the descriptor it is given: hand it a duplicate that no Go finalizer
		// closes behind its back.
		d, err := syscall.Dup(int(f.Fd()))
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("distributed: TCP store server on %s: %w", addr, err)
		}
		fd = C.int(d)
	}
	host := C.CString(o.Host)
	defer C.free(unsafe.Pointer(host))
	var h C.st_store
	err := shimErr("NewTCPStore", C.st_store_tcp(host, C.int(o.Port), cbool(o.IsServer), C.int(o.WorldSize),
		millis(o.Timeout), fd, &h))
	if err != nil {
		return nil, fmt.Errorf("distributed: TCP store %s: %w", addr, err)
	}
	return &Store{h: h, desc: "TCP store " + addr}, nil
}

// NewFileStore opens c10d's FileStore on path (created if missing). numWorkers is the number
// of stores that will open the file; the last to close removes it. -1 leaves it in place.
func NewFileStore(path string, numWorkers int, timeout time.Duration) (*Store, error) {
	p := C.CString(path)
	defer C.free(unsafe.Pointer(p))
	var h C.st_store
	if err := shimErr("NewFileStore", C.st_store_file(p, C.int(numWorkers), millis(timeout), &h)); err != nil {
		return nil, fmt.Errorf("distributed: file store %s: %w", path, err)
	}
	return &Store{h: h, desc: "file store " + path}, nil
}

// NewPrefixStore returns a view of base in which every key is prefixed with "prefix/". base
// must stay open while the view is used.
func NewPrefixStore(prefix string, base *Store) (*Store, error) {
	p := C.CString(prefix)
	defer C.free(unsafe.Pointer(p))
	var h C.st_store
	err := base.use("NewPrefixStore", func(b C.st_store) C.st_err { return C.st_store_prefix(b, p, &h) })
	if err != nil {
		return nil, err
	}
	return &Store{h: h, base: base, desc: base.desc}, nil
}

// use runs f with the store's handle, holding it against Close.
func (s *Store) use(op string, f func(C.st_store) C.st_err) error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.h == nil {
		return fmt.Errorf("distributed: %s on a closed store", op)
	}
	if err := shimErr(op, f(s.h)); err != nil {
		return fmt.Errorf("distributed: %s: %w", s.desc, err)
	}
	return nil
}

// SetTimeout sets how long Get and the other operations wait.
func (s *Store) SetTimeout(d time.Duration) error {
	return s.use("Store.SetTimeout", func(h C.st_store) C.st_err { return C.st_store_set_timeout(h, millis(d)) })
}

// Set stores value under key.
func (s *Store) Set(key string, value []byte) error {
	k := C.CString(key)
	defer C.free(unsafe.Pointer(k))
	var p unsafe.Pointer
	if len(value) > 0 {
		p = C.CBytes(value)
		defer C.free(p)
	}
	return s.use("Store.Set", func(h C.st_store) C.st_err { return C.st_store_set(h, k, p, C.int64_t(len(value))) })
}

// Get returns key's value, waiting up to the store's timeout for a rank to set it.
func (s *Store) Get(key string) ([]byte, error) {
	k := C.CString(key)
	defer C.free(unsafe.Pointer(k))
	var p unsafe.Pointer
	var n C.int64_t
	if err := s.use("Store.Get", func(h C.st_store) C.st_err { return C.st_store_get(h, k, &p, &n) }); err != nil {
		return nil, err
	}
	defer C.st_free_array(p)
	return C.GoBytes(p, C.int(n)), nil
}

// Add adds delta to the integer under key (missing: 0) and returns the sum.
func (s *Store) Add(key string, delta int64) (int64, error) {
	k := C.CString(key)
	defer C.free(unsafe.Pointer(k))
	var out C.int64_t
	err := s.use("Store.Add", func(h C.st_store) C.st_err { return C.st_store_add(h, k, C.int64_t(delta), &out) })
	return int64(out), err
}

// Close releases the store (a server stops serving). It is idempotent.
func (s *Store) Close() {
	if s == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.h != nil {
		C.st_store_free(s.h)
		s.h = nil
	}
}

func cbool(b bool) C.int {
	if b {
		return 1
	}
	return 0
}
