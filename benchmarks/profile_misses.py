"""Profiles of the dockpin paths that miss a target (``./benchmarks/run.sh profile``).

Reads the latest results and, for each missed target, writes what explains it
to ``benchmarks/.work/results/profiles/`` plus ``results/profile.json``:

* per-file check slower than hadolint: the wall time split into interpreter
  start, imports and work (each timed 20x, interleaved; plus the same check with
  dockpin's modules compiled from source every time, the cost run.sh's compileall
  step removes), ``-X importtime``
  (median self time per module over 5 runs) and a pyinstrument profile;
* pin-all over 4x one image: a pyinstrument profile of the in-process pin, the
  request timeline seen by the proxy, and the same 40 resolutions with the
  client's per-host concurrency limit raised (``RegistryConfig.max_concurrency_per_host``,
  a public setting; dockpin's code is not changed);
* language-server targets (when ``dockpin lsp`` exists), each only when missed:
  start -> initialize: import cost of the server module versus the minimal pygls
  server; didChange p95: the in-process cost of one change, the server with its
  cyclic GC off versus as shipped (side by side, taking turns; every collection
  logged through ``gc.callbacks``), and a py-spy profile of the running server
  during 100 edits of the 3,000-line document; RSS: tracemalloc after 200
  documents.

pyinstrument and py-spy come from benchmarks/.work/venv (installed by run.sh);
pyinstrument runs inside the project's interpreter via PYTHONPATH.
"""

from __future__ import annotations

import asyncio
import collections
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from common import (
    CORPUS,
    DOCKPIN,
    PROJECT_PYTHON,
    RESULTS,
    ROOT,
    TOOLS_VENV,
    WORK,
    loadavg,
    log,
    read_result,
    summarize,
    write_result,
)

PROFILES = RESULTS / "profiles"
PY_SPY = TOOLS_VENV / "bin" / "py-spy"
TOOLS_SITE = next((TOOLS_VENV / "lib").glob("python3*/site-packages"), None)


def _timed(cmd: list[str], **kwargs: Any) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False, **kwargs)
    return time.perf_counter() - start


def _pyinstrument(args: list[str], out: Path, cwd: Path | None = None) -> None:
    env = dict(os.environ, PYTHONPATH=str(TOOLS_SITE))
    subprocess.run(
        [
            str(PROJECT_PYTHON),
            "-m",
            "pyinstrument",
            "--interval",
            "0.0005",
            "-r",
            "text",
            "-o",
            str(out),
            *args,
        ],
        env=env,
        cwd=cwd,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        check=False,
    )


def importtime(code: list[str], runs: int = 5, cwd: Path | None = None) -> list[dict[str, Any]]:
    """Median self / cumulative import time (us) per module over ``runs`` runs."""
    self_us: dict[str, list[int]] = collections.defaultdict(list)
    cum_us: dict[str, list[int]] = collections.defaultdict(list)
    for _ in range(runs):
        proc = subprocess.run(
            [str(PROJECT_PYTHON), "-X", "importtime", *code],
            capture_output=True,
            text=True,
            cwd=cwd,
            check=False,
        )
        for line in proc.stderr.splitlines():
            if not line.startswith("import time:") or "self [us]" in line:
                continue
            head, cumulative, name = line.split("|")
            own = head.replace("import time:", "").strip()
            self_us[name.strip()].append(int(own))
            cum_us[name.strip()].append(int(cumulative))
    rows = [
        {
            "module": name,
            "self_us": statistics.median(values),
            "cumulative_us": statistics.median(cum_us[name]),
        }
        for name, values in self_us.items()
    ]
    return sorted(rows, key=lambda r: -r["self_us"])


def _write_importtime(rows: list[dict[str, Any]], path: Path, title: str) -> None:
    total = sum(r["self_us"] for r in rows)
    lines = [f"{title}: {len(rows)} modules, {total / 1000:.1f} ms self time in total", ""]
    lines.append(f"{'self ms':>8} {'cum ms':>8}  module")
    lines += [
        f"{r['self_us'] / 1000:8.2f} {r['cumulative_us'] / 1000:8.2f}  {r['module']}"
        for r in rows[:40]
    ]
    path.write_text("\n".join(lines) + "\n")


# -- 1. one process per file -------------------------------------------------------------------


