package mysql_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	_ "github.com/go-sql-driver/mysql"

	"github.com/statefold/statefold/storage"
	"github.com/statefold/statefold/storage/mysql"
)

// Open a database, create the tables once, and use the store. (go test runs
// it against the server STATEFOLD_MYSQL_DSN names, and skips it when that is
// unset.)
func Example() {
	ctx := context.Background()
	db, err := sql.Open("mysql", os.Getenv("STATEFOLD_MYSQL_DSN"))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer db.Close()
	if err := mysql.Migrate(ctx, db, mysql.WithTablePrefix("sf_")); err != nil {
		fmt.Println(err)
		return
	}
	store, err := mysql.New(db, mysql.WithTablePrefix("sf_"))
	if err != nil {
		fmt.Println(err)
		return
	}
	// A queue of its own on every run: creating b1 again in the same queue
	// would be storage.ErrAlreadyExists.
	queue := fmt.Sprintf("main-%d", time.Now().UnixNano())
	b, err := store.CreateBatch(ctx, storage.Batch{Queue: queue, ID: "b1", State: "created"})
	if err != nil {
		fmt.Println(err)
		return
	}
	// Compare-and-swap: the first update from version 1 in state "created"
	// wins...
	b.State = "queued"
	if b, err = store.UpdateBatch(ctx, b, b.Version, "created"); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(b.State, b.Version)
	// ...and a writer still holding version 1 loses.
	_, err = store.UpdateBatch(ctx, b, 1, "created")
	fmt.Println(errors.Is(err, storage.ErrConflict))
	// Output:
	// queued 2
	// true
}

// Schema gives DBAs the DDL that Migrate runs, with the table prefix
// applied; a prefix that is not a plain identifier is rejected.
func ExampleSchema() {
	ddl, err := mysql.Schema(mysql.WithTablePrefix("sf_"))
	if err != nil {
		fmt.Println(err)
		return
	}
	for line := range strings.Lines(ddl) {
		for _, start := range []string{"CREATE", "DROP", "INSERT", "DELIMITER"} {
			if strings.HasPrefix(line, start) {
				fmt.Print(line)
			}
		}
	}
	_, err = mysql.Schema(mysql.WithTablePrefix("sf-"))
	fmt.Println(errors.Is(err, storage.ErrInvalid))
	// Output:
	// CREATE TABLE IF NOT EXISTS `sf_batches` (
	// CREATE TABLE IF NOT EXISTS `sf_members` (
	// DROP PROCEDURE IF EXISTS `sf_move_batch`;
	// DELIMITER //
	// CREATE PROCEDURE `sf_move_batch`(
	// DELIMITER ;
	// CREATE TABLE IF NOT EXISTS `sf_applies` (
	// CREATE TABLE IF NOT EXISTS `sf_operations` (
	// CREATE TABLE IF NOT EXISTS `sf_schema` (
	// INSERT INTO `sf_schema` (id, version) VALUES (1, 2)
	// true
}
