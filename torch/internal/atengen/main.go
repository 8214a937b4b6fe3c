// Command atengen writes torch/aten_gen.go: typed Go wrappers of libtorch's ATen operators,
// generated from the operator schemas of every libtorch version seqtorch supports (schemas/*.txt,
// dumped by scripts/aten_schemas.py), each calling the operator through libtorch's dispatcher
// (torch/call.go). Run it with `go generate ./torch`; a test fails while the output is stale.
//
// Names (one rule, documented in package torch): the CamelCase of the ATen name, its trailing
// underscore (an in-place op) spelled "InPlace" at the end; an out= variant (it writes into a
// keyword-only argument such as out) always adds the CamelCase of its overload name, and when
// a name has several other overloads, each one but the default ("") adds its own, before
// "InPlace". aten::topk is Topk, aten::topk.values TopkValues, aten::add.Tensor AddTensor,
// aten::add.out AddOut, aten::add_.Scalar AddScalarInPlace, aten::log_softmax.int
// LogSoftmaxInt. Ops whose first argument is `Tensor self` are methods of *Tensor; the others
// are package functions.
//
// Left out, each with its reason in skipped.txt: names starting with "_" (libtorch internals),
// ops that write into a positional argument other than self, named-tensor overloads
// (Dimname), argument or return types Go has no value for (Storage, Stream, QScheme, Scalar[],
// str[], ...), and names the hand-written API of package torch already uses.
//
// Usage: atengen [-schemas internal/atengen/schemas] [-pkg .] [-out aten_gen.go] [-skipped internal/atengen/skipped.txt]
package main

import (
	"bytes"
	"flag"
	"fmt"
	"go/ast"
	"go/format"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/seqtorch/seqtorch/torch/atenops"
)

func main() {
	schemas := flag.String("schemas", "internal/atengen/schemas", "folder of schema dumps, one file per libtorch version (VERSION.txt)")
	pkg := flag.String("pkg", ".", "package torch's folder (its hand-written names are not generated)")
	out := flag.String("out", "aten_gen.go", "the generated Go file")
	skipped := flag.String("skipped", "internal/atengen/skipped.txt", "the list of operators left out, with reasons")
	index := flag.String("index", "atenops/ops_gen.go", "the generated index of wrappers (package atenops)")
	flag.Parse()
	if err := run(*schemas, *pkg, *out, *skipped, *index); err != nil {
		fmt.Fprintln(os.Stderr, "atengen:", err)
		os.Exit(1)
	}
}

func run(schemaDir, pkg, out, skipped, index string) error {
	versions, err := ReadSchemas(schemaDir)
	if err != nil {
		return err
	}
	taken, err := HandWritten(pkg, filepath.Base(out))
	if err != nil {
		return err
	}
	code, skip, idx, err := Generate(versions, taken)
	if err != nil {
		return err
	}
	if err := writeFile(out, code); err != nil {
		return err
	}
	if err := writeFile(index, idx); err != nil {
		return err
	}
	return writeFile(skipped, skip)
}

func writeFile(path string, b []byte) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// Version is one libtorch version's schema dump.
type Version struct {
	Name    string // "1.13", "2.6"
	Schemas map[string]*atenops.Schema
}

// ReadSchemas reads every VERSION.txt in dir, in version order.
func ReadSchemas(dir string) ([]Version, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.txt"))
	if err != nil {
		return nil, err
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("no schema dumps in %s", dir)
	}
	var vs []Version
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		v := Version{Name: strings.TrimSuffix(filepath.Base(f), ".txt"), Schemas: map[string]*atenops.Schema{}}
		for i, line := range strings.Split(string(b), "\n") {
			if line == "" || strings.HasPrefix(line, "#") {
				continue
			}
			s, err := atenops.ParseSchema(line)
			if err != nil {
				return nil, fmt.Errorf("%s:%d: %w", f, i+1, err)
			}
			v.Schemas[s.ID()] = s
		}
		vs = append(vs, v)
	}
	sort.Slice(vs, func(i, j int) bool { return versionLess(vs[i].Name, vs[j].Name) })
	return vs, nil
}

func versionLess(a, b string) bool {
	var am, an, bm, bn int
	fmt.Sscanf(a, "%d.%d", &am, &an)
	fmt.Sscanf(b, "%d.%d", &bm, &bn)
	if am != bm {
		return am < bm
	}
	return an < bn
}

