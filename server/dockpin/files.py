"""Finding Dockerfiles on disk and reading them safely.

Shared by ``dockpin check`` and ``dockpin pin``: the same discovery rules, the
same refusal of binary or oversized files, and a decoded text that remembers
how to write itself back (encoding, BOM) without losing a byte.
"""

from __future__ import annotations

import fnmatch
import os
import stat
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

DOCKERFILE_PATTERNS = (
    "Dockerfile",
    "dockerfile",
    "Containerfile",
    "containerfile",
    "*.Dockerfile",
    "*.dockerfile",
    "Dockerfile.*",
    "dockerfile.*",
    "Containerfile.*",
)
# Folders that hold other people's code or tool state, never the user's images.
SKIPPED_DIRS = frozenset(
    {
        ".git",
        ".hg",
        ".svn",
        ".bzr",
        "node_modules",
        "vendor",
        "third_party",
        ".venv",
        "venv",
        "__pycache__",
        ".tox",
        ".mypy_cache",
        ".ruff_cache",
        ".pytest_cache",
    }
)
# Template and tooling files that match the patterns but are not Dockerfiles.
_NOT_DOCKERFILE_SUFFIXES = (
    ".md",
    ".template",
    ".tmpl",
    ".j2",
    ".jinja",
    ".go",
    ".dockerignore",
    ".orig",
    ".rej",
    ".bak",
    ".swp",
)
MAX_FILE_BYTES = 20 * 1024 * 1024


def is_dockerfile_name(name: str) -> bool:
    if name.endswith(_NOT_DOCKERFILE_SUFFIXES):
        return False
    return any(fnmatch.fnmatchcase(name, pattern) for pattern in DOCKERFILE_PATTERNS)


def discover(paths: Sequence[str]) -> Iterator[tuple[Path, str | None]]:
    """Yield (path, problem) for every Dockerfile named or found under a
    folder; ``problem`` is set when a named path does not exist."""
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            yield from ((found, None) for found in _walk(path))
        elif path.exists():
            yield path, None
        else:
            yield path, "no such file or directory"


def _walk(root: Path) -> Iterator[Path]:
    found: list[Path] = []
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d not in SKIPPED_DIRS)
        for name in files:
            if is_dockerfile_name(name) and not _is_special(Path(folder) / name):
                found.append(Path(folder) / name)
    yield from sorted(found)


def _is_special(path: Path) -> bool:
    """A FIFO, socket or device: reading one found by a folder search could
    block forever (a named pipe with no writer). Named explicitly, it is read."""
    try:
        mode = path.stat().st_mode
    except OSError:
        return False  # reading it reports the problem
    return not (stat.S_ISREG(mode) or stat.S_ISDIR(mode))


@dataclass(frozen=True, slots=True)
class SourceText:
    text: str
    encoding: str  # "utf-8" or "utf-8-sig"; writes use the same
    lossy: bool  # not valid UTF-8: decoded with replacement characters


class UnreadableFile(Exception):
    """A file that cannot be checked, with a message for the user.

    ``not_dockerfile`` marks a file skipped for what it holds (binary data, an
    oversized file) rather than because it could not be read: a folder search
    that matched such a file by name passes over it without failing."""

    def __init__(self, message: str, *, not_dockerfile: bool = False) -> None:
        super().__init__(message)
        self.not_dockerfile = not_dockerfile


def read_dockerfile(path: Path) -> SourceText:
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise UnreadableFile(f"cannot read: {exc.strerror or exc}") from exc
    if size > MAX_FILE_BYTES:
        raise UnreadableFile(
            f"skipped: {size / 1024 / 1024:.1f} MB is larger than the "
            f"{MAX_FILE_BYTES // 1024 // 1024} MB limit for a Dockerfile",
            not_dockerfile=True,
        )
    try:
        data = path.read_bytes()
    except IsADirectoryError as exc:
        raise UnreadableFile("is a directory") from exc
    except OSError as exc:
        raise UnreadableFile(f"cannot read: {exc.strerror or exc}") from exc
    return decode(data)


def decode(data: bytes) -> SourceText:
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        # Saved as UTF-16 (a Windows editor's "Unicode"): text, but not what
        # docker build reads, and full of NUL bytes.
        raise UnreadableFile(
            "UTF-16 text: docker build reads a Dockerfile as UTF-8; save it as UTF-8"
        )
    if b"\x00" in data[:8192]:
        raise UnreadableFile(
            "skipped: binary file (contains NUL bytes), not a Dockerfile", not_dockerfile=True
        )
    encoding = "utf-8-sig" if data.startswith(b"\xef\xbb\xbf") else "utf-8"
    try:
        return SourceText(data.decode(encoding), encoding, lossy=False)
    except UnicodeDecodeError:
        return SourceText(data.decode(encoding, errors="replace"), encoding, lossy=True)
