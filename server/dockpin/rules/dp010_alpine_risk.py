"""DP010 alpine-risk: an Alpine (musl) stage that runs Python, Node.js or
Java, or compiles native extensions against musl.

What fires, per stage whose root image is Alpine (following ``FROM <stage>``):

- its image carries a Python, Node.js or Java runtime (``python:3.12-alpine``,
  ``node:lts-alpine``, ``eclipse-temurin:21-jre-alpine``, ``maven:*-alpine``);
- a RUN installs one with apk (``python3``, ``py3-*``, ``nodejs``, ``npm``,
  ``openjdk17``...), or an ENV sets ``JAVA_HOME`` (a JVM copied in, often a
  jlink runtime built on glibc);
- a RUN installs packages that may carry native extensions: ``pip``/``uv``/
  ``poetry``/``pipenv`` install, ``npm``/``pnpm`` install or ci, ``yarn``,
  ``gem``/``bundle install``;
- a RUN builds Go with cgo on (a C compiler added, ``CGO_ENABLED`` not 0):
  the guide allows Alpine for Go only with ``CGO_ENABLED=0``.

Judgment calls, checked against the 1441-file corpus:

- A C toolchain alone (``apk add build-base gcc musl-dev`` then ``make``) does
  not fire. Compiling a C program for musl is what Alpine is for: the
  docker-library redis/nginx/postgres Alpine variants do exactly that. The
  toolchain only matters next to an interpreter or Go, which fire anyway.
- Packages added in an ``apk add --virtual NAME`` group that the stage
  deletes again are build-only (node's own Alpine build needs python3 for
  gyp; postgres needs python3-dev for PL/Python headers) and do not fire.
- Static Go (``CGO_ENABLED=0``, or ``golang:*-alpine`` without a compiler) and
  Rust (musl targets link statically by default) never fire, nor does a
  stage that only receives a binary (COPY + ENTRYPOINT) or serves files.
- An interpreter built from source in ``FROM alpine`` (how docker-library
  defines ``python:*-alpine`` itself) fires only when the stage visibly uses
  it (``pip install``, ``JAVA_HOME``): the 3.10/3.11 python and the Temurin
  Alpine definitions do, the others do not. It is Python/Java on musl, so
  the finding is true, and users of those images are flagged at their own
  ``FROM python:*-alpine`` anyway.
- BellSoft Alpaquita/Liberica musl images are musl but not Alpine: BellSoft
  tunes their musl for Java, and the guide recommends them for it.
- Build stages count too: ``npm ci`` or ``pip install`` there compiles native
  modules for musl, and the result is often copied into a glibc image.

A stage is reported once, where the risk first appears: stages built
``FROM`` an already reported stage inherit it silently. The finding covers the
stage's ``FROM`` argument and carries the root image reference for fixes.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace

from dockpin.knowledge import Runtime, glibc_alternative, is_alpine, runtime_of, short_form
from dockpin.rules.base import Finding, Rule, RuleContext, Severity
from dockpin.rules.stage_facts import (
    ApkAdd,
    Command,
    apk_add,
    apk_deleted,
    commands,
    from_argument_range,
    go_builds,
    stage_chain,
)
from dockpin.syntax import ImageReference, Stage, key_values

_RUNTIME_PACKAGES: tuple[tuple[re.Pattern[str], Runtime], ...] = (
    (re.compile(r"^(?:python[23]?(?:-dev)?|py3?-.+)$"), "python"),
    (re.compile(r"^(?:nodejs(?:-current|-lts)?|npm|yarn)$"), "node"),
    (re.compile(r"^(?:openjdk|temurin-)\d+"), "java"),
)
_JAVA_PACKAGE_VERSION_RE = re.compile(r"^(?:openjdk|temurin-)(\d+)")

RISKS: dict[Runtime, str] = {
    "python": "pip must compile many packages from source (manylinux wheels do not fit "
    "musl) and musl's allocator is slow under threads",
    "node": "native npm modules must be rebuilt for musl and its DNS resolver behaves "
    "unlike glibc's",
    "java": "JVM thread stacks and memory allocation behave differently on musl "
    "(stack overflows, slow allocation)",
    "ruby": "gems with C extensions compile from source against musl, whose allocator "
    "is slow under threads",
    "go": "cgo links the binary against musl (a different DNS resolver, a slow allocator)",
}
# What to suggest when the runtime did not come from a known image.
_DEFAULT_ALTERNATIVES: dict[Runtime, str] = {
    "python": "python:3-slim",
    "node": "node:lts-slim",
    "java": "eclipse-temurin:21-jre",
    "ruby": "ruby:slim",
    "go": "a Debian golang image",
}


@dataclass(frozen=True, slots=True)
class _Signal:
    runtime: Runtime
    how: str  # "" for the image itself, else what the stage does
    alternative: str | None = None  # a glibc image; None: the runtime's default

    @property
    def advice(self) -> str:
        alternative = self.alternative or _DEFAULT_ALTERNATIVES[self.runtime]
        if self.runtime == "go":
            return f"set CGO_ENABLED=0 or build on {alternative}"
        return f"use {alternative}"


def _package_install(command: Command) -> tuple[Runtime, str] | None:
    """A package install that may compile native extensions: the runtime they
    extend and how the command reads (``pip install``, ``npm ci``)."""
    program = command.program
    arguments = command.arguments()
    first = arguments[0] if arguments else ""
    bare = len(command.argv) == 1  # `yarn` and `bundle` alone install
    if re.fullmatch(r"pip[\d.]*", program) and first == "install":
        return "python", f"{program} install"
    if re.fullmatch(r"python[\d.]*", program) and arguments[:2] == ["pip", "install"]:
        return "python", "pip install"
    if program == "uv" and arguments[:2] == ["pip", "install"]:
        return "python", "uv pip install"
    if program == "uv" and first == "sync":
        return "python", "uv sync"
    if program in ("poetry", "pipenv") and first == "install":
        return "python", f"{program} install"
    if program in ("npm", "pnpm") and first in ("install", "i", "ci"):
        return "node", f"{program} {first}"
    if program == "yarn" and (bare or first == "install"):
        return "node", "yarn install"
    if program == "gem" and first == "install":
        return "ruby", "gem install"
    if program == "bundle" and (bare or first == "install"):
        return "ruby", "bundle install"
    return None


def _apk_signals(added: ApkAdd) -> Iterator[_Signal]:
    for package in added.packages:
        for pattern, runtime in _RUNTIME_PACKAGES:
            if pattern.match(package):
                java = _JAVA_PACKAGE_VERSION_RE.match(package)
                alternative = f"eclipse-temurin:{java.group(1)}-jre" if java else None
                yield _Signal(runtime, f" and this stage installs {package} with apk", alternative)


def _instruction_signals(stage: Stage) -> Iterator[_Signal]:
    """Runtimes the stage's own instructions bring in or use."""
    for instruction in stage.instructions:
        # A JVM copied in (often a jlink runtime built on glibc) announces itself so.
        if instruction.keyword == "ENV" and any(
            key == "JAVA_HOME" for key, _ in key_values(instruction.args)
        ):
            yield _Signal("java", " and this stage sets JAVA_HOME")
    stage_commands = list(commands(stage.instructions))
    # Packages in an `apk add --virtual NAME` group that is deleted again were
    # only needed to compile something (node's own build needs python3).
    deleted = {name for command in stage_commands for name in apk_deleted(command)}
    for command in stage_commands:
        added = apk_add(command)
        if added is not None and added.virtual not in deleted:
            yield from _apk_signals(added)
        install = _package_install(command)
        if install is not None:
            yield _Signal(install[0], f" and `{install[1]}` here builds native extensions for it")


