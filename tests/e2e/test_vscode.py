"""The VS Code extension (client-vscode/) in a real VS Code: code-server
4.100.3 driven in Debian's Chromium by playwright-core.

client-vscode/e2e/run.mjs does the work (build the .vsix, install code-server
into client-vscode/.e2e once, start a real docker-registry, install the .vsix,
open the Dockerfile, check DP003 in the Problems panel, apply the pin quick
fix with Ctrl+., save, check the digest on disk, then the status-bar progress
and "Pin all images in this file"). It prints one `DOCKPIN_E2E_RESULT {json}`
line; this test turns it into a pass, a failure (with the whole log) or a
skip (only when code-server could not be installed because the npm registry
was unreachable).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
CLIENT = ROOT / "client-vscode"
RUN = CLIENT / "e2e" / "run.mjs"
RESULT_PREFIX = "DOCKPIN_E2E_RESULT "
# A first run installs code-server (about a minute) and packages the .vsix;
# the VS Code round itself takes about 20 s.
TIMEOUT = 900.0
INSTALL_HINT = "scripts/test.sh installs them: apt-get install -y chromium ripgrep libkrb5-dev"


def _stop(proc: subprocess.Popen[str]) -> None:
    """run.mjs kills its own process groups on SIGTERM; SIGKILL its group after."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=10)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)


def run_e2e() -> tuple[dict[str, Any] | None, str, float]:
    node = shutil.which("node")
    if node is None:
        pytest.fail("node is not on PATH (Node 20 is needed for client-vscode)", pytrace=False)
    for binary, package in (("chromium", "chromium"), ("rg", "ripgrep")):
        if shutil.which(binary) is None:
            pytest.fail(f"{binary} not found ({package}); {INSTALL_HINT}", pytrace=False)
    started = time.monotonic()
    proc = subprocess.Popen(
        [node, str(RUN)],
        cwd=CLIENT,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        output, _ = proc.communicate(timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        _stop(proc)
        output, _ = proc.communicate()
        output += f"\n[test] run.mjs stopped after {TIMEOUT:.0f} s"
    finally:
        _stop(proc)
    elapsed = time.monotonic() - started
    result = None
    for line in reversed(output.splitlines()):
        if line.startswith(RESULT_PREFIX):
            result = json.loads(line[len(RESULT_PREFIX) :])
            break
    return result, output, elapsed


def test_extension_pins_the_digest_in_real_vscode() -> None:
    result, output, elapsed = run_e2e()
    report = f"--- client-vscode/e2e/run.mjs output ({elapsed:.0f} s)\n{output}"
    assert result is not None, f"run.mjs printed no result line\n{report}"
    if result["status"] == "skip":
        pytest.skip(f"VS Code e2e: {result['reason']}")
    assert result["status"] == "pass", f"{result['reason']}\n{report}"
    print(f"VS Code e2e timings (s): {result['timings']}")


def test_contributed_rules_match_the_server() -> None:
    """package.json's `dockpin.rules` properties: exactly the server's rule
    codes, each described with its name and default severity."""
    from dockpin.rules import RULES_BY_CODE

    manifest = json.loads((CLIENT / "package.json").read_text())
    rules = manifest["contributes"]["configuration"]["properties"]["dockpin.rules"]
    assert sorted(rules["properties"]) == sorted(RULES_BY_CODE)
    for code, schema in rules["properties"].items():
        rule = RULES_BY_CODE[code]
        assert schema["description"] == (
            f"{rule.name}: {rule.summary} (default: {rule.severity.label})."
        ), code
        assert schema["enum"] == ["off", "error", "warning", "info", "hint"], code
