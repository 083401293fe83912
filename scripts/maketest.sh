#!/usr/bin/env bash
# maketest.sh MAKE TARGET... — the driver of `make test`: runs every target
# in turn, even after one failed (so one run shows every failing target),
# prints how long each took (wall and CPU seconds), and fails if any failed.
set -uo pipefail
make_cmd=$1
shift
failed=()
TIMEFORMAT='%R %U %S'
for target in "$@"; do
	exec 3>&1
	times=$({ time "$make_cmd" --no-print-directory "$target" 1>&3 2>&1; echo "rc=$?" >&2; } 2>&1)
	exec 3>&-
	rc=${times##*rc=}
	read -r wall user sys <<<"${times%%$'\n'*}"
	printf 'make test: %s took %.0f s (%.0f s CPU)%s\n' "$target" "$wall" "$(awk -v u="$user" -v s="$sys" 'BEGIN { print u + s }')" \
		"$([[ $rc == 0 ]] || echo ", FAILED (exit $rc)")"
	[[ $rc == 0 ]] || failed+=("$target")
done
if ((${#failed[@]})); then
	echo "make test: failed: ${failed[*]}"
	exit 1
fi