NO_PYC = "dockpin check (1 file), dockpin compiled from source"
CHECK_IMPORTS = (
    "import argparse, dockpin.cli, dockpin.analysis, dockpin.config, dockpin.facts, "
    "dockpin.files, dockpin.report, dockpin.syntax"
)


def profile_per_file(corpus: dict[str, Any]) -> dict[str, Any]:
    sample = corpus["per_file"]["sample"]
    # The sample's median-sized file: representative of the per-file figure.
    by_size = sorted(sample, key=lambda f: (CORPUS / f).stat().st_size)
    path = by_size[len(by_size) // 2]
    check = [str(DOCKPIN), "check", "--offline", "--fail-on", "never", path]
    steps = {
        "interpreter (python -c pass)": [str(PROJECT_PYTHON), "-c", "pass"],
        "interpreter + check's imports": [str(PROJECT_PYTHON), "-c", CHECK_IMPORTS],
        "dockpin check (1 file)": check,
        NO_PYC: check,
    }
    # The same check with dockpin's modules compiled from source in every process,
    # as happened before run.sh ran compileall: a copy of server/dockpin without
    # __pycache__, first on PYTHONPATH, with PYTHONDONTWRITEBYTECODE=1.
    no_pyc = Path(tempfile.mkdtemp(prefix="dockpin-no-pyc-", dir=WORK))
    shutil.copytree(
        ROOT / "server" / "dockpin",
        no_pyc / "dockpin",
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    no_pyc_env = dict(os.environ, PYTHONPATH=str(no_pyc), PYTHONDONTWRITEBYTECODE="1")
    times: dict[str, list[float]] = {k: [] for k in steps}
    try:
        for i in range(20):
            names = list(steps)
            for name in names[i % len(names) :] + names[: i % len(names)]:
                env = no_pyc_env if name == NO_PYC else None
                times[name].append(_timed(steps[name], cwd=CORPUS, env=env))
    finally:
        shutil.rmtree(no_pyc, ignore_errors=True)
    medians = {k: statistics.median(v) for k, v in times.items()}
    rows = importtime(["-m", "dockpin.cli", *check[1:]], cwd=CORPUS)
    _write_importtime(rows, PROFILES / "check-importtime.txt", f"dockpin check {path}")
    _pyinstrument(
        ["-m", "dockpin.cli", *check[1:]], PROFILES / "check-one-file.pyinstrument.txt", CORPUS
    )
    dockpin_rows = [r for r in rows if r["module"].startswith("dockpin")]
    out = {
        "file": path,
        "bytes": (CORPUS / path).stat().st_size,
        "wall_median_s": medians,
        "split_s": {
            "interpreter": medians["interpreter (python -c pass)"],
            "imports": medians["interpreter + check's imports"]
            - medians["interpreter (python -c pass)"],
            "work (parse, rules, report)": medians["dockpin check (1 file)"]
            - medians["interpreter + check's imports"],
        },
        "compiling dockpin from source, extra per process_s": medians[NO_PYC]
        - medians["dockpin check (1 file)"],
        "import_self_ms_total": sum(r["self_us"] for r in rows) / 1000,
        "import_self_ms_dockpin": sum(r["self_us"] for r in dockpin_rows) / 1000,
        "top_imports": rows[:15],
    }
    log(
        "  per-file split: "
        + ", ".join(f"{k} {v * 1000:.1f} ms" for k, v in out["split_s"].items())
        + f"; without dockpin's .pyc files: {medians[NO_PYC] * 1000:.1f} ms"
    )
    return out


# -- 3. pin-all ---------------------------------------------------------------------------------


def profile_pin() -> dict[str, Any]:
    import bench_pin

    from support.proxy import Fault, FaultProxy
    from support.registry import RegistryServer

    scratch = Path(tempfile.mkdtemp(prefix="profile-pin-", dir=WORK))
    home = scratch / "home"
    home.mkdir()
    os.environ.update(HOME=str(home), DOCKER_CONFIG=str(home / ".docker"))
    out: dict[str, Any] = {}
    try:
        with RegistryServer(scratch / "registry") as registry:
            expected = bench_pin.push_all(registry)
            with FaultProxy(registry.url) as proxy:
                proxy.add_fault(Fault.delay(bench_pin.DELAY_S))
                bench = bench_pin.Bench(proxy, expected, scratch / "runs")
                # Request timeline of one cold pin-all (in-process).
                project = bench.project(bench.refs, "timeline")
                bench.pin_in_process(project, bench.fresh_dir("cache"))  # imports, untimed
                project = bench.project(bench.refs, "timeline")
                result = bench.pin_in_process(project, bench.fresh_dir("cache"))
                records = sorted(proxy.requests, key=lambda r: r.time)
                t0 = records[0].time
                timeline = [
                    f"{(r.time - t0) * 1000:7.1f} ms  {r.method:4} {bench_pin.classify(r):18} "
                    f"{r.path}"
                    for r in records
                ]
                (PROFILES / "pin-timeline.txt").write_text(
                    f"cold in-process pin of {len(bench.refs)} images, wall "
                    f"{result['wall_s'] * 1000:.0f} ms; request arrivals at the proxy:\n"
                    + "\n".join(timeline)
                    + "\n"
                )
                waves = collections.Counter(int((r.time - t0) / 0.05) for r in records)
                out["in_process_wall_s"] = result["wall_s"]
                out["requests"] = result["requests"]
                out["arrivals_per_50ms_window"] = [waves.get(i, 0) for i in range(max(waves) + 1)]
                # Same pin, profiled.
                project = bench.project(bench.refs, "pyinstrument")
                cache = bench.fresh_dir("cache")
                env_pin = f"import os; os.environ['DOCKPIN_CACHE_DIR'] = {str(cache)!r}\n"
                script = scratch / "pin_once.py"
                script.write_text(
                    env_pin + "from dockpin.cli import main\n"
                    f"raise SystemExit(main(['pin', {str(project)!r}]))\n"
                )
                _pyinstrument([str(script)], PROFILES / "pin-all.pyinstrument.txt")
                # What the per-host limit costs: the same 40, concurrently, limit raised.
                experiment: dict[str, Any] = {}
                for limit in (6, 10, 20, 40):
                    walls = []
                    for _ in range(3):
                        walls.append(
                            _resolve_all(bench, proxy.url, bench.fresh_dir("cache"), limit)
                        )
                    experiment[str(limit)] = summarize(walls)
                    log(
                        f"  resolve-40 concurrent, max_concurrency_per_host={limit}: "
                        f"{statistics.median(walls) * 1000:.0f} ms"
                    )
                one = [
                    bench.resolve_api(bench.refs[:1], bench.fresh_dir("cache"), concurrent=False)
                    for _ in range(3)
                ]
                out["resolve_one_s"] = summarize([r["wall_s"] for r in one])
                out["concurrency_limit_experiment_s"] = experiment
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return out


def _resolve_all(bench: Any, mirror: str, cache: Path, limit: int) -> float:
    from dockpin.references import parse_reference
    from dockpin.registry import RegistryClient, RegistryConfig

    config = RegistryConfig(
        mirrors={"docker.io": mirror}, cache_dir=cache, max_concurrency_per_host=limit
    )

    async def go() -> None:
        async with RegistryClient(config) as client:
            await asyncio.gather(*(client.resolve(parse_reference(r)) for r in bench.refs))

    start = time.perf_counter()
    asyncio.run(go())
    return time.perf_counter() - start


# -- 2. language server -------------------------------------------------------------------------


GC_EDITS = 60
INIT_GAP_LIMIT_S = 0.1
RSS_LIMIT_MB = 60
CHANGE_P95_LIMITS_S = {"30": 0.005, "400": 0.010, "3000": 0.030}


def lsp_misses(lsp: dict[str, Any]) -> set[str]:
    """Which language-server targets the latest run missed (the limits of
    summary.py): ``init``, ``change`` (any didChange p95, or 4x docker-langserver
    on the largest file) and ``rss``."""
    missed: set[str] = set()
    init = lsp.get("init", {})
    try:
        gap = init["dockpin"]["stats"]["median"] - init["minimal-pygls"]["stats"]["median"]
        if gap > INIT_GAP_LIMIT_S:
            missed.add("init")
    except KeyError:
        pass
    sizes = lsp.get("sizes", {})
    for size, limit in CHANGE_P95_LIMITS_S.items():
        change = sizes.get(size, {}).get("dockpin", {}).get("change") or {}
        if change.get("n") and change["p95"] > limit:
            missed.add("change")
    big = sizes.get("3000", {})
    ours = (big.get("dockpin", {}).get("change") or {}).get("p95")
    theirs = (big.get("docker-langserver", {}).get("change") or {}).get("p95")
    if ours and theirs and theirs / ours < 4:
        missed.add("change")
    rss_kb = lsp.get("rss", {}).get("dockpin", {}).get("rss_kb")
    if rss_kb is not None and rss_kb / 1024 >= RSS_LIMIT_MB:
        missed.add("rss")
    return missed


def profile_lsp(missed: set[str]) -> dict[str, Any]:
    out: dict[str, Any] = {"missed": sorted(missed)}
    if "init" in missed:
        out.update(_profile_lsp_imports())
    if "change" in missed:
        out["work_per_change_ms"] = _work_split()
        out["gc_experiment"] = asyncio.run(_gc_experiment())
        out["edit_profile"] = asyncio.run(_py_spy_edits())
    if "rss" in missed:
        out["memory"] = asyncio.run(_memory_attribution())
    return out


def _profile_lsp_imports() -> dict[str, Any]:
    out: dict[str, Any] = {}
    imports = {
        "dockpin.lsp.server": ["-c", "import dockpin.lsp.server"],
        "minimal (pygls.lsp.server + dockerfile_parse)": [
            "-c",
            "import pygls.lsp.server, lsprotocol.types, dockerfile_parse",
        ],
        "lsprotocol.types alone": ["-c", "import lsprotocol.types"],
        "python -c pass": ["-c", "pass"],
    }
    walls: dict[str, list[float]] = {k: [] for k in imports}
    for i in range(10):
        names = list(imports)
        for name in names[i % len(names) :] + names[: i % len(names)]:
            walls[name].append(_timed([str(PROJECT_PYTHON), *imports[name]]))
    out["import_wall_s"] = {k: summarize(v) for k, v in walls.items()}
    rows = importtime(["-c", "import dockpin.lsp.server"])
    _write_importtime(rows, PROFILES / "lsp-importtime.txt", "import dockpin.lsp.server")
    out["top_imports"] = rows[:15]
    return out


_WORK_SPLIT = """
import io, json, statistics, sys, time
sys.path.insert(0, {bench!r})
from dockerfile_gen import generate
from dockerfile_parse import DockerfileParser
from dockpin.analysis import analyze
from dockpin.config import Config
from dockpin.syntax import parse

out = {{}}
for size in (30, 400, 3000):
    text = generate(size)
    steps = {{"dockpin parse": [], "dockpin analyze": [], "dockerfile-parse structure": []}}
    for _ in range(30):
        a = time.perf_counter()
        model = parse(text)
        b = time.perf_counter()
        analyze(model, Config(), None)
        c = time.perf_counter()
        parser = DockerfileParser(fileobj=io.BytesIO())
        parser.content = text
        parser.structure
        d = time.perf_counter()
        steps["dockpin parse"].append(b - a)
        steps["dockpin analyze"].append(c - b)
        steps["dockerfile-parse structure"].append(d - c)
    out[str(size)] = {{k: statistics.median(v) * 1000 for k, v in steps.items()}}
print(json.dumps(out))
"""


def _work_split() -> dict[str, Any]:
    """In-process medians (30 runs) of what one change costs: dockpin's full parse
    and rules, versus dockerfile-parse (all the minimal server does)."""

    code = _WORK_SPLIT.format(bench=str(Path(__file__).resolve().parent))
    proc = subprocess.run(
        [str(PROJECT_PYTHON), "-c", code], capture_output=True, text=True, check=False
    )
    if proc.returncode != 0:
        return {"error": proc.stderr[-800:]}
    result: dict[str, Any] = json.loads(proc.stdout)
    for size, steps in result.items():
        log(
            f"  in-process, {size} lines: " + ", ".join(f"{k} {v:.2f} ms" for k, v in steps.items())
        )
    return result


_TRACEMALLOC_WRAPPER = """
import linecache, os, signal, sys, tracemalloc
tracemalloc.start(1)

def dump(*_):
    snapshot = tracemalloc.take_snapshot()
    with open(os.environ["BENCH_TRACEMALLOC_OUT"], "w") as f:
        stats = snapshot.statistics("filename")
        f.write(f"traced {sum(s.size for s in stats) / 2**20:.1f} MB in total\\n\\nby file:\\n")
        for s in stats[:25]:
            f.write(f"{s.size / 2**20:8.2f} MB {s.count:8d} blocks  {s.traceback[0].filename}\\n")
        f.write("\\nby line:\\n")
        for s in snapshot.statistics("lineno")[:30]:
            frame = s.traceback[0]
            source = linecache.getline(frame.filename, frame.lineno).strip()
            f.write(f"{s.size / 2**20:8.2f} MB {s.count:8d} blocks  "
                    f"{frame.filename}:{frame.lineno}  {source}\\n")

signal.signal(signal.SIGUSR1, dump)
from dockpin.cli import main
sys.exit(main(["lsp"]))
"""


async def _memory_attribution() -> dict[str, Any]:
    """Who holds the memory after 200 documents: the server under tracemalloc
    (slower and bigger than normal; the shares are what count), plus the RSS of
    importing the server alone and with the registry stack it loads for lookups."""

    from bench_lsp import RSS_DOCS, SizeResult, Workspace, _measure_publish, _settle, start
    from dockerfile_gen import generate

    baselines = {}
    for label, code in (
        ("import dockpin.lsp.server", "import dockpin.lsp.server"),
        ("+ dockpin.registry, dockpin.pinning (httpx)",
         "import dockpin.lsp.server, dockpin.registry, dockpin.pinning"),
        ("minimal: pygls.lsp.server + dockerfile_parse",
         "import pygls.lsp.server, dockerfile_parse"),
    ):  # fmt: skip
        probe = code + "\nimport re\nprint(re.search(r'VmRSS:\\s+(\\d+)', "
        probe += "open('/proc/self/status').read()).group(1))"
        proc = subprocess.run(
            [str(PROJECT_PYTHON), "-c", probe], capture_output=True, text=True, check=False
        )
        baselines[label] = int(proc.stdout.strip() or 0)
    ws = Workspace.create()
    wrapper = ws.root / "tracemalloc_lsp.py"
    wrapper.write_text(_TRACEMALLOC_WRAPPER)
    report = PROFILES / "lsp-memory-200-docs.tracemalloc.txt"
    ws.env["BENCH_TRACEMALLOC_OUT"] = str(report)
    server, _ = await start("dockpin-tracemalloc", [str(PROJECT_PYTHON), str(wrapper)], ws)
    try:
        result = SizeResult()
        for k in range(RSS_DOCS):
            text = generate(400, seed=k + 1)
            uri = ws.uri(f"memory-{k}.Dockerfile", text)
            sent = await server.did_open(uri, text)
            await _measure_publish(server, uri, 1, sent, result)
        await _settle(server)
        os.kill(server.pid, signal.SIGUSR1)
        for _ in range(300):
            await asyncio.sleep(0.1)
            if report.is_file() and report.stat().st_size > 0:
                await asyncio.sleep(0.5)
                break
    finally:
        await server.stop()
        shutil.rmtree(ws.root, ignore_errors=True)
    head = report.read_text().splitlines()[:12] if report.is_file() else []
    return {"import_rss_kb": baselines, "tracemalloc_head": head}


_GC_WRAPPER = """
import gc, json, os, signal, sys, time
if os.environ.get("BENCH_GC_MODE") == "off":
    gc.disable()  # dockpin's own gc.freeze() after start-up does not re-enable it
# Every collection: generation, duration, objects collected (a few us per collection).
collections, started = [], [0.0]
def on_gc(phase, info):
    if phase == "start":
        started[0] = time.perf_counter()
    else:
        collections.append((info["generation"], time.perf_counter() - started[0],
                            info["collected"]))
gc.callbacks.append(on_gc)
# First SIGUSR1: forget the collections so far (start-up, warm-up); second: write them.
marked = [False]
def on_signal(*_):
    if not marked[0]:
        marked[0] = True
        collections.clear()
        return
    with open(os.environ["BENCH_GC_OUT"], "w") as f:
        json.dump({"collections": collections, "frozen": gc.get_freeze_count(),
                   "tracked": len(gc.get_objects())}, f)
signal.signal(signal.SIGUSR1, on_signal)
from dockpin.cli import main
sys.exit(main(["lsp"]))
"""


async def _gc_experiment() -> dict[str, Any]:
    """dockpin on the 3,000-line file run as shipped (it calls ``gc.freeze()`` after
    start-up, since 2b5748c) and with the cyclic GC off: how much of the tail is
    still garbage collection. Both servers run at once and take turns on each of
    ``GC_EDITS`` paced tag edits (after 5 warm-up), the first one alternating, so
    machine noise hits them alike."""
    from bench_lsp import PAUSE_S, SizeResult, Workspace, _edit, _measure_publish, start
    from dockerfile_gen import generate, tag_edits

    modes = ("as is", "off")
    ws = Workspace.create()
    wrapper = ws.root / "gc_lsp.py"
    wrapper.write_text(_GC_WRAPPER)
    servers = {}
    latencies: dict[str, list[float]] = {mode: [] for mode in modes}
    gc_counts: dict[str, Any] = {}
    try:
        for mode in modes:
            ws.env["BENCH_GC_MODE"] = mode  # read by the wrapper when it starts
            ws.env["BENCH_GC_OUT"] = str(ws.root / f"gc-{mode.replace(' ', '-')}.json")
            servers[mode], _ = await start(
                f"dockpin-gc-{mode.replace(' ', '-')}", [str(PROJECT_PYTHON), str(wrapper)], ws
            )
        text = generate(3000)
        uri = ws.uri("gc.Dockerfile", text)
        for server in servers.values():
            sent = await server.did_open(uri, text)
            await _measure_publish(server, uri, 1, sent, SizeResult())
        sites = tag_edits(text)
        for i in range(GC_EDITS + 5):
            if i == 5:  # warm-up done: count collections from here
                for server in servers.values():
                    os.kill(server.pid, signal.SIGUSR1)
                await asyncio.sleep(0.2)
            site = sites[(i * 7) % len(sites)]
            text, char = _edit(text, site)
            order = modes if i % 2 == 0 else modes[::-1]
            for mode in order:
                server = servers[mode]
                server.take_publishes(uri)
                sent = await server.did_change(uri, i + 2, site.line, site.character, char, text)
                latency = await _measure_publish(server, uri, i + 2, sent, SizeResult())
                if latency is not None and i >= 5:
                    latencies[mode].append(latency)
            await asyncio.sleep(PAUSE_S)
        for mode, server in servers.items():
            dumped = ws.root / f"gc-{mode.replace(' ', '-')}.json"
            os.kill(server.pid, signal.SIGUSR1)
            for _ in range(50):
                await asyncio.sleep(0.1)
                if dumped.is_file() and dumped.stat().st_size > 0:
                    await asyncio.sleep(0.2)
                    break
            gc_counts[mode] = _gc_collections(dumped, GC_EDITS)
    finally:
        for server in servers.values():
            await server.stop()
        shutil.rmtree(ws.root, ignore_errors=True)
    out: dict[str, Any] = {}
    lines = [
        f"dockpin lsp, 3,000-line document: every collection the server made "
        f"(gc.callbacks) during the {GC_EDITS} measured tag edits (not start-up, not warm-up)",
        "",
    ]
    for mode in modes:
        out[mode] = {
            "change": summarize(latencies[mode]),
            "change_s": latencies[mode],
            "collections": gc_counts.get(mode),
        }
        lines.append(f"GC {mode}: {json.dumps(gc_counts.get(mode), indent=2)}")
        stats = out[mode]["change"]
        log(
            f"  gc {mode}: didChange p50 {stats['median'] * 1000:.1f} ms, "
            f"p95 {stats['p95'] * 1000:.1f} ms, max {stats['max'] * 1000:.1f} ms (3,000 lines)"
        )
    (PROFILES / "lsp-gc-3000.txt").write_text("\n".join(lines) + "\n")
    return out


def _gc_collections(path: Path, analyses: int) -> dict[str, Any] | None:
    """Count, median / max / total time and objects freed per GC generation."""
    if not path.is_file():
        return None
    data = json.loads(path.read_text())
    out: dict[str, Any] = {"frozen_objects": data["frozen"], "tracked_objects": data["tracked"]}
    for generation in (0, 1, 2):
        rows = [c for c in data["collections"] if c[0] == generation]
        times = [c[1] for c in rows]
        out[f"gen{generation}"] = {
            "count": len(rows),
            "median_ms": statistics.median(times) * 1000 if times else 0,
            "max_ms": max(times) * 1000 if times else 0,
            "total_ms_per_analysis": sum(times) * 1000 / analyses,
            "objects_collected": sum(c[2] for c in rows),
        }
    out["gen2"]["each_ms"] = [round(c[1] * 1000, 1) for c in data["collections"] if c[0] == 2]
    return out


async def _py_spy_edits() -> dict[str, Any]:
    """py-spy attached to a running ``dockpin lsp`` while it handles 100 edits."""
    from bench_lsp import Workspace, _edit, start
    from dockerfile_gen import generate, tag_edits

    ws = Workspace.create()
    server, _ = await start("dockpin-profile", [str(DOCKPIN), "lsp"], ws)
    raw = PROFILES / "lsp-edits-3000.pyspy.txt"
    try:
        text = generate(3000)
        uri = ws.uri("profile.Dockerfile", text)
        sent = await server.did_open(uri, text)
        await server.wait_diagnostics(uri, 1, sent, 30)
        spy = subprocess.Popen(
            [str(PY_SPY), "record", "--pid", str(server.pid), "--rate", "1000",
             "--format", "raw", "--output", str(raw), "--nonblocking"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        await asyncio.sleep(1.0)
        sites = tag_edits(text)
        latencies = []
        for i in range(100):
            site = sites[(i * 7) % len(sites)]
            text, char = _edit(text, site)
            sent = await server.did_change(uri, i + 2, site.line, site.character, char, text)
            publish, _ = await server.wait_diagnostics(uri, i + 2, sent, 30)
            latencies.append(publish.received - sent)
        await asyncio.sleep(0.5)
        spy.send_signal(2)
        spy.wait(timeout=30)
    finally:
        await server.stop()
        shutil.rmtree(ws.root, ignore_errors=True)
    top = _top_frames(raw)
    inclusive = _inclusive_dockpin(raw)
    (PROFILES / "lsp-edits-3000.top.txt").write_text(
        "py-spy, 100 edits of the 3,000-line document (latencies inflated by sampling).\n\n"
        "Inclusive share of samples, dockpin and pygls functions:\n"
        + "\n".join(f"{share:5.1f}%  {name}" for name, share in inclusive)
        + "\n\nSelf samples per innermost frame:\n"
        + "\n".join(f"{n:6d}  {frame}" for frame, n in top)
        + "\n"
    )
    return {
        "change_s_under_py_spy": summarize(latencies),
        "inclusive_share_percent": inclusive[:25],
        "top_self_frames": top[:20],
    }


def _inclusive_dockpin(raw: Path) -> list[tuple[str, float]]:
    """Share of all samples in which each dockpin / pygls function is on the stack."""
    counts: collections.Counter[str] = collections.Counter()
    total = 0
    if not raw.is_file():
        return []
    for line in raw.read_text().splitlines():
        stack, _, n = line.rpartition(" ")
        if not stack or not n.isdigit():
            continue
        total += int(n)
        seen = set()
        for frame in stack.split(";"):
            name, _, where = frame.partition(" (")
            key = f"{name} ({where.split(':')[0]})"
            if key not in seen and ("dockpin/" in where or "pygls/" in where):
                seen.add(key)
                counts[key] += int(n)
    return [(k, 100 * v / total) for k, v in counts.most_common(40)] if total else []


def _top_frames(raw: Path) -> list[tuple[str, int]]:
    """Self samples per innermost frame from py-spy's collapsed-stack output."""
    counts: collections.Counter[str] = collections.Counter()
    if not raw.is_file():
        return []
    for line in raw.read_text().splitlines():
        stack, _, n = line.rpartition(" ")
        if not stack or not n.isdigit():
            continue
        frames = stack.split(";")
        counts[frames[-1]] += int(n)
    return counts.most_common(40)


# -- main -----------------------------------------------------------------------------------------


def main() -> int:
    # Only the profiles of this run's misses: a target met since leaves none behind.
    shutil.rmtree(PROFILES, ignore_errors=True)
    PROFILES.mkdir(parents=True, exist_ok=True)
    out: dict[str, Any] = {"load_start": loadavg()}
    corpus = read_result("corpus")
    if corpus and corpus["per_file"]["dockpin_over_hadolint_median"] >= 1:
        log("  profiling the per-file check (missed: slower than hadolint per file)")
        out["per_file"] = profile_per_file(corpus)
    pin = read_result("pin")
    if pin and pin["ratios"]["pin-all (in-process) / resolve-one (api)"]["median"] >= 4:
        log("  profiling pin-all (missed: over 4x one image)")
        out["pin"] = profile_pin()
    lsp = read_result("lsp")
    if lsp and lsp.get("dockpin_lsp_available") and "dockpin" in lsp.get("init", {}):
        missed = lsp_misses(lsp)
        if missed:
            log(f"  profiling dockpin lsp (missed: {', '.join(sorted(missed))})")
            out["lsp"] = profile_lsp(missed)
    out["load_end"] = loadavg()
    path = write_result("profile", out)
    log(f"  wrote {path} and {PROFILES}/")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
    raise SystemExit(main())
