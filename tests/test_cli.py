"""``dockpin check`` as a user runs it: a subprocess, its output and exit code."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from test_report import validate_sarif

# Reference rules whose findings these tests pin down exactly; other rules
# (stage rules) may add findings of their own, which are filtered out.
REFERENCE_RULES = {"DP001", "DP002", "DP003", "DP040", "DP050"}
DIGEST = "sha256:" + "0123456789abcdef" * 4
# A hang guard only (a run takes well under a second): not a timing assertion.
HANG_GUARD = 600


def dockpin(
    *args: str, cwd: Path, env: dict[str, str] | None = None, timeout: float = HANG_GUARD
) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "DOCKPIN_CACHE_DIR": str(cwd / ".cache-dockpin")}
    environment.pop("PYTHONIOENCODING", None)
    environment.update(env or {})
    result = subprocess.run(
        [sys.executable, "-m", "dockpin.cli", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        encoding="utf-8",
        errors="replace",
        env=environment,
        timeout=timeout,
        check=False,
    )
    assert "Traceback" not in result.stderr, result.stderr
    return result


def check(
    *args: str, cwd: Path, env: dict[str, str] | None = None, timeout: float = HANG_GUARD
) -> subprocess.CompletedProcess[str]:
    return dockpin("check", "--offline", *args, cwd=cwd, env=env, timeout=timeout)


def rows(result: subprocess.CompletedProcess[str]) -> list[dict[str, Any]]:
    data = json.loads(result.stdout)
    assert isinstance(data, list)
    return [row for row in data if row["rule"] in REFERENCE_RULES]


def write(path: Path, text: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8", newline="")
    return path


# A real Dockerfile with references in every place the rules look.
REAL = (
    "# syntax=docker/dockerfile:1\n"
    "ARG BASE=example.com/base:2.0\n"
    "FROM $BASE AS build\n"
    "  RUN make\n"
    "FROM --platform=linux/amd64 example.com/app:1.0 AS app\n"
    "COPY --from=example.com/tools:3 /bin/tool /bin/tool\n"
    "RUN --mount=type=cache,target=/c,from=example.com/cache:latest true\n"
    "FROM \\\n"
    "    example.com/runtime\n"
    "FROM scratch\n"
    "COPY --from=build /out /out\n"
    "FROM build\n"
    f"FROM example.com/pinned:1@{DIGEST}\n"
    "FROM example.com/Bad:1\n"
)
# (1-based line, text the finding covers, rule, severity, message start)
REAL_FINDINGS = [
    (3, "$BASE", "DP003", "warning", "example.com/base:2.0 is not pinned"),
    (5, "example.com/app:1.0", "DP003", "warning", "example.com/app:1.0 is not pinned"),
    (6, "example.com/tools:3", "DP003", "warning", "example.com/tools:3 is not pinned"),
    (
        7,
        "example.com/cache:latest",
        "DP002",
        "warning",
        "example.com/cache:latest uses the moving 'latest' tag",
    ),
    (9, "example.com/runtime", "DP001", "warning", "example.com/runtime has no tag"),
    (
        14,
        "example.com/Bad:1",
        "DP040",
        "error",
        "invalid image reference example.com/Bad:1: repository name must be lowercase",
    ),
]


def column_of(line: int, covered: str) -> int:
    """1-based column of ``covered`` on 1-based ``line`` of REAL."""
    return REAL.split("\n")[line - 1].index(covered) + 1


# ---------------------------------------------------------------------------
# Output formats
# ---------------------------------------------------------------------------


def test_text_format(tmp_path: Path) -> None:
    write(tmp_path / "Dockerfile", REAL)
    result = check("Dockerfile", cwd=tmp_path)
    assert result.returncode == 1
    lines = [line for line in result.stdout.splitlines() if line.split(" ")[2] in REFERENCE_RULES]
    expected = [
        f"Dockerfile:{line}:{column_of(line, covered)}: {severity} {rule} {message}"
        for line, covered, rule, severity, message in REAL_FINDINGS
    ]
    assert len(lines) == len(expected)
    for got, want in zip(lines, expected, strict=True):
        assert got.startswith(want), (got, want)
    # Columns are 1-based: spelled out for two of them.
    assert lines[0].startswith("Dockerfile:3:6: warning DP003 ")
    assert lines[4].startswith("Dockerfile:9:5: warning DP001 ")
    assert result.stdout.endswith("\n")


def test_json_format(tmp_path: Path) -> None:
    write(tmp_path / "Dockerfile", REAL)
    result = check("--format", "json", "Dockerfile", cwd=tmp_path)
    assert result.returncode == 1
    found = rows(result)
    assert len(found) == len(REAL_FINDINGS)
    source_lines = REAL.split("\n")
    for row, (line, covered, rule, severity, message) in zip(found, REAL_FINDINGS, strict=True):
        assert set(row) >= {
            "file",
            "line",
            "column",
            "endLine",
            "endColumn",
            "rule",
            "name",
            "severity",
            "message",
        }
        assert row["file"] == "Dockerfile"
        assert (row["line"], row["endLine"]) == (line, line)
        assert row["column"] == column_of(line, covered)
        assert source_lines[line - 1][row["column"] - 1 : row["endColumn"] - 1] == covered
        assert (row["rule"], row["severity"]) == (rule, severity)
        assert row["message"].startswith(message)
        assert (
            row["name"]
            == {
                "DP001": "untagged-image",
                "DP002": "latest-tag",
                "DP003": "unpinned-tag",
                "DP040": "invalid-reference",
            }[rule]
        )


def test_sarif_format_validates_and_suits_github(tmp_path: Path) -> None:
    write(tmp_path / "Dockerfile", REAL)
    result = check("--format", "sarif", cwd=tmp_path)
    assert result.returncode == 1
    document = json.loads(result.stdout)
    validate_sarif(document)
    (run,) = document["runs"]
    driver = run["tool"]["driver"]
    assert driver["name"] == "dockpin"
    rule_ids = [rule["id"] for rule in driver["rules"]]
    for rule in driver["rules"]:
        assert rule["help"]["text"].strip() and rule["shortDescription"]["text"].strip()
    results = [r for r in run["results"] if r["ruleId"] in REFERENCE_RULES]
    assert [r["ruleId"] for r in results] == [f[2] for f in REAL_FINDINGS]
    for result_, (line, covered, rule, severity, _) in zip(results, REAL_FINDINGS, strict=True):
        assert rule_ids[result_["ruleIndex"]] == rule
        assert result_["level"] == severity
        location = result_["locations"][0]["physicalLocation"]
        assert location["artifactLocation"]["uri"] == "Dockerfile"
        region = location["region"]
        start = column_of(line, covered)
        assert region == {
            "startLine": line,
            "startColumn": start,
            "endLine": line,
            "endColumn": start + len(covered),
        }


def test_clean_file_text_json_and_sarif(tmp_path: Path) -> None:
    write(tmp_path / "Dockerfile", f"FROM example.com/app:1.0@{DIGEST}\nFROM scratch\n")
    text = check(cwd=tmp_path)
    assert (text.returncode, text.stdout) == (0, "")
    as_json = check("--format", "json", cwd=tmp_path)
    assert (as_json.returncode, json.loads(as_json.stdout)) == (0, [])
    sarif = check("--format", "sarif", cwd=tmp_path)
    assert sarif.returncode == 0
    document = json.loads(sarif.stdout)
    validate_sarif(document)
    assert document["runs"][0]["results"] == []


def test_several_files_in_one_report(tmp_path: Path) -> None:
    write(tmp_path / "a" / "Dockerfile", "FROM example.com/a:1\n")
    write(tmp_path / "b.Dockerfile", "FROM example.com/b\n")
    result = check("--format", "json", "a/Dockerfile", "b.Dockerfile", cwd=tmp_path)
    assert [(r["file"], r["rule"]) for r in rows(result)] == [
        ("a/Dockerfile", "DP003"),
        ("b.Dockerfile", "DP001"),
    ]


# ---------------------------------------------------------------------------
# Exit codes
# ---------------------------------------------------------------------------

ONLY_DP003 = "FROM example.com/app:1.0\n"


@pytest.mark.parametrize(
    ("level", "fail_on", "code"),
    [
        ("error", "error", 1),
        ("error", "warning", 1),
        ("error", "info", 1),
        ("error", "never", 0),
        ("warning", "error", 0),
        ("warning", "warning", 1),
        ("warning", "info", 1),
        ("warning", "never", 0),
        ("info", "error", 0),
        ("info", "warning", 0),
        ("info", "info", 1),
        ("info", "never", 0),
        ("hint", "error", 0),
        ("hint", "warning", 0),
        ("hint", "info", 0),
        ("hint", "never", 0),
        ("off", "info", 0),
    ],
)
def test_fail_on(tmp_path: Path, level: str, fail_on: str, code: int) -> None:
    write(tmp_path / "Dockerfile", ONLY_DP003)
    write(tmp_path / ".dockpin.toml", f'[rules]\nDP003 = "{level}"\n')
    result = check("--format", "json", "--fail-on", fail_on, cwd=tmp_path)
    assert result.returncode == code, result.stderr
    found = rows(result)
    if level == "off":
        assert found == []
    else:
        assert [(r["rule"], r["severity"]) for r in found] == [("DP003", level)]


@pytest.mark.parametrize(("level", "code"), [("warning", 1), ("info", 0), ("error", 1)])
def test_default_fail_on_is_warning(tmp_path: Path, level: str, code: int) -> None:
    write(tmp_path / "Dockerfile", ONLY_DP003)
    write(tmp_path / ".dockpin.toml", f'[rules]\nDP003 = "{level}"\n')
    assert check(cwd=tmp_path).returncode == code


def test_worst_finding_decides(tmp_path: Path) -> None:
    write(tmp_path / "Dockerfile", "FROM example.com/app:1.0\nFROM example.com/Bad:1\n")
    write(tmp_path / ".dockpin.toml", '[rules]\nDP003 = "hint"\n')
    assert check("--fail-on", "error", cwd=tmp_path).returncode == 1
    write(tmp_path / ".dockpin.toml", '[rules]\nDP003 = "hint"\nDP040 = "info"\n')
    assert check("--fail-on", "warning", cwd=tmp_path).returncode == 0
    assert check("--fail-on", "info", cwd=tmp_path).returncode == 1


@pytest.mark.parametrize(
    "args",
    [
        ["check", "--bogus"],
        ["check", "--format", "xml"],
        ["check", "--fail-on", "always"],
        ["check", "--fail-on"],
        ["check", "--config"],
        ["frobnicate"],
        [],
    ],
)
def test_usage_errors_exit_2(tmp_path: Path, args: list[str]) -> None:
    write(tmp_path / "Dockerfile", ONLY_DP003)
    result = dockpin(*args, cwd=tmp_path)
    assert result.returncode == 2
    assert "usage:" in result.stderr
    assert result.stdout == ""


def test_version(tmp_path: Path) -> None:
    result = dockpin("--version", cwd=tmp_path)
    assert result.returncode == 0
    assert result.stdout.startswith("dockpin ")


def test_missing_path_exits_2_and_still_reports_the_rest(tmp_path: Path) -> None:
    write(tmp_path / "Dockerfile", ONLY_DP003)
    result = check("--format", "json", "Dockerfile", "nope/Dockerfile", cwd=tmp_path)
    assert result.returncode == 2
    assert "dockpin: nope/Dockerfile: no such file or directory" in result.stderr
    assert [r["file"] for r in rows(result)] == ["Dockerfile"]


def test_missing_path_even_with_fail_on_never(tmp_path: Path) -> None:
    result = check("--fail-on", "never", "missing.Dockerfile", cwd=tmp_path)
    assert result.returncode == 2
    assert "missing.Dockerfile: no such file or directory" in result.stderr


def test_dangling_symlink_exits_2(tmp_path: Path) -> None:
    (tmp_path / "Dockerfile").symlink_to(tmp_path / "gone")
    result = check("Dockerfile", cwd=tmp_path)
    assert result.returncode == 2
    assert "Dockerfile:" in result.stderr
    # Found by a folder search, it is reported too.
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "Dockerfile").symlink_to(tmp_path / "gone")
    result = check("sub", cwd=tmp_path)
    assert result.returncode == 2
    assert "sub/Dockerfile: cannot read" in result.stderr


def test_symlink_loop_exits_2(tmp_path: Path) -> None:
    (tmp_path / "Dockerfile").symlink_to(tmp_path / "Dockerfile")
    result = check("Dockerfile", cwd=tmp_path)
    assert result.returncode == 2
    assert "Dockerfile:" in result.stderr


@pytest.mark.skipif(
    not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root reads files whatever the mode"
)
def test_unreadable_file_exits_2(tmp_path: Path) -> None:
    path = write(tmp_path / "Dockerfile", ONLY_DP003)
    path.chmod(0)
    try:
        result = check("Dockerfile", cwd=tmp_path)
    finally:
        path.chmod(0o644)
    assert result.returncode == 2
    assert "Dockerfile: cannot read: Permission denied" in result.stderr


def test_binary_file_named_exits_2(tmp_path: Path) -> None:
    write(tmp_path / "Dockerfile", b"FROM example.com/app:1.0\n\x00\x01\x02\xff")
    result = check("Dockerfile", cwd=tmp_path)
    assert result.returncode == 2
    assert "Dockerfile: skipped: binary file (contains NUL bytes)" in result.stderr
    assert result.stdout == ""


def test_binary_file_found_by_folder_search_is_skipped_not_an_error(tmp_path: Path) -> None:
    write(tmp_path / "Dockerfile.tar.gz", b"\x1f\x8b\x08\x00\x00\x00\x00\x00")
    write(tmp_path / "Dockerfile", f"FROM example.com/app:1.0@{DIGEST}\n")
    result = check(".", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "Dockerfile.tar.gz: skipped: binary file" in result.stderr


def test_non_utf8_file_gets_a_result_and_a_warning(tmp_path: Path) -> None:
    write(
        tmp_path / "Dockerfile",
        b"# caf\xe9 au lait\nFROM --platform=\xe9\xe8 example.com/app:1.0 AS caf\xe9\n",
    )
    result = check("--format", "json", "Dockerfile", cwd=tmp_path)
    assert result.returncode == 1
    assert "Dockerfile: not valid UTF-8; checked with undecodable bytes replaced" in result.stderr
    (row,) = rows(result)
    # Each undecodable byte is one replacement character, one column.
    assert (row["rule"], row["line"], row["column"]) == ("DP003", 2, 20)
    assert row["endColumn"] == 20 + len("example.com/app:1.0")


def test_utf8_bom_and_crlf(tmp_path: Path) -> None:
    bom = b"\xef\xbb\xbf"
    write(tmp_path / "Dockerfile", bom + b"FROM example.com/app:1.0\r\nFROM example.com/b\r\n")
    result = check("--format", "json", cwd=tmp_path)
    assert [(r["rule"], r["line"], r["column"], r["endColumn"]) for r in rows(result)] == [
        ("DP003", 1, 6, 25),
        ("DP001", 2, 6, 19),
    ]


def test_five_megabyte_file(tmp_path: Path) -> None:
    block = "# dockpin ignore=DP010\n" * 50_000  # a long pragma block
    runs = "RUN echo 'padding the file out to five megabytes of shell' && true\n" * 60_000
    text = "FROM example.com/app:1.0\n" + block + runs + "FROM example.com/last\n"
    assert len(text.encode()) > 5_000_000
    write(tmp_path / "Dockerfile", text)
    result = check("--format", "json", "Dockerfile", cwd=tmp_path)
    assert result.returncode == 1
    assert [(r["rule"], r["line"]) for r in rows(result)] == [
        ("DP003", 1),
        ("DP001", text.count("\n")),
    ]


def test_no_dockerfiles_found(tmp_path: Path) -> None:
    write(tmp_path / "README.md", "# nothing\n")
    result = check(".", cwd=tmp_path)
    assert (result.returncode, result.stdout) == (0, "")
    assert "no Dockerfiles found in ." in result.stderr


def test_default_path_is_the_current_folder(tmp_path: Path) -> None:
    write(tmp_path / "Dockerfile", ONLY_DP003)
    result = check("--format", "json", cwd=tmp_path)
    assert [r["file"] for r in rows(result)] == ["Dockerfile"]


def test_offline_flag_anywhere(tmp_path: Path) -> None:
    write(tmp_path / "Dockerfile", ONLY_DP003)
    for args in (["check", "--offline", "Dockerfile"], ["check", "Dockerfile", "--offline"]):
        result = dockpin(*args, cwd=tmp_path)
        assert result.returncode == 1
        assert "DP003" in result.stdout


# ---------------------------------------------------------------------------
# Folder discovery
# ---------------------------------------------------------------------------


def test_folder_discovery(tmp_path: Path) -> None:
    wanted = [
        "Dockerfile",
        "api.Dockerfile",
        "Dockerfile.dev",
        "Containerfile",
        "dockerfile",
        "services/web/Dockerfile",
        "services/web/Dockerfile.prod",
        "deep/a/b/c/worker.Dockerfile",
        ".github/Dockerfile",
    ]
    unwanted = [
        ".git/Dockerfile",
        ".git/modules/x/Dockerfile",
        "node_modules/pkg/Dockerfile",
        "vendor/lib/Dockerfile",
        "services/web/node_modules/x/Dockerfile",
        "services/vendor/Dockerfile",
        ".venv/lib/Dockerfile",
        ".hg/Dockerfile",
        ".svn/Dockerfile",
        "Dockerfile.md",
        "Dockerfile.template",
        "README.md",
        "Makefile",
        "NotADockerfile.txt",
        "docker-compose.yml",
    ]
    for name in wanted + unwanted:
        write(tmp_path / name, f"FROM example.com/{len(name)}:1\n")
    result = check("--format", "json", ".", cwd=tmp_path)
    assert result.returncode == 1
    assert sorted(r["file"] for r in rows(result)) == sorted(wanted)


def test_folder_named_explicitly_and_a_file_inside_a_skipped_folder(tmp_path: Path) -> None:
    write(tmp_path / "vendor" / "Dockerfile", ONLY_DP003)
    # Named explicitly, a file in a skipped folder is checked.
    result = check("--format", "json", "vendor/Dockerfile", cwd=tmp_path)
    assert [r["file"] for r in rows(result)] == ["vendor/Dockerfile"]
    # Searching the folder itself: its name is not a reason to skip it.
    result = check("--format", "json", "vendor", cwd=tmp_path)
    assert [r["file"] for r in rows(result)] == ["vendor/Dockerfile"]


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")
def test_named_pipe_found_by_folder_search_does_not_hang(tmp_path: Path) -> None:
    write(tmp_path / "Dockerfile", ONLY_DP003)
    os.mkfifo(tmp_path / "Dockerfile.pipe")
    # Reading a pipe that nobody writes blocks forever: the guard ends that.
    result = check("--format", "json", ".", cwd=tmp_path, timeout=120)
    assert result.returncode == 1
    assert [r["file"] for r in rows(result)] == ["Dockerfile"]


# ---------------------------------------------------------------------------
# --output, configuration
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["text", "json", "sarif"])
def test_output_file(tmp_path: Path, fmt: str) -> None:
    write(tmp_path / "Dockerfile", ONLY_DP003)
    to_stdout = check("--format", fmt, cwd=tmp_path)
    to_file = check("--format", fmt, "--output", "report.out", cwd=tmp_path)
    assert to_file.returncode == to_stdout.returncode == 1
    assert to_file.stdout == ""
    assert (tmp_path / "report.out").read_text(encoding="utf-8") == to_stdout.stdout
    short = check("--format", fmt, "-o", "short.out", cwd=tmp_path)
    assert (tmp_path / "short.out").read_text(encoding="utf-8") == to_stdout.stdout
    assert short.returncode == 1


def test_output_file_that_cannot_be_written_exits_2(tmp_path: Path) -> None:
    write(tmp_path / "Dockerfile", ONLY_DP003)
    (tmp_path / "out").mkdir()
    result = check("--output", "out", cwd=tmp_path)
    assert result.returncode == 2
    assert "dockpin: cannot write out:" in result.stderr
    result = check("--output", "missing/dir/report.txt", cwd=tmp_path)
    assert result.returncode == 2


def test_malformed_config_exits_2_naming_file_line_and_key(tmp_path: Path) -> None:
    write(tmp_path / "Dockerfile", ONLY_DP003)
    config = write(tmp_path / ".dockpin.toml", "# settings\n[rules]\nDP003 = error\n")
    result = check(cwd=tmp_path)
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr == (
        f"dockpin: {config.resolve()}:3: rules.DP003: invalid TOML: Invalid value\n"
    )


def test_invalid_config_value_exits_2(tmp_path: Path) -> None:
    write(tmp_path / "app" / "Dockerfile", ONLY_DP003)
    config = write(tmp_path / ".dockpin.toml", '[rules]\nDP003 = "loud"\n')
    result = check("app", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr == (
        f"dockpin: {config.resolve()}:2: rules.DP003: must be one of off, error, warning, "
        "info, hint, got 'loud'\n"
    )


def test_config_found_in_a_parent_folder(tmp_path: Path) -> None:
    write(tmp_path / "services" / "web" / "Dockerfile", ONLY_DP003)
    write(tmp_path / "Dockerfile", ONLY_DP003)
    write(tmp_path / "services" / ".dockpin.toml", '[rules]\nDP003 = "error"\n')
    result = check("--format", "json", ".", cwd=tmp_path)
    assert sorted((r["file"], r["severity"]) for r in rows(result)) == [
        ("Dockerfile", "warning"),
        ("services/web/Dockerfile", "error"),
    ]


def test_config_option_overrides_discovery(tmp_path: Path) -> None:
    write(tmp_path / "Dockerfile", ONLY_DP003)
    write(tmp_path / ".dockpin.toml", "this is not toml\n")
    write(tmp_path / "elsewhere" / "quiet.toml", '[rules]\nDP003 = "off"\n')
    result = check("--config", "elsewhere/quiet.toml", "--format", "json", cwd=tmp_path)
    assert (result.returncode, rows(result)) == (0, [])
    write(tmp_path / "elsewhere" / "strict.toml", '[rules]\nDP003 = "error"\n')
    result = check("--config", "elsewhere/strict.toml", "--fail-on", "error", cwd=tmp_path)
    assert result.returncode == 1
    assert "error DP003" in result.stdout


def test_config_option_with_a_bad_file_exits_2(tmp_path: Path) -> None:
    write(tmp_path / "Dockerfile", ONLY_DP003)
    result = check("--config", "missing.toml", cwd=tmp_path)
    assert result.returncode == 2
    assert "dockpin: missing.toml: cannot read" in result.stderr
    write(tmp_path / "bad.toml", "[registry]\ntimeout = -1\n")
    result = check("--config", "bad.toml", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr == (
        "dockpin: bad.toml:2: registry.timeout: must be a number of seconds between 0 and 600, "
        "got -1\n"
    )


def test_trusted_registries_from_config(tmp_path: Path) -> None:
    write(tmp_path / "Dockerfile", f"FROM example.com/app:1@{DIGEST}\nFROM ghcr.io/o/a@{DIGEST}\n")
    write(tmp_path / ".dockpin.toml", '[registry]\ntrusted-registries = ["ghcr.io"]\n')
    result = check("--format", "json", cwd=tmp_path)
    assert result.returncode == 1
    assert [(r["rule"], r["line"]) for r in rows(result)] == [("DP050", 1)]


# ---------------------------------------------------------------------------
# Encodings of the console and of file names
# ---------------------------------------------------------------------------


def test_ascii_console_gets_utf8_json_not_a_traceback(tmp_path: Path) -> None:
    write(tmp_path / "Dockerfile", "FROM pythön:3\n")
    result = subprocess.run(
        [sys.executable, "-m", "dockpin.cli", "check", "--offline", "--format", "json"],
        cwd=tmp_path,
        capture_output=True,
        env={**os.environ, "PYTHONIOENCODING": "ascii"},
        timeout=HANG_GUARD,
        check=False,
    )
    assert b"Traceback" not in result.stderr, result.stderr
    assert result.returncode == 1
    (row,) = json.loads(result.stdout.decode("utf-8"))
    assert row["message"].startswith("invalid image reference pythön:3")


@pytest.mark.skipif(sys.platform == "darwin", reason="macOS refuses non-UTF-8 file names")
def test_file_name_that_is_not_utf8(tmp_path: Path) -> None:
    name = os.fsdecode(b"Dockerfile.caf\xe9")
    write(tmp_path / name, ONLY_DP003)
    for args in (["--format", "json"], ["--format", "sarif"], ["--format", "text"]):
        result = check(*args, ".", cwd=tmp_path, env={"PYTHONIOENCODING": "utf-8"})
        assert result.returncode == 1, result.stderr
    result = check("--format", "json", ".", cwd=tmp_path)
    assert [r["file"] for r in rows(result)] == ["Dockerfile.caf\ufffd"]
    result = check("--format", "json", "--output", "r.json", ".", cwd=tmp_path)
    assert result.returncode == 1
    assert json.loads((tmp_path / "r.json").read_text(encoding="utf-8"))[0]["file"] == (
        "Dockerfile.caf\ufffd"
    )


def test_utf16_file_gets_a_clear_message(tmp_path: Path) -> None:
    write(tmp_path / "Dockerfile", "FROM example.com/app:1.0\n".encode("utf-16"))
    result = check("Dockerfile", cwd=tmp_path)
    assert result.returncode == 2
    assert "Dockerfile: UTF-16 text: docker build reads a Dockerfile as UTF-8" in result.stderr
    # Found by a folder search, it is still the user's Dockerfile: an error too.
    result = check(".", cwd=tmp_path)
    assert result.returncode == 2
    assert "UTF-16" in result.stderr
