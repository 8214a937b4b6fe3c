package data

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/schollz/progressbar/v3"
)

// File is one file of a data set in the catalog.
type File struct {
	Path   string // path relative to the data set's folder, with slashes
	SHA256 string // lower-case hex SHA-256 of the file
	Size   int64  // size in bytes
	URL    string // where to download it; "" if only a mirror has it
}

// Dataset is an entry of the catalog: files under a folder of the cache.
type Dataset struct {
	Name    string // name passed to Ensure
	Dir     string // folder (relative to the cache or mirror root)
	Files   []File
	License string // short license note; see shared/data/PROVENANCE.md
}

// The URLs point at the byte-identical raw files of the public GitHub
// snapshots listed in PROVENANCE.md. The official UCI distribution of the
// SMS Spam Collection is a zip file
// (https://archive.ics.uci.edu/static/public/228/sms+spam+collection.zip);
// zip files are not handled here, so the raw copy of the same file is used.
// The GloVe/SICK vector file is a local conversion with no download URL: it
// comes from a cache or mirror only.
var catalog = []Dataset{
	{
		Name: "sms_spam", Dir: "sms_spam", License: "CC BY 4.0 (UCI); Almeida & Gómez Hidalgo 2011",
		Files: []File{
			{"SMSSpamCollection", "7d039a24a6083ed9ef0f806ebad56bbb976e3aeb8de05669173bfdc4996c239d", 477907,
				"https://raw.githubusercontent.com/MandeepSinghthakur/SpamDetectionMachineLearning/90484a3a99ff9b46840260c5eb273ae62d46b6a8/smsspamcollection/SMSSpamCollection"},
			{"readme", "da28dee01c3f74e01113db30e0d95cde017c24049d6d12ed4cedd841682d2047", 5802,
				"https://raw.githubusercontent.com/MandeepSinghthakur/SpamDetectionMachineLearning/90484a3a99ff9b46840260c5eb273ae62d46b6a8/smsspamcollection/readme"},
		},
	},
	{
		Name: "sick", Dir: "sick", License: "CC BY-NC-SA 3.0; Marelli et al. 2014",
		Files: []File{
			{"SICK.txt", "1539c2d059809b5bd40694e26d8121cc85b6b496f91c7b40f2fc83bbd7dcd957", 2432648,
				"https://raw.githubusercontent.com/kkalouli/SICK-processing/b55cf253c6ae9f5b5c9b287184e34147a5d7fc67/SICK.txt"},
			{"SICK_train.txt", "266cf8047149bd1d68138dd30439f3122bff30069740ac6705bb6197d9f1b48e", 506243,
				"https://raw.githubusercontent.com/brmson/dataset-sts/e1d3375f5b3bc24f21aa4e46f96eb379e9fc1081/data/sts/sick2014/SICK_train.txt"},
			{"SICK_trial.txt", "5a88cfb62f8c6bd2a3cce0f2421ba2cb8c2be5ab4a800f6f01e2c64aafb7db56", 57225,
				"https://raw.githubusercontent.com/brmson/dataset-sts/e1d3375f5b3bc24f21aa4e46f96eb379e9fc1081/data/sts/sick2014/SICK_trial.txt"},
			{"SICK_test_annotated.txt", "2b8aa806658d6fc23c6824c83776c2d4fee7556000817b5ec0f982861413b7d0", 559979,
				"https://raw.githubusercontent.com/brmson/dataset-sts/e1d3375f5b3bc24f21aa4e46f96eb379e9fc1081/data/sts/sick2014/SICK_test_annotated.txt"},
			{"readme_semeval2014_train.txt", "4ff14a2b07603f2214c2803a6e012048c795be5ba4e5d1d33b87d7210f633bf7", 1337,
				"https://raw.githubusercontent.com/brmson/dataset-sts/e1d3375f5b3bc24f21aa4e46f96eb379e9fc1081/data/sts/sick2014/readme.txt"},
		},
	},
	{
		Name: "glove-sick", Dir: "vectors", License: "GloVe: ODC PDDL; SICK vocabulary: CC BY-NC-SA 3.0",
		Files: []File{
			{"glove.840B.300d.sick-treelstm.w2v.txt", "5fd21ced0f318133c4369c22df4634286228e11735e3935d16fec9b7f1f2bb4e", 6243550, ""},
		},
	},
}

