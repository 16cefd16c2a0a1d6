"""DP005 missing-image: the registry does not have this repository, tag or
pinned digest, so a build would fail.

Registry-backed: runs only when facts from the registry are passed in.
"""

from __future__ import annotations

from collections.abc import Iterator

from dockpin.rules.base import Finding, Rule, RuleContext, Severity, image_references


def check(context: RuleContext, rule: Rule) -> Iterator[Finding]:
    if context.facts is None:
        return
    for reference in image_references(context):
        facts = context.facts.get(reference.value)
        if facts is None or facts.missing is None:
            continue
        yield rule.finding(
            f"{facts.missing}; a build would fail to pull it",
            reference.raw_range,
            reference=reference,
        )


RULE = Rule(
    code="DP005",
    name="missing-image",
    severity=Severity.ERROR,
    summary="Repository, tag or pinned digest does not exist in the registry",
    help="Check the spelling of the image and tag. A pinned digest that the registry no "
    "longer serves must be re-pinned: `dockpin pin --update`.",
    check=check,
    needs_registry=True,
)
