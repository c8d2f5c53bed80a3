#!/usr/bin/env bash
# fuzz.sh runs every Fuzz* target in the module for a short time each
# (go test can fuzz one target per run). Usage: fuzz.sh [DURATION]
#
# Go 1.26's fuzz coordinator can end a duration-limited run with a bare
# "context deadline exceeded" failure and no failing input: the -fuzztime
# deadline races the workers' shutdown (golang/go#75804, fixed in Go 1.27).
# Such a run found nothing, so it is reported and not counted as a failure;
# any run that wrote a failing input to testdata/fuzz, or failed any other
# way, fails the script.
set -euo pipefail
cd "$(dirname "$0")/.."
fuzztime="${1:-10s}"
# inputs counts the files of a corpus directory (none if it does not exist).
inputs() { if [ -d "$1" ]; then find "$1" -type f | wc -l; else echo 0; fi; }
log=$(mktemp)
trap 'rm -f "$log"' EXIT
grep -rl --include='*_test.go' '^func Fuzz' . | grep -v '^./bench/' | while read -r file; do
	pkg="./$(dirname "${file#./}")"
	for target in $(grep -oE '^func Fuzz[A-Za-z0-9_]*' "$file" | sed 's/^func //'); do
		echo "fuzz: $pkg $target ($fuzztime)"
		corpus="$(dirname "$file")/testdata/fuzz/$target"
		before=$(inputs "$corpus")
		if go test -run='^$' -fuzz="^${target}\$" -fuzztime="$fuzztime" "$pkg" >"$log" 2>&1; then
			continue
		fi
		after=$(inputs "$corpus")
		if [ "$after" -eq "$before" ] && ! grep -q 'Failing input written' "$log" &&
			[ "$(grep -c -- '--- FAIL' "$log")" -eq 1 ] &&
			grep -A1 -- '--- FAIL' "$log" | tail -1 | grep -qx '[[:space:]]*context deadline exceeded'; then
			echo "fuzz: $target: the run ended with Go's fuzztime race (golang/go#75804), no failing input; not a failure"
			continue
		fi
		cat "$log"
		exit 1
	done
done
