#!/usr/bin/env bash
# fuzz.sh runs every Fuzz* target in the module for a short time each
# (go test can fuzz one target per run). Usage: fuzz.sh [DURATION]
set -euo pipefail
cd "$(dirname "$0")/.."
fuzztime="${1:-10s}"
grep -rl --include='*_test.go' '^func Fuzz' . | grep -v '^./bench/' | while read -r file; do
	pkg="./$(dirname "${file#./}")"
	for target in $(grep -oE '^func Fuzz[A-Za-z0-9_]*' "$file" | sed 's/^func //'); do
		echo "fuzz: $pkg $target ($fuzztime)"
		go test -run='^$' -fuzz="^${target}\$" -fuzztime="$fuzztime" "$pkg" >/tmp/gowsgi-fuzz.log 2>&1 || { cat /tmp/gowsgi-fuzz.log; exit 1; }
	done
done
