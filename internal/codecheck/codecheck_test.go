package codecheck

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

const (
	// maxFuncLines is the longest a function may be, from its func
	// keyword to its closing brace.
	maxFuncLines = 60
	// maxDocLines is the longest a package doc may be.
	maxDocLines = 120
)

// enforced are the package directories (relative to the module root)
// whose findings fail the tests; pending ones are checked and their
// findings logged until their refactoring lands, when they move to
// enforced.
var (
	enforced = []string{"applystate", "batchstate", "storage", "storage/memory", "storage/mysql",
		"storage/postgres", "storage/dynamo", "storage/internal/sqlstore"}
	pending []string // none: every package above is clean
)

// pkg is one parsed package directory.
type pkg struct {
	dir   string
	fset  *token.FileSet
	files map[string]*ast.File
}

func parse(t *testing.T, dir string) pkg {
	t.Helper()
	fset := token.NewFileSet()
	entries, err := os.ReadDir(filepath.Join("..", "..", dir))
	if err != nil {
		t.Fatalf("read %s: %v", dir, err)
	}
	files := map[string]*ast.File{}
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, filepath.Join("..", "..", dir, name), nil, parser.ParseComments)
		if err != nil {
			t.Fatalf("parse %s/%s: %v", dir, name, err)
		}
		files[name] = f
	}
	if len(files) == 0 {
		t.Fatalf("no Go files in %s", dir)
	}
	return pkg{dir: dir, fset: fset, files: files}
}

// check runs find over every package, failing t on the findings of the
// enforced ones and logging those of the pending ones.
func check(t *testing.T, find func(pkg) []string) {
	t.Helper()
	for _, dir := range enforced {
		for _, f := range find(parse(t, dir)) {
			t.Errorf("%s", f)
		}
	}
	for _, dir := range pending {
		for _, f := range find(parse(t, dir)) {
			t.Logf("pending: %s", f)
		}
	}
}

// names returns the file names of p in order.
func (p pkg) names() []string {
	var out []string
	for name := range p.files {
		out = append(out, name)
	}
	sort.Strings(out)
	return out
}

func (p pkg) at(pos token.Pos) string {
	at := p.fset.Position(pos)
	return filepath.Join(p.dir, filepath.Base(at.Filename)) + ":" + itoa(at.Line)
}

func itoa(n int) string {
	var b [20]byte
	i := len(b)
	for {
		i--
		b[i] = byte('0' + n%10)
		if n /= 10; n == 0 {
			return string(b[i:])
		}
	}
}

// longFuncs lists the functions of p longer than maxFuncLines.
func longFuncs(p pkg) []string {
	var out []string
	for _, name := range p.names() {
		for _, d := range p.files[name].Decls {
			fn, ok := d.(*ast.FuncDecl)
			if !ok || fn.Body == nil {
				continue
			}
			n := p.fset.Position(fn.End()).Line - p.fset.Position(fn.Type.Func).Line + 1
			if n > maxFuncLines {
				out = append(out, p.at(fn.Pos())+": func "+fn.Name.Name+" is "+itoa(n)+" lines (at most "+itoa(maxFuncLines)+")")
			}
		}
	}
	return out
}

// longDoc reports a package doc of p longer than maxDocLines (the doc
// comments of all its files together).
func longDoc(p pkg) []string {
	n := 0
	for _, f := range p.files {
		if f.Doc != nil {
			n += p.fset.Position(f.Doc.End()).Line - p.fset.Position(f.Doc.Pos()).Line + 1
		}
	}
	switch {
	case n == 0:
		return []string{p.dir + ": no package doc"}
	case n > maxDocLines:
		return []string{p.dir + ": package doc is " + itoa(n) + " lines (at most " + itoa(maxDocLines) + ")"}
	}
	return nil
}

