package data

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"iter"
	"math"
	"strconv"
	"strings"
)

// ReadWord2VecText reads the word2vec text format: a header "N D", then N
// lines "word v1 ... vD" separated by spaces (tabs are accepted too). The
// input is streamed; only rows selected by opt.Keep are parsed and held (the
// values of skipped rows are counted and scanned for characters that cannot
// be in a number, not parsed). opt.Format is ignored. Errors name the line: a
// header/row-count or dimension mismatch, a non-numeric or non-finite value
// (NaN, Inf, or beyond float32's range such as 1e999).
func ReadWord2VecText(r io.Reader, name string, opt VectorOptions) (*Vectors, error) {
	return readVectorsText(newLineReader(r, name), Word2VecText, opt, "")
}

// ReadGloVeText reads GloVe's text format (glove.6B.50d.txt,
// glove.840B.300d.txt): lines "word v1 ... vD" and no header. The dimension
// D is the first row's count of values, and every row is checked against
// it. A row with more fields whose extra leading fields are not numbers has
// a word with spaces in it (glove.840B.300d.txt has a few, such as ". . .");
// it is read as such. Streaming, Keep and errors are as for
// [ReadWord2VecText].
func ReadGloVeText(r io.Reader, name string, opt VectorOptions) (*Vectors, error) {
	return readVectorsText(newLineReader(r, name), GloVeText, opt, "")
}

// readVectorsText reads Word2VecText or GloVeText. note, if not empty, is
// added to errors on the first line of values: it says why the format was
// chosen, for a file whose format was detected.
func readVectorsText(lr *lineReader, format VectorFormat, opt VectorOptions, note string) (*Vectors, error) {
	p := &textRows{lr: lr, opt: opt, note: note}
	n := -1 // rows the header announces; -1 for GloVe
	rows := 0
	var v *Vectors
	if format == Word2VecText {
		head, err := lr.nextBytes()
		if err == io.EOF {
			return nil, fmt.Errorf("%s:1: want header \"N D\", got an empty file%s", lr.name, p.noteFor(1))
		}
		if err != nil {
			return nil, err
		}
		rows, d, err := parseVectorHeader(string(head))
		if err != nil {
			return nil, fmt.Errorf("%s%s", lr.errorf("%v", err), p.noteFor(1))
		}
		n, v = rows, newVectors(rows, d, format, opt)
		p.dimFrom = "header dimension"
	}
	for {
		b, err := lr.nextBytes()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		b = bytes.TrimRight(b, " \t\r")
		if len(b) == 0 {
			continue
		}
		if v == nil { // GloVe's first row sets the dimension
			word, rest := cutWord(b)
			d, _ := scanValues(rest)
			if len(word) == 0 || d == 0 {
				return nil, fmt.Errorf("%s%s", lr.errorf("want a word and its values (\"word v1 ... vD\"), got %q", truncate(string(b), 60)), p.noteFor(lr.line))
			}
			if d > maxVectorDim {
				return nil, fmt.Errorf("%s%s", lr.errorf("want at most %d values, got %d", maxVectorDim, d), p.noteFor(lr.line))
			}
			v = newVectors(0, d, format, opt)
			p.dimFrom = fmt.Sprintf("the dimension of line %d", lr.line)
		}
		if p.first == 0 {
			p.first = lr.line
		}
		rows++
		if n >= 0 && rows > n {
			return nil, lr.errorf("header says %d rows, but there are more", n)
		}
		if err := p.row(v, b); err != nil {
			return nil, err
		}
	}
	if v == nil {
		return nil, fmt.Errorf("%s:1: want lines \"word v1 ... vD\", got an empty file%s", lr.name, p.noteFor(1))
	}
	if n >= 0 && rows != n {
		return nil, fmt.Errorf("%s:%d: header says %d rows, got %d", lr.name, lr.line, n, rows)
	}
	v.Rows = rows
	return v, nil
}

// textRows parses the rows of a text vectors file.
type textRows struct {
	lr      *lineReader
	opt     VectorOptions
	vec     []float32
	dimFrom string // where the dimension comes from, for messages
	note    string // why the format was chosen (detected files), for errors on the first row
	first   int    // line of the first row
}

// noteFor returns the detection note for an error on line, if that is the
// header or the first row.
func (p *textRows) noteFor(line int) string {
	if p.note == "" || (p.first != 0 && line > p.first) {
		return ""
	}
	return " (" + p.note + ")"
}

func (p *textRows) errorf(format string, args ...any) error {
	return fmt.Errorf("%w%s", p.lr.errorf(format, args...), p.noteFor(p.lr.line))
}

