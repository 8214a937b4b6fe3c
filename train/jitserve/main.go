// Command jitserve serves a text classifier trained in Python and saved as TorchScript, with
// the same HTTP API, micro-batching, limits, /metrics and SIGTERM drain as `sms serve`
// (package train/serve):
//
//	go run ./train/jitserve --model classifier.pt --vocab vocab.txt [--labels ham,spam] [--addr 127.0.0.1:8080]
//
//	POST /v1/predict  {"messages": ["text", ...]}
//	              →   {"predictions": [{"label": "spam", "p_ham": 0.0269, "p_spam": 0.9731}, ...]}
//	GET  /healthz, GET /metrics (prefix seqtorch_jit_)
//
// The model is a TorchScript module (torch.jit.script(model).save(path)) whose
// forward(ids: Tensor[B, T] int64, lengths: Tensor[B] int64) returns logits [B, C]; ids are
// padded with --pad-id. --vocab has one token a line, the id of a token its line number
// (from 0); tokens it lacks map to --unk. Messages are split by --tokenizer (sms: seqtorch's
// SMS tokenizer, data.DefaultSMSTokenizer; sick: the SICK word tokenizer; char: characters).
// A message without tokens is one --unk. The answer holds the label of the largest logit and
// the softmax probability of every class as "p_LABEL".
package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"strings"

	"github.com/seqtorch/seqtorch/data"
	"github.com/seqtorch/seqtorch/torch"
	"github.com/seqtorch/seqtorch/torch/jit"
	"github.com/seqtorch/seqtorch/train/cli"
	"github.com/seqtorch/seqtorch/train/serve"
)

func main() { cli.Main("jitserve", run) }

// run is the whole command, through torch.Run (the command's boundary).
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return torch.Run(func() error { return runServe(ctx, args, stdout, stderr) })
}

// classifier is the loaded model with its vocabulary and tokenizer.
type classifier struct {
	m      *jit.Module
	dev    torch.Device
	vocab  map[string]int64
	unk    int64
	pad    int64
	maxLen int
	tok    data.Tokenizer
	labels []string
}

func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := cli.NewFlagSet("jitserve", "usage: go run ./train/jitserve --model MODEL.pt --vocab VOCAB.txt [--labels a,b,...] [--addr 127.0.0.1:8080] [flags]\n"+
		`POST /v1/predict {"messages": [...]} answers {"predictions": [{"label": ..., "p_LABEL": ...}, ...]}; GET /healthz, GET /metrics`, stderr)
	mf := cli.ModelFlags{Help: "TorchScript classifier, forward(ids [B,T] int64, lengths [B] int64) -> logits [B,C]"}
	vocabPath := fs.String("vocab", "", "vocabulary: one token a line, id = line number from 0 (required)")
	labels := fs.String("labels", "", "class names in logit order, comma-separated (default 0,1,...)")
	tokenizer := fs.String("tokenizer", "sms", "tokenizer: sms, sick or char")
	unk := fs.String("unk", data.UnkToken, "vocabulary token for unknown tokens")
	padID := fs.Int64("pad-id", data.PadID, "id that pads shorter messages of a batch")
	maxLen := fs.Int("max-len", 0, "keep at most this many tokens of a message (0: all)")
	o, err := serve.CommandFlags(fs, args, &mf, "")
	if err != nil {
		return err
	}
	if *vocabPath == "" {
		return cli.Usagef("serve: --vocab FILE is required")
	}
	c := &classifier{pad: *padID, maxLen: *maxLen}
	switch *tokenizer {
	case "sms":
		c.tok = data.DefaultSMSTokenizer()
	case "sick":
		c.tok = data.SICKTokenizer{}
	case "char":
		c.tok = data.CharTokenizer{}
	default:
		return cli.Usagef("serve: --tokenizer %q: want sms, sick or char", *tokenizer)
	}
	if *maxLen < 0 {
		return cli.Usagef("serve: --max-len must be at least 0, got %d", *maxLen)
	}
	if c.vocab, err = readVocab(*vocabPath); err != nil {
		return err
	}
	id, ok := c.vocab[*unk]
	if !ok {
		return fmt.Errorf("--vocab %s: has no token %q for unknown tokens (set --unk)", *vocabPath, *unk)
	}
	c.unk = id
	if *padID < 0 || *padID >= int64(len(c.vocab)) {
		return fmt.Errorf("--pad-id %d: the vocabulary %s has ids 0 to %d", *padID, *vocabPath, len(c.vocab)-1)
	}

	// This goroutine loads the model and then becomes the model goroutine.
	unpin, err := serve.PinModelThread(mf.Threads)
	if err != nil {
		return err
	}
	defer unpin()
	if c.dev, err = torch.ParseDevice(mf.Device); err != nil {
		return fmt.Errorf("--device: %w", err)
	}
	if c.m, err = jit.Load(mf.Model, c.dev); err != nil {
		return err
	}
	defer c.m.Close()
	c.m.SetTraining(false)
	if c.labels, err = c.probe(*labels); err != nil {
		return err
	}
	o.Log = stderr
	srv := serve.NewServer("seqtorch_jit", o, map[string]any{"model": mf.Model, "vocab": *vocabPath,
		"labels": c.labels, "device": c.dev.String(), "libtorch": torch.Version()})
	b := serve.NewBatcher(c.probabilities, o.MaxBatch, o.MaxWait, srv.Metrics())
	srv.HandleJSON("/v1/predict", func(w http.ResponseWriter, r *http.Request) (any, error) {
		msgs, err := serve.DecodeMessages(w, r, srv.Limits())
		if err != nil {
			return nil, err
		}
		ids := make([][]int64, len(msgs)) // tokenized here, in parallel; only the model is serial
		for i, m := range msgs {
			ids[i] = c.encode(m)
		}
		probs, err := b.Do(r.Context(), ids)
		if err != nil {
			return nil, err
		}
		out := make([]map[string]any, len(probs))
		for i, p := range probs {
			out[i] = c.prediction(p)
		}
		return map[string]any{"predictions": out}, nil
	})
	return srv.Serve(ctx, b)
}

