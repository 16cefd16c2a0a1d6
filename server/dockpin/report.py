"""Render findings for humans and machines: text, JSON and SARIF 2.1.0.

Lines and columns are 1-based here; an end column is the column just after
the last character (as in SARIF). Text and JSON count columns in Unicode
code points; SARIF counts UTF-16 code units, its default ``columnKind``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import PurePosixPath, PureWindowsPath
from typing import Any
from urllib.parse import quote

from dockpin import __version__
from dockpin.rules import ALL_RULES
from dockpin.rules.base import Finding, Severity
from dockpin.syntax import utf16_column

RULES_DOC_URL = "https://github.com/dockpin/dockpin/blob/main/docs/rules.md"


@dataclass(frozen=True, slots=True)
class FileReport:
    path: str
    lines: Sequence[str]
    findings: Sequence[Finding]


def _row(report: FileReport, finding: Finding) -> dict[str, Any]:
    start = finding.range.start
    end = finding.range.end
    return {
        "file": report.path,
        "line": start.line + 1,
        "column": start.character + 1,
        "endLine": end.line + 1,
        "endColumn": end.character + 1,
        "rule": finding.code,
        "name": finding.name,
        "severity": finding.severity.label,
        "message": finding.message,
    }


def render_text(reports: Sequence[FileReport]) -> str:
    out: list[str] = []
    for report in reports:
        for finding in report.findings:
            start = finding.range.start
            out.append(
                f"{report.path}:{start.line + 1}:{start.character + 1}: "
                f"{finding.severity.label} {finding.code} {finding.message}"
            )
    return "\n".join(out) + ("\n" if out else "")


def render_json(reports: Sequence[FileReport]) -> str:
    rows = [_row(report, finding) for report in reports for finding in report.findings]
    return json.dumps(rows, indent=2, ensure_ascii=False) + "\n"


_SARIF_LEVEL = {
    Severity.ERROR: "error",
    Severity.WARNING: "warning",
    Severity.INFO: "note",
    Severity.HINT: "note",
}


def artifact_uri(path: str) -> str:
    """A SARIF ``artifactLocation.uri``: a relative path as a percent-encoded
    relative URI (``my dir/Dockerfile`` -> ``my%20dir/Dockerfile``), an
    absolute path as a ``file://`` URI."""
    posix = path.replace("\\", "/")
    if PurePosixPath(posix).is_absolute():
        return "file://" + quote(posix, safe="/")
    if PureWindowsPath(path).is_absolute():
        return PureWindowsPath(path).as_uri()
    return quote(posix, safe="/")


def _sarif_column(lines: Sequence[str], line: int, column: int) -> int:
    text = lines[line] if 0 <= line < len(lines) else ""
    return utf16_column(text, column) + 1


def render_sarif(reports: Sequence[FileReport]) -> str:
    rules = [
        {
            "id": rule.code,
            "name": rule.name,
            "shortDescription": {"text": rule.summary},
            "fullDescription": {"text": rule.summary},
            "help": {"text": rule.help, "markdown": rule.help},
            "helpUri": f"{RULES_DOC_URL}#{rule.code.lower()}-{rule.name}",
            "defaultConfiguration": {"level": _SARIF_LEVEL[rule.severity]},
            "properties": {"tags": ["dockerfile", "supply-chain"]},
        }
        for rule in ALL_RULES
    ]
    index = {rule.code: position for position, rule in enumerate(ALL_RULES)}
    results = []
    for report in reports:
        for finding in report.findings:
            start = finding.range.start
            end = finding.range.end
            results.append(
                {
                    "ruleId": finding.code,
                    "ruleIndex": index.get(finding.code, 0),
                    "level": _SARIF_LEVEL[finding.severity],
                    "message": {"text": finding.message},
                    "locations": [
                        {
                            "physicalLocation": {
                                "artifactLocation": {"uri": artifact_uri(report.path)},
                                "region": {
                                    "startLine": start.line + 1,
                                    "startColumn": _sarif_column(
                                        report.lines, start.line, start.character
                                    ),
                                    "endLine": end.line + 1,
                                    "endColumn": _sarif_column(
                                        report.lines, end.line, end.character
                                    ),
                                },
                            }
                        }
                    ],
                }
            )
    document = {
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "dockpin",
                        "version": __version__,
                        "informationUri": "https://github.com/dockpin/dockpin",
                        "rules": rules,
                    }
                },
                "columnKind": "utf16CodeUnits",
                "results": results,
            }
        ],
    }
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


RENDERERS = {"text": render_text, "json": render_json, "sarif": render_sarif}
