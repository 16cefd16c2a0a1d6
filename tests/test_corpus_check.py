"""``dockpin check`` over the real-world corpus in ../shared/corpus, read in place:
no crash, and every finding's range lies inside its file."""

from __future__ import annotations

import csv
import json
import os
import re
import subprocess
import sys
import traceback
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from dockpin.analysis import analyze
from dockpin.config import Config
from dockpin.files import decode
from dockpin.syntax import parse

CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "corpus"
MANIFEST = CORPUS / "MANIFEST.tsv"

pytestmark = pytest.mark.skipif(
    not MANIFEST.is_file(), reason=f"the corpus is not at {CORPUS} (shared/ beside the repo)"
)


@cache
def manifest() -> list[tuple[str, str]]:
    """(local_path, original_path) of every corpus file."""
    with MANIFEST.open(encoding="utf-8", newline="") as handle:
        return [
            (row["local_path"], row["original_path"])
            for row in csv.DictReader(handle, delimiter="\t")
        ]


def dockerfiles() -> list[str]:
    """Every Dockerfile: BuildKit's expected-output ``result`` files are not."""
    return [local for local, original in manifest() if original.rsplit("/", 1)[-1] != "result"]


@cache
def lines_of(local_path: str) -> list[str]:
    """The file's lines as the model counts them (code points, any line break)."""
    text = decode((CORPUS / local_path).read_bytes()).text
    return re.split(r"\r\n|\r|\n", text)


def test_manifest_lists_files_that_exist() -> None:
    files = dockerfiles()
    assert len(files) > 1000
    assert len(files) < len(manifest())  # the `result` files are left out
    missing = [path for path in files if not (CORPUS / path).is_file()]
    assert missing == []


def run_check(fmt: str, folder: Path) -> subprocess.CompletedProcess[str]:
    """``dockpin check`` over every corpus Dockerfile in one process."""
    config = folder / "empty.toml"  # hermetic: no .dockpin.toml from above the corpus
    config.write_text("", encoding="utf-8")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "dockpin.cli",
            "check",
            "--offline",
            "--format",
            fmt,
            "--fail-on",
            "never",
            "--config",
            str(config),
            *dockerfiles(),
        ],
        cwd=CORPUS,
        capture_output=True,
        text=True,
        encoding="utf-8",
        env={**os.environ, "DOCKPIN_CACHE_DIR": str(folder / "cache")},
        timeout=1800,  # a hang guard, not a timing assertion
        check=False,
    )
    assert "Traceback" not in result.stderr, result.stderr[-5000:]
    assert result.returncode == 0, result.stderr[-5000:]
    return result


@pytest.fixture(scope="module")
def corpus_json(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    result = run_check("json", tmp_path_factory.mktemp("corpus-json"))
    findings: list[dict[str, Any]] = json.loads(result.stdout)
    return findings


def test_check_over_the_whole_corpus(corpus_json: list[dict[str, Any]]) -> None:
    files = dockerfiles()
    findings = corpus_json
    assert isinstance(findings, list) and findings

    known = set(files)
    out_of_range: list[str] = []
    misplaced: list[str] = []
    for row in findings:
        assert row["file"] in known, row
        for key in ("line", "column", "endLine", "endColumn"):
            assert isinstance(row[key], int), row
        lines = lines_of(row["file"])
        where = f"{row['file']}:{row['line']}:{row['column']}-{row['endLine']}:{row['endColumn']}"
        inside = (
            1 <= row["line"] <= row["endLine"] <= len(lines)
            and 1 <= row["column"] <= len(lines[row["line"] - 1]) + 1
            and 1 <= row["endColumn"] <= len(lines[row["endLine"] - 1]) + 1
            and (row["line"], row["column"]) <= (row["endLine"], row["endColumn"])
        )
        if not inside:
            out_of_range.append(f"{where} {row['rule']} (file has {len(lines)} lines)")
            continue
        # Reference findings cover the reference as written: it is in the message.
        if row["rule"] in {"DP001", "DP002", "DP003"} and row["line"] == row["endLine"]:
            covered = lines[row["line"] - 1][row["column"] - 1 : row["endColumn"] - 1]
            covered = covered.strip("\"'")
            if "$" not in covered and covered not in row["message"]:
                misplaced.append(f"{where} {row['rule']} covers {covered!r}: {row['message']}")
    assert out_of_range == []
    assert misplaced == []
    # The run did look at the files: most name an image by tag.
    assert len({row["file"] for row in findings}) > len(files) // 2


def test_text_format_matches_json_over_the_corpus(
    corpus_json: list[dict[str, Any]], tmp_path: Path
) -> None:
    text = run_check("text", tmp_path).stdout.splitlines()
    expected = [
        f"{row['file']}:{row['line']}:{row['column']}: {row['severity']} {row['rule']} "
        f"{row['message']}"
        for row in corpus_json
    ]
    assert text == expected


def test_sarif_over_the_corpus_is_valid(corpus_json: list[dict[str, Any]], tmp_path: Path) -> None:
    from test_report import validate_sarif

    document = json.loads(run_check("sarif", tmp_path).stdout)
    validate_sarif(document)
    results = document["runs"][0]["results"]
    assert len(results) == len(corpus_json)
    for result, row in zip(results, corpus_json, strict=True):
        assert result["ruleId"] == row["rule"]
        region = result["locations"][0]["physicalLocation"]["region"]
        assert (region["startLine"], region["endLine"]) == (row["line"], row["endLine"])
        # UTF-16 columns: equal to code-point columns unless astral characters precede.
        assert region["startColumn"] >= row["column"]
        assert region["endColumn"] >= row["endColumn"]


def test_parse_and_analyze_every_corpus_file_in_process() -> None:
    failures: list[str] = []
    configs = [Config(), Config(trusted_registries=("docker.io",))]
    checked = 0
    for local, _ in manifest():  # every file, `result` files included
        text = decode((CORPUS / local).read_bytes()).text
        try:
            dockerfile = parse(text)
            for config in configs:
                for finding in analyze(dockerfile, config):
                    start, end = finding.range.start, finding.range.end
                    assert 0 <= start.line <= end.line < len(dockerfile.lines), finding
        except Exception:
            failures.append(f"{local}:\n{traceback.format_exc()}")
        checked += 1
    assert checked == len(manifest())
    assert failures == [], "\n".join(failures[:5])
