package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"

	"github.com/seqtorch/seqtorch/data"
	"github.com/seqtorch/seqtorch/models/smsrnn"
	"github.com/seqtorch/seqtorch/torch"
	"github.com/seqtorch/seqtorch/torch/nn"
	"github.com/seqtorch/seqtorch/train/cli"
)

// classifier is a trained model loaded from a run folder.
type classifier struct {
	model   *smsrnn.Model
	vocab   *data.Vocab
	tok     data.Tokenizer
	dev     torch.Device
	opts    Options
	weights string // the model file, for messages
}

// loadClassifier loads the model, vocabulary and tokenizer settings of a run folder.
func loadClassifier(dir, device string) (*classifier, error) {
	c, err := readConfig(dir)
	if err != nil {
		return nil, err
	}
	dev, err := torch.ParseDevice(device)
	if err != nil {
		return nil, err
	}
	vocab, err := data.LoadVocab(filepath.Join(dir, c.Vocab))
	if err != nil {
		return nil, err
	}
	if int64(vocab.Len()) != c.Model.Vocab {
		return nil, fmt.Errorf("model folder %s: vocabulary has %d entries, the model %d", dir, vocab.Len(), c.Model.Vocab)
	}
	m, err := smsrnn.New(c.Model)
	if err != nil {
		return nil, err
	}
	if err := m.SetWords(vocab.Tokens()); err != nil {
		m.Close()
		return nil, fmt.Errorf("model folder %s: %w", dir, err)
	}
	weights, err := cli.RunFile(dir, c.Weights, "weights")
	if err == nil {
		err = cli.VerifyWeights(dir, weights)
	}
	if err != nil {
		m.Close()
		return nil, err
	}
	if err := nn.LoadSafetensors(weights, m); err != nil {
		m.Close()
		return nil, fmt.Errorf("model folder %s: %w", dir, err)
	}
	nn.To(m, dev)
	m.SetTraining(false)
	return &classifier{model: m, vocab: vocab, tok: tokenizer(&c.Options), dev: dev, opts: c.Options,
		weights: weights}, nil
}

func (c *classifier) close() { c.model.Close() }

// spamProbability returns P(spam) for each message.
func (c *classifier) spamProbability(msgs []string) ([]float64, error) {
	ex := make([]data.Example, len(msgs))
	for i, m := range msgs {
		ex[i] = data.EncodeSMS([]data.SMS{{Text: m}}, c.tok, c.vocab)[0]
		if c.opts.MaxLen > 0 && len(ex[i].IDs) > c.opts.MaxLen {
			ex[i].IDs = ex[i].IDs[:c.opts.MaxLen]
		}
	}
	ev, err := evaluate(c.model, ex, c.dev, 256, nil)
	if err != nil {
		return nil, err
	}
	return ev.probs, c.checkFinite(ev.probs)
}

// checkFinite refuses probabilities that are not numbers: a model whose weights hold NaN or
// infinities (a diverged training run) has no label to give.
func (c *classifier) checkFinite(probs []float64) error {
	for _, p := range probs {
		if math.IsNaN(p) || math.IsInf(p, 0) {
			return fmt.Errorf("model %s gives P(spam) = %v: its weights are not all finite numbers (a diverged run?); retrain it", c.weights, p)
		}
	}
	return nil
}

// label is the class of a spam probability.
func label(pSpam float64) string {
	if pSpam >= 0.5 {
		return "spam"
	}
	return "ham"
}

// prediction is one message's answer in predict --json and on serve's /v1/predict.
type prediction struct {
	Message string  `json:"message,omitempty"`
	Label   string  `json:"label"`
	PSpam   float64 `json:"p_spam"`
}

// runPredict is the predict subcommand.
func runPredict(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := cli.NewFlagSet("sms predict", "usage: go run ./train/sms predict --model DIR[,DIR...] [--json] [message ...]\n(without messages: one message per line of standard input)\n"+
		"Prints label, p_spam and the message, tab-separated, the message with tabs, newlines and\ncontrol characters escaped (\\t, \\n, \\x1b, ...); --json prints one JSON object per message.", stderr)
	mf := cli.ModelFlags{Help: modelHelp}
	mf.Register(fs, "")
	asJSON := fs.Bool("json", false, `print one JSON object per message, {"message": ..., "label": ..., "p_spam": ...}`)
	if err := cli.ParseArgs(fs, args); err != nil {
		return err
	}
	if err := mf.Check("predict"); err != nil {
		return err
	}
	msgs := fs.Args()
	if len(msgs) == 0 {
		sc := bufio.NewScanner(os.Stdin)
		sc.Buffer(make([]byte, 1<<16), 1<<20)
		for sc.Scan() {
			msgs = append(msgs, sc.Text())
		}
		if err := sc.Err(); err != nil {
			return fmt.Errorf("predict: read standard input: %w", err)
		}
		if len(msgs) == 0 {
			return cli.Usagef("predict: no messages (give them as arguments or one per line on standard input)")
		}
	}
	for i, m := range msgs {
		if strings.TrimSpace(m) == "" {
			return cli.Usagef("predict: message %d is empty", i+1)
		}
	}
	e, done, err := openEnsemble(&mf)
	if err != nil {
		return err
	}
	defer done()
	probs, err := e.spamProbability(msgs)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(stdout)
	if *asJSON {
		enc := json.NewEncoder(w)
		enc.SetEscapeHTML(false)
		for i, m := range msgs {
			if err := enc.Encode(prediction{Message: m, Label: label(probs[i]), PSpam: probs[i]}); err != nil {
				return err
			}
		}
		return w.Flush()
	}
	fmt.Fprintln(w, "label\tp_spam\tmessage")
	for i, m := range msgs {
		fmt.Fprintf(w, "%s\t%.4f\t%s\n", label(probs[i]), probs[i], cli.Escape(m))
	}
	return w.Flush()
}
