package sqlstore

import (
	"strings"
	"unicode"
)

// Statements splits a schema file into statements (see [Split]), renaming
// every table of from (as the file spells it) to its name in to.
func Statements(ddl string, from, to Tables) []string {
	r := strings.NewReplacer(from.Batches, to.Batches, from.Members, to.Members,
		from.Applies, to.Applies, from.Operations, to.Operations, from.Schema, to.Schema)
	stmts := Split(ddl)
	for i, stmt := range stmts {
		stmts[i] = r.Replace(stmt)
	}
	return stmts
}

// Split splits a script into statements as a DBA's tool does: comment
// lines are dropped, a statement ends with a line that ends with the
// delimiter (";", or what a "DELIMITER x" line sets, the mysql client's
// convention for a stored procedure whose body holds ";").
func Split(script string) []string {
	var out []string
	var stmt strings.Builder
	flush := func() {
		if s := strings.TrimSpace(stmt.String()); s != "" {
			out = append(out, s)
		}
		stmt.Reset()
	}
	delim := ";"
	for line := range strings.Lines(script) {
		trimmed := strings.TrimSpace(line)
		switch {
		case strings.HasPrefix(trimmed, "--"):
			continue
		case strings.HasPrefix(strings.ToUpper(trimmed), "DELIMITER "):
			flush()
			delim = strings.TrimSpace(trimmed[len("DELIMITER "):])
			continue
		}
		if body, ok := strings.CutSuffix(strings.TrimRightFunc(line, unicode.IsSpace), delim); ok {
			stmt.WriteString(body)
			flush()
			continue
		}
		stmt.WriteString(line)
	}
	flush()
	return out
}

// procDelimiter ends a statement whose body holds ";" in [Join]'s script.
const procDelimiter = "//"

// Join renders statements as one script, each ended by ";\n" and set
// apart by an empty line; a statement that holds ";" (a stored
// procedure's body) stands between "DELIMITER //" and "DELIMITER ;"
// lines, ended by "//", as the mysql client reads it.
func Join(stmts []string) string {
	parts := make([]string, len(stmts))
	for i, s := range stmts {
		if strings.Contains(s, ";") {
			parts[i] = "DELIMITER " + procDelimiter + "\n" + s + " " + procDelimiter + "\nDELIMITER ;\n"
		} else {
			parts[i] = s + ";\n"
		}
	}
	return strings.Join(parts, "\n")
}
