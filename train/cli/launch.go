package cli

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/seqtorch/seqtorch/torch/distributed"
)

// DefaultDistTimeout is --dist-timeout's default: how long a collective or the rendezvous
// waits for a rank before failing.
const DefaultDistTimeout = 5 * time.Minute

// MaxNProc is the largest --nproc.
const MaxNProc = 64

// The environment of a worker process: torchrun's variables and seqtorch's own.

// DistFlags are the data-parallel flags of a training command: --nproc, --master-addr,
// --master-port and --dist-timeout. They are part of the command's configuration (its
// config.json), so the type has no JSON methods of its own and may be embedded; Timeout is
// stored in nanoseconds.
type DistFlags struct {
	// NProc is the number of local worker processes; above 1 the command launches them
	// (see [Launch]) instead of training itself.
	NProc int `json:"nproc"`
	// MasterAddr and MasterPort locate rank 0's rendezvous store (MASTER_ADDR and
	// MASTER_PORT); port 0 means none, as local workers meet through a file.
	MasterAddr string `json:"master_addr"`
	MasterPort int    `json:"master_port"`
	// Timeout is how long a collective or the rendezvous waits for a rank.
	Timeout time.Duration `json:"dist_timeout"`
}

// Register adds --nproc, --master-addr, --master-port and --dist-timeout to fs, writing
// their defaults into d.
func (d *DistFlags) Register(fs *flag.FlagSet) {
	fs.IntVar(&d.NProc, "nproc", 1, "number of local worker processes for data-parallel training (the same run, faster: each step's --batch examples are split among them, each taking its shard of every epoch)")
	fs.StringVar(&d.MasterAddr, "master-addr", "127.0.0.1", "address of rank 0's rendezvous store (MASTER_ADDR of the workers)")
	fs.IntVar(&d.MasterPort, "master-port", 0, "TCP port of rank 0's rendezvous store (MASTER_PORT of the workers; it binds --master-addr); 0: none, the local workers meet through a file")
	fs.DurationVar(&d.Timeout, "dist-timeout", DefaultDistTimeout, "how long a collective or the rendezvous waits for a rank before failing")
}

// Validate refuses out-of-range values with a one-line *UsageError naming the flag.
func (d *DistFlags) Validate() error {
	switch {
	case d.NProc < 1 || d.NProc > MaxNProc:
		return Usagef("--nproc %d: want 1 to %d local worker processes", d.NProc, MaxNProc)
	case d.MasterAddr == "":
		return Usagef("--master-addr is empty: want a host name or an IP address")
	case d.MasterPort < 0 || d.MasterPort > 65535:
		return Usagef("--master-port %d: want 0 (none) to 65535", d.MasterPort)
	case d.Timeout <= 0:
		return Usagef("--dist-timeout %v: want a positive duration such as 5m", d.Timeout)
	}
	return nil
}

// Normalize fills a zero DistFlags (the configuration of a run saved before the flags
// existed) with the flags' defaults; any other value is left as it is. A command's
// normalization of its configuration calls it (see [Flags.Normalize]).
func (d *DistFlags) Normalize() {
	if *d == (DistFlags{}) {
		*d = DistFlags{NProc: 1, MasterAddr: "127.0.0.1", Timeout: DefaultDistTimeout}
	}
}

// Worker reads the worker environment that [Launch] or torchrun sets (see
// distributed.ReadEnv): ok is false when the process is not a worker, and w is then a world of
// one (rank 0 of 1).
func Worker() (w distributed.Env, ok bool, err error) {
	return distributed.ReadEnv(nil)
}

// SilentError ends a command with exit status Code without printing anything: what went
// wrong has been printed already (by a worker process, or by [Launch]). [ExitCode] maps it
// to Code. Err, if not nil, is the cause (errors.Is sees through it); its message is the
// error's.
type SilentError struct {
	Code int
	Err  error
}

func (e *SilentError) Error() string {
	if e.Err == nil {
		return fmt.Sprintf("exit status %d", e.Code)
	}
	return e.Err.Error()
}

func (e *SilentError) Unwrap() error { return e.Err }

