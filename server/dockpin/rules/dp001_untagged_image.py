"""DP001 untagged-image: no tag and no digest means whatever ``latest`` is today."""

from __future__ import annotations

from collections.abc import Iterator

from dockpin.rules.base import Finding, Rule, RuleContext, Severity, image_references


def check(context: RuleContext, rule: Rule) -> Iterator[Finding]:
    for reference in image_references(context):
        ref = reference.ref
        assert ref is not None
        if ref.tag is None and ref.digest is None:
            yield rule.finding(
                f"{reference.value} has no tag, so it pulls whatever 'latest' is today; "
                "pin a version and digest",
                reference.raw_range,
                reference=reference,
            )


RULE = Rule(
    code="DP001",
    name="untagged-image",
    severity=Severity.WARNING,
    summary="Image without a tag or digest (implicit latest)",
    help="Name a version tag and pin its digest, e.g. `python:3.12@sha256:...`; "
    "`dockpin pin` or the editor's quick fix inserts the verified digest.",
    check=check,
)
