"""Inline pragmas: ``# dockpin ignore=...``, ``# dockpin global ignore=...`` and
hadolint's ``# hadolint ignore=DL3006`` with its codes mapped to dockpin's."""

from __future__ import annotations

import pytest

from dockpin import suppression
from dockpin.analysis import analyze
from dockpin.config import Config
from dockpin.rules import ALL_RULES
from dockpin.rules.base import HADOLINT_EQUIVALENTS
from dockpin.syntax import parse

# The reference rules only: other rules (stage rules) are not what this file tests,
# and the images below are chosen so that none of them applies anyway.
REFERENCE_RULES = {"DP001", "DP002", "DP003", "DP040", "DP050"}
NAMES = {rule.name: rule.code for rule in ALL_RULES}


def found(text: str, config: Config | None = None) -> list[tuple[int, str]]:
    """(0-based line, code) of every reference finding."""
    return [
        (f.range.start.line, f.code)
        for f in analyze(parse(text), config)
        if f.code in REFERENCE_RULES
    ]


PINNED = "@sha256:" + "a" * 64


def test_without_pragmas() -> None:
    assert found("FROM example.com/app:1.0\nFROM example.com/tool\n") == [
        (0, "DP003"),
        (1, "DP001"),
    ]


def test_ignore_on_the_line_before_an_instruction() -> None:
    text = "# dockpin ignore=DP003\nFROM example.com/app:1.0\nFROM example.com/other:2\n"
    assert found(text) == [(2, "DP003")]


def test_ignore_lists_several_codes_and_other_codes_still_fire() -> None:
    text = "# dockpin ignore=DP003,DP010\nFROM example.com/app:1.0\n"
    assert found(text) == []
    text = "# dockpin ignore=DP001,DP010\nFROM example.com/app:1.0\n"
    assert found(text) == [(1, "DP003")]


@pytest.mark.parametrize(
    "pragma",
    [
        "# dockpin ignore=DP003",
        "#dockpin ignore=DP003",
        "#   dockpin   ignore = DP003  ",
        "# dockpin ignore=dp003",
        "# DOCKPIN IGNORE=DP003",
        "# Dockpin Ignore=Dp003",
        "# dockpin ignore=DP001,DP003",
        "# dockpin ignore=DP001, DP003",
        "# dockpin ignore=DP001 DP003",
        "# dockpin ignore=DP001,,DP003,",
        "# dockpin ignore=unpinned-tag",
        "# dockpin ignore=Unpinned-Tag",
        "# dockpin ignore=untagged-image,unpinned-tag",
        "\t# dockpin ignore=DP003",
        "  # dockpin ignore=DP003",
    ],
)
def test_accepted_spellings(pragma: str) -> None:
    assert found(f"{pragma}\nFROM example.com/app:1.0\n") == []


@pytest.mark.parametrize(
    "comment",
    [
        "# dockpin ignore DP003",
        "# dockpin: ignore=DP003",
        "# dockpin ignored=DP003",
        "# dockpin ignore=DP001",
        "# dockpin ignore=",
        "# dockpin ignore=untagged-image",
        "# dockpin ignore=DL3007",
        "# hadolint ignore=DP001",
        "# hadolint ignore=DL3008",
        "# ignore=DP003",
        "# dockpinignore=DP003",
        "# see: dockpin ignore=DP003",
    ],
)
def test_comments_that_do_not_suppress_dp003(comment: str) -> None:
    assert found(f"{comment}\nFROM example.com/app:1.0\n") == [(1, "DP003")]


def test_through_a_block_of_comments_directly_above() -> None:
    text = (
        "# dockpin ignore=DP003\n"
        "# the app image; pinned by the release job\n"
        "#\n"
        "# hadolint ignore=DL3006\n"
        "FROM example.com/app:1.0\n"
        "FROM example.com/tool\n"
    )
    assert found(text) == [(5, "DP001")]


def test_not_across_a_blank_line() -> None:
    text = "# dockpin ignore=DP003\n\nFROM example.com/app:1.0\n"
    assert found(text) == [(2, "DP003")]
    text = "# dockpin ignore=DP003\n   \t\nFROM example.com/app:1.0\n"
    assert found(text) == [(2, "DP003")]


