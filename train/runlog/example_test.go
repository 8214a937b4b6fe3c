package runlog_test

import (
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/seqtorch/seqtorch/train/runlog"
)

func Example() {
	dir, err := os.MkdirTemp("", "run")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)

	run, err := runlog.Open(filepath.Join(dir, "run1"))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer run.Close()
	_ = run.WriteJSON("config.json", map[string]any{"lr": 1e-3})
	_ = run.WriteEpoch(map[string]any{"epoch": 1, "train_loss": 0.69, "val_acc": 0.51})

	b, _ := os.ReadFile(run.Path(runlog.MetricsFile))
	fmt.Print(string(b))
	// Output: {"epoch":1,"train_loss":0.69,"val_acc":0.51}
}

func ExampleFormatParams() {
	_, _ = runlog.FormatParams(os.Stdout, []runlog.Param{
		{Name: "embed.weight", Shape: []int64{100, 8}},
		{Name: "fc.weight", Shape: []int64{8, 2}, Trainable: true},
		{Name: "fc.bias", Shape: []int64{2}, Trainable: true},
	})
	// Output:
	// name          shape    params  trainable
	// ----------------------------------------
	// embed.weight  [100 8]     800  no
	// fc.weight     [8 2]        16  yes
	// fc.bias       [2]           2  yes
	// ----------------------------------------
	// trainable params:  18
	// frozen params:    800
	// total params:     818
}

func ExampleAtomicWriteFile() {
	dir, _ := os.MkdirTemp("", "atomic")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "note.txt")
	err := runlog.AtomicWriteFile(path, func(w io.Writer) error {
		_, err := io.WriteString(w, "hello\n")
		return err
	})
	b, _ := os.ReadFile(path)
	fmt.Print(string(b), err)
	// Output:
	// hello
	// <nil>
}

func ExampleNewLineProgress() {
	p := runlog.NewLineProgress(os.Stdout, 2)
	p.Start(1, 4)
	for range 3 {
		p.Step(1, 0.5)
	}
	// Done also prints the elapsed time, omitted here.
	// Output: epoch 1: step 2/4 loss 0.5000 (mean 0.5000)
}
