"""Inline pragmas: ``# dockpin ignore=DP003`` on the line before an
instruction, ``# dockpin global ignore=DP020`` anywhere, and hadolint's
``# hadolint ignore=DL3006`` / ``global ignore`` with its codes mapped."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from dockpin.rules.base import HADOLINT_EQUIVALENTS, Finding
from dockpin.syntax import Dockerfile

_PRAGMA_RE = re.compile(
    r"^(dockpin|hadolint)\s+(global\s+)?ignore\s*=\s*([A-Za-z0-9_,\s-]+?)\s*$", re.IGNORECASE
)


@dataclass(slots=True)
class Suppressions:
    global_codes: set[str] = field(default_factory=set)
    by_line: dict[int, set[str]] = field(default_factory=dict)  # instruction start line -> codes

    def allows(self, finding: Finding, instruction_line: int | None) -> bool:
        if finding.code in self.global_codes:
            return False
        codes = self.by_line.get(instruction_line, set()) if instruction_line is not None else ()
        return finding.code not in codes


def _codes(text: str, names: Mapping[str, str]) -> set[str]:
    codes: set[str] = set()
    for item in re.split(r"[,\s]+", text):
        item = item.strip()
        if not item:
            continue
        upper = item.upper()
        if upper in HADOLINT_EQUIVALENTS:
            codes.add(HADOLINT_EQUIVALENTS[upper])
        elif upper.startswith("DP"):
            codes.add(upper)
        elif item.lower() in names:
            codes.add(names[item.lower()])
    return codes


def collect(dockerfile: Dockerfile, rule_names: Mapping[str, str]) -> Suppressions:
    """Read every pragma comment. ``rule_names`` maps rule names to codes so
    ``ignore=unpinned-tag`` works too."""
    suppressions = Suppressions()
    comment_lines = {comment.line for comment in dockerfile.comments}
    instruction_starts = {i.start_line for i in dockerfile.instructions}
    # The first line after the block of comment lines that holds each comment
    # line, computed once from the bottom up: walking the block per pragma is
    # quadratic in a file made of thousands of comment lines.
    block_end: dict[int, int] = {}
    for line in sorted(comment_lines, reverse=True):
        block_end[line] = block_end.get(line + 1, line + 1)
    for comment in dockerfile.comments:
        match = _PRAGMA_RE.match(comment.text)
        if match is None:
            continue
        codes = _codes(match.group(3), rule_names)
        if match.group(2):
            suppressions.global_codes |= codes
            continue
        # The pragma applies to the next instruction, across a block of
        # comment lines directly above it (hadolint allows the same).
        line = block_end[comment.line]
        if line in instruction_starts:
            suppressions.by_line.setdefault(line, set()).update(codes)
    return suppressions
