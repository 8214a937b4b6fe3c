//go:build unix

package cli

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// LockFile is the file of a run folder that a run holds locked (flock) while it writes the
// folder, so that a second run on the same --out (or --resume) is refused instead of
// overwriting it.
const LockFile = ".lock"

// LockOut creates dir if needed (flag "--out"; for other flags, such as "--resume", a
// missing folder is left to the caller's checks and nothing is locked) and locks it for this process (see [LockFile]); the lock is
// released by unlock, or by the process's end; unlock removes a folder that LockOut created
// and the run left empty. A folder another process holds is refused
// with a one-line *UsageError naming that process.
func LockOut(dir, flag string) (unlock func(), err error) {
	if fi, err := os.Stat(dir); err == nil && !fi.IsDir() && flag == "--out" {
		return nil, Usagef("%s %s is a file, not a folder", flag, dir)
	} else if flag != "--out" && (err != nil || !fi.IsDir()) {
		return func() {}, nil // nothing to lock: the caller's checks explain
	}
	_, statErr := os.Stat(dir)
	created := errors.Is(statErr, os.ErrNotExist)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("%s %s: %w", flag, dir, err)
	}
	path := filepath.Join(dir, LockFile)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("%s %s: locking the run folder: %w", flag, dir, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		b := make([]byte, 32)
		n, _ := f.ReadAt(b, 0)
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			who := "another run"
			if pid := strings.TrimSpace(string(b[:n])); pid != "" {
				who = "another run (process " + pid + ")"
			}
			return nil, Usagef("%s %s is being written by %s; wait for it to end, or choose another folder", flag, dir, who)
		}
		return nil, fmt.Errorf("%s %s: locking the run folder: %w", flag, dir, err)
	}
	f.Truncate(0)
	f.WriteAt([]byte(fmt.Sprintf("%d\n", os.Getpid())), 0)
	return func() {
		if created {
			// A run that failed before writing anything leaves no folder behind: the lock
			// file goes (still locked), then the folder if it is empty.
			os.Remove(path)
			os.Remove(dir)
		}
		f.Close()
	}, nil
}