// row parses one row b (not empty, no trailing white space) of v.Dim values
// and adds it to v if it is kept. Skipped rows are only counted and scanned.
func (p *textRows) row(v *Vectors, b []byte) error {
	d := v.Dim
	word, rest := cutWord(b)
	if len(word) == 0 {
		return p.errorf("want a word then %d values, got a line starting with a space", d)
	}
	n, plain := scanValues(rest)
	if n > d {
		// The last d fields are the values; the others belong to the word,
		// unless one of them is a number (then the row is too long).
		var ok bool
		if word, rest, ok = spacedWord(b, n-d); !ok {
			return p.errorf("want %d values after %q (%s), got %d", d, truncate(string(word), 40), p.dimFrom, n)
		}
		_, plain = scanValues(rest)
	} else if n < d {
		return p.errorf("want %d values after %q (%s), got %d", d, truncate(string(word), 40), p.dimFrom, n)
	}
	keep := v.wantsBytes(word, p.opt)
	if !keep && plain {
		return nil
	}
	if len(p.vec) != d {
		p.vec = make([]float32, d)
	}
	for i, f := range splitValues(rest) {
		x, err := strconv.ParseFloat(string(f), 32)
		if err != nil && !errors.Is(err, strconv.ErrRange) {
			return p.errorf("value %d of %q: want a number, got %q", i+1, truncate(string(word), 40), truncate(string(f), 40))
		}
		if math.IsInf(x, 0) || math.IsNaN(x) {
			why := ""
			if err != nil {
				why = " (beyond float32's range)"
			}
			return p.errorf("value %d of %q: want a finite number, got %q%s", i+1, truncate(string(word), 40), truncate(string(f), 40), why)
		}
		p.vec[i] = float32(x)
	}
	if keep {
		v.add(string(word), p.vec, p.opt)
	}
	return nil
}

// cutWord splits a row at its first space or tab.
func cutWord(b []byte) (word, rest []byte) {
	if i := bytes.IndexAny(b, " \t"); i >= 0 {
		return b[:i], b[i+1:]
	}
	return b, nil
}

// spacedWord splits row b into a word of 1+extra fields (with the spaces
// between them) and the values after it. ok is false, and word the first
// field, if one of the extra fields is a number.
func spacedWord(b []byte, extra int) (word, rest []byte, ok bool) {
	i, k := 0, 0
	skipSpace := func() {
		for i < len(b) && (b[i] == ' ' || b[i] == '\t') {
			i++
		}
	}
	for ; k <= extra; k++ {
		skipSpace()
		start := i
		for i < len(b) && b[i] != ' ' && b[i] != '\t' {
			i++
		}
		if k > 0 {
			if _, err := strconv.ParseFloat(string(b[start:i]), 64); err == nil || errors.Is(err, strconv.ErrRange) {
				w, _ := cutWord(b)
				return w, nil, false
			}
		}
	}
	return b[:i], b[i:], true
}

// splitValues yields the space or tab separated fields of b (as counted by
// scanValues) with their index.
func splitValues(b []byte) iter.Seq2[int, []byte] {
	return func(yield func(int, []byte) bool) {
		for i, k := 0, 0; i < len(b); k++ {
			for i < len(b) && valueBytes[b[i]] == spaceByte {
				i++
			}
			if i == len(b) {
				return
			}
			start := i
			for i < len(b) && valueBytes[b[i]] != spaceByte {
				i++
			}
			if !yield(k, b[start:i]) {
				return
			}
		}
	}
}

// Byte classes for scanValues.
const (
	otherByte = iota
	spaceByte
	numberByte
)

var valueBytes = func() (t [256]uint8) {
	t[' '], t['\t'] = spaceByte, spaceByte
	for _, c := range []byte("0123456789.+-eE") {
		t[c] = numberByte
	}
	return t
}()

// scanValues counts the space or tab separated fields of b without
// allocating, and reports whether all their bytes can be in a decimal
// number (if not, the row is parsed even when skipped, so that NaN, Inf and
// words where values belong are errors).
func scanValues(b []byte) (n int, plain bool) {
	plain = true
	in := false
	for _, c := range b {
		k := valueBytes[c]
		if k == spaceByte {
			in = false
			continue
		}
		if !in {
			n++
			in = true
		}
		if k == otherByte {
			plain = false
		}
	}
	return n, plain
}

func parseVectorHeader(s string) (n, d int, err error) {
	f := strings.Fields(s)
	if len(f) != 2 {
		return 0, 0, fmt.Errorf("want header \"N D\" (rows and dimension), got %q", truncate(s, 60))
	}
	n, err1 := strconv.Atoi(f[0])
	d, err2 := strconv.Atoi(f[1])
	if err1 != nil || err2 != nil || n < 0 || d < 1 {
		return 0, 0, fmt.Errorf("want header \"N D\" with integers N >= 0 and D >= 1, got %q", truncate(s, 60))
	}
	if d > maxVectorDim {
		return 0, 0, fmt.Errorf("want dimension D <= %d, got %d", maxVectorDim, d)
	}
	return n, d, nil
}

// ReadWord2VecBinary reads the binary word2vec format of the GoogleNews
// vectors: a header line "N D\n", then per row the word's bytes up to a space,
// D little-endian float32 values and an optional newline. The input is
// streamed and only rows selected by opt.Keep are held. opt.Format is
// ignored. Errors name the row (1-based) and the byte offset: truncated
// file, bad header, too many rows, a NaN or infinite value in a kept row.
func ReadWord2VecBinary(r io.Reader, name string, opt VectorOptions) (*Vectors, error) {
	return readWord2VecBinary(r, name, opt, "")
}

