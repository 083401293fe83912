package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/statefold/statefold/applystate"
	"github.com/statefold/statefold/storage"
)

// Exit codes; see the package documentation.
const (
	exitOK       = 0
	exitFailed   = 1
	exitUsage    = 2
	exitNotFound = 3
	exitConflict = 4
)

// usageError is a mistake in the command line: exit code 2.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return usageError{fmt.Sprintf(format, args...)} }

// exitCode maps an error to the documented exit code.
func exitCode(err error) int {
	var ue usageError
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &ue):
		return exitUsage
	case errors.Is(err, storage.ErrNotFound):
		return exitNotFound
	case errors.Is(err, storage.ErrConflict), errors.Is(err, applystate.ErrAmbiguous),
		errors.Is(err, applystate.ErrOwned), errors.Is(err, applystate.ErrNotOwner):
		return exitConflict
	}
	return exitFailed
}

// globals are the flags every command accepts.
type globals struct {
	store    string
	dsn      secretValue
	endpoint string
	region   string
	prefix   string
	output   string
	timeout  time.Duration
	verbose  bool
}

// register adds the global flags to fs, each defaulting to its current
// value, so that a flag given before the group survives the command's own
// flag set.
func (g *globals) register(fs *flag.FlagSet) {
	fs.StringVar(&g.store, "store", g.store, "backend: memory, mysql, postgres or dynamo")
	fs.Var(&g.dsn, "dsn", "MySQL or PostgreSQL `DSN` (default $STATEFOLD_MYSQL_DSN or $STATEFOLD_POSTGRES_DSN, by --store)")
	fs.StringVar(&g.endpoint, "endpoint", g.endpoint, "DynamoDB endpoint `URL` (default $STATEFOLD_DYNAMO_ENDPOINT; empty: AWS)")
	fs.StringVar(&g.region, "region", g.region, "DynamoDB region (default $AWS_REGION, else us-east-1)")
	fs.StringVar(&g.prefix, "table-prefix", g.prefix, "the tables' name prefix")
	fs.StringVar(&g.output, "o", g.output, "output: table or json")
	fs.DurationVar(&g.timeout, "timeout", g.timeout, "give up after this long")
	fs.BoolVar(&g.verbose, "v", g.verbose, "log the library's debug lines to stderr")
}

// secretValue is a flag whose value is never printed whole: its String
// (what --help shows as a default) redacts the password.
type secretValue struct{ s string }

func (v *secretValue) String() string {
	if v == nil {
		return ""
	}
	return redactDSN(v.s)
}

func (v *secretValue) Set(s string) error { v.s = s; return nil }

// env is one invocation: its flags, its environment and where it writes.
type env struct {
	globals
	getenv func(string) string
	stdout io.Writer
	stderr io.Writer
	log    *slog.Logger
}

// command is one leaf of the command tree.
type command struct {
	name, args, summary, help string
	// nargs is how many positional arguments the command takes.
	nargs int
	// flags registers the command's own flags; nil for none.
	flags func(fs *flag.FlagSet)
	run   func(ctx context.Context, e *env, args []string) error
}

// group is one level of the command tree.
type group struct {
	name, summary string
	commands      []*command
}

func groups() []group {
	return []group{
		{"apply", "show and operate one rollout (applystate)", applyCommands()},
		{"queue", "list, show, reconcile and prune a queue's batches (batchstate)", queueCommands()},
		{"store", "migrate, check and print the schema of a store", storeCommands()},
	}
}

// run is the command: it parses args, runs the command and returns the
// exit code. Everything it writes goes through a writer that replaces
// the secrets it was given.
func run(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	e := newEnv(getenv)
	secrets := newRedactor()
	e.stdout, e.stderr = secrets.writer(stdout), secrets.writer(stderr)
	err := dispatch(ctx, e, args, secrets)
	if errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	if err != nil {
		fmt.Fprintf(e.stderr, "statefold: %v\n", err)
	}
	return exitCode(err)
}

// newEnv returns an invocation with the global flags at their defaults.
func newEnv(getenv func(string) string) *env {
	e := &env{getenv: getenv, stdout: io.Discard, stderr: io.Discard}
	e.store, e.prefix, e.output, e.timeout = "memory", "statefold_", "table", time.Minute
	e.endpoint = getenv("STATEFOLD_DYNAMO_ENDPOINT")
	e.log = slog.New(slog.DiscardHandler)
	return e
}

