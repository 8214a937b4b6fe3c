package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/seqtorch/seqtorch/data"
	"github.com/seqtorch/seqtorch/torch"
	"github.com/seqtorch/seqtorch/train/cli"
	"github.com/seqtorch/seqtorch/train/serve"
)

// runServe is `sms serve --model DIR`: the classifier over HTTP (train/serve).
//
//	POST /v1/predict  {"messages": ["text", ...]}
//	              →   {"predictions": [{"label": "spam", "p_spam": 0.9731}, ...]}
//	GET  /healthz, GET /metrics
//
// Requests are micro-batched onto the goroutine that loaded the model (see serve.Batcher);
// Ctrl-C or SIGTERM drains the requests in flight and exits 0.
func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := cli.NewFlagSet("sms serve", "usage: go run ./train/sms serve --model DIR[,DIR...] [--addr 127.0.0.1:8080] [flags]\n"+
		`POST /v1/predict {"messages": [...]} answers {"predictions": [{"label": ..., "p_spam": ...}, ...]}; GET /healthz, GET /metrics`, stderr)
	mf := cli.ModelFlags{Help: modelHelp}
	o, err := serve.CommandFlags(fs, args, &mf, "")
	if err != nil {
		return err
	}
	// This goroutine loads the model and then becomes the model goroutine (Serve runs the
	// batcher's loop on it); HTTP handlers never call libtorch.
	e, done, err := openEnsemble(&mf)
	if err != nil {
		return err
	}
	defer done()
	cells := make([]string, len(e.members))
	for k, c := range e.members {
		cells[k] = c.model.Config.Cell
	}
	o.Log = stderr
	srv := serve.NewServer("seqtorch_sms", o, map[string]any{"model": mf.Model, "cell": strings.Join(cells, ","),
		"device": e.members[0].dev.String(), "libtorch": torch.Version()})
	b := serve.NewBatcher(e.probabilities, o.MaxBatch, o.MaxWait, srv.Metrics())
	srv.HandleJSON("/v1/predict", func(w http.ResponseWriter, r *http.Request) (any, error) {
		msgs, err := serve.DecodeMessages(w, r, srv.Limits())
		if err != nil {
			return nil, err
		}
		ids := make([][][]int64, len(msgs)) // tokenized here, in parallel; only the model is serial
		for i, m := range msgs {
			ids[i] = e.encodeIDs(m)
		}
		probs, err := b.Do(r.Context(), ids)
		if err != nil {
			return nil, err
		}
		out := make([]prediction, len(probs))
		for i, p := range probs {
			out[i] = prediction{Label: label(p), PSpam: p}
		}
		return map[string]any{"predictions": out}, nil
	})
	return srv.Serve(ctx, b)
}

// encodeIDs returns msg's token ids as predict computes them (tokenizer, vocabulary, the run's
// --max-len, an empty list as one <unk>). Pure Go: the HTTP handlers call it concurrently.
func (c *classifier) encodeIDs(msg string) []int64 {
	ids := c.vocab.Encode(c.tok.Tokenize(msg))
	if n := c.opts.MaxLen; n > 0 && len(ids) > n {
		ids = ids[:n]
	}
	if len(ids) == 0 {
		ids = []int64{data.UnkID}
	}
	return ids
}

// probabilities is the serving forward pass: P(spam) of each message (as token ids), one
// padded (B, T) batch, as evaluate computes it. It runs on the model goroutine (under NoGrad).
func (c *classifier) probabilities(ids [][]int64) ([]float64, error) {
	t := 1
	for _, row := range ids {
		t = max(t, len(row))
	}
	flat := make([]int64, len(ids)*t) // padded with data.PadID (0)
	lengths := make([]int64, len(ids))
	for i, row := range ids {
		copy(flat[i*t:], row)
		lengths[i] = int64(len(row))
	}
	var probs []float64
	err := torch.Run(func() error {
		x := torch.FromSlice(flat, int64(len(ids)), int64(t))
		if c.dev != torch.CPU {
			x = x.To(c.dev)
		}
		logits := c.model.Forward(x, lengths)
		probs = logits.Softmax(1).Narrow(1, 1, 1).Reshape(int64(len(ids))).ToDType(torch.Float64).Float64s()
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("model %s: %w", c.weights, err)
	}
	return probs, c.checkFinite(probs)
}
