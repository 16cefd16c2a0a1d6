"""DP002 latest-tag: ``:latest`` moves with every release."""

from __future__ import annotations

from collections.abc import Iterator

from dockpin.rules.base import Finding, Rule, RuleContext, Severity, image_references


def check(context: RuleContext, rule: Rule) -> Iterator[Finding]:
    for reference in image_references(context):
        ref = reference.ref
        assert ref is not None
        if ref.tag == "latest" and ref.digest is None:
            yield rule.finding(
                f"{reference.value} uses the moving 'latest' tag; pin a version and digest",
                reference.raw_range,
                reference=reference,
            )


RULE = Rule(
    code="DP002",
    name="latest-tag",
    severity=Severity.WARNING,
    summary="Image uses the latest tag without a digest",
    help="Replace `latest` with a version tag and pin its digest; where only `latest` is "
    "published (Chainguard's free tier), pin the digest: `image:latest@sha256:...`.",
    check=check,
)
