package jit

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"

	"github.com/seqtorch/seqtorch/torch"
)

// checkArchive tells, before libtorch reads path, the files that are not TorchScript archives
// apart (a torch.save file, a safetensors file, anything else), each with what to do instead.
func checkArchive(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("jit.Load: %w", err)
	}
	defer f.Close()
	head := make([]byte, 16)
	n, _ := io.ReadFull(f, head)
	head = head[:n]
	st, err := f.Stat()
	if err != nil {
		return fmt.Errorf("jit.Load: %w", err)
	}
	if st.IsDir() {
		return fmt.Errorf("jit.Load %s: is a folder, not a TorchScript archive (a .pt file written by torch.jit.save)", path)
	}
	if !bytes.HasPrefix(head, []byte("PK\x03\x04")) {
		switch {
		case isSafetensors(head, st.Size()):
			return fmt.Errorf("jit.Load %s: is a safetensors file (tensors only, no code), not a TorchScript archive: "+
				"save the model from Python with torch.jit.script(model).save(path), or load these weights into a Go module with nn.LoadSafetensors", path)
		case len(head) >= 2 && head[0] == 0x80 && head[1] <= 5: // a pickle: torch.save's legacy format
			return fmt.Errorf("jit.Load %s: is a torch.save file in the legacy (pickle) format, not a TorchScript archive: "+
				"save the model from Python with torch.jit.script(model).save(path)", path)
		}
		return fmt.Errorf("jit.Load %s: not a TorchScript archive (not a zip file; a TorchScript .pt file is written by torch.jit.save)", path)
	}
	zr, err := zip.NewReader(f, st.Size())
	if err != nil {
		return fmt.Errorf("jit.Load %s: not a TorchScript archive (a damaged zip file: %v)", path, err)
	}
	var data, constants, code bool
	for _, e := range zr.File {
		_, rest, ok := strings.Cut(e.Name, "/")
		if !ok {
			continue
		}
		switch {
		case rest == "data.pkl":
			data = true
		case rest == "constants.pkl":
			constants = true
		case strings.HasPrefix(rest, "code/"):
			code = true
		}
	}
	if data && !constants && !code {
		return fmt.Errorf("jit.Load %s: is a torch.save file (a state dict or a pickled object: tensors, no TorchScript code), not a TorchScript archive: "+
			"save the model from Python with torch.jit.script(model).save(path), or load it into a Go module with nn.LoadTorch", path)
	}
	if !data || !code {
		return fmt.Errorf("jit.Load %s: not a TorchScript archive (a zip file without data.pkl and code/; a TorchScript .pt file is written by torch.jit.save)", path)
	}
	return nil
}

// isSafetensors: an 8-byte little-endian header length that fits the file, then a JSON object.
func isSafetensors(head []byte, size int64) bool {
	if len(head) < 9 {
		return false
	}
	n := binary.LittleEndian.Uint64(head[:8])
	return n > 1 && int64(n) <= size-8 && head[8] == '{'
}

var versionRE = regexp.MustCompile(`version (\d+), but the maximum supported version for reading is (\d+)`)

// loadError turns libtorch's error for a TorchScript archive it could not read into one line.
func loadError(path string, err error) error {
	msg := err.Error()
	var te *torch.Error
	if errors.As(err, &te) {
		msg = te.Msg
	}
	if m := versionRE.FindStringSubmatch(msg); m != nil {
		return fmt.Errorf("jit.Load %s: saved by a newer PyTorch: file format version %s, libtorch %s reads up to version %s (run with a newer libtorch, or save the module with the PyTorch this libtorch comes from)",
			path, m[1], torch.Version(), m[2])
	}
	line := summarize(err)
	for _, s := range []string{"Unknown builtin op", "Unknown type name", "Unknown attribute", "unknown opcode", "Unknown upgrader", "is not supported in this version"} {
		if strings.Contains(msg, s) {
			return fmt.Errorf("jit.Load %s: uses an operator or type libtorch %s does not have, probably saved by a newer PyTorch: %s", path, torch.Version(), line)
		}
	}
	return fmt.Errorf("jit.Load %s: %s", path, line)
}

var errorLineRE = regexp.MustCompile(`(?m)^\s*([A-Za-z.]*(?:Error|Exception)): (.+)$`)

// summarize returns the line of a libtorch message that says what went wrong: the
// "RuntimeError: ..." line of a TorchScript traceback, else the first line.
func summarize(err error) string {
	msg := err.Error()
	var te *torch.Error
	if errors.As(err, &te) {
		msg = te.Msg
	}
	if strings.Contains(msg, "Traceback of TorchScript") {
		if all := errorLineRE.FindAllStringSubmatch(msg, -1); len(all) > 0 {
			last := all[len(all)-1]
			return strings.TrimSpace(last[1] + ": " + last[2])
		}
	}
	return oneLine(errors.New(msg))
}

// oneLine returns err's message up to its first line break, trimmed.
func oneLine(err error) string {
	msg := strings.TrimSpace(err.Error())
	var te *torch.Error
	if errors.As(err, &te) {
		msg = strings.TrimSpace(te.Msg)
	}
	first, _, _ := strings.Cut(msg, "\n")
	return strings.TrimSpace(first)
}