// LaunchOptions configures [Launch].
type LaunchOptions struct {
	// NProc is the number of worker processes (at least 1).
	NProc int
	// Exe is the program the workers run (callers pass os.Executable()).
	Exe string
	// Args are the workers' arguments, without the program name; every worker gets them.
	Args []string
	// Env is the workers' base environment (nil: os.Environ()); any of RANK, WORLD_SIZE,
	// LOCAL_RANK, LOCAL_WORLD_SIZE, MASTER_ADDR, MASTER_PORT, SEQTORCH_STORE_FILE and
	// SEQTORCH_DIST_TIMEOUT in it is replaced.
	Env []string
	// Stdout and Stderr receive rank 0's output; Stderr also the other ranks' standard
	// error, line by line, and Launch's own messages. nil discards.
	Stdout, Stderr io.Writer
	// Timeout is the workers' --dist-timeout (<= 0: [DefaultDistTimeout]).
	Timeout time.Duration
	// MasterAddr and MasterPort are passed on as MASTER_ADDR ("" means 127.0.0.1) and
	// MASTER_PORT (0: empty).
	MasterAddr string
	MasterPort int
	// Name is the command's name, which begins Launch's messages ("sms").
	Name string
}

// How long Launch lets workers stop before it kills them: after an interruption, the
// workers' timeout plus interruptGrace (they stop at an agreed step and write a
// checkpoint); after another worker failed, failGrace. Variables for the tests.
var (
	interruptGrace = 30 * time.Second
	failGrace      = 10 * time.Second
)

// workerExit is the end of one worker process.
type workerExit struct {
	rank  int
	state *os.ProcessState
	err   error
}

// Launch runs o.NProc worker processes of o.Exe, as torchrun --nproc-per-node does on one
// machine, and waits for them all. Worker i gets RANK=i, WORLD_SIZE=N, LOCAL_RANK=i,
// LOCAL_WORLD_SIZE=N, MASTER_ADDR, MASTER_PORT, SEQTORCH_DIST_TIMEOUT and
// SEQTORCH_STORE_FILE, the path of a rendezvous file in a fresh temporary folder (the first
// worker creates the file; Launch removes the folder at the end).
//
// Rank 0's standard output and error go to o.Stdout and o.Stderr as they are: it prints the
// progress, the summary and the errors. The other ranks' standard output is discarded and
// their standard error copied to o.Stderr line by line, each line prefixed "[rank i] ".
//
// Each worker runs in its own process group, so Ctrl-C reaches it only through Launch, and
// (on Linux) is killed if Launch's process dies. When ctx is cancelled, Launch sends SIGINT
// to the workers, which stop at an agreed step and write a checkpoint, and kills those still
// running after o.Timeout + 30 s. When a worker fails (a non-zero exit status, or a signal)
// while others run, Launch prints "name: rank i exited with status S; stopping the other K
// workers" (or "was killed by signal X"), sends them SIGTERM and kills them after 10 s.
//
// The error: nil when every worker exits with status 0. After ctx is cancelled, workers that
// exit with status 130 (interrupted) or 0 give a *[SilentError] with code 130 that matches
// context.Canceled: rank 0 has printed how to resume. Otherwise the first failing rank's
// status decides: a *SilentError with that status (1 for a signal), as rank 0 and Launch have
// printed what happened. Only a worker that could not be started, or that had to be killed
// after an interruption, gives an error with a message to print.
func Launch(ctx context.Context, o LaunchOptions) error {
	if o.NProc < 1 {
		return fmt.Errorf("launch: %d workers: want at least 1", o.NProc)
	}
	if o.Name == "" {
		o.Name = filepath.Base(o.Exe)
	}
	if o.Stdout == nil {
		o.Stdout = io.Discard
	}
	if o.Stderr == nil {
		o.Stderr = io.Discard
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultDistTimeout
	}
	if o.MasterAddr == "" {
		o.MasterAddr = "127.0.0.1"
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("interrupted before the workers started: %w", err)
	}
	dir, err := os.MkdirTemp("", "seqtorch-rendezvous-")
	if err != nil {
		return fmt.Errorf("launch: rendezvous folder: %w", err)
	}
	defer os.RemoveAll(dir)
	env := o.Env
	if env == nil {
		env = os.Environ()
	}
	env = slices.DeleteFunc(slices.Clone(env), func(kv string) bool {
		name, _, _ := strings.Cut(kv, "=")
		return slices.Contains(distributed.EnvVars, name)
	})
	// Workers meet through a FileStore in dir unless a port is given: then rank 0 serves a
	// TCP store at MasterAddr:MasterPort.
	port, storeFile := "", filepath.Join(dir, "store")
	if o.MasterPort != 0 {
		port, storeFile = strconv.Itoa(o.MasterPort), ""
	}
	env = append(env,
		distributed.EnvWorldSize+"="+strconv.Itoa(o.NProc),
		distributed.EnvLocalWorldSize+"="+strconv.Itoa(o.NProc),
		distributed.EnvMasterAddr+"="+o.MasterAddr,
		distributed.EnvMasterPort+"="+port,
		distributed.EnvStoreFile+"="+storeFile,
		distributed.EnvTimeout+"="+o.Timeout.String(),
	)

	var mu sync.Mutex // serializes the writes to o.Stderr (and o.Stdout)
	exits := make(chan workerExit, o.NProc)
	cmds := make([]*exec.Cmd, o.NProc)
	for i := range cmds {
		cmd := exec.Command(o.Exe, o.Args...)
		cmd.Env = append(slices.Clip(env), distributed.EnvRank+"="+strconv.Itoa(i), distributed.EnvLocalRank+"="+strconv.Itoa(i))
		cmd.SysProcAttr = workerAttr()
		cmd.WaitDelay = 5 * time.Second // a process the worker left behind may hold its stderr
		var pw *prefixWriter
		if i == 0 {
			cmd.Stdout, cmd.Stderr = direct(o.Stdout, &mu), direct(o.Stderr, &mu)
		} else {
			pw = &prefixWriter{mu: &mu, w: o.Stderr, prefix: fmt.Sprintf("[rank %d] ", i)}
			cmd.Stderr = pw
		}
		if err := cmd.Start(); err != nil {
			for _, c := range cmds[:i] {
				_ = c.Process.Kill()
			}
			for range i {
				<-exits
			}
			return fmt.Errorf("launch: start worker %d: %w", i, err)
		}
		cmds[i] = cmd
		go func() {
			err := cmd.Wait()
			if pw != nil {
				pw.flush()
			}
			exits <- workerExit{i, cmd.ProcessState, err}
		}()
	}
	return supervise(ctx, o, cmds, exits, &mu)
}

