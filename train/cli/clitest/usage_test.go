package clitest

import (
	"slices"
	"testing"
)

// TestSubcommands: the cases of every `switch args[0]`, several to a case too; another switch
// or a source without one is not taken for the dispatch.
func TestSubcommands(t *testing.T) {
	src := `package main

func dispatch(args []string) {
	switch args[0] {
	case "predict":
	case "serve", "evaluate":
	case "train":
	}
	switch args[1] {
	case "other":
	}
}`
	got, err := Subcommands([]byte(src))
	if want := []string{"predict", "serve", "evaluate"}; err != nil || !slices.Equal(got, want) {
		t.Errorf("Subcommands = %q, %v; want %q", got, err, want)
	}
	if _, err := Subcommands([]byte("package main\n\nfunc main() {}\n")); err == nil {
		t.Error("a source without the dispatch switch: no error")
	}
}

// TestUsageMismatch: the check fails for a usage text that misses a dispatched subcommand or
// lists one that is not dispatched, and passes for one that lists them all.
func TestUsageMismatch(t *testing.T) {
	subs := []string{"predict", "serve", "evaluate"}
	usage := `usage: go run ./train/sms [flags]
       go run ./train/sms --resume DIR
       go run ./train/sms predict --model DIR
       go run ./train/sms serve --model DIR
       go run ./train/sms bench inputs`
	missing, extra := UsageMismatch("sms", usage, subs)
	if !slices.Equal(missing, []string{"evaluate"}) || !slices.Equal(extra, []string{"bench"}) {
		t.Errorf("missing %q, extra %q; want [evaluate] and [bench]", missing, extra)
	}
	usage = "go run ./train/sms predict\ngo run ./train/sms serve --model DIR\ngo run ./train/sms evaluate\n"
	if missing, extra := UsageMismatch("sms", usage, subs); len(missing)+len(extra) > 0 {
		t.Errorf("complete usage: missing %q, extra %q", missing, extra)
	}
	if missing, _ := UsageMismatch("siamese", usage, subs); len(missing) != 3 {
		t.Errorf("another command's usage: missing %q, want all three", missing)
	}
}
