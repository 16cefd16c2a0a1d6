"""Run the rule set over a parsed Dockerfile: the one entry point the CLI and
the language server share."""

from __future__ import annotations

from dataclasses import replace

from dockpin import suppression
from dockpin.config import Config
from dockpin.facts import RegistryFacts
from dockpin.rules import ALL_RULES
from dockpin.rules.base import Finding, RuleContext
from dockpin.syntax import Dockerfile

_RULE_NAMES = {rule.name: rule.code for rule in ALL_RULES}


def analyze(
    dockerfile: Dockerfile,
    config: Config | None = None,
    facts: RegistryFacts | None = None,
) -> list[Finding]:
    """Findings after configuration and pragmas, in document order.

    Registry-backed rules run only when ``facts`` is given.
    """
    config = config or Config()
    context = RuleContext(dockerfile, config.trusted_registries, facts)
    suppressions = suppression.collect(dockerfile, _RULE_NAMES)
    findings: list[Finding] = []
    for rule in ALL_RULES:
        if rule.needs_registry and facts is None:
            continue
        severity = config.severity_for(rule.code, rule.severity)
        if severity is None or rule.code in suppressions.global_codes:
            continue
        for finding in rule.check(context, rule):
            line = _instruction_line(finding)
            if not suppressions.allows(finding, line):
                continue
            if severity != finding.severity:
                finding = replace(finding, severity=severity)
            findings.append(finding)
    findings.sort(key=lambda f: (f.range.start.line, f.range.start.character, f.code))
    return findings


def _instruction_line(finding: Finding) -> int | None:
    if finding.instruction is not None:
        return finding.instruction.start_line
    if finding.reference is not None:
        return finding.reference.instruction.start_line
    if finding.stage is not None:
        return finding.stage.from_instruction.start_line
    return finding.range.start.line
