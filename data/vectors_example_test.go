package data_test

import (
	"archive/zip"
	"compress/gzip"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/seqtorch/seqtorch/data"
)

// A GloVe file as Stanford distributes it: text rows without a header, in a
// zip archive. LoadVectors tells zip, gzip and the format from the content.
func ExampleLoadVectors() {
	dir, err := os.MkdirTemp("", "vectors")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "glove.tiny.zip")
	f, err := os.Create(path)
	if err != nil {
		fmt.Println(err)
		return
	}
	zw := zip.NewWriter(f)
	w, _ := zw.Create("glove.tiny.3d.txt")
	fmt.Fprint(w, "the 0.1 0.2 0.3\nAsian 1 2 3\ndog 4 5 6\n")
	zw.Close()
	f.Close()

	v, err := data.LoadVectors(path, data.VectorOptions{Keep: data.KeepSet([]string{"asian", "dog"})})
	if err != nil {
		fmt.Println(err)
		return
	}
	vec, _ := v.Lookup("asian") // the cased row "Asian"
	fmt.Println(v.Source.Name(), "|", v.Source.Describe(v.Format), "|", v.Dim, v.Rows, v.Words, vec)
	// Output:
	// glove.tiny.zip:glove.tiny.3d.txt | GloVe text, zip | 3 3 [Asian dog] [1 2 3]
}

// Values that are not finite are refused with the file and line.
func ExampleReadVectors() {
	var gz strings.Builder
	zw := gzip.NewWriter(&gz)
	fmt.Fprint(zw, "2 3\nthe 0.1 0.2 0.3\ncat 1 NaN 3\n")
	zw.Close()
	_, err := data.ReadVectors(strings.NewReader(gz.String()), "cats.w2v.txt.gz", data.VectorOptions{})
	fmt.Println(err)
	// Output:
	// cats.w2v.txt.gz:3: value 2 of "cat": want a finite number, got "NaN"
}

func ExampleReadGloVeText() {
	in := "the 0.1 0.2\n. . . 0.5 0.6\nAsian 1 2\n"
	v, err := data.ReadGloVeText(strings.NewReader(in), "glove.txt", data.VectorOptions{})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("%d x %d %q\n", v.Rows, v.Dim, v.Words)
	_, err = data.ReadGloVeText(strings.NewReader(in+"dog 1\n"), "glove.txt", data.VectorOptions{})
	fmt.Println(err)
	// Output:
	// 3 x 2 ["the" ". . ." "Asian"]
	// glove.txt:4: want 2 values after "dog" (the dimension of line 1), got 1
}

func ExampleVectors_Record() {
	v, _ := data.ReadGloVeText(strings.NewReader("the 1 0\ncat 0 1\n"), "g.txt", data.VectorOptions{})
	r := v.Record(v.Coverage([][]string{{"the", "cat", "sat"}}))
	fmt.Printf("%s %d/%d rows, types %.2f, tokens %.2f\n", r.Format, r.RowsKept, r.Rows, r.TypeCoverage, r.TokenCoverage)
	// Output:
	// GloVe text 2/2 rows, types 0.67, tokens 0.67
}

// Without a mirror the catalog's vectors cannot be had; the error says what
// to download and how to pass it.
func ExampleDefaultVectors() {
	path, err := data.DefaultVectors()
	if errors.Is(err, data.ErrNoVectors) {
		fmt.Println(err)
		return
	}
	fmt.Println(path, err)
}

func ExampleDefaultMirrorDir() {
	fmt.Println(data.DefaultMirrorDir()) // e.g. /home/me/shared/data for a checkout /home/me/seqtorch
}
