"""1. Corpus check: ``dockpin check --offline`` versus ``hadolint`` over the shared corpus.

(a) one process for all 1,441 Dockerfiles, repeated ``BENCH_CORPUS_ROUNDS`` times
    (default 5), the two tools alternating which goes first;
(b) one process per file over a fixed sample (``BENCH_SAMPLE`` files, default 100,
    drawn with a fixed seed), both tools on the same file back to back, the order
    alternating per file. The bare interpreter (``python -c pass``) is timed the
    same way, as the floor any Python CLI starts from.

The corpus is read in place (cwd = the corpus folder, relative paths).
"""

from __future__ import annotations

import csv
import os
import random
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from common import (
    CORPUS,
    DOCKPIN,
    HADOLINT,
    PROJECT_PYTHON,
    loadavg,
    log,
    summarize,
    write_result,
)

ROUNDS = int(os.environ.get("BENCH_CORPUS_ROUNDS", "5"))
SAMPLE = int(os.environ.get("BENCH_SAMPLE", "100"))
SEED = 6  # issue 6


def corpus_files() -> list[str]:
    """MANIFEST ``local_path`` entries, minus BuildKit's ``result`` parser outputs."""
    with (CORPUS / "MANIFEST.tsv").open(newline="") as stream:
        rows = list(csv.DictReader(stream, delimiter="\t"))
    files = [
        row["local_path"]
        for row in rows
        if row["local_path"].rsplit("/", 1)[-1].rsplit("__", 1)[-1] != "result"
    ]
    return files


def dockpin_cmd(files: Sequence[str]) -> list[str]:
    return [str(DOCKPIN), "check", "--offline", "--fail-on", "never", *files]


def hadolint_cmd(files: Sequence[str]) -> list[str]:
    return [str(HADOLINT), "--no-fail", "--format", "json", *files]


def timed(cmd: Sequence[str]) -> dict[str, Any]:
    """Wall time, CPU time (user+sys from wait4), exit code and stderr size."""
    stderr_path = Path(os.environ.get("TMPDIR", "/tmp")) / f"bench-corpus-{os.getpid()}.err"
    with stderr_path.open("wb") as err:
        start = time.perf_counter()
        proc = subprocess.Popen(
            cmd, cwd=CORPUS, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err
        )
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    stderr = stderr_path.read_text(errors="replace")
    stderr_path.unlink()
    return {
        "wall_s": wall,
        "cpu_s": usage.ru_utime + usage.ru_stime,
        "max_rss_kb": usage.ru_maxrss,
        "exit": proc.returncode,
        "stderr_lines": len(stderr.splitlines()),
        "stderr_head": stderr[:500],
    }


def one_process(files: list[str]) -> dict[str, Any]:
    runs: dict[str, list[dict[str, Any]]] = {"dockpin": [], "hadolint": []}
    tools = {"dockpin": dockpin_cmd(files), "hadolint": hadolint_cmd(files)}
    for round_no in range(ROUNDS):
        order = ["dockpin", "hadolint"] if round_no % 2 == 0 else ["hadolint", "dockpin"]
        for tool in order:
            run = timed(tools[tool])
            run["load"] = loadavg()
            runs[tool].append(run)
            log(f"  (a) round {round_no + 1}/{ROUNDS} {tool}: {run['wall_s']:.2f} s")
    dockpin = summarize([r["wall_s"] for r in runs["dockpin"]])
    hadolint = summarize([r["wall_s"] for r in runs["hadolint"]])
    return {
        "files": len(files),
        "commands": {
            "dockpin": " ".join(dockpin_cmd(["FILE..."])),
            "hadolint": " ".join(hadolint_cmd(["FILE..."])),
        },
        "runs": runs,
        "dockpin_wall_s": dockpin,
        "hadolint_wall_s": hadolint,
        "dockpin_cpu_s": summarize([r["cpu_s"] for r in runs["dockpin"]]),
        "hadolint_cpu_s": summarize([r["cpu_s"] for r in runs["hadolint"]]),
        "speedup_median": hadolint["median"] / dockpin["median"],
        # Pairs from the same round (adjacent in time): the spread of the ratio.
        "speedup_per_round": [
            h["wall_s"] / d["wall_s"]
            for d, h in zip(runs["dockpin"], runs["hadolint"], strict=True)
        ],
    }


def per_file(files: list[str]) -> dict[str, Any]:
    sample = sorted(random.Random(SEED).sample(files, min(SAMPLE, len(files))))
    tools = {
        "dockpin": dockpin_cmd,
        "hadolint": hadolint_cmd,
        "python -c pass": lambda f: [str(PROJECT_PYTHON), "-c", "pass"],
    }
    names = list(tools)
    walls: dict[str, list[float]] = {name: [] for name in names}
    exits: dict[str, list[int]] = {name: [] for name in names}
    # Warm the page cache and the interpreters' bytecode once, untimed.
    for name in names:
        timed(tools[name]([sample[0]]))
    for index, path in enumerate(sample):
        order = names[index % len(names) :] + names[: index % len(names)]
        for name in order:
            run = timed(tools[name]([path]))
            walls[name].append(run["wall_s"])
            exits[name].append(run["exit"])
    paired = [d / h for d, h in zip(walls["dockpin"], walls["hadolint"], strict=True)]
    stats = {name: summarize(values) for name, values in walls.items()}
    log(
        "  (b) per file median: "
        + ", ".join(f"{name} {stats[name]['median'] * 1000:.1f} ms" for name in names)
    )
    return {
        "sample_size": len(sample),
        "seed": SEED,
        "sample": sample,
        "wall_s": walls,
        "exit_codes": {name: sorted(set(codes)) for name, codes in exits.items()},
        "stats": stats,
        "dockpin_over_hadolint_median": stats["dockpin"]["median"] / stats["hadolint"]["median"],
        "dockpin_over_hadolint_paired": summarize(paired),
        "dockpin_faster_share": sum(1 for r in paired if r < 1) / len(paired),
    }


def main() -> int:
    files = corpus_files()
    missing = [f for f in files if not (CORPUS / f).is_file()]
    if missing:
        log(f"corpus incomplete: {len(missing)} files missing, e.g. {missing[:3]}")
        return 2
    log(f"  corpus: {len(files)} Dockerfiles in {CORPUS}")
    load_start = loadavg()
    result: dict[str, Any] = {"corpus": str(CORPUS), "load_start": load_start}
    result["one_process"] = one_process(files)
    result["per_file"] = per_file(files)
    result["load_end"] = loadavg()
    path = write_result("corpus", result)
    log(f"  wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