// Taken are the names package torch declares by hand.
type Taken struct {
	Funcs   map[string]bool // package-level identifiers
	Methods map[string]bool // methods of *Tensor
}

// HandWritten collects the names declared in pkg's non-test Go files other than skip.
func HandWritten(pkg, skip string) (Taken, error) {
	t := Taken{Funcs: map[string]bool{}, Methods: map[string]bool{}}
	fset := token.NewFileSet()
	files, err := filepath.Glob(filepath.Join(pkg, "*.go"))
	if err != nil {
		return t, err
	}
	for _, f := range files {
		base := filepath.Base(f)
		if base == skip || strings.HasSuffix(base, "_test.go") {
			continue
		}
		af, err := parser.ParseFile(fset, f, nil, parser.SkipObjectResolution)
		if err != nil {
			return t, err
		}
		for _, d := range af.Decls {
			switch d := d.(type) {
			case *ast.FuncDecl:
				if d.Recv != nil {
					if recvIsTensor(d.Recv) {
						t.Methods[d.Name.Name] = true
					}
				} else {
					t.Funcs[d.Name.Name] = true
				}
			case *ast.GenDecl:
				for _, sp := range d.Specs {
					switch sp := sp.(type) {
					case *ast.TypeSpec:
						t.Funcs[sp.Name.Name] = true
					case *ast.ValueSpec:
						for _, n := range sp.Names {
							t.Funcs[n.Name] = true
						}
					}
				}
			}
		}
	}
	return t, nil
}

func recvIsTensor(r *ast.FieldList) bool {
	if len(r.List) != 1 {
		return false
	}
	star, ok := r.List[0].Type.(*ast.StarExpr)
	if !ok {
		return false
	}
	id, ok := star.X.(*ast.Ident)
	return ok && id.Name == "Tensor"
}

// goArg is how one schema argument type travels from Go.
type goArg struct {
	typ  string // Go parameter type; "" when the argument is not in the Go signature
	call string // caller method, with %s for the value
}

// argType maps a schema argument type to Go.
func argType(t string) (goArg, bool) {
	switch t {
	case "Tensor", "Tensor?":
		return goArg{"*Tensor", "c.argTensor(%s)"}, true
	case "Tensor[]":
		return goArg{"[]*Tensor", "c.argTensors(%s, false)"}, true
	case "Tensor?[]":
		return goArg{"[]*Tensor", "c.argTensors(%s, true)"}, true
	case "int", "SymInt":
		return goArg{"int64", "c.argInt(%s)"}, true
	case "int?", "SymInt?":
		return goArg{"*int64", "c.argIntPtr(%s)"}, true
	case "float":
		return goArg{"float64", "c.argFloat(%s)"}, true
	case "float?":
		return goArg{"*float64", "c.argFloatPtr(%s)"}, true
	case "float[]":
		return goArg{"[]float64", "c.argFloats(%s)"}, true
	case "float[]?":
		return goArg{"[]float64", "c.argFloatsOpt(%s)"}, true
	case "bool":
		return goArg{"bool", "c.argBool(%s)"}, true
	case "bool?":
		return goArg{"*bool", "c.argBoolPtr(%s)"}, true
	case "Scalar", "Scalar?":
		return goArg{"any", "c.argScalar(%s)"}, true
	case "ScalarType":
		return goArg{"DType", "c.argDType(%s)"}, true
	case "ScalarType?":
		return goArg{"*DType", "c.argDTypePtr(%s)"}, true
	case "Layout":
		return goArg{"Layout", "c.argLayout(%s)"}, true
	case "Layout?":
		return goArg{"*Layout", "c.argLayoutPtr(%s)"}, true
	case "Device":
		return goArg{"Device", "c.argDevice(%s)"}, true
	case "Device?":
		return goArg{"*Device", "c.argDevicePtr(%s)"}, true
	case "MemoryFormat":
		return goArg{"MemoryFormat", "c.argMemoryFormat(%s)"}, true
	case "MemoryFormat?":
		return goArg{"*MemoryFormat", "c.argMemoryFormatPtr(%s)"}, true
	case "str":
		return goArg{"string", "c.argStr(%s)"}, true
	case "str?":
		return goArg{"*string", "c.argStrPtr(%s)"}, true
	case "Generator?":
		return goArg{"", "c.argNone()"}, true
	}
	base, opt := strings.CutSuffix(t, "?")
	if i := strings.IndexByte(base, '['); i > 0 && strings.HasSuffix(base, "]") {
		elem, size := base[:i], base[i+1:len(base)-1]
		if size != "" && strings.Trim(size, "0123456789") != "" {
			return goArg{}, false
		}
		switch elem {
		case "int", "SymInt":
			if opt {
				return goArg{"[]int64", "c.argIntsOpt(%s)"}, true
			}
			return goArg{"[]int64", "c.argInts(%s)"}, true
		case "bool":
			if !opt {
				return goArg{"[]bool", "c.argBools(%s)"}, true
			}
		}
	}
	return goArg{}, false
}

