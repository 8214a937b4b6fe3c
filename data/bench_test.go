package data

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

// BenchmarkLoadSICK reads SICK.txt, tokenizes it, builds the vocabulary and
// loads the GloVe vectors for it.
func BenchmarkLoadSICK(b *testing.B) {
	sickPath := mirrorFile(b, "sick/SICK.txt")
	vecPath := mirrorFile(b, "vectors/glove.840B.300d.sick-treelstm.w2v.txt")
	var size int64
	for _, p := range []string{sickPath, vecPath} {
		st, err := os.Stat(p)
		if err != nil {
			b.Fatal(err)
		}
		size += st.Size()
	}
	b.SetBytes(size)
	b.ReportAllocs()
	for b.Loop() {
		pairs, err := LoadSICK(sickPath)
		if err != nil {
			b.Fatal(err)
		}
		tok := SICKTokenizer{Lower: true}
		var docs [][]string
		for _, p := range pairs {
			docs = append(docs, tok.Tokenize(p.A), tok.Tokenize(p.B))
		}
		voc := BuildVocab(docs, VocabOptions{})
		v, err := LoadWord2Vec(vecPath, VectorOptions{Keep: KeepSet(voc.Tokens())})
		if err != nil {
			b.Fatal(err)
		}
		v.Embedding(voc, EmbeddingOptions{})
	}
}

// writeBinaryVectors writes a rows x dim word2vec binary file of random
// values with words w0, w1, ...
func writeBinaryVectors(tb testing.TB, path string, rows, dim int) {
	f, err := os.Create(path)
	if err != nil {
		tb.Fatal(err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	fmt.Fprintf(w, "%d %d\n", rows, dim)
	rng := rand.New(rand.NewPCG(1, 2))
	buf := make([]byte, 4*dim)
	for i := range rows {
		fmt.Fprintf(w, "w%d ", i)
		for j := range dim {
			binary.LittleEndian.PutUint32(buf[4*j:], math.Float32bits(rng.Float32()-0.5))
		}
		w.Write(buf)
		w.WriteByte('\n')
	}
	if err := w.Flush(); err != nil {
		tb.Fatal(err)
	}
	if err := f.Close(); err != nil {
		tb.Fatal(err)
	}
}

// BenchmarkWord2VecBinary streams a generated 200,000 x 300 binary file
// (about 240 MB) keeping 1k, 5k or 50k words. It reports MB/s, the bytes
// allocated per load (B/op) and the heap still held by the result
// (held-MB), which grow with the kept words, not with the file.
func BenchmarkWord2VecBinary(b *testing.B) {
	const rows, dim = 200_000, 300
	path := filepath.Join(b.TempDir(), "vectors.bin")
	writeBinaryVectors(b, path, rows, dim)
	st, err := os.Stat(path)
	if err != nil {
		b.Fatal(err)
	}
	for _, keep := range []int{1_000, 5_000, 50_000} {
		b.Run(fmt.Sprintf("keep=%d", keep), func(b *testing.B) {
			words := make([]string, keep)
			for i := range words {
				words[i] = fmt.Sprintf("w%d", i*(rows/keep))
			}
			set := KeepSet(words)
			b.SetBytes(st.Size())
			b.ReportAllocs()
			var held float64
			for b.Loop() {
				var before, after runtime.MemStats
				runtime.GC()
				runtime.ReadMemStats(&before)
				f, err := os.Open(path)
				if err != nil {
					b.Fatal(err)
				}
				v, err := ReadWord2VecBinary(f, "vectors.bin", VectorOptions{Keep: set})
				f.Close()
				if err != nil {
					b.Fatal(err)
				}
				if v.Len() != keep {
					b.Fatalf("kept %d words, want %d", v.Len(), keep)
				}
				runtime.GC()
				runtime.ReadMemStats(&after)
				held = float64(after.HeapAlloc-min(before.HeapAlloc, after.HeapAlloc)) / 1e6
				runtime.KeepAlive(v)
			}
			b.ReportMetric(held, "held-MB")
		})
	}
}
