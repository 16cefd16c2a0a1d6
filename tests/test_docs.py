"""The docs name every rule the code has, with the anchor SARIF links to."""

from __future__ import annotations

from pathlib import Path

from dockpin.rules import ALL_RULES

ROOT = Path(__file__).resolve().parents[1]


def test_every_rule_has_a_section_with_the_sarif_anchor() -> None:
    text = (ROOT / "docs" / "rules.md").read_text()
    for rule in ALL_RULES:
        assert f"\n## {rule.code} {rule.name}\n" in text, rule.code
        assert f"(#{rule.code.lower()}-{rule.name})" in text, rule.code
        assert f"| {rule.name} | {rule.severity.label} |" in text, rule.code


def test_readme_names_the_two_setup_commands() -> None:
    readme = (ROOT / "README.md").read_text()
    assert ".venv/bin/dockpin check examples/Dockerfile" in readme
    assert "./scripts/test.sh" in readme
    assert (ROOT / "examples" / "Dockerfile").is_file()
    assert "./scripts/test.sh" in (ROOT / ".ci" / "run").read_text()