def test_only_the_next_instruction() -> None:
    text = (
        "# dockpin ignore=DP003\n"
        "FROM example.com/app:1.0 AS build\n"
        "RUN make\n"
        "COPY --from=example.com/tools:1 /bin/tool /bin/tool\n"
        "FROM example.com/app:1.0\n"
    )
    assert found(text) == [(3, "DP003"), (4, "DP003")]


def test_pragma_before_a_non_reference_instruction_does_not_leak() -> None:
    text = (
        "FROM example.com/app:1.0@sha256:" + "b" * 64 + "\n"
        "# dockpin ignore=DP003\n"
        "RUN make\n"
        "COPY --from=example.com/tools:1 /a /b\n"
    )
    assert found(text) == [(3, "DP003")]


def test_pragma_after_the_instruction_does_not_apply() -> None:
    text = "FROM example.com/app:1.0\n# dockpin ignore=DP003\n"
    assert found(text) == [(0, "DP003")]
    text = "FROM example.com/app:1.0 # dockpin ignore=DP003\n"
    assert (0, "DP003") in found(text)


def test_copy_from_and_mount_from() -> None:
    text = (
        "FROM example.com/app:1.0" + PINNED + "\n"
        "# dockpin ignore=DP003\n"
        "COPY --from=example.com/tools:1 /a /b\n"
        "# dockpin ignore=DP002\n"
        "RUN --mount=type=bind,from=example.com/cache:latest,target=/c true\n"
        "RUN --mount=type=bind,from=example.com/cache:latest,target=/c true\n"
    )
    assert found(text) == [(5, "DP002")]


def test_continuation_lines_belong_to_the_instruction() -> None:
    # A pragma applies to the instruction starting on the next line, even if
    # its image reference sits on a continuation line further down.
    text = "# dockpin ignore=DP003\nFROM \\\n  --platform=linux/amd64 \\\n  example.com/app:1.0\n"
    assert found(text) == []
    # A comment inside an instruction's continuation is no pragma for it.
    text = "FROM \\\n# dockpin ignore=DP003\n  example.com/app:1.0\n"
    assert found(text) == [(2, "DP003")]


def test_heredoc_body_lines_are_not_pragmas() -> None:
    text = (
        "FROM example.com/app:1.0" + PINNED + "\n"
        "RUN <<EOF\n"
        "# dockpin global ignore=DP003\n"
        "# dockpin ignore=DP003\n"
        "EOF\n"
        "COPY --from=example.com/tools:1 /a /b\n"
    )
    assert found(text) == [(5, "DP003")]


def test_escape_directive_then_pragma() -> None:
    text = "# escape=`\n# dockpin ignore=DP003\nFROM example.com/app:1.0\n"
    assert found(text) == []


def test_crlf() -> None:
    text = "# dockpin ignore=DP003\r\nFROM example.com/app:1.0\r\nFROM example.com/b:2\r\n"
    assert found(text) == [(2, "DP003")]


# ---------------------------------------------------------------------------
# Global pragmas
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("where", ["top", "middle", "bottom"])
def test_global_ignore_anywhere(where: str) -> None:
    body = [
        "FROM example.com/app:1.0",
        "RUN make",
        "FROM example.com/tool",
        "COPY --from=example.com/tools:1 /a /b",
    ]
    pragma = "# dockpin global ignore=DP003"
    index = {"top": 0, "middle": 2, "bottom": len(body)}[where]
    lines = [*body[:index], pragma, *body[index:]]
    result = found("\n".join(lines) + "\n")
    assert [code for _, code in result] == ["DP001"]


def test_global_ignore_of_several_codes_and_names() -> None:
    text = (
        "FROM example.com/app:1.0\nFROM example.com/tool\nFROM example.com/x:latest\n"
        "# dockpin global ignore=DP001, latest-tag\n"
    )
    assert found(text) == [(0, "DP003")]


def test_global_ignore_separated_by_blank_lines_still_applies() -> None:
    text = "# dockpin global ignore=DP003\n\n\nRUN true\n\nFROM example.com/app:1.0\n"
    assert found(text) == []


@pytest.mark.parametrize(
    "pragma",
    [
        "# dockpin global ignore=DP003",
        "#dockpin global ignore=dp003",
        "# DOCKPIN GLOBAL IGNORE=DP003",
        "# dockpin   global   ignore = unpinned-tag",
    ],
)
def test_global_spellings(pragma: str) -> None:
    assert found(f"FROM example.com/app:1.0\nFROM example.com/b:1\n{pragma}\n") == []


