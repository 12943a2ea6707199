#!/usr/bin/env bash
# Run every check the project has: lint, types, and the whole test suite against real servers,
# the fleet test included (it boots Debian hosts with systemd-nspawn; skip it with -m "not fleet").
# Works on a fresh Debian machine: installs what is missing (Debian packages with apt-get, the
# rest into .venv), so it is the README's test command and what .ci/run runs.
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

run_checks() {
    local bin="$VENV/bin"
    say "ruff check";          "$bin/ruff" check .
    say "ruff format --check"; "$bin/ruff" format --check .
    say "mypy --strict";       "$bin/mypy" textfile_redis
    say "shellcheck";          shellcheck scripts/*.sh .ci/run
    say "pytest";              "$bin/python" -m pytest "$@"
    say "benchmarks, quick: each script once, to prove it runs (figures: bench/RESULTS.md)"
    bench/run_all.sh --quick >/dev/null
    say "hiredis: the real-server tests again with redis-py's hiredis parser"
    "$bin/python" -m pip install -q -e '.[hiredis]'
    "$bin/python" -m pytest -q tests/integration/test_once.py tests/integration/test_hostile.py \
        tests/integration/test_hostile_servers.py
}

install_debian_packages
install_python_packages
run_checks "$@"
