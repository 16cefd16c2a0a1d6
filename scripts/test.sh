#!/usr/bin/env bash
# Install everything the tests need, then run lint, types and the whole test suite.
# Usage: ./scripts/test.sh [extra pytest args]
set -euo pipefail
cd "$(dirname "$0")/.."

# Real components the tests start themselves: the CNCF registry, skopeo (an
# independent digest oracle) and htpasswd (bcrypt users for Basic auth).
need_apt=()
command -v docker-registry >/dev/null || need_apt+=(docker-registry)
command -v skopeo >/dev/null || need_apt+=(skopeo)
command -v htpasswd >/dev/null || need_apt+=(apache2-utils)
if ((${#need_apt[@]})); then
    if [ "$(id -u)" -ne 0 ]; then
        echo "scripts/test.sh: missing ${need_apt[*]}; run as root or: sudo apt-get install ${need_apt[*]}" >&2
        exit 2
    fi
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi

PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
    "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install -q --disable-pip-version-check -e '.[test]'

echo "== ruff"
.venv/bin/ruff check server tests benchmarks
echo "== mypy"
.venv/bin/mypy
echo "== pytest"
.venv/bin/pytest -p no:cacheprovider "$@"
