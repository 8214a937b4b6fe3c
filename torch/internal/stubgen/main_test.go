package main

import (
	"bytes"
	"os"
	"slices"
	"strings"
	"testing"
)

// The committed stubs must be what the generator makes of the committed header.
func TestGeneratedUpToDate(t *testing.T) {
	header, err := os.ReadFile("../../csrc/shim.h")
	if err != nil {
		t.Fatal(err)
	}
	want, err := Generate(header)
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile("../../shim_stubs.c")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatal("torch/shim_stubs.c is out of date with torch/csrc/shim.h: run `go generate ./torch`")
	}
}

func TestParse(t *testing.T) {
	tests := []struct {
		name   string
		header string
		want   []Func
		err    string
	}{
		{
			name: "comments, blocks, typedefs and a multi-line prototype",
			header: `/* a comment; with (parens) */
#ifndef X
#define X
typedef struct st_tensor_s *st_tensor;
typedef char *st_err;
#ifdef __cplusplus
extern "C" {
#endif
enum st_mode { ST_A = 0, ST_B = 1 };
void st_free(st_tensor t); // trailing comment
const char *st_abi(void);
st_err st_rnn(int mode, const st_tensor *hx,
              int64_t n, char ***names);
#ifdef __cplusplus
}
#endif
#endif`,
			want: []Func{
				{Ret: "void", Name: "st_free", Params: []string{"st_tensor t"}, Args: []string{"t"}},
				{Ret: "const char *", Name: "st_abi"},
				{Ret: "st_err", Name: "st_rnn", Params: []string{"int mode", "const st_tensor *hx", "int64_t n", "char ***names"},
					Args: []string{"mode", "hx", "n", "names"}},
			},
		},
		{name: "unnamed parameter", header: "st_err st_x(int);", err: "has no name"},
		{name: "unnamed pointer parameter", header: "st_err st_x(st_tensor *);", err: "has no name"},
		{name: "not a shim function", header: "int helper(int a);", err: "cannot parse"},
		{name: "nothing declared", header: "typedef int x;", err: "no function declarations"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Parse([]byte(tc.header))
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("Parse: error %v, want one containing %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !slices.EqualFunc(got, tc.want, func(a, b Func) bool {
				return a.Ret == b.Ret && a.Name == b.Name && slices.Equal(a.Params, b.Params) && slices.Equal(a.Args, b.Args)
			}) {
				t.Fatalf("Parse:\n got %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

func TestGenerateForwardsEveryFunction(t *testing.T) {
	code, err := Generate([]byte("void st_free(st_tensor t);\nst_err st_neg(st_tensor a, st_tensor *out);"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"void st_free(st_tensor t) {\n\tst__ensure();\n\tst__fn.st_free(t);\n}",
		"st_err st_neg(st_tensor a, st_tensor *out) {\n\tst__ensure();\n\treturn st__fn.st_neg(a, out);\n}",
		`dlsym(lib, "st_neg")) == NULL) return "st_neg";`,
	} {
		if !strings.Contains(string(code), want) {
			t.Errorf("generated code lacks %q", want)
		}
	}
}
