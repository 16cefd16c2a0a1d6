"""DP004 stale-digest: the tag has moved on from the pinned digest.

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
        ref = reference.ref
        if facts is None or not facts.stale or ref is None or ref.digest is None:
            continue
        current = facts.current_digest or "a newer digest"
        yield rule.finding(
            f"{reference.value.split('@')[0]} now points to {current[:19]}..., not the pinned "
            f"{ref.digest[:19]}...; update the digest to get the tag's current content",
            reference.digest_range or reference.raw_range,
            reference=reference,
        )


RULE = Rule(
    code="DP004",
    name="stale-digest",
    severity=Severity.INFO,
    summary="Pinned digest differs from what the tag points to now",
    help="The tag has moved (usually a rebuild with security fixes). Run `dockpin pin "
    "--update` or use the editor's 'Update stale digest' action to pin the current digest.",
    check=check,
    needs_registry=True,
)
