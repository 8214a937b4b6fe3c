package main

import (
	"context"
	"io"
	"net/http"

	"github.com/seqtorch/seqtorch/data"
	"github.com/seqtorch/seqtorch/torch"
	"github.com/seqtorch/seqtorch/train/cli"
	"github.com/seqtorch/seqtorch/train/serve"
)

// pairScore is one pair's answer on /v1/similarity.
type pairScore struct {
	Relatedness float64 `json:"relatedness"` // calibrated, 1–5
	Similar     bool    `json:"similar"`     // relatedness ≥ the run's threshold
}

// runServe is `siamese serve --model DIR`: the model over HTTP (train/serve).
//
//	POST /v1/similarity  {"pairs": [["sentence a", "sentence b"], ...]}
//	                 →   {"scores": [{"relatedness": 4.21, "similar": true}, ...]}
//	GET  /healthz, GET /metrics
//
// The handlers tokenize (pure Go; a sentence without a known word is a 400 naming the pair);
// the pairs of concurrent requests are micro-batched onto the goroutine that loaded the model.
// Ctrl-C or SIGTERM drains the requests in flight and exits 0.
func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := cli.NewFlagSet("siamese serve", "usage: go run ./train/siamese serve --model DIR [--addr 127.0.0.1:8080] [flags]\n"+
		`POST /v1/similarity {"pairs": [["a", "b"], ...]} answers {"scores": [{"relatedness": ..., "similar": ...}, ...]}; GET /healthz, GET /metrics`, stderr)
	mf := cli.ModelFlags{Help: modelHelp}
	o, err := serve.CommandFlags(fs, args, &mf, "runs/siamese")
	if err != nil {
		return err
	}
	// This goroutine loads the model and then becomes the model goroutine.
	unpin, err := serve.PinModelThread(mf.Threads)
	if err != nil {
		return err
	}
	defer unpin()
	sc, err := loadScorer(mf.Model, "", mf.Device)
	if err != nil {
		return err
	}
	defer sc.close()
	o.Log = stderr
	srv := serve.NewServer("seqtorch_siamese", o, map[string]any{"model": mf.Model, "device": sc.device().String(),
		"libtorch": torch.Version()})
	b := serve.NewBatcher(sc.relatedness, o.MaxBatch, o.MaxWait, srv.Metrics())
	srv.HandleJSON("/v1/similarity", func(w http.ResponseWriter, r *http.Request) (any, error) {
		pairs, err := serve.DecodePairs(w, r, srv.Limits())
		if err != nil {
			return nil, err
		}
		ex := make([]data.PairExample, len(pairs))
		for i, p := range pairs {
			if ex[i], err = sc.encode(p[0], p[1]); err != nil {
				return nil, serve.Errorf(http.StatusBadRequest, "pair %d, %v", i+1, err)
			}
		}
		rel, err := b.Do(r.Context(), ex)
		if err != nil {
			return nil, err
		}
		out := make([]pairScore, len(rel))
		for i, v := range rel {
			out[i] = pairScore{Relatedness: v, Similar: v >= sc.threshold}
		}
		return map[string]any{"scores": out}, nil
	})
	return srv.Serve(ctx, b)
}
