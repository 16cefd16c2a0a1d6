"""Summary of benchmarks/.work/results/*.json against the targets of issue 6.

    python benchmarks/summary.py              # plain table on stdout
    python benchmarks/summary.py --markdown   # the same as Markdown (docs/performance.md)

Every verdict is computed from the raw samples of the latest run; a benchmark
that did not run (or a server that was not available) shows as "not measured".
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from common import RESULTS, machine, read_result, versions


@dataclass
class Row:
    measure: str
    dockpin: str
    peer: str
    ratio: str
    target: str
    verdict: str


def ms(seconds: float | None) -> str:
    return "n/a" if seconds is None else f"{seconds * 1000:.1f} ms"


def s(seconds: float | None) -> str:
    return "n/a" if seconds is None else f"{seconds:.2f} s"


def spread(stats: dict[str, Any] | None, fmt: Callable[[float | None], str] = ms) -> str:
    """``median (min-max)`` for a handful of runs."""
    if not stats or not stats.get("n"):
        return "n/a"
    return f"{fmt(stats['median'])} ({fmt(stats['min'])}-{fmt(stats['max'])})"


def pct(stats: dict[str, Any] | None, key: str) -> float | None:
    if not stats or not stats.get("n"):
        return None
    value: float = stats[key]
    return value


def verdict(ok: bool | None) -> str:
    return "not measured" if ok is None else ("met" if ok else "MISSED")


def corpus_rows(result: dict[str, Any] | None) -> list[Row]:
    if result is None:
        return [Row("corpus, one process", "-", "-", "-", ">= 20x hadolint", "not measured")]
    one = result["one_process"]
    per = result["per_file"]
    speedup = one["speedup_median"]
    rounds = one["speedup_per_round"]
    dock = per["stats"]["dockpin"]
    had = per["stats"]["hadolint"]
    ratio = dock["median"] / had["median"]
    return [
        Row(
            f"corpus, one process ({one['files']} files, {one['dockpin_wall_s']['n']} runs)",
            spread(one["dockpin_wall_s"], s),
            "hadolint " + spread(one["hadolint_wall_s"], s),
            f"{speedup:.1f}x faster ({min(rounds):.1f}-{max(rounds):.1f})",
            ">= 20x faster",
            verdict(speedup >= 20),
        ),
        Row(
            f"one process per file, median of {per['sample_size']} files",
            f"{ms(dock['median'])} (p25-p75 {ms(dock['p25'])}-{ms(dock['p75'])})",
            f"hadolint {ms(had['median'])} (p25-p75 {ms(had['p25'])}-{ms(had['p75'])})",
            f"{ratio:.2f}x hadolint's time; faster on "
            f"{per['dockpin_faster_share'] * 100:.0f}% of files",
            "faster than hadolint",
            verdict(ratio < 1),
        ),
    ]


LSP_TARGETS = {"30": 0.005, "400": 0.010, "3000": 0.030}


def lsp_rows(result: dict[str, Any] | None) -> list[Row]:
    if result is None:
        return [Row("language server", "-", "-", "-", "", "not measured")]
    rows: list[Row] = []
    have = result.get("dockpin_lsp_available") and "dockpin" in result.get("init", {})
    sizes = result.get("sizes", {})
    lines = result.get("document_lines", {})
    for size, limit in LSP_TARGETS.items():
        by = sizes.get(size, {})
        dock = by.get("dockpin", {}).get("change")
        dls = by.get("docker-langserver", {}).get("change")
        floor = by.get("minimal-pygls", {}).get("change")
        p95 = pct(dock, "p95")
        rows.append(
            Row(
                f"didChange -> diagnostics p95, {lines.get(size, size)} lines",
                f"{ms(p95)} (p50 {ms(pct(dock, 'median'))})",
                f"docker-langserver {ms(pct(dls, 'p95'))}; minimal pygls {ms(pct(floor, 'p95'))}",
                _faster(pct(dls, "p95"), p95, "docker-langserver"),
                f"<= {limit * 1000:.0f} ms",
                verdict(None if p95 is None else p95 <= limit),
            )
        )
    big = sizes.get("3000", {})
    p95_dock = pct(big.get("dockpin", {}).get("change"), "p95")
    p95_dls = pct(big.get("docker-langserver", {}).get("change"), "p95")
    factor = p95_dls / p95_dock if p95_dock and p95_dls else None
    rows.append(
        Row(
            "didChange p95 on the largest file vs docker-langserver",
            ms(p95_dock),
            f"docker-langserver {ms(p95_dls)}",
            _faster(p95_dls, p95_dock, "docker-langserver"),
            ">= 4x faster",
            verdict(None if factor is None else factor >= 4),
        )
    )
    for size in LSP_TARGETS:
        by = sizes.get(size, {})
        rows.append(
            Row(
                f"didOpen -> diagnostics p50 / p95, {lines.get(size, size)} lines",
                _p50_p95(by.get("dockpin", {}).get("open")),
                f"docker-langserver {_p50_p95(by.get('docker-langserver', {}).get('open'))}; "
                f"minimal pygls {_p50_p95(by.get('minimal-pygls', {}).get('open'))}",
                "-",
                "(no target)",
                "-",
            )
        )
    for size in LSP_TARGETS:
        by = sizes.get(size, {})
        rows.append(
            Row(
                f"didChange p50 / p95 back to back (no pause), {lines.get(size, size)} lines",
                _p50_p95(by.get("dockpin", {}).get("change_back_to_back")),
                "docker-langserver "
                f"{_p50_p95(by.get('docker-langserver', {}).get('change_back_to_back'))}; "
                f"minimal pygls {_p50_p95(by.get('minimal-pygls', {}).get('change_back_to_back'))}",
                "-",
                "(no target)",
                "-",
            )
        )
    burst = result.get("burst", {})
    if burst:
        rows.append(
            Row(
                "burst: publishes for 10 changes sent at once (400 lines)",
                _burst(burst.get("dockpin")),
                "; ".join(
                    f"{name} {_burst(burst.get(name))}"
                    for name in ("docker-langserver", "minimal-pygls")
                ),
                "-",
                "(behaviour: debounce or not)",
                "-",
            )
        )
    init = result.get("init", {})
    dock_init = pct(init.get("dockpin", {}).get("stats"), "median")
    floor_init = pct(init.get("minimal-pygls", {}).get("stats"), "median")
    gap = None if dock_init is None or floor_init is None else dock_init - floor_init
    rows.append(
        Row(
            f"process start -> initialize result, median of {result['settings']['init_rounds']}",
            spread(init.get("dockpin", {}).get("stats")),
            f"minimal pygls {spread(init.get('minimal-pygls', {}).get('stats'))}; "
            f"docker-langserver {spread(init.get('docker-langserver', {}).get('stats'))}",
            "-" if gap is None else f"{gap * 1000:+.0f} ms vs minimal pygls",
            "within 100 ms of minimal pygls",
            verdict(None if gap is None else gap <= 0.1),
        )
    )
    rss = result.get("rss", {})
    dock_rss = rss.get("dockpin", {}).get("rss_kb")
    rows.append(
        Row(
            f"RSS after opening {result['settings']['rss_documents']} documents",
            _mb(dock_rss),
            f"docker-langserver {_mb(rss.get('docker-langserver', {}).get('rss_kb'))}; "
            f"minimal pygls {_mb(rss.get('minimal-pygls', {}).get('rss_kb'))}",
            "-",
            "< 60 MB",
            verdict(None if dock_rss is None else dock_rss / 1024 < 60),
        )
    )
    if not have:
        for row in rows:
            if row.verdict == "not measured":
                row.dockpin = "dockpin lsp not available"
    return rows


def _faster(peer: float | None, ours: float | None, name: str) -> str:
    """``peer / ours`` said the right way round."""
    if not peer or not ours:
        return "-"
    factor = peer / ours
    if factor >= 1:
        return f"{factor:.1f}x faster than {name}"
    return f"{1 / factor:.1f}x slower than {name}"


def _p50_p95(stats: dict[str, Any] | None) -> str:
    return f"{ms(pct(stats, 'median'))} / {ms(pct(stats, 'p95'))}"


def _burst(entry: dict[str, Any] | None) -> str:
    if not entry:
        return "n/a"
    last = entry.get("last_publish_after_last_change_ms")
    tail = "" if last is None else f", last {last:.0f} ms after the last change"
    return f"{entry['publishes']}/{entry['changes_sent']}{tail}"


def _mb(kb: int | None) -> str:
    return "n/a" if kb is None else f"{kb / 1024:.1f} MB"


def pin_rows(result: dict[str, Any] | None) -> list[Row]:
    if result is None:
        return [Row("pin-all", "-", "-", "-", "< 4x one image", "not measured")]
    wall = result["wall_s"]
    ratio = result["ratios"]["pin-all (in-process) / resolve-one (api)"]
    cli_ratio = result["ratios"]["pin-all (cli) / pin-one (cli)"]
    requests = result["requests"]
    cold = requests["pin-all (cli)"]
    gets = sum(v for k, v in cold["by_kind"].items() if k.startswith("GET manifest"))
    warm = result["warm_requests_max"]
    n = result["images"]
    return [
        Row(
            f"pin-all, {n} images, 50 ms/request (in-process)",
            spread(wall["pin-all (in-process)"]),
            f"one image (api) {spread(wall['resolve-one (api)'])}; "
            f"{n} sequential (api) {spread(wall['resolve-40 sequential (api)'], s)}",
            f"{ratio['median']:.1f}x one image ({ratio['min']:.1f}-{ratio['max']:.1f})",
            "< 4x one image",
            verdict(ratio["median"] < 4),
        ),
        Row(
            f"pin-all, {n} images (dockpin pin subprocess)",
            spread(wall["pin-all (cli)"]),
            f"pin one image (subprocess) {spread(wall['pin-one (cli)'])}",
            f"{cli_ratio['median']:.1f}x one image ({cli_ratio['min']:.1f}-{cli_ratio['max']:.1f})",
            "(informational: both include ~0.2 s of start-up)",
            "-",
        ),
        Row(
            "pin-all requests (cold)",
            ", ".join(f"{k}: {v}" for k, v in cold["by_kind"].items()),
            f"peak in flight {cold['peak_in_flight']}",
            "-",
            "HEAD only (digest is all pin needs)",
            verdict(gets == 0 and cold["by_method"].get("HEAD", 0) > 0),
        ),
        Row(
            "pin-all warm run, cache kept",
            f"{warm} requests; {spread(wall['pin-all warm, unpinned copy (cli)'])}",
            "-",
            "-",
            "zero requests",
            verdict(warm == 0),
        ),
    ]


def rows() -> list[Row]:
    return (
        corpus_rows(read_result("corpus"))
        + lsp_rows(read_result("lsp"))
        + pin_rows(read_result("pin"))
    )


HEADER = ("measure", "dockpin", "peers / reference", "ratio", "target", "verdict")


def markdown(table: list[Row]) -> str:
    out = ["| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
    for row in table:
        cells = (row.measure, row.dockpin, row.peer, row.ratio, row.target, row.verdict)
        out.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return "\n".join(out) + "\n"


def plain(table: list[Row]) -> str:
    out = []
    for row in table:
        out.append(f"[{row.verdict:^12}] {row.measure}")
        out.append(f"               dockpin: {row.dockpin}")
        out.append(f"               peers:   {row.peer}")
        out.append(f"               ratio:   {row.ratio}   target: {row.target}")
    return "\n".join(out) + "\n"


def environment() -> dict[str, Any]:
    """Machine, tool versions and the dockpin commit each result was taken at."""
    env: dict[str, Any] = {"machine": machine(), "versions": versions(), "results": {}}
    for name in ("corpus", "lsp", "pin", "profile"):
        result = read_result(name)
        if result is not None:
            env["results"][name] = {
                "written": result.get("written"),
                "dockpin_commit": result.get("dockpin_commit"),
                "load_start": result.get("load_start"),
                "load_end": result.get("load_end"),
            }
    return env


def main(argv: list[str]) -> int:
    table = rows()
    if "--markdown" in argv:
        sys.stdout.write(markdown(table))
        return 0
    env = environment()
    if RESULTS.is_dir():
        (RESULTS / "environment.json").write_text(json.dumps(env, indent=2) + "\n")
    m = env["machine"]
    print(f"machine: {m['nproc']} CPUs ({m['cpu']}), {m['ram_gib']} GiB RAM, {m['os']}")
    print("versions: " + ", ".join(f"{k} {v}" for k, v in env["versions"].items()))
    for name, meta in env["results"].items():
        print(
            f"{name}: dockpin {meta['dockpin_commit']}, written {meta['written']}, "
            f"load {meta['load_start']} -> {meta['load_end']}"
        )
    print()
    sys.stdout.write(plain(table))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
