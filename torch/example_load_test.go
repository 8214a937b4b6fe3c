package torch_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/seqtorch/seqtorch/torch"
)

// Load finds the shim; a program that wants to report a missing shim its own way calls it
// before any libtorch call (which would otherwise print the reason and exit).
func ExampleLoad() {
	if err := torch.Load(); err != nil {
		if errors.Is(err, torch.ErrNotLoaded) {
			fmt.Println("run:", torch.SetupCommand)
		}
		return
	}
	info, _ := torch.Loaded()
	fmt.Println(filepath.Base(info.Path))
	// Output: libseqtorch.so
}

// Setup builds the shim for this machine's libtorch into the user cache, as
// `seqtorch setup` does (a minute or two the first time).
func ExampleSetup() {
	lib, err := torch.Setup(context.Background(), torch.SetupOptions{Stderr: os.Stderr})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("built", lib)
}
