package runlog

import (
	"errors"
	"io"
	"io/fs"
	"path"
	"text/template"
)

// RenderTemplate parses the templates names (file names or patterns, as [template.ParseFS]
// takes them) from fsys with the functions funcs, and executes the first of them on data
// into w. A map key or struct field that a template reads and data lacks is an error
// (missingkey=error) rather than "<no value>" in the output. Errors are text/template's; they
// name the template and the position.
//
// The reports of the training commands are rendered so, from their embedded templates:
//
//	//go:embed report.md.tmpl report_quoted.md.tmpl
//	var reportTemplates embed.FS
//	...
//	err := runlog.RenderTemplate(w, reportTemplates, funcs, d, "report.md.tmpl", "report_quoted.md.tmpl")
func RenderTemplate(w io.Writer, fsys fs.FS, funcs template.FuncMap, data any, names ...string) error {
	if len(names) == 0 {
		return errors.New("runlog: RenderTemplate: no template names")
	}
	t, err := template.New(path.Base(names[0])).Option("missingkey=error").Funcs(funcs).ParseFS(fsys, names...)
	if err != nil {
		return err
	}
	return t.Execute(w, data)
}