// readWord2VecBinary is ReadWord2VecBinary; note, if not empty, is added to
// errors in the header and first row (see readVectorsText).
func readWord2VecBinary(r io.Reader, name string, opt VectorOptions, note string) (*Vectors, error) {
	if note != "" {
		note = " (" + note + ")"
	}
	br := bufio.NewReaderSize(r, 1<<20)
	hb, err := br.ReadSlice('\n') // at most br.Size() bytes: a header is short
	if errors.Is(err, bufio.ErrBufferFull) {
		return nil, fmt.Errorf("%w (want a header \"N D\")%s", errLineTooLong(name, 1, br.Size()), note)
	}
	head := string(hb)
	if err != nil {
		return nil, fmt.Errorf("%s: byte 0: want header \"N D\\n\", got %q and %v%s", name, truncate(head, 60), errOrEOF(err), note)
	}
	n, d, err := parseVectorHeader(head)
	if err != nil {
		return nil, fmt.Errorf("%s: header: %v%s", name, err, note)
	}
	off := int64(len(head))
	v := newVectors(n, d, Word2VecBinary, opt)
	buf := make([]byte, 4*d)
	vec := make([]float32, d)
	var word []byte
	for row := 1; row <= n; row++ {
		if row == 2 {
			note = ""
		}
		// The word: skip leading newlines (the optional end of the previous
		// row), then read to a space.
		word = word[:0]
		start := off
		for {
			c, err := br.ReadByte()
			if err != nil {
				return nil, fmt.Errorf("%s: row %d, byte %d: truncated file: want a word ending in a space, got %v%s", name, row, off, errOrEOF(err), note)
			}
			off++
			if c == ' ' {
				break
			}
			if c == '\n' && len(word) == 0 {
				start = off
				continue
			}
			word = append(word, c)
			if len(word) > maxWordBytes {
				return nil, fmt.Errorf("%s: row %d, byte %d: want a word of at most %d bytes followed by a space%s", name, row, start, maxWordBytes, note)
			}
		}
		if len(word) == 0 {
			return nil, fmt.Errorf("%s: row %d, byte %d: want a word, got an empty one%s", name, row, start, note)
		}
		vstart := off
		if !v.wantsBytes(word, opt) {
			k, err := br.Discard(4 * d)
			off += int64(k)
			if err != nil {
				return nil, fmt.Errorf("%s: row %d (%q), byte %d: truncated file: want %d bytes of vector, got %d%s", name, row, truncate(string(word), 40), vstart, 4*d, k, note)
			}
			continue
		}
		w := string(word)
		k, err := io.ReadFull(br, buf)
		off += int64(k)
		if err != nil {
			return nil, fmt.Errorf("%s: row %d (%q), byte %d: truncated file: want %d bytes of vector, got %d%s", name, row, truncate(w, 40), vstart, 4*d, k, note)
		}
		for i := range vec {
			x := math.Float32frombits(binary.LittleEndian.Uint32(buf[4*i:]))
			if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
				return nil, fmt.Errorf("%s: row %d (%q), byte %d: value %d: want a finite number, got %v%s", name, row, truncate(w, 40), vstart+4*int64(i), i+1, x, note)
			}
			vec[i] = x
		}
		v.add(w, vec, opt)
	}
	// Only white space may follow the last row.
	rest, err := br.Peek(1)
	for err == nil && (rest[0] == '\n' || rest[0] == ' ' || rest[0] == '\r') {
		br.ReadByte()
		off++
		rest, err = br.Peek(1)
	}
	if err == nil {
		return nil, fmt.Errorf("%s: byte %d: header says %d rows, but more data follows", name, off, n)
	}
	if !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%s: byte %d: %w", name, off, err)
	}
	return v, nil
}

func errOrEOF(err error) string {
	if errors.Is(err, io.EOF) {
		return "end of file"
	}
	return err.Error()
}

// WriteWord2VecBinary writes v in the binary word2vec format (used by tests
// and benchmarks to make files).
func WriteWord2VecBinary(w io.Writer, v *Vectors) error {
	bw := bufio.NewWriter(w)
	fmt.Fprintf(bw, "%d %d\n", len(v.Words), v.Dim)
	var b [4]byte
	for i, word := range v.Words {
		if word == "" || strings.ContainsAny(word, " \n") {
			return fmt.Errorf("data: WriteWord2VecBinary: word %d: want no spaces or newlines, got %q", i, word)
		}
		bw.WriteString(word)
		bw.WriteByte(' ')
		for _, x := range v.Data[i*v.Dim : (i+1)*v.Dim] {
			binary.LittleEndian.PutUint32(b[:], math.Float32bits(x))
			bw.Write(b[:])
		}
		bw.WriteByte('\n')
	}
	return bw.Flush()
}
