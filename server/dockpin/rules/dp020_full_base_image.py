"""DP020 full-base-image: the final stage ships a full official image where a
slim, JRE or distroless one would do.

Only the final stage is judged (earlier stages are build stages, where the
full image's compilers are the point), following ``FROM <stage>`` chains to
the image it starts from. Single-stage files count: their only stage is final.

What fires, for Docker Hub official images only (a mirror or a look-alike
under another name may not have the same tags):

- python, node, ruby, debian full tags: suggest the slim tag of the same
  version and Debian suite, and for Python/Node the distroless runtime image,
  saying when its version differs (``python:3.12`` -> Python 3.13).
- eclipse-temurin JDK tags: suggest the JRE tag and distroless Java.
- openjdk (and the older ``java``) JDK tags: deprecated, so the suggestion is
  eclipse-temurin, never openjdk.
- golang, maven, gradle: build images shipped as the runtime; suggest copying
  the binary or jar into a runtime image.
- ubuntu: it has no slim variant, and ``ubuntu:24.04`` is already about the
  size of ``debian:*-slim``, so switching distribution buys little. It fires
  only when the final stage runs nothing (only COPY/ENV/CMD...): then the
  image just carries files and a distroless base is a real cut.

Not for slim or JRE tags, distroless, scratch, Windows tags, or Alpine tags:
Alpine is DP010's business, except for golang, which is a build image whatever
its distribution.
"""

from __future__ import annotations

from collections.abc import Iterable

from dockpin.knowledge import (
    DISTROLESS_CC,
    DISTROLESS_STATIC,
    IMAGES,
    ImageFacts,
    distroless_for,
    is_alpine,
    is_windows,
    lighter_tag,
    official_name,
    runtime_version,
    short_form,
)
from dockpin.references import ImageRef
from dockpin.rules.base import Finding, Rule, RuleContext, Severity
from dockpin.rules.stage_facts import SHELLS, from_argument_range, stage_chain, stage_commands
from dockpin.syntax import Stage


def _ships_go_program(chain: list[Stage]) -> bool:
    """True when the stage builds a Go program (``go build``) and runs one
    that is not a shell. Dev, lint and code-generation images, and tool images
    whose program drives Go itself, use golang as their last stage on purpose;
    they ``go install`` tools or start a shell."""
    builds = any(
        command.program in ("go", "xx-go") and command.arguments()[:1] == ["build"]
        for command in stage_commands(chain)
    )
    starts: list[str] = []
    for instruction in (i for stage in chain for i in stage.instructions):
        if instruction.keyword in ("CMD", "ENTRYPOINT"):
            argv = instruction.exec_form() or instruction.args.split()
            if argv:
                starts.append(argv[0].rsplit("/", 1)[-1])
    return builds and bool(starts) and starts[-1] not in SHELLS


def _runs_nothing(chain: list[Stage]) -> bool:
    """True when no stage of the chain runs a command: the image only
    receives files, so a base without a shell or package manager would do."""
    return not any(
        instruction.keyword == "RUN" for stage in chain for instruction in stage.instructions
    )


def _temurin_jre(version: str | None) -> str:
    return f"eclipse-temurin:{version}-jre" if version else "an eclipse-temurin JRE tag"


def _java_advice(version: str | None) -> str:
    choice = distroless_for("java", version)
    distroless = f" or {choice.describe()}" if choice is not None else ""
    return f"{_temurin_jre(version)}{distroless}"


def _message(ref: ImageRef, name: str, facts: ImageFacts, chain: list[Stage]) -> str | None:
    """What to say about ``ref`` as the final image, or None when it is fine."""
    image = short_form(ref)
    tag_tokens = (ref.effective_tag or "latest").split("-")
    if is_windows(ref):
        return None
    if name == "golang":
        if not _ships_go_program(chain):
            return None
        return (
            f"{image} is a build image with the whole Go toolchain: copy the binary into "
            f"{DISTROLESS_STATIC} or scratch (built with CGO_ENABLED=0)"
        )
    if is_alpine(ref):
        return None
    version = runtime_version(ref)
    if facts.build_image:  # maven, gradle
        return f"{image} is a build image with the JDK and {name}: run the jar on " + _java_advice(
            version
        )
    if facts.deprecated:
        if "jre" in tag_tokens:
            return None
        return f"{image} is deprecated and ships a full JDK: use {_java_advice(version)}"
    if name == "ubuntu":
        if not _runs_nothing(chain):
            return None
        return (
            f"{image} has no slim variant, and this stage only adds files: "
            f"use {DISTROLESS_CC} if the program needs nothing but libc and libstdc++"
        )
    lighter = lighter_tag(ref)
    if lighter is None:
        return None
    alternatives = [f"{ref.name}:{lighter}"]
    if facts.runtime is not None:
        choice = distroless_for(facts.runtime, version)
        if choice is not None:
            alternatives.append(choice.describe())
    elif _runs_nothing(chain):
        alternatives.append(DISTROLESS_CC)
    what = "ships a full JDK" if facts.lighter_kind == "JRE" else "is the full image"
    return f"{image} {what}: use {' or '.join(alternatives)}"


def check(context: RuleContext, rule: Rule) -> Iterable[Finding]:
    dockerfile = context.dockerfile
    if not dockerfile.stages:
        return
    final = dockerfile.stages[-1]
    kind, root = final.root_image()
    if kind != "image" or root is None or root.ref is None:
        return
    name = official_name(root.ref)
    facts = None if name is None else IMAGES.get(name)
    if name is None or facts is None:
        return
    message = _message(root.ref, name, facts, stage_chain(final))
    if message is not None:
        yield rule.finding(
            message,
            from_argument_range(final),
            reference=root,
            stage=final,
            instruction=final.from_instruction,
        )


RULE = Rule(
    code="DP020",
    name="full-base-image",
    severity=Severity.INFO,
    summary="Final stage uses a full image where a slim, JRE or distroless one exists",
    help=(
        "The final image ships whatever its base carries: compilers, headers, a JDK. Use the "
        "slim tag of the same version and Debian suite (python:3.12-bookworm -> "
        "python:3.12-slim-bookworm), a JRE tag for Java (eclipse-temurin:21-jre), or build "
        "in an earlier stage and copy the result into a distroless image."
    ),
    check=check,
)
