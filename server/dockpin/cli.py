"""``dockpin`` command line: ``check`` for CI, ``pin`` to rewrite files, ``lsp``
for editors.

A thin adapter over the core: it maps files and flags onto
:func:`dockpin.analysis.analyze`, :mod:`dockpin.pinning` and the renderers.

Heavy stacks (httpx for the registry, pygls for the server) are imported
only by the subcommands that use them, so ``dockpin check --offline`` starts
fast enough to run once per file from pre-commit.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from dockpin import __version__

EXIT_OK = 0
EXIT_FINDINGS = 1
EXIT_ERROR = 2

_FAIL_ON = {"error": 1, "warning": 2, "info": 3, "never": 0}


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dockpin",
        description="Keep Dockerfile base images pinned, verified and right-sized.",
    )
    parser.add_argument("--version", action="version", version=f"dockpin {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    check = commands.add_parser(
        "check",
        help="report unpinned, risky or oversized base images",
        description="Check Dockerfiles. Exit 0 when clean, 1 when a finding reaches "
        "--fail-on, 2 on a usage or I/O error.",
    )
    check.add_argument(
        "paths",
        nargs="*",
        default=["."],
        metavar="PATH",
        help="Dockerfiles or folders to search (default: .)",
    )
    check.add_argument("--format", choices=("text", "json", "sarif"), default="text")
    check.add_argument(
        "--fail-on",
        choices=tuple(_FAIL_ON),
        default="warning",
        help="lowest severity that makes the exit code 1 (default: warning)",
    )
    check.add_argument(
        "--offline",
        action="store_true",
        help="do not ask registries (skips DP004 stale-digest, DP005 missing-image)",
    )
    check.add_argument("--config", metavar="PATH", help="use this .dockpin.toml")
    check.add_argument("--output", "-o", metavar="FILE", help="write the report to FILE")

    pin = commands.add_parser(
        "pin",
        help="insert verified @sha256 digests into Dockerfiles",
        description="Resolve every image tag to the digest it points to now and write it "
        "into the files.",
    )
    pin.add_argument("paths", nargs="*", default=["."], metavar="PATH")
    pin.add_argument(
        "--check", action="store_true", help="write nothing; exit 1 if anything would change"
    )
    pin.add_argument("--diff", action="store_true", help="print a unified diff of the changes")
    pin.add_argument("--update", action="store_true", help="also refresh stale digests")
    pin.add_argument("--offline", action="store_true", help="use cached digests only")
    pin.add_argument("--config", metavar="PATH", help="use this .dockpin.toml")

    lsp = commands.add_parser(
        "lsp",
        help="run the language server (stdio by default)",
        description="Speak the Language Server Protocol over stdio (or TCP) for editors.",
    )
    lsp.add_argument("--stdio", action="store_true", help="use stdio (the default)")
    lsp.add_argument("--tcp", metavar="HOST:PORT", help="listen on TCP instead of stdio")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = _build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help(sys.stderr)
        return EXIT_ERROR
    if args.command == "check":
        return run_check(args)
    if args.command == "pin":
        from dockpin.pin import run_pin

        return run_pin(args)
    from dockpin.lsp import run_server

    return run_server(args.tcp)


def _error(message: str) -> None:
    print(f"dockpin: {message}", file=sys.stderr)


def _display_path(path: Path) -> str:
    # A file name that is not valid UTF-8 is shown with replacement characters:
    # reports must encode (JSON, SARIF, a UTF-8 console) whatever the name.
    return os.fsencode(path.as_posix()).decode("utf-8", errors="replace")


def _write_stdout(text: str) -> None:
    """Write a report even to a console that cannot encode every character
    (``PYTHONIOENCODING=ascii``, a Windows code page): never a traceback."""
    try:
        sys.stdout.write(text)
    except UnicodeEncodeError:
        buffer = getattr(sys.stdout, "buffer", None)
        if buffer is not None:  # JSON and SARIF are UTF-8 whatever the console
            sys.stdout.flush()
            buffer.write(text.encode("utf-8"))
            buffer.flush()
        else:
            encoding = getattr(sys.stdout, "encoding", None) or "ascii"
            sys.stdout.write(text.encode(encoding, "backslashreplace").decode(encoding))


def run_check(args: argparse.Namespace) -> int:
    from dockpin.analysis import analyze
    from dockpin.config import Config, ConfigError, find_config, load_config
    from dockpin.facts import RegistryFacts
    from dockpin.files import UnreadableFile, discover, read_dockerfile
    from dockpin.report import RENDERERS, FileReport
    from dockpin.syntax import Dockerfile, parse

    explicit_config: Config | None = None
    if args.config:
        try:
            explicit_config = load_config(Path(args.config))
        except ConfigError as exc:
            _error(str(exc))
            return EXIT_ERROR
    configs: dict[Path | None, Config] = {}

    def config_for(path: Path) -> Config:
        if explicit_config is not None:
            return explicit_config
        found = find_config(path)
        if found not in configs:
            configs[found] = load_config(found) if found is not None else Config()
        return configs[found]

    reports: list[FileReport] = []
    failed = False
    threshold = _FAIL_ON[args.fail_on]
    worst = 0
    parsed: list[tuple[str, Dockerfile, Config]] = []
    named = {Path(raw) for raw in args.paths}
    for path, problem in discover(args.paths):
        shown = _display_path(path)
        if problem is not None:
            _error(f"{shown}: {problem}")
            failed = True
            continue
        try:
            config = config_for(path)
        except ConfigError as exc:
            _error(str(exc))
            return EXIT_ERROR
        try:
            source = read_dockerfile(path)
        except UnreadableFile as exc:
            if exc.not_dockerfile and path not in named:
                # Matched a folder search by name only (Dockerfile.tar.gz):
                # say so, but it is no I/O error of a file the user named.
                _error(f"note: {shown}: {exc}")
                continue
            _error(f"{shown}: {exc}")
            failed = True
            continue
        if source.lossy:
            _error(f"{shown}: not valid UTF-8; checked with undecodable bytes replaced")
        parsed.append((shown, parse(source.text), config))

    facts: list[RegistryFacts | None] = [None] * len(parsed)
    online = [i for i, (_, _, config) in enumerate(parsed) if not (args.offline or config.offline)]
    if online:
        from dockpin.online import facts_for_files

        answers, notes = facts_for_files([(parsed[i][1], parsed[i][2]) for i in online])
        for index, answer in zip(online, answers, strict=True):
            facts[index] = answer
        for note in notes:
            _error(f"note: {note}")

    for (shown, dockerfile, config), file_facts in zip(parsed, facts, strict=True):
        findings = analyze(dockerfile, config, file_facts)
        if findings:
            reports.append(FileReport(shown, dockerfile.lines, findings))
            worst_here = min(int(f.severity) for f in findings)
            worst = worst_here if worst == 0 else min(worst, worst_here)

    rendered = RENDERERS[args.format](reports)
    if args.output:
        try:
            Path(args.output).write_text(rendered, encoding="utf-8")
        except OSError as exc:
            _error(f"cannot write {args.output}: {exc.strerror or exc}")
            return EXIT_ERROR
    else:
        _write_stdout(rendered)
    if not parsed and not failed:
        _error("no Dockerfiles found in " + ", ".join(args.paths))
    if failed:
        return EXIT_ERROR
    if threshold and worst and worst <= threshold:
        return EXIT_FINDINGS
    return EXIT_OK


if __name__ == "__main__":
    raise SystemExit(main())
