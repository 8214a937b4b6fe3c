package data

import (
	"archive/zip"
	"bufio"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"math"
	"os"
	"path"
	"path/filepath"
	"strings"
	"unicode/utf8"
)

// VectorFormats lists the vector files [LoadVectors] accepts, for messages.
const VectorFormats = "word2vec binary or text, or GloVe text; plain, gzip-compressed (.gz), or in a .zip (FILE.zip:MEMBER picks one file)"

// VectorsHelp says, in one line, what a user without the catalog's vectors
// can download and how to pass it to the seqtorch commands (their --vectors
// flag; -h lists the flags).
const VectorsHelp = "download Stanford's GloVe (e.g. glove.840B.300d.zip, https://nlp.stanford.edu/projects/glove/) " +
	"or word2vec's GoogleNews-vectors-negative300.bin.gz (https://code.google.com/archive/p/word2vec/) " +
	"and pass it with --vectors PATH (" + VectorFormats + "); -h lists the flags"

// ErrNoVectors is wrapped by the error of [DefaultVectors] when the catalog's
// vectors are not to be had.
var ErrNoVectors = errors.New("no word vectors")

// defaultVectors is the catalog's vectors file: GloVe 840B restricted to SICK.
const (
	defaultVectorsSet  = "glove-sick"
	defaultVectorsFile = "glove.840B.300d.sick-treelstm.w2v.txt"
)

// DefaultVectors returns the path of the catalog's word vectors (data set
// "glove-sick": GloVe 840B 300-d restricted to SICK's vocabulary), making sure
// they are in the cache (see [Ensure]). That file has no download URL, so
// without a mirror folder it is not to be had: the error then wraps
// [ErrNoVectors] and is one line saying what to download instead and how to
// pass it ([VectorsHelp]).
func DefaultVectors() (string, error) {
	dir, err := Ensure(defaultVectorsSet)
	if err == nil {
		return filepath.Join(dir, defaultVectorsFile), nil
	}
	if errors.Is(err, errNoURL) {
		return "", fmt.Errorf("%w: the default vectors (%s, GloVe 840B restricted to SICK) come only from a mirror folder (SEQTORCH_MIRROR), and none holds them; %s",
			ErrNoVectors, defaultVectorsFile, VectorsHelp)
	}
	return "", fmt.Errorf("%w: %v; or %s", ErrNoVectors, err, VectorsHelp)
}

// VectorSource describes the file a [Vectors] was loaded from.
type VectorSource struct {
	Path        string // the path given, without ":MEMBER"
	Member      string // the zip member read; "" if the file is not a zip archive
	Compression string // "" (none), "gzip", "zip" or "zip+gzip"
	SHA256      string // hex SHA-256 of the file at Path as stored
	Size        int64  // size in bytes of the file at Path
}

// Name returns the file's base name, with ":MEMBER" for a zip member; ""
// for vectors not read by [LoadVectors].
func (s VectorSource) Name() string {
	if s.Path == "" {
		return ""
	}
	if s.Member != "" {
		return baseName(s.Path) + ":" + s.Member
	}
	return baseName(s.Path)
}

// Describe names a format with the source's compression, e.g. "GloVe text,
// gzip".
func (s VectorSource) Describe(f VectorFormat) string {
	if s.Compression == "" {
		return f.String()
	}
	return f.String() + ", " + s.Compression
}

// LoadWord2Vec is [LoadVectors]: it reads every format LoadVectors does
// (the name is from the time it read word2vec files only).
func LoadWord2Vec(path string, opt VectorOptions) (*Vectors, error) {
	return LoadVectors(path, opt)
}

