"""DP050 untrusted-registry: only when ``trusted-registries`` is configured
(hadolint's DL3026)."""

from __future__ import annotations

from collections.abc import Iterator

from dockpin.references import DOCKER_HUB
from dockpin.rules.base import Finding, Rule, RuleContext, Severity, image_references

_HUB_ALIASES = frozenset({"docker.io", "index.docker.io", "registry-1.docker.io", "hub.docker.com"})


def _normalise(registry: str) -> str:
    registry = registry.strip().lower().rstrip("/")
    for prefix in ("https://", "http://"):
        if registry.startswith(prefix):
            registry = registry[len(prefix) :]
    return DOCKER_HUB if registry in _HUB_ALIASES else registry


def check(context: RuleContext, rule: Rule) -> Iterator[Finding]:
    if not context.trusted_registries:
        return
    trusted = {_normalise(registry) for registry in context.trusted_registries}
    for reference in image_references(context):
        ref = reference.ref
        assert ref is not None
        if ref.domain.lower() not in trusted:
            allowed = ", ".join(sorted(trusted))
            yield rule.finding(
                f"{reference.value} comes from {ref.domain}, which is not a trusted registry "
                f"({allowed})",
                reference.raw_range,
                reference=reference,
            )


RULE = Rule(
    code="DP050",
    name="untrusted-registry",
    severity=Severity.WARNING,
    summary="Image from a registry outside trusted-registries",
    help="Use an image from one of the registries in `[registry] trusted-registries`, or add "
    "this registry to that list.",
    check=check,
)
