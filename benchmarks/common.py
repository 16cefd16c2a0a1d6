"""Shared by the benchmark scripts: paths, statistics, machine facts, result files.

Every script writes one JSON file to ``benchmarks/.work/results/`` with its raw
samples, so the summary (and anyone re-checking it) works from the numbers, not
from printed text.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
WORK = Path(os.environ.get("BENCH_WORK", BENCH / ".work"))
RESULTS = Path(os.environ.get("BENCH_RESULTS", WORK / "results"))
CORPUS = Path(os.environ.get("BENCH_CORPUS", ROOT.parent / "shared" / "corpus"))

PROJECT_BIN = ROOT / ".venv" / "bin"
DOCKPIN = PROJECT_BIN / "dockpin"
PROJECT_PYTHON = PROJECT_BIN / "python"
HADOLINT = Path(os.environ.get("BENCH_HADOLINT", WORK / "venv" / "bin" / "hadolint"))
DOCKER_LANGSERVER = Path(
    os.environ.get("BENCH_DLS", WORK / "node" / "node_modules" / ".bin" / "docker-langserver")
)
TOOLS_VENV = Path(os.environ.get("BENCH_TOOLS_VENV", WORK / "venv"))


def summarize(values: Sequence[float]) -> dict[str, Any]:
    """n, median, p95, quartiles, min and max (linear interpolation between ranks)."""
    data = sorted(values)
    if not data:
        return {"n": 0}
    out: dict[str, Any] = {
        "n": len(data),
        "median": statistics.median(data),
        "min": data[0],
        "max": data[-1],
    }
    if len(data) >= 2:
        cuts = statistics.quantiles(data, n=100, method="inclusive")
        out.update(p25=cuts[24], p75=cuts[74], p95=cuts[94])
    else:
        out.update(p25=data[0], p75=data[0], p95=data[0])
    return out


def loadavg() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def code_version() -> str:
    """The commit measured, with ``+dirty`` when server/ has uncommitted changes."""
    head = _output(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"])
    dirty = subprocess.run(
        ["git", "-C", str(ROOT), "diff", "--quiet", "HEAD", "--", "server"], check=False
    ).returncode
    return head + ("+dirty" if dirty else "")


def write_result(name: str, data: dict[str, Any]) -> Path:
    """``results/<name>.json`` with the machine's load and the code version attached."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    data = {
        "benchmark": name,
        "written": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "dockpin_commit": code_version(),
        **data,
    }
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(data, indent=2, sort_keys=False) + "\n")
    return path


def read_result(name: str) -> dict[str, Any] | None:
    path = RESULTS / f"{name}.json"
    if not path.is_file():
        return None
    result: dict[str, Any] = json.loads(path.read_text())
    return result


def _output(cmd: Sequence[str]) -> str:
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"unavailable ({exc})"
    text = (proc.stdout or proc.stderr).strip()
    return text.splitlines()[0] if text else ""


def _pip_version(python: Path, package: str) -> str:
    code = f"import importlib.metadata as m; print(m.version({package!r}))"
    return _output([str(python), "-c", code])


def machine() -> dict[str, Any]:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_kb = 0
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_kb = int(line.split()[1])
    except OSError:
        pass
    return {
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "ram_gib": round(mem_kb / 1024 / 1024, 1),
        "kernel": platform.release(),
        "os": _output(["sh", "-c", ". /etc/os-release && echo $PRETTY_NAME"]),
    }


def versions() -> dict[str, str]:
    dls_package = DOCKER_LANGSERVER.resolve().parent.parent / "package.json"
    try:
        dls = json.loads(dls_package.read_text())["version"]
    except (OSError, ValueError, KeyError):
        dls = "not installed"
    return {
        "python": _output([str(PROJECT_PYTHON), "-c", "import sys; print(sys.version.split()[0])"]),
        "dockpin": _output([str(DOCKPIN), "--version"]),
        "pygls": _pip_version(PROJECT_PYTHON, "pygls"),
        "lsprotocol": _pip_version(PROJECT_PYTHON, "lsprotocol"),
        "dockerfile-parse": _pip_version(PROJECT_PYTHON, "dockerfile-parse"),
        "httpx": _pip_version(PROJECT_PYTHON, "httpx"),
        "hadolint": _output([str(HADOLINT), "--version"]),
        "docker-langserver": dls,
        "node": _output(["node", "--version"]),
        "docker-registry": _output(["docker-registry", "--version"]),
    }


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)
