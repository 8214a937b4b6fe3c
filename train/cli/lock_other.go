//go:build !unix

package cli

import (
	"fmt"
	"os"
)

// LockFile is the file of a run folder that a run holds locked while it writes the folder
// (where the system has flock).
const LockFile = ".lock"

// LockOut creates dir if needed (flag "--out"); without flock it locks nothing.
func LockOut(dir, flag string) (unlock func(), err error) {
	if fi, err := os.Stat(dir); err == nil && !fi.IsDir() && flag == "--out" {
		return nil, Usagef("%s %s is a file, not a folder", flag, dir)
	} else if flag != "--out" && (err != nil || !fi.IsDir()) {
		return func() {}, nil // nothing to lock: the caller's checks explain
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("%s %s: %w", flag, dir, err)
	}
	return func() {}, nil
}
