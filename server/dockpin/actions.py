"""Which fixes a finding offers, as plain data: a title that says what will
happen, a kind, and either the edits or what must be asked of the registry
first. The language server turns these into code actions; nothing here does
I/O.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from dockpin import knowledge
from dockpin.facts import RegistryFacts
from dockpin.fixes import (
    FixError,
    TextEdit,
    exec_form_edit,
    ignore_file_edit,
    ignore_line_edit,
    pin_edit,
    replace_image_edits,
)
from dockpin.rules.base import Finding
from dockpin.syntax import Dockerfile, ImageReference, Instruction, Stage

ActionKind = Literal["quickfix", "source"]
PIN_CODES = frozenset({"DP001", "DP002", "DP003"})


@dataclass(frozen=True, slots=True)
class ActionPlan:
    title: str
    kind: ActionKind
    codes: tuple[str, ...]  # the findings it fixes
    edits: tuple[TextEdit, ...] = ()
    # Set when the edits need the registry first: pin these references.
    pin: tuple[ImageReference, ...] = field(default=(), repr=False)
    # Offer only if this reference exists in the registry (a swap target).
    verify: str | None = None
    preferred: bool = False


def short_digest(digest: str) -> str:
    return f"{digest[:15]}..."


def unpinned(dockerfile: Dockerfile) -> list[ImageReference]:
    """References a "pin all" would pin: resolvable, without a digest."""
    return [
        r
        for r in dockerfile.references
        if r.ref is not None and r.is_resolved and r.ref.digest is None
    ]


def pin_plan(
    dockerfile: Dockerfile,
    reference: ImageReference,
    facts: RegistryFacts | None,
    code: str = "DP003",
) -> ActionPlan | None:
    """ "Pin python:3.12 to sha256:abcd1234...": with the edit when the
    digest is already known, else a plan that resolves it first."""
    known = facts.get(reference.value) if facts is not None else None
    if known is not None and known.current_digest is not None:
        try:
            edit = pin_edit(dockerfile, reference, known.current_digest)
        except FixError:
            return None
        return ActionPlan(
            f"Pin {reference.value} to {short_digest(known.current_digest)}",
            "quickfix",
            (code,),
            (edit,),
            preferred=True,
        )
    return ActionPlan(
        f"Pin {reference.value} to its current digest",
        "quickfix",
        (code,),
        pin=(reference,),
        preferred=True,
    )


def update_plan(
    dockerfile: Dockerfile, reference: ImageReference, facts: RegistryFacts | None
) -> ActionPlan | None:
    known = facts.get(reference.value) if facts is not None else None
    if known is None or known.current_digest is None or not known.stale:
        return None
    try:
        edit = pin_edit(dockerfile, reference, known.current_digest)
    except FixError:
        return None
    name = reference.value.split("@", 1)[0]
    return ActionPlan(
        f"Update stale digest of {name} to {short_digest(known.current_digest)}",
        "quickfix",
        ("DP004",),
        (edit,),
        preferred=True,
    )


def pin_all_plan(dockerfile: Dockerfile) -> ActionPlan | None:
    references = unpinned(dockerfile)
    if not references:
        return None
    count = len(references)
    noun = "image" if count == 1 else "images"
    return ActionPlan(
        f"Pin all images in this file ({count} {noun})",
        "source",
        ("DP001", "DP002", "DP003"),
        pin=tuple(references),
    )


def swap_plans(dockerfile: Dockerfile, finding: Finding) -> list[ActionPlan]:
    """Swaps for DP010 (to the glibc slim image) and DP020 (to slim, JRE or
    distroless). Each names a reference the registry must confirm."""
    reference = finding.reference
    if reference is None or reference.ref is None:
        return []
    ref = reference.ref
    plans: list[ActionPlan] = []
    target = (
        knowledge.glibc_alternative(ref)
        if finding.code == "DP010"
        else _lighter_reference(reference)
    )
    if target is not None and target != reference.value:
        try:
            edits = replace_image_edits(dockerfile, reference, target)
        except FixError:
            edits = []
        if edits:
            plans.append(
                ActionPlan(
                    f"Switch to {target}", "quickfix", (finding.code,), tuple(edits), verify=target
                )
            )
    stage = finding.stage
    if finding.code == "DP020" and stage is not None and stage is dockerfile.final_stage:
        distroless = _distroless_plan(dockerfile, finding, reference, stage)
        if distroless is not None:
            plans.append(distroless)
    return plans


def _lighter_reference(reference: ImageReference) -> str | None:
    ref = reference.ref
    assert ref is not None
    tag = knowledge.lighter_tag(ref)
    if tag is None:
        return None
    return f"{reference.value[: ref.name_span.end]}:{tag}"


def _distroless_plan(
    dockerfile: Dockerfile, finding: Finding, reference: ImageReference, stage: Stage
) -> ActionPlan | None:
    ref = reference.ref
    assert ref is not None
    runtime = knowledge.runtime_of(ref)
    if runtime is None or any(i.keyword == "RUN" for i in stage.instructions):
        # Distroless has no shell: a stage that still runs commands would break.
        return None
    choice = knowledge.distroless_for(runtime, knowledge.runtime_version(ref))
    if choice is None:
        return None
    try:
        edits = list(replace_image_edits(dockerfile, reference, choice.image))
        for instruction in stage.instructions:
            if instruction.keyword in ("CMD", "ENTRYPOINT") and instruction.exec_form() is None:
                edits.append(exec_form_edit(instruction))
    except FixError:
        return None
    title = f"Switch to {choice.describe()}"
    if any(
        i.keyword in ("CMD", "ENTRYPOINT") and i.exec_form() is None for i in stage.instructions
    ):
        title += " and use exec form"
    return ActionPlan(title, "quickfix", (finding.code,), tuple(edits), verify=choice.image)


def exec_form_plan(finding: Finding) -> ActionPlan | None:
    instruction = finding.instruction
    if instruction is None or instruction.keyword not in ("CMD", "ENTRYPOINT"):
        return None
    try:
        edit = exec_form_edit(instruction)
    except FixError:
        return None
    return ActionPlan("Convert to exec form", "quickfix", ("DP030",), (edit,), preferred=True)


def finding_instruction(finding: Finding) -> Instruction:
    if finding.instruction is not None:
        return finding.instruction
    if finding.reference is not None and finding.range.start.line == (
        finding.reference.raw_range.start.line
    ):
        return finding.reference.instruction
    if finding.stage is not None:
        return finding.stage.from_instruction
    assert finding.reference is not None
    return finding.reference.instruction


def ignore_plans(dockerfile: Dockerfile, finding: Finding) -> list[ActionPlan]:
    plans = []
    try:
        line_edit = ignore_line_edit(dockerfile, finding_instruction(finding), finding.code)
        plans.append(
            ActionPlan(
                f"Ignore {finding.code} on this line", "quickfix", (finding.code,), (line_edit,)
            )
        )
    except (FixError, AssertionError):
        pass
    try:
        file_edit = ignore_file_edit(dockerfile, finding.code)
        plans.append(
            ActionPlan(
                f"Ignore {finding.code} in this file", "quickfix", (finding.code,), (file_edit,)
            )
        )
    except FixError:
        pass
    return plans


def plans_for(
    dockerfile: Dockerfile, finding: Finding, facts: RegistryFacts | None
) -> list[ActionPlan]:
    """Every fix for one finding, best first."""
    plans: list[ActionPlan] = []
    reference = finding.reference
    if finding.code in PIN_CODES and reference is not None:
        plan = pin_plan(dockerfile, reference, facts, finding.code)
        if plan is not None:
            plans.append(plan)
    elif finding.code == "DP004" and reference is not None:
        plan = update_plan(dockerfile, reference, facts)
        if plan is not None:
            plans.append(plan)
    elif finding.code in ("DP010", "DP020"):
        plans.extend(swap_plans(dockerfile, finding))
    elif finding.code == "DP030":
        plan = exec_form_plan(finding)
        if plan is not None:
            plans.append(plan)
    plans.extend(ignore_plans(dockerfile, finding))
    return plans


def pin_edits(
    dockerfile: Dockerfile, references: Sequence[ImageReference], digests: Sequence[str | None]
) -> list[TextEdit]:
    """The edits pinning each reference to its resolved digest (None: skip)."""
    from dockpin.fixes import dedupe

    edits = []
    for reference, digest in zip(references, digests, strict=True):
        if digest is None:
            continue
        try:
            edits.append(pin_edit(dockerfile, reference, digest))
        except FixError:
            continue
    return dedupe(edits)
