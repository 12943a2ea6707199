#!/usr/bin/env bash
# Run the project's checks against real servers. Works on a fresh Debian machine: installs what
# is missing (Debian packages with apt-get, the rest into .venv). With no argument it runs
# everything, as .ci/run does; a part or pytest's own arguments run just that:
#
#   ./scripts/test.sh            lint and types, unit tests, real-server tests, the fleet test,
#                                every benchmark once (quick), the real-server tests with hiredis
#   ./scripts/test.sh unit       lint and types, then the unit tests (seconds)
#   ./scripts/test.sh servers    the tests against real Redis, Valkey, node_exporter, Prometheus
#   ./scripts/test.sh fleet      the fleet test: booted Debian hosts, needs root (minutes; its
#                                bookworm tree is cached in /var/cache/textfile-redis-fleet)
#   ./scripts/test.sh -k NAME    any pytest arguments: just those tests, nothing else
set -euo pipefail

cd "$(dirname "$0")/.."
VENV=.venv
DEBIAN_PACKAGES=(
    redis-server prometheus-node-exporter prometheus openssl python3-venv shellcheck systemd
    debootstrap systemd-container ansible ansible-lint openssh-client iproute2 util-linux
    prometheus-redis-exporter
)

if [ "${1:-}" = "--debian-packages" ]; then  # for .ci/run: the one list of what tests need
    echo "${DEBIAN_PACKAGES[@]}"
    exit 0
fi

say() { printf '==> %s\n' "$*"; }

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

missing_debian_packages() {
    local package
    for package in "${DEBIAN_PACKAGES[@]}"; do
        dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" \
            || printf '%s\n' "$package"
    done
}

install_debian_packages() {
    local missing
    missing=$(missing_debian_packages)
    [ -z "$missing" ] && return
    say "installing Debian packages: $(echo "$missing" | tr '\n' ' ')"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q >/dev/null
    # shellcheck disable=SC2086 # one package per word
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q $missing >/dev/null
}

install_python_packages() {
    [ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
    say "installing textfile-redis and its test tools into $VENV"
    "$VENV/bin/python" -m pip install -q --upgrade pip
    "$VENV/bin/python" -m pip install -q -e '.[test]'
    # The suite runs without hiredis first, as most installs do; the hiredis pass is below.
    "$VENV/bin/python" -m pip uninstall -q -y hiredis 2>/dev/null || true
}

BIN="$VENV/bin"
PYTEST=("$BIN/python" -m pytest)

lint() {
    say "ruff check";          "$BIN/ruff" check .
    say "ruff format --check"; "$BIN/ruff" format --check .
    say "mypy --strict";       "$BIN/mypy" textfile_redis tests bench
    say "shellcheck";          shellcheck scripts/*.sh .ci/run bench/*.sh
}

unit()    { say "unit tests";        "${PYTEST[@]}" tests --ignore=tests/integration --ignore=tests/fleet; }
servers() { say "real-server tests"; "${PYTEST[@]}" tests/integration; }
fleet()   { say "fleet test";        "${PYTEST[@]}" tests/fleet; }

benchmarks() {
    say "benchmarks, quick: each script once, to prove it runs (figures: bench/RESULTS.md)"
    bench/run_all.sh --quick >/dev/null
}

hiredis_pass() {
    say "hiredis: the real-server tests again with redis-py's hiredis parser"
    "$BIN/python" -m pip install -q -e '.[hiredis]'
    "${PYTEST[@]}" -q tests/integration/test_once.py tests/integration/test_hostile.py \
        tests/integration/test_hostile_servers.py
    "$BIN/python" -m pip uninstall -q -y hiredis
}

install_debian_packages
install_python_packages
case "${1:-}" in
    "")      lint; unit; servers; fleet; benchmarks; hiredis_pass ;;
    unit)    lint; unit ;;
    servers) servers ;;
    fleet)   fleet ;;
    *)       say "pytest $*"; "${PYTEST[@]}" "$@" ;;
esac
