#!/usr/bin/env bash
# Run every benchmark in turn with the repository's .venv; arguments (--quick) go to each script.
# Needs .venv (./scripts/test.sh unit makes it; docs/development.md, "Benchmarks") and Debian's prometheus-redis-exporter, which
# this installs when it is missing, as scripts/test.sh installs its own Debian packages.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-.venv/bin/python}
SCRIPTS=(cycle redis_load targets once memory dirsync budget insight)

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

if ! command -v prometheus-redis-exporter >/dev/null; then
    echo "==> installing Debian's prometheus-redis-exporter"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q prometheus-redis-exporter >/dev/null
fi

for script in "${SCRIPTS[@]}"; do
    printf '\n## .venv/bin/python -m bench.%s %s\n\n' "$script" "$*"
    "$PYTHON" -m "bench.$script" "$@"
done
