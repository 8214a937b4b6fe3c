package runlog

import (
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
)

// Progress reports the progress of training epochs.
//
// Start begins epoch number epoch of total steps (total <= 0 means
// unknown). Step records that n more steps finished, the last of them
// with the given loss. Done ends the epoch.
type Progress interface {
	Start(epoch, total int)
	Step(n int, loss float64)
	Done()
}

// NewProgress returns a progress bar on w if w is a terminal and plain
// text lines otherwise (log files, pipes, CI).
func NewProgress(w io.Writer) Progress {
	if IsTerminal(w) {
		return NewBarProgress(w)
	}
	return NewLineProgress(w, 0)
}

// IsTerminal tells whether w is an *os.File connected to a terminal.
func IsTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// stats tracks an epoch's step count and running mean loss.
type stats struct {
	epoch, total, steps int
	sum                 float64
	last                float64
	start               time.Time
}

func (s *stats) reset(epoch, total int) {
	*s = stats{epoch: epoch, total: total, start: time.Now()}
}

func (s *stats) add(n int, loss float64) {
	if n < 0 {
		n = 0
	}
	s.steps += n
	s.sum += loss * float64(n)
	s.last = loss
}

func (s *stats) mean() float64 {
	if s.steps == 0 {
		return 0
	}
	return s.sum / float64(s.steps)
}

// LineProgress writes plain text lines, suitable for log files.
type LineProgress struct {
	mu    sync.Mutex
	w     io.Writer
	every int
	cur   int // steps configured for this epoch (resolved every)
	next  int
	s     stats
}

// NewLineProgress returns a Progress that writes a line to w every
// `every` steps and one when the epoch is done. If every <= 0 a line is
// written about every tenth of the epoch (or only at the end if the
// total is unknown).
func NewLineProgress(w io.Writer, every int) *LineProgress {
	return &LineProgress{w: w, every: every}
}

// Start implements Progress.
func (p *LineProgress) Start(epoch, total int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.s.reset(epoch, total)
	p.cur = p.every
	if p.cur <= 0 {
		p.cur = 0
		if total > 0 {
			p.cur = max(1, total/10)
		}
	}
	p.next = p.cur
}

// Step implements Progress.
func (p *LineProgress) Step(n int, loss float64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.s.add(n, loss)
	if p.cur <= 0 || p.s.steps < p.next {
		return
	}
	for p.next <= p.s.steps {
		p.next += p.cur
	}
	if p.s.total > 0 && p.s.steps >= p.s.total {
		return // Done prints the final line.
	}
	fmt.Fprintf(p.w, "epoch %d: step %s loss %.4f (mean %.4f)\n",
		p.s.epoch, p.stepText(), p.s.last, p.s.mean())
}

func (p *LineProgress) stepText() string {
	if p.s.total > 0 {
		return fmt.Sprintf("%d/%d", p.s.steps, p.s.total)
	}
	return fmt.Sprint(p.s.steps)
}

// Done implements Progress.
func (p *LineProgress) Done() {
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprintf(p.w, "epoch %d: done %s steps, mean loss %.4f, %s\n",
		p.s.epoch, p.stepText(), p.s.mean(), time.Since(p.s.start).Round(100*time.Millisecond))
}

// BarProgress draws a github.com/schollz/progressbar/v3 bar per epoch.
type BarProgress struct {
	mu  sync.Mutex
	w   io.Writer
	bar *progressbar.ProgressBar
	s   stats
}

// NewBarProgress returns a Progress that draws an interactive bar on w.
// Use it only when w is a terminal; NewProgress chooses automatically.
func NewBarProgress(w io.Writer) *BarProgress {
	return &BarProgress{w: w}
}

// Start implements Progress.
func (p *BarProgress) Start(epoch, total int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.bar != nil {
		_ = p.bar.Finish()
	}
	p.s.reset(epoch, total)
	max := total
	if max <= 0 {
		max = -1 // spinner
	}
	p.bar = progressbar.NewOptions(max,
		progressbar.OptionSetWriter(p.w),
		progressbar.OptionSetDescription(fmt.Sprintf("epoch %d", epoch)),
		progressbar.OptionShowCount(),
		progressbar.OptionSetPredictTime(true),
		progressbar.OptionSetWidth(30),
		progressbar.OptionThrottle(100*time.Millisecond),
		progressbar.OptionShowElapsedTimeOnFinish(),
		progressbar.OptionOnCompletion(func() { fmt.Fprintln(p.w) }),
	)
}

// Step implements Progress.
func (p *BarProgress) Step(n int, loss float64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.bar == nil {
		return
	}
	p.s.add(n, loss)
	p.bar.Describe(fmt.Sprintf("epoch %d loss %.4f", p.s.epoch, p.s.mean()))
	_ = p.bar.Add(max(n, 0))
}

// Done implements Progress.
func (p *BarProgress) Done() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.bar == nil {
		return
	}
	_ = p.bar.Finish()
	p.bar = nil
}
