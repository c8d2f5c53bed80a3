#!/usr/bin/env bash
# setup.sh installs the system packages gowsgi builds, tests and benchmarks
# with (Debian bookworm). As root it installs what is missing with apt;
# otherwise it names what to install and fails.
set -euo pipefail

packages=(
	pkg-config python3-dev          # libpython3.11 and python3-embed.pc for cgo
	python3-flask python3-django    # the real applications in testapps/
	python3-venv python3-pip        # virtualenv tests (python3 -m venv)
	uwsgi uwsgi-plugin-python3 gunicorn python3-waitress  # servers compared in make bench
	nginx-light                     # nginx in front, in the deployment tests
	nghttp2-client wrk curl         # h2load and load tools
	procps                          # ps and kill for process tests
	chromium chromium-driver        # the stats page's test in a real browser (e2e/dashboard_test.go)
)
missing=()
for p in "${packages[@]}"; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
		missing+=("$p")
	fi
done

if ! command -v go >/dev/null 2>&1; then
	echo "setup: go is not on PATH; install Go 1.26 (https://go.dev/dl) first" >&2
	exit 1
fi

if [ ${#missing[@]} -eq 0 ]; then
	exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
	echo "setup: missing Debian packages: ${missing[*]}" >&2
	echo "setup: run as root, or: sudo apt-get install -y ${missing[*]}" >&2
	exit 1
fi
echo "setup: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# Debian starts nginx on install; the tests start their own.
if command -v systemctl >/dev/null 2>&1; then systemctl disable --now nginx >/dev/null 2>&1 || true; fi
pkill -x nginx >/dev/null 2>&1 || true
