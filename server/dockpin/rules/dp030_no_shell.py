"""DP030 no-shell: an instruction needs ``/bin/sh`` in a stage that has none.

A stage has no shell when its root image (following ``FROM <stage>``) is
``scratch`` or a distroless family (gcr.io/distroless, Chainguard runtime
images, .NET chiseled, Azure Linux distroless), except their ``:debug`` /
``-dev`` tags, which add busybox.

What fires, on the stage's own instructions:

- shell-form ``RUN``, ``CMD``, ``ENTRYPOINT`` and ``HEALTHCHECK CMD``: Docker
  wraps them in ``/bin/sh -c``. The build fails (RUN) or the container does
  (CMD, ENTRYPOINT, health check; a shell-form CMD after an exec-form
  ENTRYPOINT is passed as ``/bin/sh -c ...`` arguments, also wrong);
- exec-form instructions whose program is a shell (``["sh", "-c", ...]``).

Exec-form ``RUN ["/app", "--migrate"]`` is left alone: BuildKit runs it
without a shell, so it works when the binary is there.

The author may have supplied a shell: a ``SHELL`` instruction, a COPY/ADD of
busybox or a shell binary, an ADD of a root filesystem tarball (how
``busybox`` and ``debian`` themselves are built ``FROM scratch``), or a COPY of
another image's whole ``/``. From there on, the stage is trusted.

Findings cover the offending instruction.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable

from dockpin.knowledge import is_shell_less, short_form
from dockpin.rules.base import Finding, Rule, RuleContext, Severity
from dockpin.rules.stage_facts import SHELLS, stage_chain
from dockpin.syntax import Instruction, json_string_array

_SHELL_BINARIES = SHELLS | {"busybox"}
_ARCHIVE_RE = re.compile(r"\.(?:tar|tgz|txz|tbz2?|tar\.(?:gz|xz|bz2|zst))$")
_SHELL_SYNTAX_RE = re.compile(r"[$&|;<>*?`'\"()\\\[\]{}~#]")


def _basename(path: str) -> str:
    return path.rstrip("/").rsplit("/", 1)[-1]


def _supplies_shell(instruction: Instruction) -> bool:
    """Whether ``instruction`` gives the stage a shell (see the module doc)."""
    if instruction.keyword == "SHELL":
        return True
    if instruction.keyword not in ("COPY", "ADD"):
        return False
    exec_form = instruction.exec_form()
    if exec_form is not None:
        paths = exec_form
    else:
        paths = [word.text.strip("\"'") for word in instruction.words()]
    if len(paths) < 2:
        return False
    sources, destination = paths[:-1], paths[-1]
    if any(_basename(path) in _SHELL_BINARIES for path in [*sources, destination]):
        return True
    if instruction.flag("from") is not None and "/" in sources:
        return True  # another image's whole filesystem
    return instruction.keyword == "ADD" and any(_ARCHIVE_RE.search(path) for path in sources)


def _command_of(instruction: Instruction) -> tuple[str, list[str] | None] | None:
    """(shell-form text, exec-form words) of what an instruction runs, or None
    when it runs nothing (other keywords, ``HEALTHCHECK NONE``)."""
    keyword = instruction.keyword
    if keyword in ("RUN", "CMD", "ENTRYPOINT"):
        return instruction.args, instruction.exec_form()
    if keyword == "HEALTHCHECK":
        text = instruction.args
        if text[:3].upper() != "CMD":
            return None
        body = text[3:].strip()
        return body, json_string_array(body)
    return None


def _problem(instruction: Instruction, base: str) -> str | None:
    command = _command_of(instruction)
    if command is None:
        return None
    text, exec_words = command
    keyword = "HEALTHCHECK CMD" if instruction.keyword == "HEALTHCHECK" else instruction.keyword
    if exec_words is None:
        if instruction.keyword == "RUN":
            advice = "run it in a build stage and COPY the result in"
        elif text and not text.startswith("-") and _SHELL_SYNTAX_RE.search(text) is None:
            advice = f"use the exec form: {keyword} {json.dumps(text.split())}"
        else:
            advice = f'use the exec form, {keyword} ["/app", "arg"]'
        return f"{keyword} in shell form runs /bin/sh -c, but {base} has no shell: {advice}"
    program = exec_words[0] if exec_words else ""
    if _basename(program) in SHELLS:
        return f"{keyword} runs {program}, but {base} has no shell: run the program directly"
    return None


def check(context: RuleContext, rule: Rule) -> Iterable[Finding]:
    for stage in context.dockerfile.stages:
        kind, root = stage.root_image()
        if kind == "scratch":
            base = "scratch"
        elif (
            kind == "image"
            and root is not None
            and root.ref is not None
            and is_shell_less(root.ref)
        ):
            base = short_form(root.ref)
        else:
            continue
        ancestors = stage_chain(stage)[:-1]
        if any(_supplies_shell(i) for ancestor in ancestors for i in ancestor.instructions):
            continue
        for instruction in stage.instructions:
            if _supplies_shell(instruction):
                break
            message = _problem(instruction, base)
            if message is not None:
                yield rule.finding(message, instruction.range, stage=stage, instruction=instruction)


RULE = Rule(
    code="DP030",
    name="no-shell",
    severity=Severity.ERROR,
    summary="Shell-form RUN, CMD or ENTRYPOINT in a scratch or distroless stage",
    help=(
        "scratch and distroless images have no /bin/sh, so shell-form instructions fail. "
        "Run build steps in an earlier stage and COPY the result in; write CMD and "
        'ENTRYPOINT in exec form (ENTRYPOINT ["/app"]). Use a :debug distroless tag only '
        "for debugging."
    ),
    check=check,
)
