package data_test

import (
	"fmt"
	"strings"

	"github.com/seqtorch/seqtorch/data"
)

func ExampleReadSMS() {
	in := "ham\tSee you at 5 &lt;#&gt; ok\nspam\tWIN £100 now! Call 09061701461\n"
	msgs, err := data.ReadSMS(strings.NewReader(in), "sms.txt")
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, m := range msgs {
		fmt.Println(m.Line, m.Label, m.Text)
	}
	_, err = data.ReadSMS(strings.NewReader("hm\toops\n"), "sms.txt")
	fmt.Println(err)
	// Output:
	// 1 0 See you at 5 <#> ok
	// 2 1 WIN £100 now! Call 09061701461
	// sms.txt:1: want "ham" or "spam", got "hm"
}

func ExampleSMSTokenizer() {
	tok := data.DefaultSMSTokenizer()
	fmt.Printf("%q\n", tok.Tokenize("WIN £100 now!! Call 09061701461 or visit www.win.com at 10:30"))
	// Output:
	// ["win" "<money>" "now" "!" "!" "call" "<phone>" "or" "visit" "<url>" "at" "<num>"]
}

func ExampleCharTokenizer() {
	fmt.Printf("%q\n", data.CharTokenizer{}.Tokenize("Txt  WIN £5"))
	// Output: ["T" "x" "t" " " "W" "I" "N" " " "£" "5"]
}

func ExampleSICKTokenizer() {
	tok := data.SICKTokenizer{Lower: true}
	fmt.Printf("%q\n", tok.Tokenize("The man isn't playing the woman's guitar."))
	// Output:
	// ["the" "man" "is" "n't" "playing" "the" "woman" "'s" "guitar" "."]
}

func ExampleReadSICKSemEval() {
	in := "pair_ID\tsentence_A\tsentence_B\trelatedness_score\tentailment_judgment\n" +
		"1\tA man is playing a guitar\tA man is playing an instrument\t4.6\tENTAILMENT\n"
	pairs, err := data.ReadSICKSemEval(strings.NewReader(in), "SICK_trial.txt", data.SplitTrial)
	if err != nil {
		fmt.Println(err)
		return
	}
	p := pairs[0]
	fmt.Println(p.ID, p.Score, p.Label, p.Split)
	// Output:
	// 1 4.6 ENTAILMENT TRIAL
}

func ExampleBuildVocab() {
	tok := data.SICKTokenizer{Lower: true}
	docs := [][]string{tok.Tokenize("A dog runs"), tok.Tokenize("A cat runs")}
	v := data.BuildVocab(docs, data.VocabOptions{MinCount: 1})
	fmt.Println(v.Tokens())
	ids := v.Encode(tok.Tokenize("a bird runs"))
	fmt.Println(ids, v.Decode(ids))
	// Output:
	// [<pad> <unk> a runs cat dog]
	// [2 1 3] [a <unk> runs]
}

func ExampleReadWord2VecText() {
	in := "3 2\nthe 0.5 1\nAsian 2 3\nzebra 4 5\n"
	v, err := data.ReadWord2VecText(strings.NewReader(in), "vec.txt",
		data.VectorOptions{Keep: data.KeepSet([]string{"the", "asian"})})
	if err != nil {
		fmt.Println(err)
		return
	}
	vec, ok := v.Lookup("asian") // falls back to "Asian"
	fmt.Println(v.Words, vec, ok)
	voc := data.BuildVocab([][]string{{"the", "asian", "okapi"}}, data.VocabOptions{})
	m, found := v.Embedding(voc, data.EmbeddingOptions{ZeroUnknown: true})
	fmt.Println(len(m), found)
	// Output:
	// [the Asian] [2 3] true
	// 10 2
}

func ExampleBatches() {
	ex := []data.Example{
		{IDs: []int64{5, 6, 7}, Label: 1},
		{IDs: []int64{8}, Label: 0},
		{IDs: nil, Label: 0}, // becomes a single <unk>
	}
	for b := range data.Batches(ex, data.BatchOptions{Size: 2}, 0) {
		fmt.Println(b.B, b.T, b.IDs, b.Lengths, b.Labels, b.Index)
	}
	// Output:
	// 2 3 [5 6 7 8 0 0] [3 1] [1 0] [0 1]
	// 1 1 [1] [1] [0] [2]
}

func ExamplePairBatches() {
	ex := []data.PairExample{{A: []int64{2, 3}, B: []int64{4}, Label: int64(data.Entailment), Score: 4.5}}
	for b := range data.PairBatches(ex, data.BatchOptions{Size: 8, Shuffle: true, Seed: 1, Bucket: 50}, 0) {
		fmt.Println(b.A.IDs, b.A.T, b.B.IDs, b.B.T, b.Labels, b.Scores)
	}
	// Output:
	// [2 3] 2 [4] 1 [1] [4.5]
}

func ExampleSplitSMS() {
	var msgs []data.SMS
	for i := range 20 {
		msgs = append(msgs, data.SMS{Label: i % 2, Text: fmt.Sprint("message ", i%10)})
	}
	s, err := data.SplitSMS(msgs, data.SplitOptions{Seed: 1})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(len(s.Train)+len(s.Val)+len(s.Test) == len(msgs))
	// Output:
	// true
}

func ExampleEnsure() {
	// With SEQTORCH_MIRROR=/path/to/shared/data the files are copied from the
	// mirror; otherwise they are downloaded. Both are SHA-256 verified.
	dir, err := data.Ensure("sick")
	if err != nil {
		fmt.Println(err)
		return
	}
	pairs, err := data.LoadSICK(dir + "/SICK.txt")
	if err != nil {
		fmt.Println(err)
		return
	}
	train, trial, test := data.SplitSICK(pairs)
	fmt.Println(len(train), len(trial), len(test))
}

func ExampleAugmentSICK() {
	wn, err := data.LoadWordNet("testdata/wordnet")
	if err != nil {
		fmt.Println(err)
		return
	}
	pairs := []data.Pair{{ID: 1, A: "A dog is driving a car", B: "A car is moving", Score: 3.5, Label: data.Neutral}}
	aug := data.AugmentSICK(pairs, data.AugmentOptions{WordNet: wn, SynonymRate: 1})
	fmt.Println(len(aug), aug[0].A, "|", aug[0].B, aug[0].Score, aug[0].Label)
	// Output:
	// 1 A domestic dog is driving a auto | A auto is moving 3.5 NEUTRAL
}
