package data

import (
	"os"
	"path/filepath"
	"testing"
)

func TestDefaultFetchOptionsMirror(t *testing.T) {
	root := t.TempDir()
	mkdir := func(parts ...string) string {
		d := filepath.Join(append([]string{root}, parts...)...)
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		return d
	}
	writeGoMod := func(dir, module string) {
		if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module "+module+"\n\ngo 1.26\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// a/repo: a checkout with ../shared/data; b/repo: one without; c/user: a
	// user's module beside a shared folder (not a checkout, so no default).
	withShared := mkdir("a", "repo")
	mkdir("a", "shared", "data")
	deep := mkdir("a", "repo", "train", "sms")
	nested := mkdir("a", "repo", "examples", "own")
	writeGoMod(withShared, modulePath)
	writeGoMod(nested, "example.com/own") // another module inside the checkout
	without := mkdir("b", "repo")
	writeGoMod(without, modulePath)
	user := mkdir("c", "user")
	mkdir("c", "shared", "data")
	writeGoMod(user, "example.com/user")
	shared, err := filepath.EvalSymlinks(filepath.Join(root, "a", "shared", "data"))
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name   string
		dir    string
		env    *string
		mirror string
	}{
		{"unset, checkout root", withShared, nil, shared},
		{"unset, folder inside the checkout", deep, nil, shared},
		{"unset, other module inside the checkout", nested, nil, shared},
		{"unset, no shared folder", without, nil, ""},
		{"unset, not a seqtorch checkout", user, nil, ""},
		{"unset, no go.mod above", root, nil, ""},
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
			got := opt.MirrorDir
			if got != "" && c.env == nil {
				if got, err = filepath.EvalSymlinks(got); err != nil {
					t.Fatal(err)
				}
			}
			if got != c.mirror {
				t.Errorf("MirrorDir = %q, want %q", opt.MirrorDir, c.mirror)
			}
		})
	}
}

func ptr(s string) *string { return &s }