// Datasets returns a copy of the catalog: "sms_spam" (SMSSpamCollection),
// "sick" (SICK.txt and the SemEval-2014 files) and "glove-sick"
// (glove.840B.300d.sick-treelstm.w2v.txt, mirror only).
func Datasets() []Dataset {
	out := make([]Dataset, len(catalog))
	for i, d := range catalog {
		d.Files = append([]File(nil), d.Files...)
		out[i] = d
	}
	return out
}

// LookupDataset returns the catalog entry with the given name.
func LookupDataset(name string) (Dataset, bool) {
	for _, d := range Datasets() {
		if d.Name == name {
			return d, true
		}
	}
	return Dataset{}, false
}

// FetchOptions says where [EnsureDataset] looks for and puts files.
type FetchOptions struct {
	CacheDir  string       // cache root; files go to CacheDir/Dir/Path
	MirrorDir string       // mirror root ("" for none), laid out like the cache
	Client    *http.Client // nil: a client with a 30-minute timeout
	Progress  io.Writer    // download progress bar output; nil for none
}

// errNoURL is wrapped by the error for a file that only a mirror has.
var errNoURL = errors.New("has no download URL")

// DefaultMirror is the mirror folder used when $SEQTORCH_MIRROR is unset and the folder
// exists, relative to the root of a seqtorch checkout (the folder holding this module's
// go.mod): a shared data folder beside the checkout, as the Makefile also assumes. See
// [DefaultMirrorDir].
const DefaultMirror = "../shared/data"

// modulePath is this module's path, as go.mod names it.
const modulePath = "github.com/seqtorch/seqtorch"

// DefaultMirrorDir returns DefaultMirror resolved against the seqtorch checkout that holds
// the working directory (found by walking up from it to the folder whose go.mod declares
// this module), if that folder exists; otherwise "". So `go test ./data` and `go run
// ./train/sms` find the same mirror from any folder of the checkout.
func DefaultMirrorDir() string {
	dir, err := os.Getwd()
	if err != nil {
		return ""
	}
	for {
		if isModuleRoot(dir) {
			m := filepath.Join(dir, filepath.FromSlash(DefaultMirror))
			if fi, err := os.Stat(m); err == nil && fi.IsDir() {
				return m
			}
			return ""
		}
		up := filepath.Dir(dir)
		if up == dir {
			return ""
		}
		dir = up
	}
}

// isModuleRoot reports whether dir holds the go.mod of this module.
func isModuleRoot(dir string) bool {
	b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
	if err != nil {
		return false
	}
	for line := range strings.Lines(string(b)) {
		if f := strings.Fields(line); len(f) == 2 && f[0] == "module" && strings.Trim(f[1], `"`) == modulePath {
			return true
		}
	}
	return false
}

// DefaultFetchOptions reads the environment: the cache is $SEQTORCH_DATA or
// os.UserCacheDir()/seqtorch, the mirror is $SEQTORCH_MIRROR if set (even to "", which
// turns the mirror off), else [DefaultMirrorDir], and progress goes to standard error.
func DefaultFetchOptions() (FetchOptions, error) {
	opt := FetchOptions{CacheDir: os.Getenv("SEQTORCH_DATA"), MirrorDir: os.Getenv("SEQTORCH_MIRROR"), Progress: os.Stderr}
	if _, set := os.LookupEnv("SEQTORCH_MIRROR"); !set {
		opt.MirrorDir = DefaultMirrorDir()
	}
	if opt.CacheDir == "" {
		dir, err := os.UserCacheDir()
		if err != nil {
			return opt, fmt.Errorf("data: no cache folder (set SEQTORCH_DATA): %w", err)
		}
		opt.CacheDir = filepath.Join(dir, "seqtorch")
	}
	return opt, nil
}

