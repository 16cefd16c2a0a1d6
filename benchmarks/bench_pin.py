"""3. Pin-all: 40 distinct images through a loopback registry behind a 50 ms proxy.

Set-up (untimed): Debian's ``docker-registry`` on loopback (tests/support/registry.py
``RegistryServer``), 40 deterministic images built with tests/support/oci.py
``build_image`` and pushed straight to it, and tests/support/proxy.py
``FaultProxy`` in front with one global ``Fault.delay(0.05)``: every request,
whatever its kind, waits 50 ms. dockpin reaches it through
``[registry] mirrors = { "docker.io" = <proxy> }``, the way a pull-through
cache is used.

Measured each round (``BENCH_PIN_ROUNDS``, default 5; the order rotates per round),
each cold run with a fresh cache folder:

* ``pin-all (cli)``: ``dockpin pin`` as a subprocess on a Dockerfile naming all 40
  (DOCKPIN_CACHE_DIR set), and the same in-process (``dockpin.cli.main``);
* ``pin-one (cli)``: ``dockpin pin`` as a subprocess on a Dockerfile naming one;
* ``resolve-one (api)``: ``RegistryClient(RegistryConfig(mirrors=..., cache_dir=fresh))
  .resolve(parse_reference(...))`` for one image;
* ``resolve-40 sequential (api)``: the same client resolving the 40 one after another;
* ``resolve-40 concurrent (api)``: the 40 through ``asyncio.gather`` (for reference);
* warm: ``dockpin pin`` again with the cache kept, on the pinned file and on a
  fresh unpinned copy; both must make zero requests.

Requests are counted by method and kind from the proxy's ``.requests`` records.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from common import DOCKPIN, ROOT, WORK, loadavg, log, summarize, write_result

sys.path.insert(0, str(ROOT / "tests"))

from dockpin.cli import main as dockpin_main
from dockpin.references import parse_reference
from dockpin.registry import RegistryClient, RegistryConfig
from support.oci import build_image
from support.proxy import Fault, FaultProxy, RecordedRequest
from support.registry import RegistryServer

ROUNDS = int(os.environ.get("BENCH_PIN_ROUNDS", "5"))
DELAY_S = 0.05
NAMES = (
    "python", "node", "golang", "rust", "ruby", "php", "openjdk", "eclipse-temurin",
    "debian", "ubuntu", "alpine", "busybox", "nginx", "httpd", "redis", "postgres",
    "mysql", "mariadb", "mongo", "memcached", "rabbitmq", "traefik", "caddy", "haproxy",
    "elasticsearch", "kibana", "logstash", "grafana", "prometheus", "consul", "vault",
    "nats", "influxdb", "telegraf", "cassandra", "zookeeper", "kafka", "tomcat", "jetty",
    "maven",
)  # fmt: skip
DIGEST_RE = re.compile(r"@(sha256:[0-9a-f]{64})")


def images() -> list[tuple[str, str]]:
    return [(name, f"{1 + i % 5}.{i}-bench") for i, name in enumerate(NAMES)]


def push_all(registry: RegistryServer) -> dict[str, str]:
    """Push the 40 images (a mix of OCI indexes, Docker manifest lists, single-platform
    manifests and indexes with attestations); ``name:tag`` -> top digest."""
    expected: dict[str, str] = {}
    for i, (name, tag) in enumerate(images()):
        if i % 8 == 0:
            image = build_image(name, attestation=True)
        elif i % 4 == 1:
            image = build_image(name, fmt="docker")
        elif i % 4 == 3:
            image = build_image(name, platforms=[("linux", "amd64", None)])
        else:
            image = build_image(name)
        expected[f"{name}:{tag}"] = registry.push(f"library/{name}", tag, image)
    return expected


def dockerfile(refs: list[str]) -> str:
    return "".join(f"FROM {ref} AS stage{i}\nRUN true\n" for i, ref in enumerate(refs))


def classify(request: RecordedRequest) -> str:
    path = request.path
    if path.rstrip("/") == "/v2":
        return "ping /v2/"
    if "/manifests/sha256:" in path:
        return "manifest by digest"
    if "/manifests/" in path:
        return "manifest by tag"
    if "/blobs/" in path:
        return "blob"
    if "/tags/" in path:
        return "tag list"
    return "other"


def request_summary(records: list[RecordedRequest]) -> dict[str, Any]:
    by_method = Counter(r.method for r in records)
    by_kind = Counter(f"{r.method} {classify(r)}" for r in records)
    arrivals = sorted(r.time for r in records)
    # Requests whose 50 ms delay overlaps: arrivals within one delay of each other.
    peak = 0
    start = 0
    for end, when in enumerate(arrivals):
        while arrivals[start] <= when - DELAY_S:
            start += 1
        peak = max(peak, end - start + 1)
    return {
        "total": len(records),
        "by_method": dict(sorted(by_method.items())),
        "by_kind": dict(sorted(by_kind.items())),
        "peak_in_flight": peak,
        "statuses": dict(Counter(str(r.status) for r in records)),
    }


class Bench:
    def __init__(self, proxy: FaultProxy, expected: dict[str, str], scratch: Path) -> None:
        self.proxy = proxy
        self.expected = expected
        self.scratch = scratch
        self.refs = list(expected)
        self.counter = 0

    def fresh_dir(self, label: str) -> Path:
        self.counter += 1
        path = self.scratch / f"{self.counter:03d}-{label}"
        path.mkdir(parents=True)
        return path

    def project(self, refs: list[str], label: str) -> Path:
        root = self.fresh_dir(label)
        (root / ".dockpin.toml").write_text(
            f'[registry]\nmirrors = {{ "docker.io" = "{self.proxy.url}" }}\n'
        )
        (root / "Dockerfile").write_text(dockerfile(refs))
        return root

    def check_pinned(self, project: Path, refs: list[str]) -> bool:
        digests = DIGEST_RE.findall((project / "Dockerfile").read_text())
        return digests == [self.expected[ref] for ref in refs]

    def measure(self, run: Callable[[], Any]) -> tuple[float, list[RecordedRequest], Any]:
        self.proxy.clear_requests()
        start = time.perf_counter()
        value = run()
        wall = time.perf_counter() - start
        time.sleep(0.01)  # let the proxy threads finish recording
        return wall, list(self.proxy.requests), value

    # -- the measurements ----------------------------------------------------------------------

    def pin_cli(self, project: Path, cache: Path) -> dict[str, Any]:
        env = dict(os.environ, DOCKPIN_CACHE_DIR=str(cache))
        wall, records, proc = self.measure(
            lambda: subprocess.run(
                [str(DOCKPIN), "pin", "."],
                cwd=project,
                env=env,
                capture_output=True,
                text=True,
                timeout=120,
                check=False,
            )
        )
        return {
            "wall_s": wall,
            "exit": proc.returncode,
            "stderr_tail": proc.stderr[-300:],
            "requests": request_summary(records),
        }

    def pin_in_process(self, project: Path, cache: Path) -> dict[str, Any]:
        os.environ["DOCKPIN_CACHE_DIR"] = str(cache)
        stderr = io.StringIO()
        try:
            with contextlib.redirect_stderr(stderr):
                wall, records, code = self.measure(lambda: dockpin_main(["pin", str(project)]))
        finally:
            del os.environ["DOCKPIN_CACHE_DIR"]
        return {
            "wall_s": wall,
            "exit": code,
            "stderr_tail": stderr.getvalue()[-300:],
            "requests": request_summary(records),
        }

    def resolve_api(self, refs: list[str], cache: Path, *, concurrent: bool) -> dict[str, Any]:
        config = RegistryConfig(mirrors={"docker.io": self.proxy.url}, cache_dir=cache)

        async def go() -> tuple[list[str], dict[str, Any]]:
            async with RegistryClient(config) as client:
                parsed = [parse_reference(ref) for ref in refs]
                if concurrent:
                    answers = await asyncio.gather(*(client.resolve(p) for p in parsed))
                else:
                    answers = [await client.resolve(p) for p in parsed]
                return [a.digest for a in answers], dict(vars(client.stats))

        wall, records, (digests, stats) = self.measure(lambda: asyncio.run(go()))
        return {
            "wall_s": wall,
            "correct": digests == [self.expected[ref] for ref in refs],
            "client_stats": stats,
            "requests": request_summary(records),
        }

    def round(self, round_no: int) -> dict[str, dict[str, Any]]:
        one = [self.refs[round_no % len(self.refs)]]
        out: dict[str, dict[str, Any]] = {}

        def pin_all_cli() -> None:
            project = self.project(self.refs, "all-cli")
            cache = self.fresh_dir("cache")
            cold = self.pin_cli(project, cache)
            cold["pinned_correctly"] = self.check_pinned(project, self.refs)
            out["pin-all (cli)"] = cold
            warm = self.pin_cli(project, cache)
            warm["pinned_correctly"] = self.check_pinned(project, self.refs)
            out["pin-all warm, pinned file (cli)"] = warm
            copy = self.project(self.refs, "all-cli-warm")
            warm_fresh = self.pin_cli(copy, cache)
            warm_fresh["pinned_correctly"] = self.check_pinned(copy, self.refs)
            out["pin-all warm, unpinned copy (cli)"] = warm_fresh

        def pin_all_in_process() -> None:
            project = self.project(self.refs, "all-inproc")
            result = self.pin_in_process(project, self.fresh_dir("cache"))
            result["pinned_correctly"] = self.check_pinned(project, self.refs)
            out["pin-all (in-process)"] = result

        def pin_one_cli() -> None:
            project = self.project(one, "one-cli")
            result = self.pin_cli(project, self.fresh_dir("cache"))
            result["pinned_correctly"] = self.check_pinned(project, one)
            out["pin-one (cli)"] = result

        def resolve_one() -> None:
            out["resolve-one (api)"] = self.resolve_api(
                one, self.fresh_dir("cache"), concurrent=False
            )

        def resolve_sequential() -> None:
            out["resolve-40 sequential (api)"] = self.resolve_api(
                self.refs, self.fresh_dir("cache"), concurrent=False
            )

        def resolve_concurrent() -> None:
            out["resolve-40 concurrent (api)"] = self.resolve_api(
                self.refs, self.fresh_dir("cache"), concurrent=True
            )

        steps = [
            pin_all_cli,
            pin_all_in_process,
            pin_one_cli,
            resolve_one,
            resolve_sequential,
            resolve_concurrent,
        ]
        k = round_no % len(steps)
        for step in steps[k:] + steps[:k]:
            step()
        return out


def run(scratch: Path) -> dict[str, Any]:
    with RegistryServer(scratch / "registry") as registry:
        expected = push_all(registry)
        log(f"  pushed {len(expected)} images to {registry.url}")
        with FaultProxy(registry.url) as proxy:
            proxy.add_fault(Fault.delay(DELAY_S))
            bench = Bench(proxy, expected, scratch / "runs")
            # Untimed warm-up: page cache, bytecode, in-process imports.
            bench.pin_cli(bench.project(bench.refs[:2], "warmup"), bench.fresh_dir("cache"))
            bench.pin_in_process(bench.project(bench.refs[:2], "warmup"), bench.fresh_dir("c"))
            rounds = []
            for round_no in range(ROUNDS):
                result = bench.round(round_no)
                rounds.append(result)
                log(
                    f"  round {round_no + 1}/{ROUNDS}: "
                    + ", ".join(f"{k} {v['wall_s']:.3f}s" for k, v in result.items())
                )
    labels = list(rounds[0])
    stats = {label: summarize([r[label]["wall_s"] for r in rounds]) for label in labels}
    per_round_ratio = [
        r["pin-all (in-process)"]["wall_s"] / r["resolve-one (api)"]["wall_s"] for r in rounds
    ]
    per_round_cli_ratio = [
        r["pin-all (cli)"]["wall_s"] / r["pin-one (cli)"]["wall_s"] for r in rounds
    ]
    return {
        "images": len(expected),
        "delay_per_request_s": DELAY_S,
        "rounds": rounds,
        "wall_s": stats,
        "ratios": {
            "pin-all (in-process) / resolve-one (api)": summarize(per_round_ratio),
            "pin-all (cli) / pin-one (cli)": summarize(per_round_cli_ratio),
            "resolve-40 sequential / pin-all (in-process)": summarize(
                [
                    r["resolve-40 sequential (api)"]["wall_s"] / r["pin-all (in-process)"]["wall_s"]
                    for r in rounds
                ]
            ),
        },
        "requests": {label: rounds[-1][label]["requests"] for label in labels},
        "all_correct": all(
            v.get("pinned_correctly", v.get("correct", False)) for r in rounds for v in r.values()
        ),
        "warm_requests_max": max(
            r[label]["requests"]["total"] for r in rounds for label in labels if "warm" in label
        ),
    }


def main() -> int:
    scratch = Path(tempfile.mkdtemp(prefix="pin-", dir=WORK))
    home = scratch / "home"
    home.mkdir()
    # No real credentials or credential helpers: an isolated HOME and DOCKER_CONFIG.
    os.environ.update(HOME=str(home), DOCKER_CONFIG=str(home / ".docker"))
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy"):
        os.environ.pop(name, None)
    try:
        result = {"load_start": loadavg(), **run(scratch), "load_end": loadavg()}
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    path = write_result("pin", result)
    log(f"  wrote {path}")
    return 0 if result["all_correct"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
