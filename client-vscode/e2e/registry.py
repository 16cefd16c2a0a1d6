"""A real docker-registry on loopback for the VS Code end-to-end test.

Run with the project's venv Python (it reuses tests/support):

    .venv/bin/python client-vscode/e2e/registry.py WORK_DIR

Pushes deterministic images, asks skopeo (independent of dockpin) for their
digests, prints one JSON line

    {"url": "http://127.0.0.1:PORT", "slow_url": "http://127.0.0.1:PORT2",
     "digests": {"python:3.12": "sha256:...", ...}}

and serves until stdin closes or it gets SIGTERM/SIGINT. ``slow_url`` is a
proxy in front of the same registry that delays every manifest request, so
the editor's "resolving" progress stays visible long enough to be seen.
"""

from __future__ import annotations

import json
import signal
import sys
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests"))

from support.oci import build_image  # noqa: E402
from support.proxy import Fault, FaultProxy  # noqa: E402
from support.registry import RegistryServer, skopeo_digest  # noqa: E402

# (Docker Hub short name, repository, tag): "python:3.12" is the one the
# quick fix pins; all six make a Dockerfile with more references than the
# server's progress threshold (5).
IMAGES = [
    ("python:3.12", "library/python", "3.12"),
    ("python:3.11", "library/python", "3.11"),
    ("node:22", "library/node", "22"),
    ("golang:1.23", "library/golang", "1.23"),
    ("nginx:1.27", "library/nginx", "1.27"),
    ("redis:7.4", "library/redis", "7.4"),
]
SLOW_MANIFEST_DELAY = 1.5  # seconds per manifest request through slow_url


def main() -> int:
    work = Path(sys.argv[1])
    work.mkdir(parents=True, exist_ok=True)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())

    registry = RegistryServer(work / "registry").start()
    proxy = FaultProxy(registry.url)
    try:
        for short, repo, tag in IMAGES:
            registry.push(repo, tag, build_image(short.split(":")[0], salt=short))
        digests = {short: skopeo_digest(registry.host, repo, tag) for short, repo, tag in IMAGES}
        proxy.add_fault(Fault.delay(SLOW_MANIFEST_DELAY, path=r"/manifests/"))
        proxy.start()
        print(
            json.dumps({"url": registry.url, "slow_url": proxy.url, "digests": digests}),
            flush=True,
        )
        # Serve until told to stop: SIGTERM, or the parent closing our stdin.
        threading.Thread(target=lambda: (sys.stdin.read(), stop.set()), daemon=True).start()
        stop.wait()
    finally:
        proxy.stop()
        registry.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
