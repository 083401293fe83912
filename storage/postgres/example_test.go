package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/statefold/statefold/storage"
	"github.com/statefold/statefold/storage/postgres"
)

// A store on a pool, its tables migrated, and a compare-and-swap that lost
// the race: storage.ErrConflict. (go test runs it against
// STATEFOLD_POSTGRES_DSN, and skips it when that is unset.)
func Example() {
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, os.Getenv("STATEFOLD_POSTGRES_DSN"))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer pool.Close()
	opts := []postgres.Option{postgres.WithTablePrefix("sf_example_")}
	if err := postgres.Migrate(ctx, pool, opts...); err != nil {
		fmt.Println(err)
		return
	}
	store, err := postgres.New(pool, opts...)
	if err != nil {
		fmt.Println(err)
		return
	}
	queue := fmt.Sprintf("main-%d", time.Now().UnixNano()) // a queue of its own on every run
	b, err := store.CreateBatch(ctx, storage.Batch{Queue: queue, ID: "b1", State: "queued"})
	fmt.Println(b.Version, err)
	b.State = "testing"
	_, err = store.UpdateBatch(ctx, b, 1, "queued") // wins: version 1 → 2
	fmt.Println(err)
	_, err = store.UpdateBatch(ctx, b, 1, "queued") // stale
	fmt.Println(errors.Is(err, storage.ErrConflict))
	// Output:
	// 1 <nil>
	// <nil>
	// true
}
