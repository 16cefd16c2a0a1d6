"""The rule set. Each rule lives in its own module and exposes ``RULE``."""

from __future__ import annotations

from dockpin.rules import (
    dp001_untagged_image,
    dp002_latest_tag,
    dp003_unpinned_tag,
    dp004_stale_digest,
    dp005_missing_image,
    dp010_alpine_risk,
    dp020_full_base_image,
    dp030_no_shell,
    dp031_dynamic_binary_in_scratch,
    dp040_invalid_reference,
    dp050_untrusted_registry,
)
from dockpin.rules.base import Finding, Rule, RuleContext, Severity

ALL_RULES: tuple[Rule, ...] = (
    dp001_untagged_image.RULE,
    dp002_latest_tag.RULE,
    dp003_unpinned_tag.RULE,
    dp004_stale_digest.RULE,
    dp005_missing_image.RULE,
    dp010_alpine_risk.RULE,
    dp020_full_base_image.RULE,
    dp030_no_shell.RULE,
    dp031_dynamic_binary_in_scratch.RULE,
    dp040_invalid_reference.RULE,
    dp050_untrusted_registry.RULE,
)
RULES_BY_CODE: dict[str, Rule] = {rule.code: rule for rule in ALL_RULES}

__all__ = ["ALL_RULES", "RULES_BY_CODE", "Finding", "Rule", "RuleContext", "Severity"]
