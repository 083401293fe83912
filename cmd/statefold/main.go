// Command statefold inspects and operates statefold's stores: it shows an
// apply and its operation rows, stops a rollout, releases its pause or
// reprojects it; prunes old terminal applies; lists, shows, reconciles and
// prunes the batches of a queue; and migrates, checks and prints the schema
// of a store.
//
// Usage:
//
//	statefold [global flags] <group> <command> [flags] [args]
//
//	statefold apply show <apply-id>        the apply, its operation rows, why it is in its state
//	statefold apply list --open --namespace NS [--shards N]   the open applies (Projector.ListOpen)
//	statefold apply stop <apply-id>        request a stop (Projector.Stop)
//	statefold apply release <apply-id>     release the failures holding a pause (Projector.ReleasePause)
//	statefold apply reproject <apply-id>   project the apply over its stored rows (Projector.Reproject)
//	statefold apply prune --namespace NS --retention D   prune old terminal applies (Projector.PruneFinished)
//	statefold queue list <queue> [--state S]...   batches in the given (default: every non-terminal) states
//	statefold queue show <queue> <batch-id>        one batch and its index rows
//	statefold queue reconcile <queue>              one Reconcile of the queue's index
//	statefold queue prune <queue> --retention D    prune the old terminal batches (batchstate Prune)
//	statefold store migrate                create or upgrade the tables
//	statefold store check                  check that the tables are present and migrated
//	statefold store schema                 print the DDL that migrate runs
//
// Every level answers -h or --help. Flags may come before or after the
// arguments; "--" ends the flags.
//
// # Choosing a store
//
//	--store memory|mysql|postgres|dynamo   the backend (default memory: an empty store, for trying the commands)
//	--dsn DSN              MySQL / MariaDB or PostgreSQL DSN (default $STATEFOLD_MYSQL_DSN or $STATEFOLD_POSTGRES_DSN, by --store)
//	--endpoint URL         DynamoDB endpoint (default $STATEFOLD_DYNAMO_ENDPOINT; empty: the region's AWS endpoint)
//	--region REGION        DynamoDB region (default $AWS_REGION, else us-east-1)
//	--table-prefix PREFIX  the tables' prefix (default statefold_, the stores' default)
//
// DynamoDB credentials come from AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and
// AWS_SESSION_TOKEN; with --endpoint set and no key given, fixed dummy
// credentials are sent (local emulators accept any).
//
// # Output and exit codes
//
// -o table (the default) prints for people; -o json prints one JSON value
// on stdout for scripts (field names in snake case). Errors go to stderr,
// as text, in both modes. The exit code says what happened:
//
//	0  done
//	1  the operation failed (a store error, a failed check, anything else)
//	2  usage: unknown command or flag, missing or invalid argument
//	3  not found: no such apply or batch
//	4  conflict or ambiguous: the rows kept changing under the command
//	   (storage.ErrConflict), an apply write whose outcome is unknown
//	   (applystate.ErrAmbiguous), an operation owned by another loop;
//	   read the state again and retry
//
// # Credentials
//
// The command never prints a password: a DSN in an error, a log line or
// -o json shows its password as xxxxx, and every password and secret key
// the command was given (four characters or longer) is replaced by xxxxx
// in everything it writes, driver messages included.
//
// # Queues and their machine
//
// batchstate needs the queue's state machine. Give it as a JSON file
// (--machine FILE, the fields of batchstate.Machine:
// {"states": [...], "terminal": [...], "transitions": {"from": ["to", ...]}})
// or with flags: --states a,b,c --terminal c [--transitions 'a:b,c;b:c'].
// queue list needs only the states it lists: --state names them when no
// machine is given. queue reconcile requires the whole machine, and it must
// be the one the application uses: a state wrongly named terminal has its
// index rows removed, and then List misses its batches.
//
// # Why the standard flag package
//
// The command has three groups of a few commands each, so a CLI library
// would buy little; the standard flag package keeps every CLI library out
// of the go.sum of this command and, since the command is its own module,
// out of everyone else's.
package main

import (
	"context"
	"os"
	"os/signal"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr, os.Getenv)
	stop()
	os.Exit(code)
}
