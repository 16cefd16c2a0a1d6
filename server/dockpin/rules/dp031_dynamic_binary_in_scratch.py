"""DP031 dynamic-binary-in-scratch: the final stage has no C library
(``scratch``, ``gcr.io/distroless/static*``, ``cgr.dev/chainguard/static``)
but copies a Go binary built with cgo left on, which links libc dynamically
and fails to start there ("no such file or directory" for the loader).

A copied-from stage (``COPY --from=<name or index>``) counts as a Go build
when a RUN in it or the stages it is built ``FROM`` runs ``go build`` or
``go install``. How that build links is decided in
:func:`dockpin.rules.stage_facts.go_builds`: static with ``CGO_ENABLED=0``
(ENV, ARG default, inline, ``export``, ``go env -w``), ``-extldflags -static``,
``-tags netgo,osusergo`` or ``xx-verify --static``; dynamic when cgo is on,
either explicitly or by default in the Debian golang images (which ship gcc).
``golang:*-alpine`` has no C compiler, so since Go 1.20 cgo is off there unless
one is installed. Go installed any other way, or ``CGO_ENABLED`` set from a
variable, is not judged.

COPYs of certificates, time zones or passwd files (under ``/etc`` or
``/usr/share``) are not binaries and do not count. The finding covers the
final stage's ``FROM`` argument (``scratch`` has no image reference) and
carries the first offending COPY.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from dockpin.knowledge import is_static_base, short_form
from dockpin.rules.base import Finding, Rule, RuleContext, Severity
from dockpin.rules.stage_facts import GoBuild, from_argument_range, go_builds, stage_chain
from dockpin.syntax import Dockerfile, Instruction, Stage

_DATA_PREFIXES = ("/etc/", "/usr/share/")
# File names with one of these extensions are data, not programs.
_DATA_FILE_RE = re.compile(r"\.(?:ya?ml|json|toml|conf|cfg|ini|txt|md|html?|css|js|pem|crt|key)$")
_DISTROLESS_BASE = "gcr.io/distroless/base-debian13"


def _copied_stage(dockerfile: Dockerfile, instruction: Instruction) -> Stage | None:
    """The earlier stage a ``COPY --from`` names, by name or index."""
    flag = instruction.flag("from")
    if instruction.keyword != "COPY" or flag is None or not flag.value:
        return None
    if flag.value.isdigit():
        index = int(flag.value)
        return dockerfile.stages[index] if index < instruction.stage_index else None
    stage = dockerfile.stage_by_name(flag.value)
    return stage if stage is not None and stage.index < instruction.stage_index else None


def _binary_sources(instruction: Instruction) -> list[str]:
    """The COPY sources that may be programs: not configuration or data."""
    words = [word.text.strip("\"'") for word in instruction.words()]
    return [
        source
        for source in words[:-1]
        if not source.startswith(_DATA_PREFIXES) and not _DATA_FILE_RE.search(source)
    ]


def _ships(build: GoBuild, sources: list[str]) -> bool:
    """Whether ``sources`` may include what ``build`` produced: its output
    name is unknown, a source has that name, or a source is a ``bin``
    directory (where ``go install`` writes)."""
    if build.output is None:
        return True
    names = {source.rstrip("/").rsplit("/", 1)[-1] for source in sources}
    return build.output in names or "bin" in names


def check(context: RuleContext, rule: Rule) -> Iterable[Finding]:
    dockerfile = context.dockerfile
    if not dockerfile.stages:
        return
    final = dockerfile.stages[-1]
    kind, root = final.root_image()
    if kind == "scratch":
        base = "scratch"
    elif kind == "image" and root is not None and root.ref is not None and is_static_base(root.ref):
        base = short_form(root.ref)
    else:
        return
    for stage in stage_chain(final):
        for instruction in stage.instructions:
            source = _copied_stage(dockerfile, instruction)
            sources = _binary_sources(instruction) if source is not None else []
            if source is None or not sources:
                continue
            builds = go_builds(stage_chain(source))
            if not any(build.linking == "dynamic" and _ships(build, sources) for build in builds):
                continue
            name = source.name or str(source.index)
            message = (
                f"{base} has no C library, but stage {name} builds Go with cgo on, so the "
                f"binary links libc dynamically and will not start: build with CGO_ENABLED=0, "
                f"or use {_DISTROLESS_BASE}"
            )
            yield rule.finding(
                message,
                from_argument_range(final),
                reference=root,
                stage=final,
                instruction=instruction,
            )
            return


RULE = Rule(
    code="DP031",
    name="dynamic-binary-in-scratch",
    severity=Severity.WARNING,
    summary="scratch or distroless/static final stage copies a Go binary built with cgo",
    help=(
        "A Go binary built with cgo enabled (the default in the Debian golang images) links "
        "libc dynamically and cannot start on scratch or distroless/static. Build it with "
        "CGO_ENABLED=0 (ENV CGO_ENABLED=0, or CGO_ENABLED=0 go build), or ship it on a base "
        "with libc such as gcr.io/distroless/base-debian13."
    ),
    check=check,
)