// Ensure makes sure the files of the named catalog data set are in the local
// cache and returns the data set's folder there. Each file is taken from the
// cache if its SHA-256 matches, else copied from the mirror folder
// $SEQTORCH_MIRROR, else downloaded from its URL (with a progress bar on
// standard error); copies and downloads are verified and written atomically
// (temporary file, then rename). See [DefaultFetchOptions] for the folders.
func Ensure(name string) (dir string, err error) {
	ds, ok := LookupDataset(name)
	if !ok {
		var names []string
		for _, d := range catalog {
			names = append(names, d.Name)
		}
		return "", fmt.Errorf("data: unknown data set %q; want one of %q", name, names)
	}
	opt, err := DefaultFetchOptions()
	if err != nil {
		return "", err
	}
	return EnsureDataset(ds, opt)
}

// EnsureDataset is [Ensure] for any Dataset and explicit options.
func EnsureDataset(ds Dataset, opt FetchOptions) (string, error) {
	if opt.CacheDir == "" {
		return "", errors.New("data: FetchOptions.CacheDir is empty (set SEQTORCH_DATA)")
	}
	dir := filepath.Join(opt.CacheDir, filepath.FromSlash(ds.Dir))
	for _, f := range ds.Files {
		if err := ensureFile(ds, f, dir, opt); err != nil {
			return "", err
		}
	}
	return dir, nil
}

func ensureFile(ds Dataset, f File, dir string, opt FetchOptions) error {
	rel := filepath.FromSlash(f.Path)
	dest := filepath.Join(dir, rel)
	if sum, err := fileSHA256(dest); err == nil && sum == f.SHA256 {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(dest), 0o755); err != nil {
		return fmt.Errorf("data: %w", err)
	}
	display := ds.Dir + "/" + f.Path
	if opt.MirrorDir != "" {
		src := filepath.Join(opt.MirrorDir, filepath.FromSlash(ds.Dir), rel)
		if in, err := os.Open(src); err == nil {
			defer in.Close()
			return writeVerified(dest, in, f, src)
		}
	}
	if f.URL == "" {
		return fmt.Errorf("data: %s %w; set SEQTORCH_MIRROR to a folder that holds %s (or put the file in %s)", display, errNoURL, display, dir)
	}
	client := opt.Client
	if client == nil {
		client = &http.Client{Timeout: 30 * time.Minute}
	}
	resp, err := client.Get(f.URL)
	if err != nil {
		var uerr *url.Error
		if errors.As(err, &uerr) {
			err = uerr.Err
		}
		return fmt.Errorf("data: cannot download %s from %s (%v); set SEQTORCH_MIRROR to a folder that holds %s, or put the file in %s", display, f.URL, err, display, dir)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("data: cannot download %s from %s (HTTP %s); set SEQTORCH_MIRROR to a folder that holds %s, or put the file in %s", display, f.URL, resp.Status, display, dir)
	}
	var body io.Reader = resp.Body
	if opt.Progress != nil {
		size := resp.ContentLength
		if size <= 0 {
			size = f.Size
		}
		bar := progressbar.NewOptions64(size,
			progressbar.OptionSetWriter(opt.Progress),
			progressbar.OptionSetDescription(display),
			progressbar.OptionShowBytes(true),
			progressbar.OptionShowTotalBytes(true),
			progressbar.OptionSetWidth(20),
			progressbar.OptionThrottle(100*time.Millisecond),
			progressbar.OptionOnCompletion(func() { fmt.Fprintln(opt.Progress) }),
		)
		defer bar.Close()
		body = io.TeeReader(resp.Body, bar)
	}
	return writeVerified(dest, body, f, f.URL)
}

// writeVerified copies r to dest atomically if its SHA-256 is f.SHA256.
func writeVerified(dest string, r io.Reader, f File, from string) error {
	return writeFileAtomic(dest, func(w io.Writer) error {
		h := sha256.New()
		if _, err := io.Copy(io.MultiWriter(w, h), r); err != nil {
			return fmt.Errorf("reading %s: %w", from, err)
		}
		if got := hex.EncodeToString(h.Sum(nil)); got != f.SHA256 {
			return fmt.Errorf("%s: sha256 mismatch: want %s, got %s", from, f.SHA256, got)
		}
		return nil
	})
}

// fileSHA256 returns the hex SHA-256 of the file at path.
func fileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