// undocumented lists the exported identifiers of p without a doc comment:
// functions, methods of exported types, types, constants, variables, and
// the exported fields and interface methods of exported types. A
// declaration group's comment documents its members; a field's or a
// method's trailing comment documents it.
func undocumented(p pkg) []string {
	var out []string
	miss := func(pos token.Pos, what string) { out = append(out, p.at(pos)+": "+what+" is not documented") }
	for _, name := range p.names() {
		for _, d := range p.files[name].Decls {
			switch d := d.(type) {
			case *ast.FuncDecl:
				if d.Name.IsExported() && exportedRecv(d) && d.Doc == nil {
					miss(d.Pos(), "func "+d.Name.Name)
				}
			case *ast.GenDecl:
				out = append(out, undocumentedSpecs(p, d)...)
			}
		}
	}
	return out
}

// exportedRecv reports whether fn is a function or a method of an exported
// type.
func exportedRecv(fn *ast.FuncDecl) bool {
	if fn.Recv == nil || len(fn.Recv.List) == 0 {
		return true
	}
	typ := fn.Recv.List[0].Type
	if s, ok := typ.(*ast.StarExpr); ok {
		typ = s.X
	}
	if g, ok := typ.(*ast.IndexExpr); ok {
		typ = g.X
	}
	id, ok := typ.(*ast.Ident)
	return ok && id.IsExported()
}

func undocumentedSpecs(p pkg, d *ast.GenDecl) []string {
	var out []string
	miss := func(pos token.Pos, what string) { out = append(out, p.at(pos)+": "+what+" is not documented") }
	for _, s := range d.Specs {
		switch s := s.(type) {
		case *ast.TypeSpec:
			if !s.Name.IsExported() {
				continue
			}
			if s.Doc == nil && d.Doc == nil {
				miss(s.Pos(), "type "+s.Name.Name)
			}
			out = append(out, undocumentedMembers(p, s)...)
		case *ast.ValueSpec:
			for _, n := range s.Names {
				if n.IsExported() && s.Doc == nil && s.Comment == nil && d.Doc == nil {
					miss(n.Pos(), n.Name)
				}
			}
		}
	}
	return out
}

// undocumentedMembers lists the exported fields (of a struct) or methods
// (of an interface) of the exported type s that have no comment.
func undocumentedMembers(p pkg, s *ast.TypeSpec) []string {
	var fields *ast.FieldList
	switch t := s.Type.(type) {
	case *ast.StructType:
		fields = t.Fields
	case *ast.InterfaceType:
		fields = t.Methods
	default:
		return nil
	}
	var out []string
	for _, f := range fields.List {
		for _, n := range f.Names {
			if n.IsExported() && f.Doc == nil && f.Comment == nil {
				out = append(out, p.at(n.Pos())+": "+s.Name.Name+"."+n.Name+" is not documented")
			}
		}
	}
	return out
}

func TestNoLongFunctions(t *testing.T) { check(t, longFuncs) }

func TestPackageDocsAreShort(t *testing.T) { check(t, longDoc) }

func TestExportedIdentifiersAreDocumented(t *testing.T) { check(t, undocumented) }

// TestTheChecksFind keeps the checks honest: on a source with each fault
// they report it.
func TestTheChecksFind(t *testing.T) {
	src := "// Package x.\npackage x\n\nfunc Exported() {}\n\ntype T struct{ F int }\n\nfunc long() {\n" +
		strings.Repeat("\t_ = 1\n", maxFuncLines) + "}\n"
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "x.go", src, parser.ParseComments)
	if err != nil {
		t.Fatal(err)
	}
	p := pkg{dir: "x", fset: fset, files: map[string]*ast.File{"x.go": f}}
	if got := longFuncs(p); len(got) != 1 || !strings.Contains(got[0], "func long is 62 lines") {
		t.Errorf("longFuncs = %q", got)
	}
	if got := undocumented(p); len(got) != 3 {
		t.Errorf("undocumented = %q, want Exported, T and T.F", got)
	}
	long := "// Package x.\n" + strings.Repeat("//\n", maxDocLines) + "package x\n"
	if f, err = parser.ParseFile(fset, "y.go", long, parser.ParseComments); err != nil {
		t.Fatal(err)
	}
	if got := longDoc(pkg{dir: "y", fset: fset, files: map[string]*ast.File{"y.go": f}}); len(got) != 1 {
		t.Errorf("longDoc = %q", got)
	}
}
