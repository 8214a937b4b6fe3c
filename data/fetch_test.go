package data

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestEnsureFromMirror(t *testing.T) {
	mirror := mirrorDir(t)
	t.Setenv("SEQTORCH_DATA", t.TempDir())
	t.Setenv("SEQTORCH_MIRROR", mirror)
	for _, name := range []string{"sms_spam", "sick", "glove-sick"} {
		t.Run(name, func(t *testing.T) {
			dir, err := Ensure(name)
			if err != nil {
				t.Fatal(err)
			}
			ds, _ := LookupDataset(name)
			for _, f := range ds.Files {
				sum, err := fileSHA256(filepath.Join(dir, f.Path))
				if err != nil || sum != f.SHA256 {
					t.Errorf("%s: sum %s, %v", f.Path, sum, err)
				}
			}
			// Second call: from the cache, even without the mirror.
			t.Setenv("SEQTORCH_MIRROR", "")
			if dir2, err := Ensure(name); err != nil || dir2 != dir {
				t.Errorf("cached Ensure = %q, %v", dir2, err)
			}
		})
	}
	if _, err := Ensure("nope"); err == nil || !strings.Contains(err.Error(), `unknown data set "nope"`) {
		t.Errorf("err = %v", err)
	}
}

func fakeDataset(content []byte, url string) Dataset {
	sum := sha256.Sum256(content)
	return Dataset{Name: "fake", Dir: "fake", Files: []File{{Path: "f.txt", SHA256: hex.EncodeToString(sum[:]), Size: int64(len(content)), URL: url}}}
}

func TestEnsureShaMismatch(t *testing.T) {
	mirror, cache := t.TempDir(), t.TempDir()
	os.MkdirAll(filepath.Join(mirror, "fake"), 0o755)
	os.WriteFile(filepath.Join(mirror, "fake", "f.txt"), []byte("tampered"), 0o644)
	ds := fakeDataset([]byte("original"), "")
	_, err := EnsureDataset(ds, FetchOptions{CacheDir: cache, MirrorDir: mirror})
	if err == nil || !strings.Contains(err.Error(), "sha256 mismatch: want "+ds.Files[0].SHA256) {
		t.Fatalf("err = %v, want a sha256 mismatch", err)
	}
	if entries, _ := os.ReadDir(filepath.Join(cache, "fake")); len(entries) != 0 {
		t.Errorf("cache holds %v after a failed copy", entries)
	}
}

func TestEnsureDownload(t *testing.T) {
	content := []byte("hello data\n")
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/f.txt" {
			http.NotFound(w, r)
			return
		}
		w.Write(content)
	}))
	defer srv.Close()
	tests := []struct {
		name string
		ds   Dataset
		err  string
	}{
		{"ok", fakeDataset(content, srv.URL+"/f.txt"), ""},
		{"404", fakeDataset(content, srv.URL+"/missing"), "HTTP 404 Not Found"},
		{"bad sum", fakeDataset([]byte("other"), srv.URL+"/f.txt"), "sha256 mismatch"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var progress bytes.Buffer
			dir, err := EnsureDataset(tc.ds, FetchOptions{CacheDir: t.TempDir(), Progress: &progress})
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got, _ := os.ReadFile(filepath.Join(dir, "f.txt"))
			if !bytes.Equal(got, content) {
				t.Errorf("file = %q", got)
			}
		})
	}
}

func TestEnsureOffline(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL + "/f.txt"
	srv.Close() // now unreachable
	ds := fakeDataset([]byte("x"), url)
	_, err := EnsureDataset(ds, FetchOptions{CacheDir: t.TempDir()})
	if err == nil {
		t.Fatal("want an error")
	}
	msg := err.Error()
	if strings.Contains(msg, "\n") || !strings.Contains(msg, url) || !strings.Contains(msg, "SEQTORCH_MIRROR") {
		t.Errorf("error %q: want one line naming %s and SEQTORCH_MIRROR", msg, url)
	}
	t.Log(msg)
	_, err = EnsureDataset(fakeDataset([]byte("x"), ""), FetchOptions{CacheDir: t.TempDir()})
	if err == nil || !strings.Contains(err.Error(), "has no download URL; set SEQTORCH_MIRROR") {
		t.Errorf("err = %v", err)
	}
}