func dispatch(ctx context.Context, e *env, args []string, secrets *redactor) error {
	rest, err := e.parseLevel("statefold", args, topUsage)
	if err != nil {
		return err
	}
	var g *group
	for _, gr := range groups() {
		if gr.name == rest[0] {
			g = &gr
		}
	}
	if g == nil {
		return usagef("unknown command %q (apply, queue or store; statefold --help)", rest[0])
	}
	rest, err = e.parseLevel("statefold "+g.name, rest[1:], func(w io.Writer, fs *flag.FlagSet) { groupUsage(w, *g, fs) })
	if err != nil {
		return err
	}
	var c *command
	for _, cm := range g.commands {
		if cm.name == rest[0] {
			c = cm
		}
	}
	if c == nil {
		return usagef("%s: unknown command %q (statefold %s --help)", g.name, rest[0], g.name)
	}
	name := "statefold " + g.name + " " + c.name
	fs := newFlagSet(name)
	e.register(fs)
	if c.flags != nil {
		c.flags(fs)
	}
	fs.Usage = func() { commandUsage(e.stdout, name, c, fs) }
	pos, err := parseInterleaved(fs, rest[1:])
	if err != nil {
		return parseErr(err, name)
	}
	if len(pos) != c.nargs {
		return usagef("%s takes %d argument(s), %s, got %d (%s --help)", name, c.nargs, c.args, len(pos), name)
	}
	if err := e.setup(secrets); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, e.timeout)
	defer cancel()
	return c.run(ctx, e, pos)
}

// setup checks the global flags and prepares the logger and the
// redaction of the secrets they hold.
func (e *env) setup(secrets *redactor) error {
	switch e.output {
	case "table", "json":
	default:
		return usagef("-o %q: table or json", e.output)
	}
	switch e.store {
	case "memory", "mysql", "postgres", "dynamo":
	default:
		return usagef("--store %q: memory, mysql, postgres or dynamo", e.store)
	}
	if e.timeout <= 0 {
		return usagef("--timeout %v: must be positive", e.timeout)
	}
	secrets.add(dsnPassword(e.resolvedDSN()))
	secrets.add(e.getenv("AWS_SECRET_ACCESS_KEY"))
	secrets.add(e.getenv("AWS_SESSION_TOKEN"))
	level := slog.LevelWarn
	if e.verbose {
		level = slog.LevelDebug
	}
	e.log = slog.New(slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: level}))
	return nil
}

// parseLevel parses the global flags of one level of the command tree
// (statefold, or a group) and returns the arguments from the next
// command's name on. With no command it prints the level's usage to
// stderr (a usage error); with "help", -h or --help to stdout.
func (e *env) parseLevel(name string, args []string, usage func(io.Writer, *flag.FlagSet)) ([]string, error) {
	fs := newFlagSet(name)
	e.register(fs)
	fs.Usage = func() { usage(e.stdout, fs) }
	if err := fs.Parse(args); err != nil {
		return nil, parseErr(err, name)
	}
	rest := fs.Args()
	switch {
	case len(rest) == 0:
		usage(e.stderr, fs)
		return nil, usagef("no command given (%s --help)", name)
	case rest[0] == "help":
		usage(e.stdout, fs)
		return nil, flag.ErrHelp
	}
	return rest, nil
}

func newFlagSet(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard) // usage goes to stdout on --help, errors to stderr by run
	return fs
}

// parseErr turns a flag error into a usage error (or passes ErrHelp on,
// once the usage was printed).
func parseErr(err error, name string) error {
	if errors.Is(err, flag.ErrHelp) {
		return err
	}
	return usagef("%v (%s --help)", err, name)
}

// parseInterleaved parses fs over args that mix flags and positional
// arguments, and returns the positional ones. "--" ends the flags.
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		if n := len(args) - len(rest); n > 0 && args[n-1] == "--" {
			return append(pos, rest...), nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

func printFlags(w io.Writer, fs *flag.FlagSet) {
	fs.SetOutput(w)
	fs.PrintDefaults()
	fs.SetOutput(io.Discard)
}

func topUsage(w io.Writer, fs *flag.FlagSet) {
	var b strings.Builder
	b.WriteString("usage: statefold [flags] <group> <command> [flags] [args]\n\n" +
		"Inspect and operate statefold's stores.\n\ngroups:\n")
	for _, g := range groups() {
		fmt.Fprintf(&b, "  %-7s %s\n", g.name, g.summary)
		for _, c := range g.commands {
			fmt.Fprintf(&b, "            %s %s %s\n", g.name, c.name, c.args)
		}
	}
	b.WriteString("\nexit codes: 0 done, 1 failed, 2 usage, 3 not found, 4 conflict or ambiguous (read again, retry)\n" +
		"\"statefold <group> <command> --help\" describes a command.\n\nflags (accepted at every level):\n")
	fmt.Fprint(w, b.String())
	printFlags(w, fs)
}

func groupUsage(w io.Writer, g group, fs *flag.FlagSet) {
	var b strings.Builder
	fmt.Fprintf(&b, "usage: statefold %s <command> [flags] [args]\n\n%s.\n\ncommands:\n", g.name, g.summary)
	for _, c := range g.commands {
		fmt.Fprintf(&b, "  %-10s %-22s %s\n", c.name, c.args, c.summary)
	}
	b.WriteString("\nflags:\n")
	fmt.Fprint(w, b.String())
	printFlags(w, fs)
}

func commandUsage(w io.Writer, name string, c *command, fs *flag.FlagSet) {
	fmt.Fprintf(w, "usage: %s %s [flags]\n\n%s\n\nflags:\n", name, c.args, strings.TrimSpace(c.help))
	printFlags(w, fs)
}
