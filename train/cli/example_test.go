package cli_test

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/seqtorch/seqtorch/train/cli"
)

// An ensemble preset's folder lists its members' run folders in ensemble.json; a command
// that loads a model (predict, serve, evaluate) expands the folder into them.
func ExampleEnsembleMembers() {
	dir, err := os.MkdirTemp("", "ensemble")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)
	if err := cli.WriteEnsemble(dir, []string{"words", "chars"}); err != nil {
		fmt.Println(err)
		return
	}
	members, ok, err := cli.EnsembleMembers(dir)
	for _, m := range members {
		rel, _ := filepath.Rel(dir, m)
		fmt.Println(rel)
	}
	fmt.Println(ok, err)
	_, ok, err = cli.EnsembleMembers(filepath.Join(dir, "words")) // a run folder, not an ensemble
	fmt.Println(ok, err)
	// Output:
	// words
	// chars
	// true <nil>
	// false <nil>
}
