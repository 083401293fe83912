#!/usr/bin/env bash
# bench.sh — run the benchmarks against memory, MySQL/MariaDB, PostgreSQL and DynamoDB
# (servers from scripts/backends.sh), print the `go test -bench` lines, then a
# summary of `BENCH name value` lines (ratios are computed from one run).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

benchtime="${BENCHTIME:-1s}"
out="$(mktemp)"
trap 'rm -f "$out"' EXIT

run() { # backend package [bench regexp]
	local backend="$1" pkg="$2" re="${3:-.}"
	echo "== $backend ($pkg)"
	local log
	log="$(mktemp)"
	go test -timeout 1800s -run '^$' -bench "$re" -benchmem -benchtime "$benchtime" "$pkg" >"$log" 2>&1 || { cat "$log"; rm -f "$log"; exit 1; }
	grep -v '^2[0-9/]* [0-9:]* WARN' "$log" || true
	awk -v b="$backend" '/^Benchmark/ { print b, $0 }' "$log" >>"$out"
	rm -f "$log"
}

run memory ./storage/memory
run mysql ./storage/mysql
run postgres ./storage/postgres
run dynamo ./storage/dynamo
run pure ./applystate 'Benchmark(Rollout|Derive)'

echo
awk '
function metric(line, unit,   i, n, f) {
	n = split(line, f, /[ \t]+/)
	for (i = 2; i <= n; i++) if (f[i] == unit) return f[i-1]
	return ""
}
function name(line,   f) { split(line, f, /[ \t]+/); sub(/-[0-9]+$/, "", f[1]); return f[1] }
{
	b = $1; line = $0; sub(/^[^ ]+ /, "", line); n = name(line)
	ns[b, n] = metric(line, "ns/op"); calls[b, n] = metric(line, "calls/op")
	allocs[b, n] = metric(line, "allocs/op"); conf[b, n] = metric(line, "conflicts/drive")
	bytes[b, n] = metric(line, "B/op")
	backends[b] = 1
}
function ratio(x, y) { return (x == "" || y == "" || y + 0 == 0) ? "n/a" : sprintf("%.2f", x / y) }
function ms(x) { return x == "" ? "n/a" : sprintf("%.1fms", x / 1000000) }
# large prints the BenchmarkLarge lines of backend b: List, the first
# ListPage of 100 and Reconcile at 10,000 and 100,000 batches, and whether
# the page'"'"'s bytes stay flat in N (100k vs 10k at most 1.5).
function large(b,   n, p, r) {
	if (ns[b, "BenchmarkLarge/n=10000/List"] == "") return
	for (n = 10000; n <= 100000; n *= 10) {
		p = "BenchmarkLarge/n=" n "/"
		printf "BENCH large/%s/n=%d list=%s paged_list=%s reconcile=%s list_bytes=%s paged_bytes=%s\n", b, n,
			ms(ns[b, p "List"]), ms(ns[b, p "ListPage"]), ms(ns[b, p "Reconcile"]), bytes[b, p "List"], bytes[b, p "ListPage"]
	}
	r = ratio(bytes[b, "BenchmarkLarge/n=100000/ListPage"], bytes[b, "BenchmarkLarge/n=10000/ListPage"])
	printf "BENCH large_paged_bytes_ratio/%s/100k_vs_10k %s %s\n", b, r, (r != "n/a" && r + 0 <= 1.5) ? "ok" : "FAIL (want <= 1.5)"
}
# emit prints the summary line name/b+sfx v (S prefixes the store benchmarks).
function emit(name, b, sfx, v) { printf "BENCH %s/%s%s %s\n", name, b, sfx, v }
# callsvs prints name_calls, the calls/op of ours, and name_vs, its ns/op over that of other.
function callsvs(b, name, vs, sfx, ours, other) {
	emit(name "_calls", b, sfx, calls[b, S ours])
	emit(name "_" vs, b, sfx, ratio(ns[b, S ours], ns[b, S other]))
}
# speedup prints, at n=1000, name_calls and name_base_calls, the calls/op of
# ours and of base (the naive way), and name_speedup, base'"'"'s ns/op over ours'"'"'s.
function speedup(b, name, bench, base,   p) {
	p = S bench "/n=1000/"
	emit(name "_calls", b, "/n=1000", calls[b, p "ours"])
	emit(name "_" base "_calls", b, "/n=1000", calls[b, p base])
	emit(name "_speedup", b, "/n=1000", ratio(ns[b, p base], ns[b, p "ours"]))
}
# callsms prints name_calls and name_ms, the calls/op and ms/op of bench at n=10000.
function callsms(b, name, bench) {
	emit(name "_calls", b, "/n=10000", calls[b, S bench "/n=10000"])
	emit(name "_ms", b, "/n=10000", ratio(ns[b, S bench "/n=10000"], 1000000))
}
END {
	S = "BenchmarkStore/"
	for (b in backends) {
		if (b == "pure") continue
		large(b)
		speedup(b, "list", "List", "naive")
		emit("list_speedup", b, "/n=100", ratio(ns[b, S "List/n=100/naive"], ns[b, S "List/n=100/ours"]))
		callsvs(b, "transition", "vs_update", "", "Transition/ours", "Transition/update")
		callsvs(b, "create", "vs_create", "", "Create/ours", "Create/create")
		emit("drive32_ns", b, "", ns[b, S "Drive32"])
		emit("drive32_conflicts_per_drive", b, "", conf[b, S "Drive32"])
		for (i = 10; i <= 1000; i *= 10) {
			emit("drive_poll_calls", b, "/n=" i, calls[b, S "DrivePoll/n=" i])
			emit("drive_poll_ns", b, "/n=" i, ns[b, S "DrivePoll/n=" i])
		}
		emit("drive_poll_ns_ratio", b, "/n=1000_vs_10", ratio(ns[b, S "DrivePoll/n=1000"], ns[b, S "DrivePoll/n=10"]))
		callsvs(b, "acquire", "vs_update", "", "Ownership/acquire", "Ownership/update")
		callsvs(b, "renew", "vs_update", "", "Ownership/renew", "Ownership/update")
		callsvs(b, "owner_poll", "vs_poll", "/n=1000", "Ownership/poll", "DrivePoll/n=1000")
		speedup(b, "lookup", "Lookup", "scan")
		callsms(b, "open_applies", "OpenApplies")
		callsms(b, "prune_batches", "Prune")
		callsms(b, "prune_applies", "PruneApplies")
	}
	printf "BENCH list_vs_floor/mysql/n=1000 %s\n", ratio(ns["mysql", "BenchmarkStore/List/n=1000/ours"], ns["mysql", "BenchmarkListFloor/n=1000"])
	printf "BENCH list_vs_floor/postgres/n=1000 %s\n", ratio(ns["postgres", "BenchmarkStore/List/n=1000/ours"], ns["postgres", "BenchmarkListFloor/n=1000"])
	printf "BENCH rollout_ns/n=1000 %s\n", ns["pure", "BenchmarkRollout/n=1000"]
	printf "BENCH rollout_allocs/n=1000 %s\n", allocs["pure", "BenchmarkRollout/n=1000"]
	printf "BENCH derive_allocs %s\n", allocs["pure", "BenchmarkDerive"]
}' "$out" | sort
