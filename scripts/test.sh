#!/usr/bin/env bash
# Install everything the tests need, then run lint, types and the whole test suite.
# Usage: ./scripts/test.sh [extra pytest args]
set -euo pipefail
cd "$(dirname "$0")/.."

# Real components the tests start themselves: the CNCF registry, skopeo (an
# independent digest oracle), htpasswd (bcrypt users for Basic auth) and Neovim
# (a real LSP client for tests/e2e/test_neovim.py).
need_apt=()
command -v docker-registry >/dev/null || need_apt+=(docker-registry)
command -v skopeo >/dev/null || need_apt+=(skopeo)
command -v htpasswd >/dev/null || need_apt+=(apache2-utils)
command -v nvim >/dev/null || need_apt+=(neovim)
# The VS Code extension's e2e (tests/e2e/test_vscode.py): Debian's Chromium for
# playwright-core, rg for code-server's @vscode/ripgrep, krb5 headers for its
# native kerberos module.
command -v chromium >/dev/null || need_apt+=(chromium)
command -v rg >/dev/null || need_apt+=(ripgrep)
[ "$(dpkg-query -W -f='${Status}' libkrb5-dev 2>/dev/null)" = 'install ok installed' ] || need_apt+=(libkrb5-dev)
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

echo "== client-vscode: npm ci, tsc --noEmit, unit tests"
(cd client-vscode && npm ci --no-audit --no-fund && npm test)

echo "== ruff"
.venv/bin/ruff check server tests benchmarks
echo "== mypy"
.venv/bin/mypy
echo "== pytest"
.venv/bin/pytest -p no:cacheprovider "$@"