# ---------------------------------------------------------------------------
# hadolint's pragmas
# ---------------------------------------------------------------------------


def test_hadolint_code_map() -> None:
    assert dict(HADOLINT_EQUIVALENTS) == {"DL3006": "DP001", "DL3007": "DP002", "DL3026": "DP050"}


@pytest.mark.parametrize(
    ("pragma", "image", "code"),
    [
        ("# hadolint ignore=DL3006", "example.com/tool", "DP001"),
        ("# hadolint ignore=DL3007", "example.com/x:latest", "DP002"),
        ("# hadolint ignore=dl3006", "example.com/tool", "DP001"),
        ("# HADOLINT ignore=DL3007", "example.com/x:latest", "DP002"),
        ("# hadolint ignore=DL3008,DL3006", "example.com/tool", "DP001"),
        ("# hadolint ignore=DL3006 DL3007", "example.com/x:latest", "DP002"),
    ],
)
def test_hadolint_ignore(pragma: str, image: str, code: str) -> None:
    text = f"{pragma}\nFROM {image}\nFROM {image}\n"
    assert found(text) == [(2, code)]


def test_hadolint_dl3026_is_dp050() -> None:
    config = Config(trusted_registries=("ghcr.io",))
    image = "example.com/app:1.0" + PINNED
    assert found(f"FROM {image}\n", config) == [(0, "DP050")]
    assert found(f"# hadolint ignore=DL3026\nFROM {image}\nFROM {image}\n", config) == [
        (2, "DP050")
    ]
    assert found(f"FROM {image}\n# hadolint global ignore=DL3026\nFROM {image}\n", config) == []


def test_hadolint_global_ignore() -> None:
    text = (
        "FROM example.com/tool\nFROM example.com/x:latest\nFROM example.com/y:1\n"
        "# hadolint global ignore=DL3006,DL3007\n"
    )
    assert found(text) == [(2, "DP003")]


def test_hadolint_pragma_cannot_name_dockpin_codes_only_dl_codes() -> None:
    # The DL map decides: DL3006 means DP001, so DP003 still fires.
    text = "# hadolint ignore=DL3006\nFROM example.com/app:1.0\n"
    assert found(text) == [(1, "DP003")]


def test_mixed_dockpin_and_hadolint_pragmas_in_one_block() -> None:
    text = (
        "# hadolint ignore=DL3007\n"
        "# dockpin ignore=DP003\n"
        "FROM example.com/x:latest\n"
        "FROM example.com/y:2\n"
        "FROM example.com/x:latest\n"
    )
    assert found(text) == [(3, "DP003"), (4, "DP002")]


# ---------------------------------------------------------------------------
# suppression.collect directly
# ---------------------------------------------------------------------------


def test_collect_records_lines_and_codes() -> None:
    text = (
        "# dockpin global ignore=DP020\n"
        "ARG V=1\n"
        "# dockpin ignore=DP003,unpinned-tag,DP010\n"
        "# hadolint ignore=DL3006,DL3007,DL3026,DL3008\n"
        "FROM example.com/app:$V\n"
        "# dockpin ignore=DP001\n"
        "\n"
        "RUN true\n"
        "# dockpin ignore=DP002\n"
    )
    collected = suppression.collect(parse(text), NAMES)
    assert collected.global_codes == {"DP020"}
    assert collected.by_line == {4: {"DP003", "DP010", "DP001", "DP002", "DP050"}}


def test_global_ignore_with_config_off_and_overrides() -> None:
    config = Config.from_mapping({"rules": {"DP001": "error"}})
    text = "FROM example.com/tool\n# dockpin global ignore=DP003\nFROM example.com/a:1\n"
    findings = [f for f in analyze(parse(text), config) if f.code in REFERENCE_RULES]
    assert [(f.code, f.severity.label) for f in findings] == [("DP001", "error")]


def test_long_comment_blocks_stay_linear() -> None:
    # 20,000 pragma lines above one instruction: a per-pragma walk of the
    # block is quadratic (minutes here, hours for a 5 MB file of comments).
    count = 20_000
    text = "# dockpin ignore=DP003\n" * count + "FROM example.com/app:1.0\nFROM example.com/b:1\n"
    collected = suppression.collect(parse(text), NAMES)
    assert collected.by_line == {count: {"DP003"}}
    assert found(text) == [(count + 1, "DP003")]
