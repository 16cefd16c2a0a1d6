"""What a rule is and what it reports.

A rule is a module with one :class:`Rule` instance named ``RULE``: its code,
name, default severity, help text and a pure ``check`` over the syntax model.
Rules never do I/O; registry facts reach them through :class:`RuleContext`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import IntEnum
from typing import TYPE_CHECKING

from dockpin.syntax import Dockerfile, ImageReference, Instruction, Range, Stage

if TYPE_CHECKING:
    from dockpin.facts import RegistryFacts


class Severity(IntEnum):
    """Values match LSP's ``DiagnosticSeverity``."""

    ERROR = 1
    WARNING = 2
    INFO = 3
    HINT = 4

    @property
    def label(self) -> str:
        return {1: "error", 2: "warning", 3: "info", 4: "hint"}[self.value]

    @classmethod
    def parse(cls, text: str) -> Severity:
        names = {
            "error": cls.ERROR,
            "warning": cls.WARNING,
            "info": cls.INFO,
            "information": cls.INFO,
            "hint": cls.HINT,
        }
        return names[text.lower()]


@dataclass(frozen=True, slots=True)
class Finding:
    code: str
    name: str
    severity: Severity
    message: str
    range: Range
    reference: ImageReference | None = None
    stage: Stage | None = None
    instruction: Instruction | None = None


@dataclass(frozen=True, slots=True)
class RuleContext:
    dockerfile: Dockerfile
    trusted_registries: Sequence[str] = ()
    facts: RegistryFacts | None = None  # None: offline, registry rules do not run


@dataclass(frozen=True, slots=True)
class Rule:
    code: str
    name: str
    severity: Severity
    summary: str  # one line, for rule lists and SARIF shortDescription
    help: str  # what to do about it, for docs and SARIF help
    check: Callable[[RuleContext, Rule], Iterable[Finding]] = field(repr=False)
    needs_registry: bool = False

    def finding(
        self,
        message: str,
        range_: Range,
        *,
        reference: ImageReference | None = None,
        stage: Stage | None = None,
        instruction: Instruction | None = None,
    ) -> Finding:
        return Finding(
            self.code, self.name, self.severity, message, range_, reference, stage, instruction
        )


def image_references(context: RuleContext) -> Iterable[ImageReference]:
    """References that name a real image: resolved, parsed, not ``scratch``."""
    for reference in context.dockerfile.references:
        if reference.ref is not None and reference.is_resolved:
            yield reference


HADOLINT_EQUIVALENTS: Mapping[str, str] = {"DL3006": "DP001", "DL3007": "DP002", "DL3026": "DP050"}
