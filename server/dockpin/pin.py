"""``dockpin pin``: write verified digests into Dockerfiles.

Every reference of every file is resolved concurrently through one client;
files are rewritten atomically (temporary file in the same folder, then
rename) with their encoding, line endings and permissions kept, so an
interrupted run leaves each file either old or new.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import difflib
import os
import stat
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from dockpin.config import Config, ConfigError, find_config, load_config
from dockpin.files import SourceText, UnreadableFile, discover, read_dockerfile
from dockpin.fixes import FixError, apply_edits, dedupe
from dockpin.pinning import PinResult, Resolver, pinnable, plan_pins, registry_config
from dockpin.registry import RegistryClient
from dockpin.syntax import Dockerfile, parse

EXIT_OK = 0
EXIT_CHANGES = 1
EXIT_ERROR = 2
PROGRESS_THRESHOLD = 5


def cache_dir_from_env() -> Path | None:
    """``DOCKPIN_CACHE_DIR`` overrides the per-user cache folder."""
    value = os.environ.get("DOCKPIN_CACHE_DIR")
    return Path(value) if value else None


@dataclass(slots=True)
class _File:
    path: Path
    source: SourceText
    dockerfile: Dockerfile
    config: Config


def _say(message: str) -> None:
    print(message, file=sys.stderr)


class _Progress:
    """A one-line counter on a terminal; silent when stderr is not a TTY."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.done = 0
        self.enabled = total > PROGRESS_THRESHOLD and sys.stderr.isatty()

    def step(self) -> None:
        self.done += 1
        if self.enabled:
            width = 30
            filled = width * self.done // self.total
            sys.stderr.write(
                f"\rresolving [{'#' * filled}{'.' * (width - filled)}] {self.done}/{self.total}"
            )
            sys.stderr.flush()

    def close(self) -> None:
        if self.enabled:
            sys.stderr.write("\r" + " " * 60 + "\r")
            sys.stderr.flush()


def _diff_name(side: str, path: Path) -> str:
    return path.as_posix() if path.is_absolute() else f"{side}/{path.as_posix()}"


def _inside(path: Path, roots: list[Path]) -> bool:
    return any(path == root or root in path.parents for root in roots)


def write_atomically(path: Path, text: str, encoding: str) -> None:
    """Replace ``path``'s content with ``text`` in one rename, keeping its mode."""
    mode = stat.S_IMODE(path.stat().st_mode)
    data = text.encode(encoding)
    handle, temporary = tempfile.mkstemp(
        prefix=f".{path.name}.", suffix=".dockpin", dir=path.parent
    )
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
        os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise


def run_pin(args: argparse.Namespace) -> int:
    explicit: Config | None = None
    if args.config:
        try:
            explicit = load_config(Path(args.config))
        except ConfigError as exc:
            _say(f"dockpin: {exc}")
            return EXIT_ERROR

    roots = [
        Path(p).resolve() if Path(p).is_dir() else Path(p).resolve().parent for p in args.paths
    ]
    files: list[_File] = []
    failed = False
    configs: dict[Path | None, Config] = {}
    for path, problem in discover(args.paths):
        if problem is not None:
            _say(f"dockpin: {path}: {problem}")
            failed = True
            continue
        real = path.resolve()
        if path.is_symlink() and not _inside(real, roots):
            _say(f"dockpin: {path}: symlink to {real}, outside the given folders; not followed")
            failed = True
            continue
        try:
            if explicit is not None:
                config = explicit
            else:
                found = find_config(path)
                if found not in configs:
                    configs[found] = load_config(found) if found else Config()
                config = configs[found]
        except ConfigError as exc:
            _say(f"dockpin: {exc}")
            return EXIT_ERROR
        try:
            source = read_dockerfile(real)
        except UnreadableFile as exc:
            _say(f"dockpin: {path}: {exc}")
            failed = True
            continue
        if source.lossy:
            _say(f"dockpin: {path}: not valid UTF-8; not rewritten (it would lose bytes)")
            failed = True
            continue
        files.append(_File(path, source, parse(source.text), config))

    if not files:
        if not failed:
            _say("dockpin: no Dockerfiles found in " + ", ".join(args.paths))
        return EXIT_ERROR if failed else EXIT_OK

    offline = args.offline or all(f.config.offline for f in files)
    if offline:
        _say("dockpin: offline: using cached digests only")
    results = asyncio.run(_resolve_all(files, update=args.update, offline=args.offline))
    status = EXIT_ERROR if failed else EXIT_OK
    changed_files = 0
    for file, file_results in zip(files, results, strict=True):
        for result in file_results:
            if result.problem is not None:
                _say(f"{file.path}: cannot pin {result.reference.value}: {result.problem}")
                status = max(status, EXIT_CHANGES)
        edits = dedupe(r.edit for r in file_results if r.edit is not None)
        if not edits:
            continue
        try:
            new_text = apply_edits(file.source.text, edits)
        except FixError as exc:
            _say(f"{file.path}: {exc}; not changed")
            status = max(status, EXIT_CHANGES)
            continue
        if new_text == file.source.text:
            continue
        changed_files += 1
        if args.diff:
            sys.stdout.writelines(
                difflib.unified_diff(
                    file.source.text.splitlines(keepends=True),
                    new_text.splitlines(keepends=True),
                    fromfile=_diff_name("a", file.path),
                    tofile=_diff_name("b", file.path),
                )
            )
        if args.check:
            _say(f"{file.path}: {len(edits)} reference(s) would be pinned")
            status = max(status, EXIT_CHANGES)
            continue
        real = file.path.resolve()
        if not os.stat(real).st_mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH):
            _say(f"{file.path}: read-only file; not changed")
            status = max(status, EXIT_CHANGES)
            continue
        try:
            write_atomically(real, new_text, file.source.encoding)
        except OSError as exc:
            _say(f"{file.path}: cannot write: {exc.strerror or exc}")
            status = EXIT_ERROR
            continue
        _say(f"{file.path}: pinned {len(edits)} reference(s)")
    if changed_files == 0 and status == EXIT_OK:
        _say("dockpin: every image is pinned" + (" and current" if args.update else ""))
    return status


async def _resolve_all(files: list[_File], *, update: bool, offline: bool) -> list[list[PinResult]]:
    # One client per distinct registry configuration; usually exactly one.
    clients: dict[int, tuple[RegistryClient, Resolver]] = {}
    total = sum(len(pinnable(f.dockerfile)) for f in files)
    progress = _Progress(total)
    try:
        for file in files:
            key = id(file.config)
            if key not in clients:
                client = RegistryClient(
                    registry_config(file.config, offline=offline, cache_dir=cache_dir_from_env())
                )
                await client.__aenter__()
                clients[key] = (client, Resolver(client, fresh=update))

        async def one(file: _File) -> list[PinResult]:
            resolver = clients[id(file.config)][1]
            results = await plan_pins(resolver, file.dockerfile, update=update)
            for _ in results:
                progress.step()
            return results

        return list(await asyncio.gather(*(one(f) for f in files)))
    finally:
        progress.close()
        for client, _ in clients.values():
            await client.__aexit__(None, None, None)