// LoadVectors reads a word vectors file in any of the formats ([Word2VecText],
// [Word2VecBinary], [GloVeText]), plain, gzip-compressed, or as the one file of
// a zip archive; "archive.zip:MEMBER" picks a file of an archive holding
// several (by its name in the archive, or its base name if that is unique).
// Compression and format are told from the content (magic bytes; a header
// "N D" or not; text or binary rows), whatever the name says, unless
// opt.Format names the format. The file is streamed: memory grows with the
// rows kept (opt.Keep), not with the file. The result's Source names the
// file, its compression and SHA-256. Errors name the file and line (row and
// byte offset for binary files); on the first row they also say which format
// the content was taken for and why.
func LoadVectors(path string, opt VectorOptions) (*Vectors, error) {
	file, member := splitMember(path)
	f, err := os.Open(file)
	if err != nil {
		return nil, fmt.Errorf("data: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("data: %w", err)
	}
	if st.IsDir() {
		return nil, fmt.Errorf("data: %s is a folder; want a word vectors file (%s)", file, VectorFormats)
	}
	h := sha256.New()
	v, src, err := readVectorsAt(f, st.Size(), baseName(file), member, opt, h)
	if err != nil {
		return nil, err
	}
	src.Path, src.Size, src.SHA256 = file, st.Size(), hex.EncodeToString(h.Sum(nil))
	v.Source = src
	return v, nil
}

// splitMember splits "archive.zip:MEMBER" when path itself is not a file and
// the part before the last colon is.
func splitMember(p string) (file, member string) {
	if _, err := os.Stat(p); err == nil {
		return p, ""
	}
	if i := strings.LastIndexByte(p, ':'); i > 0 && i < len(p)-1 {
		if st, err := os.Stat(p[:i]); err == nil && !st.IsDir() {
			return p[:i], p[i+1:]
		}
	}
	return p, ""
}

var (
	zipMagic      = []byte("PK\x03\x04")
	emptyZipMagic = []byte("PK\x05\x06")
	gzipMagic     = []byte{0x1f, 0x8b}
)

// readVectorsAt reads the vectors file held by ra (size bytes, named name)
// and feeds all of its bytes to h. member picks a zip member.
func readVectorsAt(ra io.ReaderAt, size int64, name, member string, opt VectorOptions, h hash.Hash) (*Vectors, VectorSource, error) {
	var src VectorSource
	magic := make([]byte, 4)
	n, _ := ra.ReadAt(magic, 0)
	magic = magic[:n]
	whole := io.NewSectionReader(ra, 0, size)
	if !bytes.HasPrefix(magic, zipMagic) && !bytes.HasPrefix(magic, emptyZipMagic) {
		if member != "" {
			return nil, src, fmt.Errorf("%s: not a zip archive, so there is no member %q to pick", name, member)
		}
		var note string
		if strings.HasSuffix(strings.ToLower(name), ".zip") {
			note = "not a zip archive despite the name"
		}
		tee := io.TeeReader(whole, h)
		v, comp, err := readVectorsStream(tee, name, opt, note)
		if err != nil {
			return nil, src, err
		}
		if _, err := io.Copy(io.Discard, tee); err != nil { // hash what the readers left (e.g. after a gzip stream)
			return nil, src, fmt.Errorf("%s: %w", name, err)
		}
		src.Compression = comp
		return v, src, nil
	}
	zr, err := zip.NewReader(ra, size)
	if err != nil {
		return nil, src, fmt.Errorf("%s: reading the zip archive: %w", name, err)
	}
	zf, err := zipMember(zr, name, member)
	if err != nil {
		return nil, src, err
	}
	rc, err := zf.Open()
	if err != nil {
		return nil, src, fmt.Errorf("%s:%s: %w", name, zf.Name, err)
	}
	defer rc.Close()
	v, comp, err := readVectorsStream(rc, name+":"+zf.Name, opt, "")
	if err != nil {
		return nil, src, err
	}
	if _, err := io.Copy(h, whole); err != nil {
		return nil, src, fmt.Errorf("%s: %w", name, err)
	}
	src.Member, src.Compression = zf.Name, "zip"
	if comp != "" {
		src.Compression = "zip+" + comp
	}
	return v, src, nil
}

// zipMember returns the archive's file named member, or its only file when
// member is "".
func zipMember(zr *zip.Reader, name, member string) (*zip.File, error) {
	var files []*zip.File
	var names []string
	for _, zf := range zr.File {
		if zf.FileInfo().IsDir() || strings.HasPrefix(zf.Name, "__MACOSX/") {
			continue
		}
		files = append(files, zf)
		names = append(names, zf.Name)
	}
	list := strings.Join(names[:min(len(names), 6)], ", ")
	if len(names) > 6 {
		list += fmt.Sprintf(" and %d more", len(names)-6)
	}
	if member != "" {
		var byBase []*zip.File
		for _, zf := range files {
			if zf.Name == member {
				return zf, nil
			}
			if path.Base(zf.Name) == member {
				byBase = append(byBase, zf)
			}
		}
		if len(byBase) == 1 {
			return byBase[0], nil
		}
		return nil, fmt.Errorf("%s: the zip archive has no file %q; it holds %s", name, member, list)
	}
	switch len(files) {
	case 0:
		return nil, fmt.Errorf("%s: the zip archive holds no file; want one word vectors file", name)
	case 1:
		return files[0], nil
	}
	return nil, fmt.Errorf("%s: the zip archive holds %d files (%s); pick one as %s:MEMBER", name, len(files), list, name)
}

// ReadVectors reads word vectors from r in any format ([Word2VecText],
// [Word2VecBinary], [GloVeText]), plain or gzip-compressed, told from the
// content unless opt.Format names the format (see [LoadVectors], which also
// reads zip archives). name is used in error messages.
func ReadVectors(r io.Reader, name string, opt VectorOptions) (*Vectors, error) {
	v, _, err := readVectorsStream(r, name, opt, "")
	return v, err
}

// readVectorsStream decompresses gzip and reads the vectors, detecting their
// format unless opt.Format names it. note says something about the name to
// errors on the first row. It returns the compression found ("" or "gzip").
func readVectorsStream(r io.Reader, name string, opt VectorOptions, note string) (*Vectors, string, error) {
	br := bufio.NewReaderSize(r, 1<<20)
	magic, _ := br.Peek(4)
	comp := ""
	lower := strings.ToLower(name)
	switch {
	case bytes.HasPrefix(magic, gzipMagic):
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, "", fmt.Errorf("%s: reading the gzip header: %w", name, err)
		}
		defer zr.Close()
		br = bufio.NewReaderSize(gzipErrors{zr}, 1<<20)
		comp = "gzip"
		if m, _ := br.Peek(4); bytes.HasPrefix(m, zipMagic) || bytes.HasPrefix(m, gzipMagic) {
			return nil, "", fmt.Errorf("%s: the gzip data is itself compressed or a zip archive; want one word vectors file (%s)", name, VectorFormats)
		}
		lower = strings.TrimSuffix(lower, ".gz")
	case bytes.HasPrefix(magic, zipMagic) || bytes.HasPrefix(magic, emptyZipMagic):
		return nil, "", fmt.Errorf("%s: a zip archive: read it with LoadVectors (FILE.zip or FILE.zip:MEMBER)", name)
	case strings.HasSuffix(lower, ".gz"):
		note = joinNote(note, "not gzip-compressed despite the name")
		lower = strings.TrimSuffix(lower, ".gz")
	}
	format := opt.Format
	if format == FormatAuto {
		var why string
		var err error
		format, why, err = detectVectorFormat(br, lower)
		if err != nil {
			return nil, comp, fmt.Errorf("%s: %w", name, err)
		}
		if format == FormatAuto {
			return nil, comp, fmt.Errorf("%s: %s; want word vectors (%s)", name, why, VectorFormats)
		}
		note = joinNote(note, "taken for "+format.String()+": "+why+"; accepted: "+VectorFormats)
	}
	var v *Vectors
	var err error
	switch format {
	case Word2VecText, GloVeText:
		v, err = readVectorsText(newLineReader(br, name), format, opt, note)
	case Word2VecBinary:
		v, err = readWord2VecBinary(br, name, opt, note)
	default:
		err = fmt.Errorf("%s: unknown VectorOptions.Format %v", name, format)
	}
	return v, comp, err
}

