"""2. Language-server latency as an editor sees it, over stdio, same client for every server.

Servers: ``dockpin lsp`` (when the installed dockpin has that command),
``docker-langserver --stdio`` and ``benchmarks/minimal_pygls_server.py``.

* start -> initialize result: a fresh process each time, ``BENCH_LSP_INIT_ROUNDS``
  (default 10) rounds, the servers taking turns.
* didOpen -> publishDiagnostics and didChange -> publishDiagnostics on generated
  Dockerfiles of about 30, 400 and 3,000 lines: all servers run at once and take
  turns per step (rotating who goes first), so machine noise hits them alike.
  ``BENCH_LSP_EDITS`` (default 60) measured edits per size after 5 unmeasured
  warm-up edits; each edit changes one digit of a FROM tag (an incremental
  change when the server accepts those) and waits for the diagnostics of that
  version, then pauses ``BENCH_LSP_PAUSE_MS`` (default 100 ms, a typist's pace)
  before the next; a second pass of ``BENCH_LSP_EDITS`` edits sends each edit as
  soon as the previous answer is in (back to back). Opens: 40 measured (after 3
  warm-up), each a new URI, closed afterwards.
* burst: 10 changes sent back to back on the 400-line file, then the publishes
  counted for 2 s: tells a server that debounces or coalesces from one that
  answers every change.
* RSS (VmRSS from /proc/<pid>/status) of a fresh process after opening 200
  distinct 400-line documents, each waited for, and once the server has gone
  quiet (no publish for 2 s); publishes and CPU time during that phase too.

Documents live in a scratch workspace under benchmarks/.work/ with a
``.dockpin.toml`` that sets ``offline = true``: no server talks to a registry.
"""

from __future__ import annotations

import asyncio
import os
import random
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from common import (
    BENCH,
    DOCKER_LANGSERVER,
    DOCKPIN,
    PROJECT_PYTHON,
    WORK,
    loadavg,
    log,
    summarize,
    write_result,
)
from dockerfile_gen import CharSite, generate, tag_edits
from lsp_client import LspProcess

SIZES = (30, 400, 3000)
INIT_ROUNDS = int(os.environ.get("BENCH_LSP_INIT_ROUNDS", "10"))
EDITS = int(os.environ.get("BENCH_LSP_EDITS", "60"))
OPENS = int(os.environ.get("BENCH_LSP_OPENS", "40"))
RSS_DOCS = int(os.environ.get("BENCH_LSP_RSS_DOCS", "200"))
PAUSE_S = float(os.environ.get("BENCH_LSP_PAUSE_MS", "100")) / 1000
WARMUP_EDITS = 5
WARMUP_OPENS = 3
BURST = 10
TIMEOUT = 30.0


