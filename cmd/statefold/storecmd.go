package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/statefold/statefold/storage/mysql"
	"github.com/statefold/statefold/storage/postgres"
)

func storeCommands() []*command {
	return []*command{
		{name: "migrate", summary: "create the tables, or add what this release reads", run: storeMigrate,
			help: `Creates the four tables with the --table-prefix, or adds to existing ones
what this release reads (MySQL: Migrate; PostgreSQL: Migrate; DynamoDB:
CreateTables). Idempotent. The memory store has nothing to migrate.`},
		{name: "check", summary: "check that the tables are present and migrated", run: storeCheck,
			help: `Runs the backend's Check when it has one (MySQL: autocommit, a writable
primary, the four tables with this release's columns), and otherwise reads
each of the four tables once (a missing table fails). Reads only. Exit
code 0 when the store is usable, 1 when not.`},
		{name: "schema", summary: "print the DDL that migrate runs", run: storeSchema,
			help: `Prints the DDL that store migrate runs on MySQL or PostgreSQL, with the
--table-prefix substituted, for DBAs who apply migrations with their own
tools; for DynamoDB the four table names. Connects to nothing.`},
	}
}

func storeMigrate(ctx context.Context, e *env, _ []string) error {
	c, err := e.connect(ctx)
	if err != nil {
		return err
	}
	defer c.close()
	if err := c.migrate(ctx); err != nil {
		return fmt.Errorf("migrate %s: %w", e.where(), err)
	}
	return e.report("migrated", map[string]any{"migrated": true})
}

func storeCheck(ctx context.Context, e *env, _ []string) error {
	c, err := e.connect(ctx)
	if err != nil {
		return err
	}
	defer c.close()
	how, err := c.check(ctx)
	if err != nil {
		return fmt.Errorf("check %s (%s): %w", e.where(), how, err)
	}
	return e.report("ok ("+how+")", map[string]any{"ok": true, "how": how})
}

// report prints a one-line outcome, or a JSON object of fields and the
// store.
func (e *env) report(line string, fields map[string]any) error {
	if e.output == "json" {
		fields["store"] = e.where()
		fields["table_prefix"] = e.prefix
		return e.emitJSON(fields)
	}
	_, err := fmt.Fprintf(e.stdout, "%s (table prefix %q): %s\n", e.where(), e.prefix, line)
	return err
}

func storeSchema(_ context.Context, e *env, _ []string) error {
	var ddl string
	var err error
	switch e.store {
	case "mysql":
		ddl, err = mysql.Schema(mysql.WithTablePrefix(e.prefix))
	case "postgres":
		ddl, err = postgres.Schema(postgres.WithTablePrefix(e.prefix))
	case "dynamo":
		// WithTableNames with empty fields takes the prefixed defaults.
		ddl = fmt.Sprintf("-- DynamoDB tables created by store migrate (dynamo.CreateTables):\n-- %s\n",
			strings.Join(dynamoTables(e.prefix), "\n-- "))
	default:
		ddl = "-- the memory store has no schema\n"
	}
	if err != nil {
		return usagef("schema: %v", err)
	}
	if e.output == "json" {
		return e.emitJSON(map[string]any{"store": e.store, "table_prefix": e.prefix, "ddl": ddl})
	}
	if !strings.HasSuffix(ddl, "\n") {
		ddl += "\n"
	}
	_, err = fmt.Fprint(e.stdout, ddl)
	return err
}

// dynamoTables names the four DynamoDB tables of prefix, as the store
// names them by default.
func dynamoTables(prefix string) []string {
	return []string{prefix + "batches", prefix + "members", prefix + "applies", prefix + "operations"}
}
