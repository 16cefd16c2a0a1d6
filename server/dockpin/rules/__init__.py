"""The rule set. Each rule lives in its own module and exposes ``RULE``."""

from __future__ import annotations

from dockpin.rules import (
    dp001_untagged_image,
    dp002_latest_tag,
    dp003_unpinned_tag,
    dp040_invalid_reference,
    dp050_untrusted_registry,
)
from dockpin.rules.base import Finding, Rule, RuleContext, Severity

ALL_RULES: tuple[Rule, ...] = (
    dp001_untagged_image.RULE,
    dp002_latest_tag.RULE,
    dp003_unpinned_tag.RULE,
    dp040_invalid_reference.RULE,
    dp050_untrusted_registry.RULE,
)
RULES_BY_CODE: dict[str, Rule] = {rule.code: rule for rule in ALL_RULES}

__all__ = ["ALL_RULES", "RULES_BY_CODE", "Finding", "Rule", "RuleContext", "Severity"]
