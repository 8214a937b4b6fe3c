package main

import (
	"fmt"
	"path/filepath"
	"strings"
	"unicode"

	"github.com/seqtorch/seqtorch/data"
)

// dataset is the split, encoded SMS data of one run.
type dataset struct {
	split             data.SMSSplit
	vocab             *data.Vocab
	tok               data.Tokenizer
	train, val, test  []data.Example
	trainSpam, trainN int
}

// smsPath returns the SMS Spam Collection file: path itself, or the catalog copy (fetched or
// copied from $SEQTORCH_MIRROR) when path is empty.
func smsPath(path string) (string, error) {
	if path != "" {
		return path, nil
	}
	dir, err := data.Ensure("sms_spam")
	if err != nil {
		return "", err // "data: ..." names the data set
	}
	return filepath.Join(dir, "SMSSpamCollection"), nil
}

// tokenizer returns the tokenizer of a run: placeholders for URLs, phone numbers, money and
// numbers, or raw lowercased tokens; with caps, a "<caps>" token before each word written in
// capitals (spam shouts).
func tokenizer(o *Options) data.Tokenizer {
	if o.Tokens == "chars" {
		return data.CharTokenizer{}
	}
	t := data.SMSTokenizer{}
	if o.Placeholders {
		t = data.DefaultSMSTokenizer()
	}
	if o.Caps {
		t.KeepCase = true
		return capsTokenizer{t}
	}
	return t
}

// CapsToken marks a word written in capitals (at least two letters, no lower-case letter).
const CapsToken = "<caps>"

// capsTokenizer lowercases the tokens of a case-keeping tokenizer and inserts CapsToken before
// words in capitals.
type capsTokenizer struct{ inner data.SMSTokenizer }

// Tokenize implements data.Tokenizer.
func (c capsTokenizer) Tokenize(text string) []string {
	toks := c.inner.Tokenize(text)
	out := make([]string, 0, len(toks))
	for _, t := range toks {
		if isCaps(t) {
			out = append(out, CapsToken)
		}
		out = append(out, strings.ToLower(t))
	}
	return out
}

func isCaps(t string) bool {
	letters := 0
	for _, r := range t {
		if unicode.IsLower(r) {
			return false
		}
		if unicode.IsUpper(r) {
			letters++
		}
	}
	return letters >= 2
}

// msgCache keeps parsed message files, so the report reads the corpus once.
var msgCache = map[string][]data.SMS{}

// loadSplit reads the SMS file of --data (path, as smsPath resolves it) and splits it 70/15/15
// with the split seed, as every run does.
func loadSplit(dataFlag string, seed uint64) (split data.SMSSplit, path string, err error) {
	if path, err = smsPath(dataFlag); err != nil {
		return split, "", err
	}
	msgs, ok := msgCache[path]
	if !ok {
		if msgs, err = data.LoadSMS(path); err != nil {
			return split, "", err
		}
		msgCache[path] = msgs
	}
	if len(msgs) < 20 {
		return split, "", fmt.Errorf("SMS data %s: %d messages is too few to split", path, len(msgs))
	}
	split, err = data.SplitSMS(msgs, data.SplitOptions{Train: 0.7, Val: 0.15, Test: 0.15, Seed: seed})
	return split, path, err
}

// loadDataset reads, splits and encodes the data. With vocab nil it builds the vocabulary from
// the training part.
func loadDataset(o *Options, vocab *data.Vocab) (*dataset, error) {
	split, path, err := loadSplit(o.Data, o.SplitSeed)
	if err != nil {
		return nil, err
	}
	d := &dataset{split: split, tok: tokenizer(o)}
	if vocab == nil {
		docs := make([][]string, len(split.Train))
		for i, m := range split.Train {
			docs[i] = d.tok.Tokenize(m.Text)
		}
		vocab = data.BuildVocab(docs, data.VocabOptions{MinCount: o.MinCount, MaxSize: o.MaxVocab})
	}
	d.vocab = vocab
	d.train = data.EncodeSMS(split.Train, d.tok, vocab)
	d.val = data.EncodeSMS(split.Val, d.tok, vocab)
	d.test = data.EncodeSMS(split.Test, d.tok, vocab)
	if o.MaxLen > 0 {
		for _, part := range [][]data.Example{d.train, d.val, d.test} {
			for i := range part {
				if len(part[i].IDs) > o.MaxLen {
					part[i].IDs = part[i].IDs[:o.MaxLen]
				}
			}
		}
	}
	for _, e := range d.train {
		if e.Label == data.Spam {
			d.trainSpam++
		}
	}
	d.trainN = len(d.train)
	if d.trainSpam == 0 || d.trainSpam == d.trainN || len(d.val) == 0 || len(d.test) == 0 {
		return nil, fmt.Errorf("SMS data %s: the split needs ham and spam in training and non-empty validation and test parts", path)
	}
	return d, nil
}