// supervise waits for the workers that Launch started; see Launch for what it does and
// returns.
func supervise(ctx context.Context, o LaunchOptions, cmds []*exec.Cmd, exits <-chan workerExit, mu *sync.Mutex) error {
	running := make([]bool, len(cmds))
	killed := make([]bool, len(cmds))
	for i := range running {
		running[i] = true
	}
	left := len(cmds)
	signalAll := func(sig os.Signal) {
		for i, c := range cmds {
			if running[i] {
				_ = c.Process.Signal(sig) // it may have exited already
			}
		}
	}
	var (
		done                 = ctx.Done()
		interrupted          bool
		failed               = -1
		failCode             int
		failText             string
		escalate             *time.Timer
		escalateC            <-chan time.Time
		interruptedExits     int
		killedAfterInterrupt []string
	)
	arm := func(d time.Duration) {
		if escalate != nil {
			escalate.Stop()
		}
		escalate = time.NewTimer(d)
		escalateC = escalate.C
	}
	defer func() {
		if escalate != nil {
			escalate.Stop()
		}
	}()
	for left > 0 {
		select {
		case <-done:
			done = nil
			if failed < 0 {
				interrupted = true
				signalAll(os.Interrupt)
				arm(o.Timeout + interruptGrace)
			}
		case e := <-exits:
			running[e.rank] = false
			left--
			code, text := exitStatus(e)
			switch {
			case code == 0:
			case killed[e.rank]:
				if failed < 0 {
					killedAfterInterrupt = append(killedAfterInterrupt, strconv.Itoa(e.rank))
				}
			case interrupted && isInterrupt(e.state):
				interruptedExits++
			case failed < 0:
				failed, failCode, failText = e.rank, code, text
				msg := fmt.Sprintf("%s: rank %d %s", o.Name, e.rank, text)
				if left > 0 {
					msg += fmt.Sprintf("; stopping the other %d worker%s", left, plural(left))
					signalAll(syscall.SIGTERM)
					arm(failGrace)
				}
				mu.Lock()
				fmt.Fprintln(o.Stderr, msg)
				mu.Unlock()
			}
		case <-escalateC:
			escalateC = nil
			for i, c := range cmds {
				if running[i] {
					killed[i] = true
					_ = c.Process.Kill()
				}
			}
		}
	}
	switch {
	case failed >= 0:
		return &SilentError{Code: failCode, Err: fmt.Errorf("rank %d %s", failed, failText)}
	case len(killedAfterInterrupt) > 0:
		return fmt.Errorf("interrupted (%w), but rank %s did not stop within %v and was killed; its checkpoint may be missing",
			context.Canceled, strings.Join(killedAfterInterrupt, ", "), o.Timeout+interruptGrace)
	case interruptedExits > 0:
		return &SilentError{Code: 130, Err: fmt.Errorf("workers interrupted: %w", context.Canceled)}
	}
	return nil
}