def _signals(chain: list[Stage], root: ImageReference) -> Iterator[_Signal]:
    """Why the last stage of ``chain`` is at risk on musl, most telling first."""
    assert root.ref is not None
    stage = chain[-1]
    runtime = runtime_of(root.ref)
    if stage.base_kind == "image" and runtime in ("python", "node", "java"):
        yield _Signal(runtime, "", glibc_alternative(root.ref))
    for signal in _instruction_signals(stage):
        if signal.alternative is None and signal.runtime == runtime:
            # `bundle install` on ruby:3.3-alpine: ruby:3.3-slim, not any Ruby.
            signal = replace(signal, alternative=glibc_alternative(root.ref))
        yield signal
    if any(
        build.linking == "dynamic" and build.command.instruction in stage.instructions
        for build in go_builds(chain)
    ):
        go_alternative = glibc_alternative(root.ref) if runtime == "go" else None
        yield _Signal("go", " and builds Go with cgo", go_alternative)


def check(context: RuleContext, rule: Rule) -> Iterable[Finding]:
    reported: set[int] = set()
    for stage in context.dockerfile.stages:
        chain = stage_chain(stage)
        if any(ancestor.index in reported for ancestor in chain[:-1]):
            continue
        kind, root = stage.root_image()
        if kind != "image" or root is None or root.ref is None or not is_alpine(root.ref):
            continue
        signal = next(_signals(chain, root), None)
        if signal is None:
            continue
        risk = RISKS[signal.runtime]
        message = f"{short_form(root.ref)} uses musl{signal.how}: {risk}; {signal.advice}"
        reported.add(stage.index)
        yield rule.finding(
            message,
            from_argument_range(stage),
            reference=root,
            stage=stage,
            instruction=stage.from_instruction,
        )


RULE = Rule(
    code="DP010",
    name="alpine-risk",
    severity=Severity.WARNING,
    summary="Alpine (musl) stage running Python, Node.js or Java, or building native extensions",
    help=(
        "musl's allocator is slow under threads, its DNS resolver differs from glibc's, many "
        "Python wheels and npm native modules must be compiled for it, and JVM thread stacks "
        "differ. Use a Debian slim image (python:3.12-slim, node:22-bookworm-slim, "
        "eclipse-temurin:21-jre). Alpine is fine for Go with CGO_ENABLED=0, static Rust, and "
        "services without native dependencies."
    ),
    check=check,
)
