package atenops

import (
	"fmt"
	"strings"
)

// Schema is one parsed operator schema, e.g.
// aten::topk(Tensor self, int k, int dim=-1, bool largest=True, bool sorted=True) -> (Tensor values, Tensor indices).
type Schema struct {
	Text     string // the schema as libtorch prints it
	Name     string // "topk" (without the aten:: namespace)
	Overload string // "" for the default overload
	Args     []Arg
	Returns  []Arg
}

// Arg is one argument or return value.
type Arg struct {
	Type    string // the type without alias annotations: "Tensor?", "int[2]", "SymInt[]?"
	Name    string // may be empty for returns
	Default string // "" when there is none
	HasDef  bool
	KwOnly  bool
	Write   bool // annotated (a!): the op writes into it
	Alias   bool // annotated (a) or (a!): the result aliases an argument
}

// ID is "name" or "name.overload".
func (s *Schema) ID() string {
	if s.Overload == "" {
		return s.Name
	}
	return s.Name + "." + s.Overload
}

// ParseSchema parses one line of a schema dump (scripts/aten_schemas.py).
func ParseSchema(line string) (*Schema, error) {
	s := &Schema{Text: line}
	rest, ok := strings.CutPrefix(line, "aten::")
	if !ok {
		return nil, fmt.Errorf("not an aten:: schema")
	}
	open := strings.IndexByte(rest, '(')
	if open < 0 {
		return nil, fmt.Errorf("no argument list")
	}
	s.Name, s.Overload, _ = strings.Cut(rest[:open], ".")
	closeAt, err := matching(rest, open)
	if err != nil {
		return nil, err
	}
	args, err := splitTop(rest[open+1 : closeAt])
	if err != nil {
		return nil, err
	}
	kw := false
	for _, a := range args {
		if a == "*" {
			kw = true
			continue
		}
		p, err := parseArg(a)
		if err != nil {
			return nil, fmt.Errorf("argument %q: %w", a, err)
		}
		p.KwOnly = kw
		s.Args = append(s.Args, p)
	}
	ret, ok := strings.CutPrefix(strings.TrimSpace(rest[closeAt+1:]), "->")
	if !ok {
		return nil, fmt.Errorf("no return type")
	}
	ret = strings.TrimSpace(ret)
	if strings.HasPrefix(ret, "(") {
		end, err := matching(ret, 0)
		if err != nil {
			return nil, err
		}
		rs, err := splitTop(ret[1:end])
		if err != nil {
			return nil, err
		}
		for _, r := range rs {
			p, err := parseArg(r)
			if err != nil {
				return nil, fmt.Errorf("return %q: %w", r, err)
			}
			s.Returns = append(s.Returns, p)
		}
	} else {
		p, err := parseArg(ret)
		if err != nil {
			return nil, fmt.Errorf("return %q: %w", ret, err)
		}
		s.Returns = append(s.Returns, p)
	}
	return s, nil
}

// matching returns the index of the parenthesis that closes the one at s[open].
func matching(s string, open int) (int, error) {
	depth := 0
	inStr := byte(0)
	for i := open; i < len(s); i++ {
		c := s[i]
		switch {
		case inStr != 0:
			if c == '\\' {
				i++
			} else if c == inStr {
				inStr = 0
			}
		case c == '"' || c == '\'':
			inStr = c
		case c == '(':
			depth++
		case c == ')':
			depth--
			if depth == 0 {
				return i, nil
			}
		}
	}
	return 0, fmt.Errorf("unbalanced parentheses")
}

// splitTop splits s at the commas outside brackets, parentheses and strings.
func splitTop(s string) ([]string, error) {
	var out []string
	depth := 0
	inStr := byte(0)
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case inStr != 0:
			if c == '\\' {
				i++
			} else if c == inStr {
				inStr = 0
			}
		case c == '"' || c == '\'':
			inStr = c
		case c == '(' || c == '[':
			depth++
		case c == ')' || c == ']':
			depth--
		case c == ',' && depth == 0:
			out = append(out, strings.TrimSpace(s[start:i]))
			start = i + 1
		}
	}
	if depth != 0 || inStr != 0 {
		return nil, fmt.Errorf("unbalanced %q", s)
	}
	if last := strings.TrimSpace(s[start:]); last != "" {
		out = append(out, last)
	}
	return out, nil
}

// parseArg parses "TYPE[ NAME][=DEFAULT]".
func parseArg(a string) (Arg, error) {
	var p Arg
	if before, def, ok := strings.Cut(a, "="); ok {
		a, p.Default, p.HasDef = strings.TrimSpace(before), strings.TrimSpace(def), true
	}
	// The type ends at the last space outside an alias annotation.
	typ, name := a, ""
	depth := 0
	for i := len(a) - 1; i >= 0; i-- {
		switch a[i] {
		case ')':
			depth++
		case '(':
			depth--
		case ' ':
			if depth == 0 && typ == a {
				typ, name = strings.TrimSpace(a[:i]), a[i+1:]
			}
		}
	}
	// Strip alias annotations: Tensor(a!) -> Tensor, Tensor(a -> *)[] -> Tensor[].
	if i := strings.IndexByte(typ, '('); i >= 0 {
		j := strings.IndexByte(typ, ')')
		if j < i {
			return p, fmt.Errorf("bad alias annotation")
		}
		ann := typ[i+1 : j]
		p.Alias = true
		p.Write = strings.Contains(ann, "!")
		typ = typ[:i] + typ[j+1:]
	}
	if typ == "" {
		return p, fmt.Errorf("no type")
	}
	p.Type, p.Name = typ, name
	return p, nil
}
