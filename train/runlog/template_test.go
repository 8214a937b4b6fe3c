package runlog

import (
	"bytes"
	"strings"
	"testing"
	"testing/fstest"
	"text/template"
)

func TestRenderTemplate(t *testing.T) {
	fsys := fstest.MapFS{
		"main.md.tmpl":   {Data: []byte(`# {{.Title}}: {{twice .N}} {{template "part" .}}`)},
		"quoted.md.tmpl": {Data: []byte(`{{define "part"}}({{.Note}}){{end}}`)},
	}
	funcs := template.FuncMap{"twice": func(n int) int { return 2 * n }}
	var b bytes.Buffer
	data := map[string]any{"Title": "T", "N": 21, "Note": "quoted"}
	if err := RenderTemplate(&b, fsys, funcs, data, "main.md.tmpl", "quoted.md.tmpl"); err != nil {
		t.Fatal(err)
	}
	if got, want := b.String(), "# T: 42 (quoted)"; got != want {
		t.Errorf("rendered %q, want %q (the first name executed, the second's definitions available)", got, want)
	}

	// A key the data lacks is an error, not "<no value>" (missingkey=error); so is a field of
	// a struct.
	b.Reset()
	err := RenderTemplate(&b, fsys, funcs, map[string]any{"Title": "T", "N": 1}, "main.md.tmpl", "quoted.md.tmpl")
	if err == nil || !strings.Contains(err.Error(), `"Note"`) {
		t.Errorf("a missing key: error %v, output %q; want an error naming the key", err, b.String())
	}
	b.Reset()
	type noNote struct {
		Title string
		N     int
	}
	if err := RenderTemplate(&b, fsys, funcs, noNote{"T", 1}, "main.md.tmpl", "quoted.md.tmpl"); err == nil {
		t.Errorf("a missing field: no error, output %q", b.String())
	}

	// A function the templates call and funcs lacks, a missing file, no names: errors.
	if err := RenderTemplate(&b, fsys, nil, data, "main.md.tmpl", "quoted.md.tmpl"); err == nil || !strings.Contains(err.Error(), "twice") {
		t.Errorf("without funcs: error %v, want one naming the function", err)
	}
	if err := RenderTemplate(&b, fsys, funcs, data, "main.md.tmpl", "nope.md.tmpl"); err == nil {
		t.Error("a missing template file: no error")
	}
	if err := RenderTemplate(&b, fsys, funcs, data); err == nil {
		t.Error("no names: no error")
	}
}