func joinNote(a, b string) string {
	if a == "" {
		return b
	}
	return a + "; " + b
}

// gzipErrors says "gzip" in read errors (a truncated stream reports
// unexpected EOF).
type gzipErrors struct{ r io.Reader }

func (g gzipErrors) Read(p []byte) (int, error) {
	n, err := g.r.Read(p)
	if err != nil && err != io.EOF {
		err = fmt.Errorf("gzip data: %w", err)
	}
	return n, err
}

// ErrAmbiguousVectors is wrapped by the error of [ReadVectors] and
// [LoadVectors] for content that reads completely both as word2vec text and
// as word2vec binary (binary values whose bytes all happen to be digits and
// spaces, as in tiny made-up files) when the name does not settle it: the
// two readings give different numbers, and detection never guesses. Name the
// file .bin or .txt, or set [VectorOptions.Format].
var ErrAmbiguousVectors = errors.New("ambiguous word vectors format")

// detectVectorFormat tells the format from the content in br's buffer (up
// to its size, 1 MiB): no header "N D" on line 1 means GloVe. After a
// header, the rows in the buffer are tried both as word2vec text and as
// word2vec binary: the one reading that fits is taken. Content that fits
// both is binary when the name (lower, lowercased, without .gz) ends in
// .bin, text when it ends in .txt or .vec, and otherwise refused (FormatAuto
// and ErrAmbiguousVectors). Content that fits neither is taken for what it
// resembles, for the reader's error to explain. It returns FormatAuto and
// why (with err nil) for empty content; why says what was seen.
func detectVectorFormat(br *bufio.Reader, lower string) (f VectorFormat, why string, err error) {
	buf, perr := br.Peek(br.Size())
	if len(bytes.TrimSpace(buf)) == 0 {
		return FormatAuto, "empty file", nil
	}
	complete := errors.Is(perr, io.EOF) // buf holds the whole content
	line, rest, _ := bytes.Cut(buf, []byte("\n"))
	if len(line) > 200 {
		return GloVeText, "line 1 is not a word2vec header \"N D\"", nil
	}
	n, d, herr := parseVectorHeader(string(line))
	if herr != nil {
		return GloVeText, "line 1 is not a word2vec header \"N D\"", nil
	}
	if len(bytes.TrimSpace(rest)) == 0 {
		return Word2VecText, "line 1 is a header \"N D\" and no rows follow", nil
	}
	text, bin := probeTextRows(rest, n, d, complete), probeBinaryRows(rest, n, d, complete)
	switch {
	case text && bin && strings.HasSuffix(lower, ".bin"):
		return Word2VecBinary, "line 1 is a header \"N D\" and the rows read both as text and as binary; the name says .bin", nil
	case text && bin && (strings.HasSuffix(lower, ".txt") || strings.HasSuffix(lower, ".vec")):
		return Word2VecText, "line 1 is a header \"N D\" and the rows read both as text and as binary; the name says text", nil
	case text && bin:
		return FormatAuto, "", fmt.Errorf("%w: line 1 is a header \"N D\" and the rows read both as word2vec text and as word2vec binary, with different numbers; name the file .bin or .txt (or set VectorOptions.Format) to say which", ErrAmbiguousVectors)
	case text:
		return Word2VecText, "line 1 is a header \"N D\" and the rows are text", nil
	case bin:
		return Word2VecBinary, "line 1 is a header \"N D\" and the rows are binary", nil
	}
	// Neither reads: take the content for what it resembles.
	row, _, _ := bytes.Cut(rest, []byte("\n"))
	row = bytes.TrimRight(row, " \t\r")
	switch {
	case isTextRow(row, d):
		return Word2VecText, "line 1 is a header \"N D\" and line 2 a row of text", nil
	case isText(row) && !strings.HasSuffix(lower, ".bin") && !binaryRowLength(row, d):
		return Word2VecText, "line 1 is a header \"N D\" and line 2 is text", nil
	}
	return Word2VecBinary, "line 1 is a header \"N D\" and the next bytes are not a row of text", nil
}

