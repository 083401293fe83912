package mysql_test

import (
	"context"
	"database/sql"
	"fmt"
	"os"

	_ "github.com/go-sql-driver/mysql"

	"github.com/statefold/statefold/storage"
	"github.com/statefold/statefold/storage/mysql"
)

// Open a database, create the tables once, and use the store. (Not run by
// go test: it needs a server.)
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
	b, err := store.CreateBatch(ctx, storage.Batch{Queue: "main", ID: "b1", State: "created"})
	fmt.Println(b.Version, err)
}
