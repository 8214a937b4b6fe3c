package cli

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
)

// asideDir is the folder inside a run folder where --force keeps the run it replaces until
// the new run has written its first checkpoint (see [Aside]).
const asideDir = ".replaced"

// checkpointMarkers are the entries that show a run has written a checkpoint.
var checkpointMarkers = []string{"checkpoint", "checkpoint.old"}

// Aside is the run that --force replaces, kept in DIR/.replaced until the new run has
// written its first checkpoint: [Aside.Settle] then discards it, or puts it back when the new
// run failed before that. A process killed in between leaves DIR/.replaced, which the next
// [PrepareOut] or [ResumeDir] on DIR settles the same way. The zero *Aside (nil) holds nothing.
type Aside struct {
	dir     string
	entries []string // the names moved aside
}

// setAside moves the entries of dir named in names that exist into dir/.replaced.
func setAside(dir string, names []string) (*Aside, error) {
	a := &Aside{dir: dir}
	keep := filepath.Join(dir, asideDir)
	for _, name := range names {
		if _, err := os.Lstat(filepath.Join(dir, name)); err != nil {
			continue
		}
		if len(a.entries) == 0 {
			if err := os.MkdirAll(keep, 0o755); err != nil {
				return nil, fmt.Errorf("--force: keeping the old run until the new one has a checkpoint: %w", err)
			}
		}
		if err := os.Rename(filepath.Join(dir, name), filepath.Join(keep, name)); err != nil {
			err = fmt.Errorf("--force: keeping the old run until the new one has a checkpoint: %w", err)
			return nil, errors.Join(err, a.restore())
		}
		a.entries = append(a.entries, name)
	}
	return a, nil
}

// Settle ends the replacement: when the new run has written a checkpoint in the folder, the
// old run is discarded; otherwise the new run's entries of the old run's names are removed and
// the old run is put back. Settle on nil, or twice, does nothing.
func (a *Aside) Settle() error {
	if a == nil {
		return nil
	}
	return settleAside(a.dir)
}

// settleAside settles what dir/.replaced holds (see [Aside.Settle]); nothing when it does not
// exist.
func settleAside(dir string) error {
	keep := filepath.Join(dir, asideDir)
	ents, err := os.ReadDir(keep)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("%s: %w", keep, err)
	}
	for _, m := range checkpointMarkers {
		if _, err := os.Lstat(filepath.Join(dir, m)); err == nil {
			if err := os.RemoveAll(keep); err != nil {
				return fmt.Errorf("removing the replaced run: %w", err)
			}
			return nil
		}
	}
	a := &Aside{dir: dir}
	for _, e := range ents {
		a.entries = append(a.entries, e.Name())
	}
	return a.restore()
}

// restore puts a's entries back in place of what the new run wrote under their names, and
// removes dir/.replaced.
func (a *Aside) restore() error {
	keep := filepath.Join(a.dir, asideDir)
	var errs []error
	for _, name := range slices.Backward(a.entries) {
		dst := filepath.Join(a.dir, name)
		if err := os.RemoveAll(dst); err != nil {
			errs = append(errs, err)
			continue
		}
		if err := os.Rename(filepath.Join(keep, name), dst); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) == 0 {
		if err := os.Remove(keep); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("putting back the run that --force was to replace (it is in %s): %w", keep, err)
	}
	return nil
}
