package data

import (
	"os"
	"path/filepath"
	"testing"
)

func TestDefaultFetchOptionsMirror(t *testing.T) {
	root := t.TempDir()
	withShared := filepath.Join(root, "a", "repo")
	if err := os.MkdirAll(filepath.Join(root, "a", "shared", "data"), 0o755); err != nil {
		t.Fatal(err)
	}
	without := filepath.Join(root, "b", "repo")
	for _, d := range []string{withShared, without} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	cases := []struct {
		name   string
		dir    string
		env    *string
		mirror string
	}{
		{"unset, shared folder beside the checkout", withShared, nil, DefaultMirror},
		{"unset, no shared folder", without, nil, ""},
		{"set", without, ptr("/srv/mirror"), "/srv/mirror"},
		{"set empty turns the mirror off", withShared, ptr(""), ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Chdir(c.dir)
			t.Setenv("SEQTORCH_DATA", t.TempDir())
			t.Setenv("SEQTORCH_MIRROR", "")
			if c.env == nil {
				os.Unsetenv("SEQTORCH_MIRROR")
			} else {
				os.Setenv("SEQTORCH_MIRROR", *c.env)
			}
			opt, err := DefaultFetchOptions()
			if err != nil {
				t.Fatal(err)
			}
			if opt.MirrorDir != c.mirror {
				t.Errorf("MirrorDir = %q, want %q", opt.MirrorDir, c.mirror)
			}
		})
	}
}

func ptr(s string) *string { return &s }