// retType maps a schema return type to a Go result type and the expression reading result %d.
func retType(t string) (typ, read string, ok bool) {
	switch t {
	case "Tensor", "Tensor?":
		return "*Tensor", "c.resTensor(%d)", true
	case "Tensor[]":
		return "[]*Tensor", "c.resTensors(%d)", true
	case "int", "SymInt":
		return "int64", "c.resInt(%d)", true
	case "float":
		return "float64", "c.resFloat(%d)", true
	case "bool":
		return "bool", "c.resBool(%d)", true
	case "Scalar":
		return "any", "c.resScalar(%d)", true
	case "ScalarType":
		return "DType", "c.resDType(%d)", true
	}
	return "", "", false
}

// camel turns snake_case into CamelCase: log_softmax -> LogSoftmax, conv1d -> Conv1d.
func camel(s string) string {
	var b strings.Builder
	for _, p := range strings.Split(s, "_") {
		if p == "" {
			continue
		}
		b.WriteString(strings.ToUpper(p[:1]) + p[1:])
	}
	return b.String()
}

// lowerCamel turns an argument name into a Go parameter name.
func lowerCamel(s string) string {
	c := camel(s)
	if c == "" {
		return "arg"
	}
	c = strings.ToLower(c[:1]) + c[1:]
	if reserved[c] {
		c += "Arg"
	}
	return c
}

// reserved are the names a parameter may not take: Go's keywords, the predeclared identifiers
// the generated code or its signatures use, and the receiver and caller variables.
var reserved = map[string]bool{
	"break": true, "case": true, "chan": true, "const": true, "continue": true, "default": true,
	"defer": true, "else": true, "fallthrough": true, "for": true, "func": true, "go": true,
	"goto": true, "if": true, "import": true, "interface": true, "map": true, "package": true,
	"range": true, "return": true, "select": true, "struct": true, "switch": true, "type": true,
	"var": true, "any": true, "bool": true, "int64": true, "float64": true, "string": true,
	"nil": true, "true": true, "false": true, "len": true, "new": true, "t": true, "c": true,
	"int": true, "float": true, "append": true, "max": true, "min": true, "real": true, "imag": true,
	"complex": true, "copy": true, "cap": true, "close": true, "delete": true, "panic": true, "error": true,
	"r0": true, "r1": true, "r2": true, "r3": true, "r4": true, "r5": true, "r6": true, "r7": true,
}

// op is one operator to generate, merged over the versions.
type op struct {
	id       string
	s        *atenops.Schema // the schema whose signature Go uses
	versions []string        // the libtorch versions that have the operator
	goName   string
	method   bool
}

// signature is the Go-visible shape of a schema (for comparing versions).
func signature(s *atenops.Schema) (params []string, rets []string, ok bool) {
	for _, a := range s.Args {
		g, ok := argType(a.Type)
		if !ok {
			return nil, nil, false
		}
		params = append(params, g.typ+" "+a.Name)
	}
	for _, r := range s.Returns {
		t, _, ok := retType(r.Type)
		if !ok {
			return nil, nil, false
		}
		rets = append(rets, t)
	}
	return params, rets, true
}

// skipReason says why s is left out, or "".
func skipReason(s *atenops.Schema) string {
	switch {
	case strings.HasPrefix(s.Name, "_"):
		return "internal (name starts with _)"
	case strings.Contains(strings.ToLower(s.Overload), "dimname"):
		return "named-tensor overload (Dimname)"
	case strings.Contains(s.Overload, "hacked_twin"):
		return "TorchScript-only twin overload"
	}
	for i, a := range s.Args {
		if a.Write && !(i == 0 && a.Name == "self") && !a.KwOnly {
			return "writes into positional argument " + a.Name
		}
	}
	for _, a := range s.Args {
		if _, ok := argType(a.Type); !ok {
			return "argument type " + a.Type + " has no Go counterpart"
		}
	}
	for _, r := range s.Returns {
		if _, _, ok := retType(r.Type); !ok {
			return "return type " + r.Type + " has no Go counterpart"
		}
	}
	return ""
}

