//go:build unix

package serve

import "syscall"

// openFileLimit returns the process's limit on open files (RLIMIT_NOFILE's soft limit);
// 0 when unknown.
func openFileLimit() int {
	var l syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l); err != nil || l.Cur > 1<<30 {
		return 0
	}
	return int(l.Cur)
}
