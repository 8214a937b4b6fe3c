package cli

import "syscall"

// workerAttr puts a worker in its own process group, so that Ctrl-C in a terminal reaches it
// only through [Launch], and has the kernel kill it when the launcher dies. (Pdeathsig follows
// the thread that started the worker, which lives on: the Go runtime ends only threads whose
// locked goroutine exits, and the goroutine in Launch waits for its workers.)
func workerAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
