"""What a stage does, read from its instructions: the stages it builds on,
the shell commands its RUNs execute, the packages it installs with apk, its
environment, and whether its Go build links statically.

Shared by the stage rules (DP010, DP020, DP030, DP031) so that each reads a
Dockerfile the same way. Shell is not parsed in full: commands are split at
``&&``, ``||``, ``;``, pipes, subshells and newlines, quotes are dropped, and
``VAR=value`` prefixes, ``sudo``/``env``/``exec`` wrappers and ``sh -c`` are
unwrapped. That is enough to recognise ``apk add``, ``pip install`` or
``CGO_ENABLED=0 go build`` as written in real Dockerfiles; anything cleverer
(variables holding package lists, functions) is not seen, and the rules are
written so that not seeing something means not reporting it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Literal

from dockpin.knowledge import is_alpine, official_name, runtime_version
from dockpin.syntax import Instruction, Range, Stage, key_values

_CONTINUATION_RE = re.compile(r"\\\r?\n")
_COMMENT_RE = re.compile(r"(?:^|(?<=\s))#.*$", re.MULTILINE)
_SEPARATOR_RE = re.compile(r"&&|\|\||\$\(|[;|&\n()`]")
_ASSIGNMENT_RE = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)=(.*)$")
_WRAPPERS = frozenset({"sudo", "exec", "time", "nohup", "nice", "command", "env"})
# Shell words that may precede a command: `then apk add`, `{ pip install; }`.
_KEYWORDS = frozenset({"{", "}", "!", "if", "then", "else", "elif", "do", "while", "until"})
SHELLS = frozenset({"sh", "bash", "ash", "dash", "zsh"})
# apk options that take a value as the next word.
_APK_VALUE_OPTIONS = frozenset({"-t", "--virtual", "-X", "--repository", "--root", "-p", "--arch"})
_C_TOOLCHAIN = frozenset({"build-base", "gcc", "g++", "musl-dev", "clang", "libc-dev"})


def stage_chain(stage: Stage) -> list[Stage]:
    """``stage`` and the stages it is built ``FROM``, root first."""
    chain = [stage]
    current = stage
    while current.base_kind == "stage" and current.base_stage is not None and len(chain) < 128:
        current = current.base_stage
        chain.append(current)
    chain.reverse()
    return chain


def from_argument_range(stage: Stage) -> Range:
    """The range of the image or stage name a ``FROM`` names (``scratch``,
    ``builder``, ``python:3.12``): where stage findings point."""
    if stage.base is not None:
        return stage.base.raw_range
    instruction = stage.from_instruction
    words = instruction.words()
    if not words:
        return instruction.range
    return instruction.range_of(words[0].start, words[0].end)


@dataclass(frozen=True, slots=True)
class Command:
    """One simple shell command: its ``VAR=value`` prefixes and its words."""

    env: tuple[tuple[str, str], ...]
    argv: tuple[str, ...]
    instruction: Instruction

    @property
    def program(self) -> str:
        return self.argv[0].rsplit("/", 1)[-1] if self.argv else ""

    def arguments(self) -> list[str]:
        """The words after the program that are not options."""
        return [word for word in self.argv[1:] if not word.startswith("-")]


def run_text(instruction: Instruction) -> str:
    """What a RUN executes, as shell text: an exec form's words joined, or the
    shell form with its heredoc bodies."""
    exec_form = instruction.exec_form()
    if exec_form is not None:
        return " ".join(exec_form)
    return instruction.script()


def _simple_command(words: list[str], instruction: Instruction) -> Iterator[Command]:
    env: list[tuple[str, str]] = []
    wrapped = False
    for index, word in enumerate(words):
        assignment = _ASSIGNMENT_RE.match(word)
        if assignment is not None:
            env.append((assignment.group(1), assignment.group(2)))
        elif word in _WRAPPERS:
            wrapped = True
        elif word in _KEYWORDS:
            continue
        elif wrapped and word.startswith("-"):
            continue  # `sudo -E`, `env -i`
        elif word.rsplit("/", 1)[-1] in SHELLS and "-c" in words[index + 1 :]:
            # `sh -c "pip install x"`: the quoted script is the command.
            yield from _simple_command(words[words.index("-c", index + 1) + 1 :], instruction)
            return
        else:
            yield Command(tuple(env), tuple(words[index:]), instruction)
            return


def commands(instructions: Iterable[Instruction]) -> Iterator[Command]:
    """The simple shell commands of the RUN instructions among ``instructions``."""
    for instruction in instructions:
        if instruction.keyword != "RUN":
            continue
        text = _CONTINUATION_RE.sub(" ", run_text(instruction))
        text = _COMMENT_RE.sub("", text).replace('"', " ").replace("'", " ")
        for piece in _SEPARATOR_RE.split(text):
            words = piece.split()
            if words:
                yield from _simple_command(words, instruction)


def stage_commands(stages: Iterable[Stage]) -> Iterator[Command]:
    """The shell commands of every RUN in ``stages``, in order."""
    return commands(instruction for stage in stages for instruction in stage.instructions)


@dataclass(frozen=True, slots=True)
class ApkAdd:
    """An ``apk add``: its packages (without version constraints) and the
    ``--virtual`` group name they were installed under, if any."""

    packages: tuple[str, ...]
    virtual: str | None


def apk_add(command: Command) -> ApkAdd | None:
    """The ``apk add`` a command runs, or None."""
    if command.program != "apk" or command.arguments()[:1] != ["add"]:
        return None
    packages: list[str] = []
    virtual: str | None = None
    option: str | None = None  # an option waiting for its value
    seen_add = False
    for word in command.argv[1:]:
        if option is not None:
            if option in ("-t", "--virtual"):
                virtual = word
            option = None
        elif word in _APK_VALUE_OPTIONS:
            option = word
        elif word.startswith("--virtual="):
            virtual = word.partition("=")[2]
        elif word.startswith("-"):
            continue
        elif not seen_add:
            seen_add = True
        elif "$" not in word:
            packages.append(re.split(r"[=<>~]", word, maxsplit=1)[0])
    return ApkAdd(tuple(packages), virtual)


def apk_deleted(command: Command) -> list[str]:
    """What an ``apk del`` removes (packages or ``--virtual`` group names)."""
    if command.program != "apk" or command.arguments()[:1] != ["del"]:
        return []
    return command.arguments()[1:]


def installs_c_toolchain(stages: Iterable[Stage]) -> bool:
    """Whether any RUN of ``stages`` adds a C compiler with apk."""
    return any(
        added is not None and not _C_TOOLCHAIN.isdisjoint(added.packages)
        for added in map(apk_add, stage_commands(stages))
    )


def environment(stages: Iterable[Stage], name: str) -> str | None:
    """The value ``name`` has for RUN commands of the last of ``stages``, from
    ``ENV`` or an ``ARG`` default, later definitions winning."""
    value: str | None = None
    for stage in stages:
        for instruction in stage.instructions:
            if instruction.keyword == "ENV":
                for key, env_value in key_values(instruction.args):
                    if key == name:
                        value = env_value
            elif instruction.keyword == "ARG" and any(
                word.text.partition("=")[0] == name for word in instruction.words()
            ):
                definition = stage.args.get(name)
                value = definition.value if definition is not None else value
    return value


# --------------------------------------------------------------------------
# Go builds
# --------------------------------------------------------------------------

GoLinking = Literal["static", "dynamic", "unknown"]
_GO_PROGRAMS = frozenset({"go", "xx-go"})
_STATIC_LINK_RE = re.compile(r"-extldflags[= ]+-static\b")
# Go 1.20 turned cgo off when no C compiler is installed.
_CGO_OFF_WITHOUT_COMPILER = (1, 20)


def _is_go_build(command: Command) -> bool:
    """``go build`` or ``go install`` (also through BuildKit's ``xx-go``)."""
    arguments = command.arguments()
    return command.program in _GO_PROGRAMS and arguments[:1] in (["build"], ["install"])


def _builds_static(command: Command) -> bool:
    """Flags that make a cgo-enabled build static anyway: an external static
    link, or both ``netgo`` and ``osusergo`` tags (no libc resolver or user
    lookup left)."""
    text = " ".join(command.argv)
    if _STATIC_LINK_RE.search(text):
        return True
    return {"netgo", "osusergo"} <= set(re.split(r"[\s,=]+", text))


def _cgo_value(value: str) -> GoLinking:
    if "$" in value:
        return "unknown"
    return "static" if value.strip() == "0" else "dynamic"


@dataclass(frozen=True, slots=True)
class GoBuild:
    """One ``go build`` or ``go install`` and how its binary links."""

    command: Command
    linking: GoLinking
    output: str | None  # the binary's file name when the command says; None: unknown


def _output_name(command: Command) -> str | None:
    """``app`` for ``go build -o /out/app``; ``tool`` for ``go install
    example.com/tool/v2@v2.1``; None when not written or from a variable."""
    argv = list(command.argv)
    arguments = command.arguments()
    if arguments[:1] == ["install"]:
        remote = [word for word in arguments[1:] if "@" in word]
        if not remote:
            return None
        parts = remote[0].split("@", 1)[0].rstrip("/").split("/")
        if len(parts) > 1 and re.fullmatch(r"v\d+", parts[-1]):
            parts.pop()
        return parts[-1]
    for index, word in enumerate(argv):
        path = None
        if word == "-o" and index + 1 < len(argv):
            path = argv[index + 1]
        elif word.startswith("-o="):
            path = word[3:]
        if path is not None:
            if "$" in path or path.endswith("/"):
                return None
            return path.rsplit("/", 1)[-1]
    return None


def go_builds(stages: list[Stage]) -> list[GoBuild]:
    """The Go builds in ``stages`` (a stage chain, root first), each with how
    its binary links.

    Static when cgo is off (``CGO_ENABLED=0`` from ENV, ARG, an inline
    prefix, ``export`` or ``go env -w``), when the build asks for a static
    link, or when ``xx-verify --static`` checks it. Dynamic when cgo is set
    on, or left at the default of an official golang image that has a C
    compiler (see :func:`_default_linking`). ``CGO_ENABLED`` set from a
    variable, or Go installed some other way, is unknown."""
    run_commands = list(stage_commands(stages))
    builds = [command for command in run_commands if _is_go_build(command)]
    if not builds:
        return []
    verified = any(cmd.program == "xx-verify" and "--static" in cmd.argv for cmd in run_commands)
    setting: GoLinking | None = None
    configured = environment(stages, "CGO_ENABLED")
    if configured is not None:
        setting = _cgo_value(configured)
    for command in run_commands:
        if command.program == "export" or (command.program == "go" and "env" in command.argv):
            for word in command.argv[1:]:
                if word.startswith("CGO_ENABLED="):
                    setting = _cgo_value(word.partition("=")[2])
    found: list[GoBuild] = []
    for command in builds:
        inline = dict(command.env).get("CGO_ENABLED")
        linking = _cgo_value(inline) if inline is not None else setting
        if verified or _builds_static(command):
            linking = "static"
        found.append(GoBuild(command, linking or _default_linking(stages), _output_name(command)))
    return found


def _default_linking(stages: list[Stage]) -> GoLinking:
    """cgo's default: on in the Debian golang images (they ship gcc), off in
    ``golang:*-alpine`` from Go 1.20 unless a C compiler is added. Go from
    elsewhere (apk, a tarball) depends on what else is installed: unknown."""
    kind, base = stages[0].root_image()
    if kind != "image" or base is None or base.ref is None or official_name(base.ref) != "golang":
        return "unknown"
    ref = base.ref
    if not is_alpine(ref):
        return "dynamic"
    if installs_c_toolchain(stages):
        return "dynamic"
    version = runtime_version(ref)
    if version is None:
        return "static"  # `golang:alpine`: today's Go
    major, minor = (int(part) for part in version.split("."))
    return "static" if (major, minor) >= _CGO_OFF_WITHOUT_COMPILER else "dynamic"