// readVocab reads one token a line; the id is the line number from 0.
func readVocab(path string) (map[string]int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("--vocab: %w", err)
	}
	defer f.Close()
	v := map[string]int64{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for n := int64(0); sc.Scan(); n++ {
		tok := strings.TrimSuffix(sc.Text(), "\r")
		if tok == "" {
			return nil, fmt.Errorf("--vocab %s:%d: empty line (one token a line, the id is the line number)", path, n+1)
		}
		if _, dup := v[tok]; dup {
			return nil, fmt.Errorf("--vocab %s:%d: duplicate token %q", path, n+1, tok)
		}
		v[tok] = n
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("--vocab %s: %w", path, err)
	}
	if len(v) == 0 {
		return nil, fmt.Errorf("--vocab %s: empty", path)
	}
	return v, nil
}

// encode returns msg's token ids. Pure Go: the HTTP handlers call it concurrently.
func (c *classifier) encode(msg string) []int64 {
	toks := c.tok.Tokenize(msg)
	if c.maxLen > 0 && len(toks) > c.maxLen {
		toks = toks[:c.maxLen]
	}
	ids := make([]int64, 0, max(len(toks), 1))
	for _, t := range toks {
		id, ok := c.vocab[t]
		if !ok {
			id = c.unk
		}
		ids = append(ids, id)
	}
	if len(ids) == 0 {
		ids = append(ids, c.unk)
	}
	return ids
}

// probe runs the model once on one message (so a model with another signature fails at
// start, not on the first request) and returns the class names, checked against its logits.
func (c *classifier) probe(labels string) ([]string, error) {
	var probs [][]float64
	var err error
	torch.NoGrad(func() { probs, err = c.probabilities([][]int64{{c.unk}}) })
	if err != nil {
		return nil, err
	}
	n := len(probs[0])
	if labels == "" {
		names := make([]string, n)
		for i := range names {
			names[i] = fmt.Sprint(i)
		}
		return names, nil
	}
	names := strings.Split(labels, ",")
	if len(names) != n {
		return nil, fmt.Errorf("--labels: %d names for the %d classes of %s", len(names), n, c.m.Path())
	}
	return names, nil
}

// probabilities is the serving forward pass: the softmax over the logits of each message, one
// padded (B, T) batch. It runs on the model goroutine (under NoGrad).
func (c *classifier) probabilities(ids [][]int64) ([][]float64, error) {
	t := 1
	for _, row := range ids {
		t = max(t, len(row))
	}
	flat := make([]int64, len(ids)*t)
	lengths := make([]int64, len(ids))
	for i, row := range ids {
		for j := len(row); j < t; j++ {
			flat[i*t+j] = c.pad
		}
		copy(flat[i*t:], row)
		lengths[i] = int64(len(row))
	}
	var out [][]float64
	err := torch.Run(func() error {
		x := torch.FromSlice(flat, int64(len(ids)), int64(t))
		l := torch.FromSlice(lengths, int64(len(ids)))
		if c.dev != torch.CPU {
			x, l = x.To(c.dev), l.To(c.dev)
		}
		res, err := c.m.Forward(x, l)
		if err != nil {
			return err
		}
		logits, ok := res.(*torch.Tensor)
		if !ok {
			return fmt.Errorf("model %s: forward returned a %T, want a Tensor of logits [B, C]", c.m.Path(), res)
		}
		if s := logits.Shape(); len(s) != 2 || s[0] != int64(len(ids)) {
			return fmt.Errorf("model %s: forward returned a tensor of shape %v for %d messages, want logits [%d, C]", c.m.Path(), s, len(ids), len(ids))
		}
		p := logits.ToDType(torch.Float64).Softmax(1).Float64s()
		nc := len(p) / len(ids)
		out = make([][]float64, len(ids))
		for i := range out {
			out[i] = p[i*nc : (i+1)*nc]
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	for _, row := range out {
		for _, v := range row {
			if math.IsNaN(v) {
				return nil, errors.New("model " + c.m.Path() + ": NaN probabilities")
			}
		}
	}
	return out, nil
}

// prediction is one answer: the label of the most probable class and every class's
// probability as "p_LABEL".
func (c *classifier) prediction(p []float64) map[string]any {
	best := 0
	for k, v := range p {
		if v > p[best] {
			best = k
		}
	}
	out := map[string]any{"label": c.labels[best]}
	for k, v := range p {
		out["p_"+c.labels[k]] = v
	}
	return out
}
