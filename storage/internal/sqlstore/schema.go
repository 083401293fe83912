package sqlstore

import "strings"

// Statements splits a schema file into statements, dropping comment lines
// and renaming every table of from (as the file spells it) to its name in
// to.
func Statements(ddl string, from, to Tables) []string {
	var body strings.Builder
	for line := range strings.Lines(ddl) {
		if !strings.HasPrefix(strings.TrimSpace(line), "--") {
			body.WriteString(line)
		}
	}
	text := strings.NewReplacer(from.Batches, to.Batches, from.Members, to.Members,
		from.Applies, to.Applies, from.Operations, to.Operations, from.Schema, to.Schema).Replace(body.String())
	var out []string
	for stmt := range strings.SplitSeq(text, ";") {
		if stmt = strings.TrimSpace(stmt); stmt != "" {
			out = append(out, stmt)
		}
	}
	return out
}

// Join renders statements as one script, each ended by ";\n".
func Join(stmts []string) string {
	return strings.Join(stmts, ";\n\n") + ";\n"
}