// pick chooses the schema whose signature Go uses when versions differ: the one whose
// arguments the others extend with defaulted trailing arguments (so the Go call works on
// every version, libtorch filling in the rest), else the newest.
func pick(ss []*atenops.Schema) *atenops.Schema {
	best := ss[len(ss)-1]
	for _, cand := range ss {
		ok := true
		for _, o := range ss {
			if !extends(o, cand) {
				ok = false
				break
			}
		}
		if ok {
			return cand
		}
	}
	return best
}

// extends reports whether o's arguments are base's followed by defaulted ones, with the same
// Go types, and the same returns.
func extends(o, base *atenops.Schema) bool {
	if len(o.Args) < len(base.Args) {
		return false
	}
	bp, br, ok1 := signature(base)
	op, or, ok2 := signature(o)
	if !ok1 || !ok2 || strings.Join(br, ",") != strings.Join(or, ",") {
		return false
	}
	for i := range bp {
		if bp[i] != op[i] {
			return false
		}
	}
	for _, a := range o.Args[len(base.Args):] {
		if !a.HasDef {
			return false
		}
	}
	return true
}

// Generate returns the Go file, the skipped list and the index (package atenops).
func Generate(versions []Version, taken Taken) (code, skippedList, index []byte, err error) {
	ids := map[string]bool{}
	for _, v := range versions {
		for id := range v.Schemas {
			ids[id] = true
		}
	}
	sorted := make([]string, 0, len(ids))
	for id := range ids {
		sorted = append(sorted, id)
	}
	sort.Strings(sorted)

	var skipped []string
	skip := func(id, why string) { skipped = append(skipped, "aten::"+id+"\t"+why) }
	var ops []*op
	byName := map[string][]*op{} // ATen name -> kept overloads, out= variants aside
	for _, id := range sorted {
		var ss []*atenops.Schema
		var vs []string
		for _, v := range versions {
			if s, ok := v.Schemas[id]; ok {
				ss = append(ss, s)
				vs = append(vs, v.Name)
			}
		}
		var kept []*atenops.Schema
		why := ""
		for _, s := range ss {
			if r := skipReason(s); r != "" {
				why = r
			} else {
				kept = append(kept, s)
			}
		}
		if len(kept) == 0 {
			skip(id, why)
			continue
		}
		s := pick(kept)
		o := &op{id: id, s: s, versions: vs}
		o.method = len(s.Args) > 0 && s.Args[0].Name == "self" && s.Args[0].Type == "Tensor"
		ops = append(ops, o)
		if !isOut(s) {
			byName[s.Name] = append(byName[s.Name], o)
		}
	}
	// Names.
	usedM := map[string]string{}
	usedF := map[string]string{}
	var gen []*op
	for _, o := range ops {
		base, inplace := strings.CutSuffix(o.s.Name, "_")
		name := camel(base)
		if o.s.Overload != "" && (isOut(o.s) || len(byName[o.s.Name]) > 1) {
			name += camel(o.s.Overload)
		}
		if inplace {
			name += "InPlace"
		}
		if name == "" || !(name[0] >= 'A' && name[0] <= 'Z') {
			skip(o.id, "no exported Go name")
			continue
		}
		o.goName = name
		used, hand := usedF, taken.Funcs
		if o.method {
			used, hand = usedM, taken.Methods
		}
		if hand[name] {
			skip(o.id, "hand-written "+kind(o.method)+" "+name+" has the name (call it with torch.Call)")
			continue
		}
		if prev, ok := used[name]; ok {
			skip(o.id, "its Go name "+name+" is aten::"+prev+"'s")
			continue
		}
		used[name] = o.id
		gen = append(gen, o)
	}

	var b bytes.Buffer
	fmt.Fprintf(&b, "// Code generated by torch/internal/atengen from the ATen schemas of libtorch %s; DO NOT EDIT.\n\n", versionList(versions))
	b.WriteString("package torch\n\n")
	for _, o := range gen {
		if err := writeOp(&b, o, len(versions)); err != nil {
			return nil, nil, nil, fmt.Errorf("aten::%s: %w", o.id, err)
		}
	}
	code, err = format.Source(b.Bytes())
	if err != nil {
		return nil, nil, nil, fmt.Errorf("formatting the generated code: %w", err)
	}
	var ib bytes.Buffer
	fmt.Fprintf(&ib, "// Code generated by torch/internal/atengen from the ATen schemas of libtorch %s; DO NOT EDIT.\n\n", versionList(versions))
	ib.WriteString("package atenops\n\n// List holds one entry per generated wrapper, in ATen name order.\nvar List = []Op{\n")
	for _, o := range gen {
		fmt.Fprintf(&ib, "\t{%q, %q, %q, %v, %q, %q},\n", o.s.Name, o.s.Overload, o.goName, o.method, strings.Join(o.versions, " "), o.s.Text)
	}
	ib.WriteString("}\n")
	index, err = format.Source(ib.Bytes())
	if err != nil {
		return nil, nil, nil, fmt.Errorf("formatting the index: %w", err)
	}
	var sb bytes.Buffer
	fmt.Fprintf(&sb, "# ATen operators of libtorch %s that torch/aten_gen.go leaves out, and why\n", versionList(versions))
	fmt.Fprintf(&sb, "# (generated by torch/internal/atengen: %d wrappers generated, %d left out; all are callable with torch.Call)\n", len(gen), len(skipped))
	for _, s := range skipped {
		sb.WriteString(s + "\n")
	}
	return code, sb.Bytes(), index, nil
}

