"""DP040 invalid-reference: the build would fail to parse this image name."""

from __future__ import annotations

from collections.abc import Iterator

from dockpin.rules.base import Finding, Rule, RuleContext, Severity


def check(context: RuleContext, rule: Rule) -> Iterator[Finding]:
    for reference in context.dockerfile.references:
        if reference.error is not None and reference.is_resolved:
            shown = (
                reference.value
                if reference.value == reference.raw
                else (f"{reference.raw} (= {reference.value})")
            )
            yield rule.finding(
                f"invalid image reference {shown}: {reference.error}",
                reference.raw_range,
                reference=reference,
            )


RULE = Rule(
    code="DP040",
    name="invalid-reference",
    severity=Severity.ERROR,
    summary="Image reference that is not valid",
    help="Image names are lowercase `[registry/]path[:tag][@sha256:<64 hex>]`; fix the "
    "spelling so the build can pull it.",
    check=check,
)
