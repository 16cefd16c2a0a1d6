"""An environment for dockpin subprocesses that keeps them off the user's
real home: no ~/.docker credentials read, no cache written outside tmp."""

from __future__ import annotations

import os
from pathlib import Path


def isolated_env(tmp_path: Path) -> dict[str, str]:
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    return {
        "PATH": os.environ["PATH"],
        "HOME": str(home),
        "DOCKER_CONFIG": str(home / ".docker"),
        "XDG_RUNTIME_DIR": str(home / "run"),
        "DOCKPIN_CACHE_DIR": str(tmp_path / "cache"),
        "PYTHONPATH": os.environ.get("PYTHONPATH", ""),
    }