// probeTextRows reports whether b, the content after a header "N D", reads
// as n rows of word2vec text of dimension d (complete: b is all of it;
// otherwise its last, cut line is left out and fewer rows may follow).
func probeTextRows(b []byte, n, d int, complete bool) bool {
	if !complete {
		i := bytes.LastIndexByte(b, '\n')
		if i < 0 {
			return false
		}
		b = b[:i+1]
	}
	lr := newLineReader(bytes.NewReader(b), "probe")
	p := &textRows{lr: lr, dimFrom: "header dimension"}
	v := newVectors(0, d, Word2VecText, VectorOptions{})
	rows := 0
	for line, err := range lr.lines(0) {
		if err != nil {
			return false
		}
		line := bytes.TrimRight([]byte(line), " \t\r")
		if len(line) == 0 {
			continue
		}
		if rows++; rows > n || p.row(v, line) != nil {
			return false
		}
	}
	return rows == n || !complete
}

// probeBinaryRows reports whether b, the content after a header "N D",
// reads as n rows of word2vec binary of dimension d with finite values and
// nothing but white space after them (complete: b is all of it; otherwise
// it may end inside a row).
func probeBinaryRows(b []byte, n, d int, complete bool) bool {
	off := 0
	for range n {
		for off < len(b) && b[off] == '\n' {
			off++
		}
		i := bytes.IndexByte(b[off:], ' ')
		if i < 0 {
			return !complete && len(b)-off <= maxWordBytes
		}
		if i == 0 || i > maxWordBytes {
			return false
		}
		off += i + 1
		if len(b)-off < 4*d {
			return !complete
		}
		for k := range d {
			x := float64(math.Float32frombits(binary.LittleEndian.Uint32(b[off+4*k:])))
			if math.IsNaN(x) || math.IsInf(x, 0) {
				return false
			}
		}
		off += 4 * d
	}
	return len(bytes.Trim(b[off:], " \r\n")) == 0
}

// isTextRow reports whether b is a word and d finite numbers.
func isTextRow(b []byte, d int) bool {
	word, rest := cutWord(b)
	if n, _ := scanValues(rest); len(word) == 0 || n != d {
		return false
	}
	p := &textRows{lr: &lineReader{name: "detect"}}
	v := newVectors(1, d, Word2VecText, VectorOptions{})
	return p.row(v, b) == nil
}

// binaryRowLength reports whether row is a word, a space and 4*d bytes: the
// length of a binary row, for rows of printable float32 bytes.
func binaryRowLength(row []byte, d int) bool {
	i := bytes.IndexByte(row, ' ')
	return i > 0 && len(row)-i-1 == 4*d
}

// isText reports whether b is UTF-8 without control characters other than tab.
func isText(b []byte) bool {
	for _, c := range b {
		if c < 0x20 && c != '\t' || c == 0x7f {
			return false
		}
	}
	return utf8.Valid(b)
}
