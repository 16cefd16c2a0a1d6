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
import re
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


_TEMP_SUFFIX = ".dockpin"


def write_atomically(path: Path, text: str, encoding: str) -> None:
    """Replace ``path``'s content with ``text`` in one rename, keeping its mode
    and, where allowed, its owner.

    The temporary file, ``.<name>.<pid>.<random>.dockpin`` next to ``path``,
    names the process writing it, so that a later run can tell one left by a
    killed process (see :func:`remove_stale_temporaries`)."""
    info = path.stat()
    data = text.encode(encoding)
    handle, temporary = tempfile.mkstemp(
        prefix=f".{path.name}.{os.getpid()}.", suffix=_TEMP_SUFFIX, dir=path.parent
    )
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
        if hasattr(os, "chown") and (info.st_uid, info.st_gid) != (os.geteuid(), os.getegid()):
            # `sudo dockpin pin` must not hand the user's files to root. Only
            # root (or a group member) may do this; otherwise the file becomes
            # the writer's, as with any editor that saves by renaming.
            with contextlib.suppress(PermissionError):
                os.chown(temporary, info.st_uid, info.st_gid)
        os.chmod(temporary, stat.S_IMODE(info.st_mode))
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise
    _sync_folder(path.parent)


def _sync_folder(folder: Path) -> None:
    """Make the rename durable (POSIX; folders cannot be opened on Windows)."""
    try:
        handle = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(handle)
    except OSError:
        pass
    finally:
        os.close(handle)


def remove_stale_temporaries(path: Path) -> None:
    """Delete temporary files that :func:`write_atomically` left next to
    ``path`` in a process that no longer runs (killed mid-write). Those of a
    live process (another dockpin writing now) and any other file are kept."""
    pattern = re.compile(rf"\.{re.escape(path.name)}\.(\d+)\.[^.]+{re.escape(_TEMP_SUFFIX)}")
    try:
        entries = list(os.scandir(path.parent))
    except OSError:
        return
    for entry in entries:
        match = pattern.fullmatch(entry.name)
        if match is None or _process_alive(int(match.group(1))):
            continue
        with contextlib.suppress(OSError):
            if entry.is_file(follow_symlinks=False):
                os.unlink(entry.path)


def _process_alive(pid: int) -> bool:
    if sys.platform == "win32" or pid == os.getpid():
        return True  # os.kill(pid, 0) would terminate it on Windows
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (OSError, OverflowError):
        return True  # someone else's process, or cannot tell: keep the file
    return True


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
    seen: set[Path] = set()
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
        if real in seen:
            continue  # the same file through a link: pin it once
        seen.add(real)
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
        real = file.path.resolve()
        if not args.check:
            remove_stale_temporaries(real)
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
        if not os.stat(real).st_mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH):
            _say(f"{file.path}: read-only file; not changed")
            status = max(status, EXIT_CHANGES)
            continue
        try:
            # Resolving took a while: an editor may have saved the file since.
            if real.read_bytes() != file.source.text.encode(file.source.encoding):
                _say(f"{file.path}: changed while pinning; not rewritten (run again)")
                status = max(status, EXIT_CHANGES)
                continue
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
