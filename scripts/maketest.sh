#!/usr/bin/env bash
# maketest.sh MAKE TARGET... [-- TARGET...] — the driver of `make test`.
# The targets before `--` run in turn in one lane, those after it in turn
# in a second lane at the same time: the second lane holds the parts that
# mostly wait (on server timeouts, injected stalls, other processes), so
# they overlap the parts that keep both cores busy. Every target runs, even
# after one failed, so one run shows every failing target. A target's
# output is printed whole when it ends, with how long it took (wall and
# CPU seconds); the script fails if any target failed.
set -uo pipefail
make_cmd=$1
shift
lanes=("")
for a in "$@"; do
	if [[ $a == -- ]]; then lanes+=(""); else lanes[-1]+="$a "; fi
done
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT

# run_target TARGET runs one target with its output in a file, then prints
# the file and a timing line as one block, under a lock so that lanes never
# mix their lines.
run_target() {
	local target=$1 times wall user sys status=""
	local TIMEFORMAT='%R %U %S'
	times=$({ time { "$make_cmd" --no-print-directory "$target" >"$dir/$target.out" 2>&1 ||
		echo "$?" >"$dir/$target.failed"; }; } 2>&1)
	read -r wall user sys <<<"$times"
	[[ -e $dir/$target.failed ]] && status=", FAILED (exit $(<"$dir/$target.failed"))"
	{
		flock 9
		cat "$dir/$target.out"
		printf 'make test: %s took %.0f s (%.0f s CPU)%s\n' "$target" "$wall" \
			"$(awk -v u="$user" -v s="$sys" 'BEGIN { print u + s }')" "$status"
	} 9>>"$dir/lock"
}

for lane in "${lanes[@]}"; do
	( for target in $lane; do run_target "$target"; done ) &
done
wait
failed=()
for f in "$dir"/*.failed; do
	[[ -e $f ]] && failed+=("$(basename "$f" .failed)")
done
if ((${#failed[@]})); then
	echo "make test: failed: ${failed[*]}"
	exit 1
fi