// isOut reports whether s is an out= variant: it writes into a keyword-only argument.
func isOut(s *atenops.Schema) bool {
	for _, a := range s.Args {
		if a.Write && a.KwOnly {
			return true
		}
	}
	return false
}

func kind(method bool) string {
	if method {
		return "method"
	}
	return "function"
}

func versionList(vs []Version) string {
	names := make([]string, len(vs))
	for i, v := range vs {
		names[i] = v.Name
	}
	return strings.Join(names, " and ")
}

func writeOp(b *bytes.Buffer, o *op, nversions int) error {
	s := o.s
	refVar := "aten" + o.goName
	if o.method {
		refVar = "atenT" + o.goName
	}
	var params []string
	var body []string
	names := map[string]bool{}
	for i, a := range s.Args {
		g, _ := argType(a.Type)
		if i == 0 && o.method {
			body = append(body, "c.argTensor(t)")
			continue
		}
		if g.typ == "" {
			body = append(body, g.call)
			continue
		}
		n := lowerCamel(a.Name)
		for names[n] {
			n += "_"
		}
		names[n] = true
		params = append(params, n+" "+g.typ)
		body = append(body, fmt.Sprintf(g.call, n))
	}
	var rets, reads []string
	for i, r := range s.Returns {
		t, read, _ := retType(r.Type)
		rets = append(rets, t)
		reads = append(reads, fmt.Sprintf(read, i))
	}
	doc := fmt.Sprintf("// %s calls %s.", o.goName, s.Text)
	if len(o.versions) < nversions {
		doc += fmt.Sprintf("\n// Only in libtorch %s.", strings.Join(o.versions, ", "))
	}
	if len(reads) > 0 && s.Returns[0].Write && o.method {
		doc += "\n// It modifies t in place and returns t."
	}
	fmt.Fprintln(b, doc)
	recv := ""
	if o.method {
		recv = "(t *Tensor) "
	}
	ret := ""
	switch len(rets) {
	case 0:
	case 1:
		ret = " " + rets[0]
	default:
		ret = " (" + strings.Join(rets, ", ") + ")"
	}
	fmt.Fprintf(b, "func %s%s(%s)%s {\n", recv, o.goName, strings.Join(params, ", "), ret)
	fmt.Fprintf(b, "\tc := newCaller(&%s)\n", refVar)
	for _, l := range body {
		fmt.Fprintf(b, "\t%s\n", l)
	}
	b.WriteString("\tc.run()\n")
	switch len(reads) {
	case 0:
		b.WriteString("\tc.done()\n")
	default:
		vars := make([]string, len(reads))
		for i, r := range reads {
			vars[i] = fmt.Sprintf("r%d", i)
			fmt.Fprintf(b, "\t%s := %s\n", vars[i], r)
		}
		b.WriteString("\tc.done()\n")
		fmt.Fprintf(b, "\treturn %s\n", strings.Join(vars, ", "))
	}
	b.WriteString("}\n\n")
	fmt.Fprintf(b, "var %s = opRef{name: \"aten::%s\", overload: %q}\n\n", refVar, s.Name, s.Overload)
	return nil
}
