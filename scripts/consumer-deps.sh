#!/usr/bin/env bash
# consumer-deps.sh — prove that statefold's test-only dependencies do not
# spill into its users: a scratch consumer module that imports only
# storage/mysql (then one that imports only applystate and storage/memory,
# and one that imports only applystate and storage/postgres) runs `go mod
# tidy`, and its go.sum must name no testcontainers, Docker, moby,
# OpenTelemetry or command-line library module, nor the statefold command's
# or the OpenTelemetry hooks' (otel) module. Prints the go.sum size of each.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

unwanted='testcontainers|docker|moby|opentelemetry|spf13/cobra|spf13/pflag|urfave/cli|alecthomas/kong|kingpin|statefold/statefold/cmd|statefold/statefold/otel'

check() { # name imports...
	local name="$1"; shift
	local dir="$work/$name"
	mkdir -p "$dir"
	{
		echo "package main"
		echo "import ("
		for p in "$@"; do echo "	_ \"github.com/statefold/statefold/$p\""; done
		echo ")"
		echo "func main() {}"
	} >"$dir/main.go"
	(
		cd "$dir"
		go mod init example.com/consumer >/dev/null 2>&1
		go mod edit -require github.com/statefold/statefold@v0.0.0 -replace "github.com/statefold/statefold=$root"
		GOFLAGS=-mod=mod go mod tidy >/dev/null 2>&1 || GOFLAGS=-mod=mod go mod tidy
	)
	local lines bad
	lines="$(wc -l <"$dir/go.sum")"
	bad="$(grep -ciE "$unwanted" "$dir/go.sum" || true)"
	echo "consumer importing $*: go.sum has $lines lines, $bad of them testcontainers/Docker/moby/OpenTelemetry/CLI libraries"
	if [[ "$bad" != 0 ]]; then
		grep -iE "$unwanted" "$dir/go.sum" | head -5
		return 1
	fi
}

check mysql storage/mysql
check applystate applystate storage/memory
check postgres applystate storage/postgres