// exitStatus returns the exit code that a worker's end stands for (0 for success, 1 for a
// signal) and how it ended, for messages.
func exitStatus(e workerExit) (int, string) {
	if e.state == nil {
		return 1, fmt.Sprintf("failed: %v", e.err)
	}
	if ws, ok := e.state.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 1, "was killed by signal " + signalName(ws.Signal())
	}
	if code := e.state.ExitCode(); code != 0 {
		return code, fmt.Sprintf("exited with status %d", code)
	}
	return 0, "exited with status 0"
}

// isInterrupt reports whether a worker stopped because of SIGINT: with status 130, as an
// interrupted training command exits, or killed by the signal itself.
func isInterrupt(st *os.ProcessState) bool {
	if st == nil {
		return false
	}
	if ws, ok := st.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return ws.Signal() == syscall.SIGINT
	}
	return st.ExitCode() == 130
}

// signalName returns the conventional name of a signal ("SIGKILL").
func signalName(s syscall.Signal) string {
	names := map[syscall.Signal]string{
		syscall.SIGABRT: "SIGABRT", syscall.SIGBUS: "SIGBUS", syscall.SIGFPE: "SIGFPE",
		syscall.SIGHUP: "SIGHUP", syscall.SIGILL: "SIGILL", syscall.SIGINT: "SIGINT",
		syscall.SIGKILL: "SIGKILL", syscall.SIGPIPE: "SIGPIPE", syscall.SIGQUIT: "SIGQUIT",
		syscall.SIGSEGV: "SIGSEGV", syscall.SIGTERM: "SIGTERM", syscall.SIGTRAP: "SIGTRAP",
	}
	if n, ok := names[s]; ok {
		return n
	}
	return fmt.Sprintf("%d (%v)", int(s), s)
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// direct returns w for a worker's output: an *os.File as it is (the worker writes to it
// itself and sees whether it is a terminal), any other writer behind mu.
func direct(w io.Writer, mu *sync.Mutex) io.Writer {
	if f, ok := w.(*os.File); ok {
		return f
	}
	return &lockedWriter{mu: mu, w: w}
}

// lockedWriter writes to w holding mu.
type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(b)
}

// maxLine is the longest line a prefixWriter holds back; a longer one is cut.
const maxLine = 64 << 10

// prefixWriter copies a worker's output to w whole lines at a time, each prefixed, holding
// mu for each write so that lines of different workers do not mix. Errors of w are dropped:
// a worker must not block on them.
type prefixWriter struct {
	mu     *sync.Mutex
	w      io.Writer
	prefix string
	buf    []byte // the incomplete last line
}

func (p *prefixWriter) Write(b []byte) (int, error) {
	p.buf = append(p.buf, b...)
	var out []byte
	for {
		i := bytes.IndexByte(p.buf, '\n')
		if i < 0 && len(p.buf) < maxLine {
			break
		}
		if i < 0 {
			i = len(p.buf) - 1
			p.buf = append(p.buf, '\n') // cut the long line
			i++
		}
		out = append(append(out, p.prefix...), p.buf[:i+1]...)
		p.buf = p.buf[:copy(p.buf, p.buf[i+1:])]
	}
	if len(out) > 0 {
		p.mu.Lock()
		_, _ = p.w.Write(out)
		p.mu.Unlock()
	}
	return len(b), nil
}

// flush writes an incomplete last line, ended with a newline.
func (p *prefixWriter) flush() {
	if len(p.buf) > 0 {
		_, _ = p.Write([]byte{'\n'})
	}
}
