//go:build !linux

package cli

import "syscall"

// workerAttr puts a worker in its own process group, so that Ctrl-C in a terminal reaches it
// only through [Launch]. (Only Linux can also have a worker killed when the launcher dies.)
func workerAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
