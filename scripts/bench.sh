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
END {
	for (b in backends) {
		if (b == "pure") continue
		large(b)
		p = "BenchmarkStore/"
		printf "BENCH list_calls/%s/n=1000 %s\n", b, calls[b, p "List/n=1000/ours"]
		printf "BENCH list_naive_calls/%s/n=1000 %s\n", b, calls[b, p "List/n=1000/naive"]
		printf "BENCH list_speedup/%s/n=1000 %s\n", b, ratio(ns[b, p "List/n=1000/naive"], ns[b, p "List/n=1000/ours"])
		printf "BENCH list_speedup/%s/n=100 %s\n", b, ratio(ns[b, p "List/n=100/naive"], ns[b, p "List/n=100/ours"])
		printf "BENCH transition_calls/%s %s\n", b, calls[b, p "Transition/ours"]
		printf "BENCH transition_vs_update/%s %s\n", b, ratio(ns[b, p "Transition/ours"], ns[b, p "Transition/update"])
		printf "BENCH create_calls/%s %s\n", b, calls[b, p "Create/ours"]
		printf "BENCH create_vs_create/%s %s\n", b, ratio(ns[b, p "Create/ours"], ns[b, p "Create/create"])
		printf "BENCH drive32_ns/%s %s\n", b, ns[b, p "Drive32"]
		printf "BENCH drive32_conflicts_per_drive/%s %s\n", b, conf[b, p "Drive32"]
		for (i = 10; i <= 1000; i *= 10) {
			printf "BENCH drive_poll_calls/%s/n=%d %s\n", b, i, calls[b, p "DrivePoll/n=" i]
			printf "BENCH drive_poll_ns/%s/n=%d %s\n", b, i, ns[b, p "DrivePoll/n=" i]
		}
		printf "BENCH drive_poll_ns_ratio/%s/n=1000_vs_10 %s\n", b, ratio(ns[b, p "DrivePoll/n=1000"], ns[b, p "DrivePoll/n=10"])
		printf "BENCH acquire_calls/%s %s\n", b, calls[b, p "Ownership/acquire"]
		printf "BENCH acquire_vs_update/%s %s\n", b, ratio(ns[b, p "Ownership/acquire"], ns[b, p "Ownership/update"])
		printf "BENCH renew_calls/%s %s\n", b, calls[b, p "Ownership/renew"]
		printf "BENCH renew_vs_update/%s %s\n", b, ratio(ns[b, p "Ownership/renew"], ns[b, p "Ownership/update"])
		printf "BENCH owner_poll_calls/%s/n=1000 %s\n", b, calls[b, p "Ownership/poll"]
		printf "BENCH owner_poll_vs_poll/%s/n=1000 %s\n", b, ratio(ns[b, p "Ownership/poll"], ns[b, p "DrivePoll/n=1000"])
		printf "BENCH lookup_calls/%s/n=1000 %s\n", b, calls[b, p "Lookup/n=1000/ours"]
		printf "BENCH lookup_scan_calls/%s/n=1000 %s\n", b, calls[b, p "Lookup/n=1000/scan"]
		printf "BENCH lookup_speedup/%s/n=1000 %s\n", b, ratio(ns[b, p "Lookup/n=1000/scan"], ns[b, p "Lookup/n=1000/ours"])
		printf "BENCH open_applies_calls/%s/n=10000 %s\n", b, calls[b, p "OpenApplies/n=10000"]
		printf "BENCH open_applies_ms/%s/n=10000 %s\n", b, ratio(ns[b, p "OpenApplies/n=10000"], 1000000)
		printf "BENCH prune_batches_calls/%s/n=10000 %s\n", b, calls[b, p "Prune/n=10000"]
		printf "BENCH prune_batches_ms/%s/n=10000 %s\n", b, ratio(ns[b, p "Prune/n=10000"], 1000000)
		printf "BENCH prune_applies_calls/%s/n=10000 %s\n", b, calls[b, p "PruneApplies/n=10000"]
		printf "BENCH prune_applies_ms/%s/n=10000 %s\n", b, ratio(ns[b, p "PruneApplies/n=10000"], 1000000)
	}
	printf "BENCH list_vs_floor/mysql/n=1000 %s\n", ratio(ns["mysql", "BenchmarkStore/List/n=1000/ours"], ns["mysql", "BenchmarkListFloor/n=1000"])
	printf "BENCH list_vs_floor/postgres/n=1000 %s\n", ratio(ns["postgres", "BenchmarkStore/List/n=1000/ours"], ns["postgres", "BenchmarkListFloor/n=1000"])
	printf "BENCH rollout_ns/n=1000 %s\n", ns["pure", "BenchmarkRollout/n=1000"]
	printf "BENCH rollout_allocs/n=1000 %s\n", allocs["pure", "BenchmarkRollout/n=1000"]
	printf "BENCH derive_allocs %s\n", allocs["pure", "BenchmarkDerive"]
}' "$out" | sort