def dockpin_has_lsp() -> bool:
    try:
        proc = subprocess.run(
            [str(DOCKPIN), "lsp", "--help"], capture_output=True, timeout=30, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return proc.returncode == 0


def server_commands() -> dict[str, list[str]]:
    servers: dict[str, list[str]] = {}
    if dockpin_has_lsp():
        servers["dockpin"] = [str(DOCKPIN), "lsp"]
    else:
        log("  dockpin lsp: not available in this dockpin yet; measuring the other two")
    servers["docker-langserver"] = [str(DOCKER_LANGSERVER), "--stdio"]
    servers["minimal-pygls"] = [str(PROJECT_PYTHON), str(BENCH / "minimal_pygls_server.py")]
    only = os.environ.get("BENCH_LSP_SERVERS")
    if only:
        servers = {k: v for k, v in servers.items() if k in only.split(",")}
    return servers


@dataclass
class Workspace:
    root: Path
    env: dict[str, str]
    logs: Path

    @classmethod
    def create(cls) -> Workspace:
        WORK.mkdir(parents=True, exist_ok=True)
        root = Path(tempfile.mkdtemp(prefix="lsp-workspace-", dir=WORK))
        (root / ".dockpin.toml").write_text("[registry]\noffline = true\n")
        env = dict(os.environ)
        env.update(
            DOCKPIN_CACHE_DIR=str(root / ".cache" / "dockpin"),
            XDG_CACHE_HOME=str(root / ".cache"),
        )
        logs = WORK / "results" / "lsp-logs"
        logs.mkdir(parents=True, exist_ok=True)
        return cls(root, env, logs)

    def uri(self, name: str, text: str | None = None) -> str:
        path = self.root / name
        if text is not None:
            path.write_text(text)
        return path.as_uri()


def rotate(names: list[str], step: int) -> list[str]:
    k = step % len(names)
    return names[k:] + names[:k]


async def start(name: str, command: list[str], ws: Workspace) -> tuple[LspProcess, float]:
    server = await LspProcess.start(
        name, command, cwd=ws.root, stderr_path=ws.logs / f"{name}.stderr", env=ws.env
    )
    return server, await server.initialize(ws.root)


# -- start -> initialize -------------------------------------------------------------------


async def measure_init(servers: dict[str, list[str]], ws: Workspace) -> dict[str, Any]:
    times: dict[str, list[float]] = {name: [] for name in servers}
    for round_no in range(INIT_ROUNDS):
        for name in rotate(list(servers), round_no):
            server, seconds = await start(name, servers[name], ws)
            times[name].append(seconds)
            await server.stop()
    for name, values in times.items():
        log(f"  init {name}: median {summarize(values)['median'] * 1000:.0f} ms")
    return {name: {"samples_s": v, "stats": summarize(v)} for name, v in times.items()}


# -- didOpen / didChange ---------------------------------------------------------------------


@dataclass
class SizeResult:
    open_s: list[float] = field(default_factory=list)
    change_s: list[float] = field(default_factory=list)
    back_to_back_s: list[float] = field(default_factory=list)
    diagnostics: list[int] = field(default_factory=list)
    stale_skipped: int = 0
    timeouts: int = 0
    versioned_publishes: int = 0
    publishes: int = 0
    extra_publishes: int = 0


async def _measure_publish(
    server: LspProcess, uri: str, version: int, sent: float, result: SizeResult
) -> float | None:
    try:
        publish, skipped = await server.wait_diagnostics(uri, version, sent, TIMEOUT)
    except TimeoutError:
        result.timeouts += 1
        log(f"  ! {server.name}: timed out waiting for {uri} v{version}")
        return None
    result.stale_skipped += skipped
    result.publishes += 1
    result.versioned_publishes += publish.version is not None
    result.diagnostics.append(publish.count)
    return publish.received - sent


def _edit(text: str, site: CharSite) -> tuple[str, str]:
    """Bump the digit at ``site``: (new text, new character)."""
    lines = text.split("\n")
    line = lines[site.line]
    new_char = str((int(line[site.character]) + 1) % 10)
    lines[site.line] = line[: site.character] + new_char + line[site.character + 1 :]
    return "\n".join(lines), new_char


async def measure_size(
    running: dict[str, LspProcess], ws: Workspace, size: int
) -> dict[str, SizeResult]:
    results = {name: SizeResult() for name in running}
    names = list(running)
    text = generate(size)
    lines = text.count("\n")

    # didOpen: a new URI each time.
    for k in range(WARMUP_OPENS + OPENS):
        uri = ws.uri(f"open-{size}-{k}.Dockerfile", text)
        for name in rotate(names, k):
            server = running[name]
            sent = await server.did_open(uri, text)
            latency = await _measure_publish(server, uri, 1, sent, results[name])
            if latency is not None and k >= WARMUP_OPENS:
                results[name].open_s.append(latency)
            await server.did_close(uri)

    # didChange: one document per size, the same edits for every server.
    uri = ws.uri(f"edit-{size}.Dockerfile", text)
    for name in names:
        server = running[name]
        sent = await server.did_open(uri, text)
        await _measure_publish(server, uri, 1, sent, SizeResult())
    sites = tag_edits(text)
    pick = random.Random(f"edits-{size}")  # spread over the file, same for every server
    version = 1
    # Paced edits (a pause like a typist's between one answer and the next edit),
    # then back-to-back edits (the next edit as soon as the answer is in).
    passes = (("change_s", PAUSE_S, WARMUP_EDITS + EDITS), ("back_to_back_s", 0.0, EDITS))
    for attribute, pause, count in passes:
        for i in range(count):
            site = sites[pick.randrange(len(sites))]
            text, new_char = _edit(text, site)
            version += 1
            for name in rotate(names, i):
                server = running[name]
                # Anything still queued is an extra publish for an earlier version.
                results[name].extra_publishes += len(server.take_publishes(uri))
                sent = await server.did_change(
                    uri, version, site.line, site.character, new_char, text
                )
                latency = await _measure_publish(server, uri, version, sent, results[name])
                if latency is not None and (attribute != "change_s" or i >= WARMUP_EDITS):
                    getattr(results[name], attribute).append(latency)
                if pause:
                    await asyncio.sleep(pause)
    for name in names:
        r = results[name]
        log(
            f"  {size:>4} lines ({lines}) {name}: open p50 {_ms(r.open_s, 'median')}"
            f" p95 {_ms(r.open_s, 'p95')}; change p50 {_ms(r.change_s, 'median')}"
            f" p95 {_ms(r.change_s, 'p95')}; back-to-back p95 {_ms(r.back_to_back_s, 'p95')}"
        )
    return results


def _ms(values: list[float], key: str) -> str:
    stats = summarize(values)
    return f"{stats[key] * 1000:.1f} ms" if stats["n"] else "n/a"


async def measure_burst(running: dict[str, LspProcess], ws: Workspace) -> dict[str, Any]:
    """10 back-to-back changes: does the server answer each, or debounce/coalesce?"""
    out: dict[str, Any] = {}
    base = generate(400)
    sites = tag_edits(base)
    for name, server in running.items():
        uri = ws.uri(f"burst-{name}.Dockerfile", base)
        text = base
        sent = await server.did_open(uri, text)
        await _measure_publish(server, uri, 1, sent, SizeResult())
        first_sent = time.perf_counter()
        for i in range(BURST):
            site = sites[i % len(sites)]
            text, new_char = _edit(text, site)
            last_sent = await server.did_change(
                uri, i + 2, site.line, site.character, new_char, text
            )
        await asyncio.sleep(2.0)
        publishes = server.take_publishes(uri)
        out[name] = {
            "changes_sent": BURST,
            "send_span_ms": (last_sent - first_sent) * 1000,
            "publishes": len(publishes),
            "versions": [p.version for p in publishes],
            "last_publish_after_last_change_ms": (
                (publishes[-1].received - last_sent) * 1000 if publishes else None
            ),
        }
        log(f"  burst {name}: {len(publishes)} publishes for {BURST} quick changes")
    return out


# -- RSS with 200 documents ----------------------------------------------------------------


async def _settle(
    server: LspProcess, quiet_s: float = 2.0, limit_s: float = 120.0
) -> tuple[float, int]:
    """Wait until the server has published nothing for ``quiet_s`` (at most ``limit_s``):
    background work (re-analysis, registry passes) counts as part of the load."""
    start = time.perf_counter()
    before = server.publish_count()
    count = before
    last_change = start
    while time.perf_counter() - last_change < quiet_s and time.perf_counter() - start < limit_s:
        await asyncio.sleep(0.1)
        if server.publish_count() != count:
            count = server.publish_count()
            last_change = time.perf_counter()
    return last_change - start, count - before


async def measure_rss(servers: dict[str, list[str]], ws: Workspace) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, command in servers.items():
        server, _ = await start(name, command, ws)
        await asyncio.sleep(0.5)
        idle = server.rss_kb()
        result = SizeResult()
        opened = time.perf_counter()
        for k in range(RSS_DOCS):
            text = generate(400, seed=k + 1)
            uri = ws.uri(f"rss-{name}-{k}.Dockerfile", text)
            sent = await server.did_open(uri, text)
            await _measure_publish(server, uri, 1, sent, result)
        open_all_s = time.perf_counter() - opened
        opened_rss = server.rss_kb()
        settle_s, publishes_after = await _settle(server)
        loaded = server.rss_kb()
        cpu = server.cpu_s()
        await server.stop()
        out[name] = {
            "documents": RSS_DOCS,
            "document_lines": 400,
            "idle_rss_kb": idle.get("VmRSS"),
            "rss_right_after_opening_kb": opened_rss.get("VmRSS"),
            "rss_kb": loaded.get("VmRSS"),
            "peak_rss_kb": loaded.get("VmHWM"),
            "open_all_s": open_all_s,
            "settle_s": settle_s,
            "publishes_total": server.publish_count(),
            "publishes_after_last_open": publishes_after,
            "server_cpu_s": cpu,
            "timeouts": result.timeouts,
        }
        log(
            f"  rss {name}: idle {idle.get('VmRSS', 0) / 1024:.1f} MB, "
            f"after {RSS_DOCS} docs {loaded.get('VmRSS', 0) / 1024:.1f} MB"
        )
    return out


# -- main -------------------------------------------------------------------------------------


def _size_json(result: SizeResult) -> dict[str, Any]:
    return {
        "open_s": result.open_s,
        "change_s": result.change_s,
        "open": summarize(result.open_s),
        "change": summarize(result.change_s),
        "back_to_back_s": result.back_to_back_s,
        "change_back_to_back": summarize(result.back_to_back_s),
        "diagnostics_per_publish": summarize(result.diagnostics),
        "stale_publishes_skipped": result.stale_skipped,
        "timeouts": result.timeouts,
        "publishes_with_version": result.versioned_publishes,
        "publishes": result.publishes,
        "extra_publishes": result.extra_publishes,
    }


async def preflight(servers: dict[str, list[str]], ws: Workspace) -> dict[str, str]:
    """Start and initialize each server once; drop (and report) those that cannot."""
    failures: dict[str, str] = {}
    for name, command in list(servers.items()):
        try:
            server, _ = await asyncio.wait_for(start(name, command, ws), TIMEOUT)
        except Exception as exc:  # a server that cannot start is a finding, not a crash
            tail = (ws.logs / f"{name}.stderr").read_text(errors="replace")[-1500:]
            failures[name] = f"{type(exc).__name__}: {exc}\n{tail}"
            log(f"  ! {name} did not start; left out. stderr tail:\n{tail}")
            del servers[name]
            continue
        await server.stop()
    return failures


async def run() -> dict[str, Any]:
    servers = server_commands()
    ws = Workspace.create()
    for name in servers:
        (ws.logs / f"{name}.stderr").unlink(missing_ok=True)
    failures = await preflight(servers, ws)
    out: dict[str, Any] = {
        "servers": {name: " ".join(cmd) for name, cmd in servers.items()},
        "dockpin_lsp_available": "dockpin" in servers,
        "failed_to_start": failures,
        "load_start": loadavg(),
        "settings": {
            "edits": EDITS,
            "warmup_edits": WARMUP_EDITS,
            "pause_between_edits_s": PAUSE_S,
            "opens": OPENS,
            "warmup_opens": WARMUP_OPENS,
            "init_rounds": INIT_ROUNDS,
            "rss_documents": RSS_DOCS,
        },
        "document_lines": {str(size): generate(size).count("\n") for size in SIZES},
    }
    try:
        out["init"] = await measure_init(servers, ws)
        running: dict[str, LspProcess] = {}
        try:
            for name, command in servers.items():
                running[name], _ = await start(name, command, ws)
            out["sync_kind"] = {
                name: "incremental" if s.incremental else "full" for name, s in running.items()
            }
            out["sizes"] = {}
            for size in SIZES:
                by_server = await measure_size(running, ws, size)
                out["sizes"][str(size)] = {n: _size_json(r) for n, r in by_server.items()}
            out["burst"] = await measure_burst(running, ws)
            out["server_requests"] = {n: dict(s.server_requests) for n, s in running.items()}
        finally:
            for server in running.values():
                await server.stop()
        out["rss"] = await measure_rss(servers, ws)
    finally:
        shutil.rmtree(ws.root, ignore_errors=True)
    out["load_end"] = loadavg()
    return out


def main() -> int:
    result = asyncio.run(run())
    path = write_result("lsp", result)
    log(f"  wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
