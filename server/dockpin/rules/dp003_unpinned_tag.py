"""DP003 unpinned-tag: a version tag is still mutable without its digest."""

from __future__ import annotations

from collections.abc import Iterator

from dockpin.rules.base import Finding, Rule, RuleContext, Severity, image_references


def check(context: RuleContext, rule: Rule) -> Iterator[Finding]:
    for reference in image_references(context):
        ref = reference.ref
        assert ref is not None
        if ref.tag is not None and ref.tag != "latest" and ref.digest is None:
            yield rule.finding(
                f"{reference.value} is not pinned: the tag can move to different content; "
                "add its @sha256 digest",
                reference.raw_range,
                reference=reference,
            )


RULE = Rule(
    code="DP003",
    name="unpinned-tag",
    severity=Severity.WARNING,
    summary="Image tag without an @sha256 digest",
    help="Append the digest the tag points to now: `python:3.12@sha256:...`. The tag stays "
    "as documentation; the digest decides what is pulled.",
    check=check,
)
