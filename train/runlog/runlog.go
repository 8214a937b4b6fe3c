// Package runlog writes the files of a training run folder: per-epoch
// metrics as JSON lines, atomically written JSON documents, a parameter
// summary table, a progress reporter for the console, and reports rendered from
// templates (RenderTemplate).
package runlog

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
)

// MetricsFile is the name of the JSON-lines file that WriteEpoch appends to.
const MetricsFile = "metrics.jsonl"

// ParamsFile is the name of the parameter summary written by WriteParams.
const ParamsFile = "params.txt"

// Run is an open run folder. Its methods are safe for concurrent use.
type Run struct {
	dir string

	mu      sync.Mutex
	metrics *os.File
}

// Open creates dir (and its parents) if needed and opens its
// metrics.jsonl for appending, so that a resumed run continues the file.
func Open(dir string) (*Run, error) {
	if dir == "" {
		return nil, errors.New("runlog: open: empty directory name")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("runlog: create run dir: %w", err)
	}
	f, err := os.OpenFile(filepath.Join(dir, MetricsFile), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("runlog: open metrics: %w", err)
	}
	return &Run{dir: dir, metrics: f}, nil
}

// Dir returns the run folder.
func (r *Run) Dir() string { return r.dir }

// Path returns the path of name inside the run folder.
func (r *Run) Path(name string) string { return filepath.Join(r.dir, name) }

// WriteEpoch marshals v as one JSON line and appends it to metrics.jsonl.
// The line is written with a single unbuffered write, so it reaches the
// operating system before WriteEpoch returns. Values that JSON cannot
// encode (NaN, channels, ...) return an error and write nothing.
func (r *Run) WriteEpoch(v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("runlog: encode epoch record: %w", err)
	}
	b = append(b, '\n')
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.metrics == nil {
		return errors.New("runlog: write epoch: run is closed")
	}
	if _, err := r.metrics.Write(b); err != nil {
		return fmt.Errorf("runlog: write %s: %w", MetricsFile, err)
	}
	return nil
}

// WriteJSON writes v as indented JSON to name inside the run folder,
// atomically (see AtomicWriteFile).
func (r *Run) WriteJSON(name string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("runlog: encode %s: %w", name, err)
	}
	b = append(b, '\n')
	return AtomicWriteFile(r.Path(name), func(w io.Writer) error {
		_, err := w.Write(b)
		return err
	})
}

// WriteParams writes the parameter summary table of rows to params.txt
// in the run folder, atomically, and returns the totals.
func (r *Run) WriteParams(rows []Param) (Totals, error) {
	var tot Totals
	err := AtomicWriteFile(r.Path(ParamsFile), func(w io.Writer) error {
		var err error
		tot, err = FormatParams(w, rows)
		return err
	})
	return tot, err
}

// Close syncs and closes metrics.jsonl. Closing twice is not an error.
func (r *Run) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.metrics == nil {
		return nil
	}
	f := r.metrics
	r.metrics = nil
	serr := f.Sync()
	cerr := f.Close()
	if err := errors.Join(serr, cerr); err != nil {
		return fmt.Errorf("runlog: close %s: %w", MetricsFile, err)
	}
	return nil
}

// IsTemp tells whether name (a file or folder name, without its directory)
// is a temporary name of this package's writers and of the training
// loop's: a dot, the final name, ".tmp-" and a random suffix, as
// ".summary.json.tmp-123" or ".checkpoint.tmp-456".
func IsTemp(name string) bool {
	return strings.HasPrefix(name, ".") && strings.Contains(name, tempInfix)
}

const tempInfix = ".tmp-"

// RemoveTemp removes the temporary files and folders (see IsTemp) that a
// process killed while writing left directly inside dir. A missing dir is
// not an error. Call it only when no other process writes into dir.
func RemoveTemp(dir string) error {
	ents, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("runlog: remove temporary files: %w", err)
	}
	var errs []error
	for _, e := range ents {
		if IsTemp(e.Name()) {
			if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
				errs = append(errs, err)
			}
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("runlog: remove temporary files: %w", err)
	}
	return nil
}

// AtomicWriteFile writes a file by calling write on a temporary file in
// the same directory, syncing it, and renaming it over path, so that
// readers see either the old or the complete new content. If write
// returns an error the temporary file is removed and path is untouched.
func AtomicWriteFile(path string, write func(w io.Writer) error) (err error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	tmp, err := os.CreateTemp(dir, "."+base+tempInfix+"*")
	if err != nil {
		return fmt.Errorf("atomic write %s: %w", path, err)
	}
	defer func() {
		if err != nil {
			_ = tmp.Close()
			_ = os.Remove(tmp.Name())
		}
	}()
	if err = write(tmp); err != nil {
		return fmt.Errorf("atomic write %s: %w", path, err)
	}
	if err = tmp.Chmod(0o644); err != nil {
		return fmt.Errorf("atomic write %s: %w", path, err)
	}
	if err = tmp.Sync(); err != nil {
		return fmt.Errorf("atomic write %s: sync: %w", path, err)
	}
	if err = tmp.Close(); err != nil {
		return fmt.Errorf("atomic write %s: close: %w", path, err)
	}
	if err = os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("atomic write %s: %w", path, err)
	}
	// Make the rename durable; failure to sync a directory is not fatal on
	// every platform, so it is ignored.
	if d, derr := os.Open(dir); derr == nil {
		_ = d.Sync()
		_ = d.Close()
	}
	return nil
}
