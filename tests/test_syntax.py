"""The syntax model: instructions, stages and references with exact ranges."""

from __future__ import annotations

import pytest

from dockpin.syntax import Position, Range, column_from_utf16, parse, utf16_column


def text_at(source: str, range_: Range) -> str:
    """The characters a range covers, across lines."""
    lines = source.replace("\r\n", "\n").split("\n")
    if range_.start.line == range_.end.line:
        return lines[range_.start.line][range_.start.character : range_.end.character]
    parts = [lines[range_.start.line][range_.start.character :]]
    parts.extend(lines[range_.start.line + 1 : range_.end.line])
    parts.append(lines[range_.end.line][: range_.end.character])
    return "\n".join(parts)


def keywords(source: str) -> list[str]:
    return [instruction.keyword for instruction in parse(source).instructions]


def test_instructions_keywords_flags_and_line_ranges() -> None:
    source = (
        "FROM --platform=$BUILDPLATFORM golang:1.22 AS build\n"
        "run --mount=type=cache,target=/root/.cache go build ./...\n"
        "\n"
        "copy --from=build --chmod=755 /out /app\n"
    )
    model = parse(source)
    assert [i.keyword for i in model.instructions] == ["FROM", "RUN", "COPY"]
    from_, run, copy = model.instructions
    assert from_.flag("platform") is not None
    assert from_.flag("platform").value == "$BUILDPLATFORM"  # type: ignore[union-attr]
    assert run.flag("mount").value == "type=cache,target=/root/.cache"  # type: ignore[union-attr]
    assert copy.flag("from").value == "build"  # type: ignore[union-attr]
    assert copy.flag("chmod").value == "755"  # type: ignore[union-attr]
    assert (copy.start_line, copy.end_line) == (3, 3)
    assert text_at(source, run.keyword_range) == "run"


def test_reference_spans_for_name_tag_and_digest() -> None:
    digest = "sha256:" + "ab" * 32
    source = f"FROM ghcr.io/org/app:1.2@{digest} AS app\n"
    reference = parse(source).references[0]
    assert reference.ref is not None
    assert text_at(source, reference.raw_range) == f"ghcr.io/org/app:1.2@{digest}"
    assert text_at(source, reference.name_range) == "ghcr.io/org/app"  # type: ignore[arg-type]
    assert text_at(source, reference.tag_range) == "1.2"  # type: ignore[arg-type]
    assert text_at(source, reference.digest_range) == digest  # type: ignore[arg-type]
    assert reference.raw_range.start == Position(0, 5)


def test_line_continuation_inside_from() -> None:
    source = "FROM \\\n    python:3.12 \\\n    AS base\nRUN true\n"
    model = parse(source)
    assert keywords(source) == ["FROM", "RUN"]
    reference = model.references[0]
    assert reference.value == "python:3.12"
    assert reference.raw_range == Range(Position(1, 4), Position(1, 15))
    assert model.stages[0].name == "base"
    assert model.instructions[0].range.end.line == 2


def test_continuation_splitting_a_word_joins_it() -> None:
    source = "FROM pyth\\\non:3.12\n"
    reference = parse(source).references[0]
    assert reference.value == "python:3.12"
    assert reference.raw_range == Range(Position(0, 5), Position(1, 7))


def test_comments_and_blank_lines_inside_continuation_are_skipped() -> None:
    source = "RUN apt-get update \\\n# a comment\n\n    && apt-get install -y curl\nFROM x:1\n"
    model = parse(source)
    assert keywords(source) == ["RUN", "FROM"]
    assert "apt-get install" in model.instructions[0].args
    assert [c.line for c in model.comments] == [1]


def test_escape_directive_backtick() -> None:
    source = (
        "# escape=`\nFROM mcr.microsoft.com/windows/servercore:ltsc2022 `\n    AS win\n"
        "RUN dir c:\\\n"
    )
    model = parse(source)
    assert model.escape == "`"
    assert keywords(source) == ["FROM", "RUN"]
    assert model.stages[0].name == "win"
    # A trailing backslash is no continuation under a backtick escape.
    assert model.instructions[1].args == "dir c:\\"


def test_escape_directive_only_at_the_top() -> None:
    source = "FROM x:1\n# escape=`\nRUN echo `\nFROM y:2\n"
    assert keywords(source) == ["FROM", "RUN", "FROM"]


def test_crlf_positions() -> None:
    source = "FROM python:3.12\r\nRUN pip install x \\\r\n  flask\r\nFROM node:22\r\n"
    model = parse(source)
    assert keywords(source) == ["FROM", "RUN", "FROM"]
    assert model.references[1].raw_range == Range(Position(3, 5), Position(3, 12))
    assert model.instructions[1].args.endswith("flask")
    assert all("\r" not in line for line in model.lines)


def test_lowercase_keywords_and_stage_names_case_insensitive() -> None:
    source = "from golang:1.22 As Builder\nfrom builder\nFROM BUILDER AS again\n"
    model = parse(source)
    assert [s.base_kind for s in model.stages] == ["image", "stage", "stage"]
    assert len(model.references) == 1
    assert model.stages[2].root_image()[1] is model.references[0]


def test_comment_lines_are_never_instructions() -> None:
    source = "# FROM evil:latest\n  # RUN nope\nFROM ok:1\n"
    assert keywords(source) == ["FROM"]
    assert len(parse(source).comments) == 2


def test_heredoc_bodies_are_never_instructions() -> None:
    source = (
        "FROM python:3.12\n"
        "RUN <<EOF\n"
        "FROM not-an-instruction\n"
        "pip install flask\n"
        "EOF\n"
        "COPY <<-\"CONF\" <<'OTHER' /etc/\n"
        "\tFROM also-not\n"
        "\tCONF\n"
        "RUN nope\n"
        "OTHER\n"
        "CMD [\"python\"]\n"
    )
    model = parse(source)
    assert keywords(source) == ["FROM", "RUN", "COPY", "CMD"]
    run = model.instructions[1]
    assert run.heredocs[0].body == "FROM not-an-instruction\npip install flask"
    assert "pip install flask" in run.script()
    assert run.range.end.line == 4
    copy = model.instructions[2]
    assert [h.name for h in copy.heredocs] == ["CONF", "OTHER"]
    assert copy.heredocs[0].chomp and copy.heredocs[0].quoted
    assert copy.heredocs[1].body == "RUN nope"
    assert len(model.references) == 1


def test_heredoc_with_command_after_opener_and_fd_prefix() -> None:
    source = "FROM a:1\nRUN python3 <<EOF > /out\nFROM x\nEOF\nRUN cat 0<<END\nFROM y\nEND\n"
    assert keywords(source) == ["FROM", "RUN", "RUN"]


def test_here_string_and_shift_are_not_heredocs() -> None:
    source = "FROM a:1\nRUN cat <<<word && echo $((1<<2))\nFROM b:2\n"
    assert keywords(source) == ["FROM", "RUN", "FROM"]


def test_unterminated_heredoc_swallows_the_rest_without_crashing() -> None:
    source = "FROM a:1\nRUN <<EOF\necho hi\nFROM b:2\n"
    model = parse(source)
    assert keywords(source) == ["FROM", "RUN"]
    assert model.instructions[1].heredocs[0].terminated is False


def test_arg_substitution_records_the_arg_default() -> None:
    source = "ARG BASE=python:3.12\nARG TAG=22\nFROM ${BASE}\nFROM node:$TAG\n"
    model = parse(source)
    base, node = model.references
    assert base.value == "python:3.12"
    assert text_at(source, base.raw_range) == "${BASE}"
    assert base.raw_range.start.line == 2  # the finding points at the FROM line
    assert [a.name for a in base.args_used] == ["BASE"]
    assert base.args_used[0].value_range == Range(Position(0, 9), Position(0, 20))
    # The tag lives entirely in the ARG default: its range is on the ARG line.
    assert base.tag_range == Range(Position(0, 16), Position(0, 20))
    assert node.value == "node:22"
    assert node.tag_range == Range(Position(1, 8), Position(1, 10))
    # Editing after the tag means editing the ARG line for both.
    instruction, _offset = base.location(len(base.value), prefer_end=True)  # type: ignore[misc]
    assert instruction is model.global_args["BASE"].instruction  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("arg_line", "image", "expected"),
    [
        ("", "python:${V:-3.11}", "python:3.11"),
        ("ARG V=3.12", "python:${V:-3.11}", "python:3.12"),
        ('ARG V=""', "python:${V:-3.11}", "python:3.11"),
        ('ARG V=""', "python:${V-3.11}", "python:"),
        ("ARG V=x", "python:3${V:+.13}", "python:3.13"),
        ("", "python:3${V:+.13}", "python:3"),
        ("ARG R=ghcr.io ARG_IGNORED", "${R}/org/app:1", "ghcr.io/org/app:1"),
        ('ARG T="3.12"', 'python:"${T}"', "python:3.12"),
        ("ARG B=3.12", "python:${A:-${B}}-slim", "python:3.12-slim"),
    ],
)
def test_substitution_forms(arg_line: str, image: str, expected: str) -> None:
    model = parse(f"{arg_line}\nFROM {image}\n")
    assert model.references[0].value == expected


def test_unresolved_variable_is_not_judged() -> None:
    source = "FROM python:${PY_VERSION}\nFROM $REGISTRY/app:1\n"
    model = parse(source)
    assert [r.unresolved for r in model.references] == [("PY_VERSION",), ("REGISTRY",)]
    assert all(r.ref is None and r.error is None for r in model.references)
    assert [s.base_kind for s in model.stages] == ["unresolved", "unresolved"]


def test_arg_after_from_is_not_visible_to_from() -> None:
    source = "FROM a:1\nARG V=2\nFROM b:$V\n"
    assert parse(source).references[1].unresolved == ("V",)


def test_scratch_is_not_an_image() -> None:
    model = parse("FROM scratch\nCOPY app /\n")
    assert model.references == []
    assert model.stages[0].base_kind == "scratch"


def test_copy_from_stage_index_and_image() -> None:
    source = (
        "FROM golang:1.22 AS build\n"
        "FROM alpine:3.20\n"
        "COPY --from=build /a /a\n"
        "COPY --from=BUILD /a /a\n"
        "COPY --from=0 /a /a\n"
        "COPY --from=nginx:1.27 /etc/nginx /etc/nginx\n"
    )
    model = parse(source)
    kinds = [(r.kind, r.value) for r in model.references]
    assert kinds == [("from", "golang:1.22"), ("from", "alpine:3.20"), ("copy-from", "nginx:1.27")]
    assert model.references[2].raw_range == Range(Position(5, 12), Position(5, 22))


def test_copy_from_uses_stage_args() -> None:
    source = "FROM a:1\nARG IMG=nginx:1.27\nCOPY --from=${IMG} /x /x\n"
    reference = parse(source).references[1]
    assert (reference.kind, reference.value) == ("copy-from", "nginx:1.27")


def test_run_mount_from_image_and_stage() -> None:
    source = (
        "FROM golang:1.22 AS deps\n"
        "RUN --mount=type=bind,from=deps,source=/go,target=/go "
        "--mount=type=cache,target=/c,from=busybox:1.36 make\n"
    )
    model = parse(source)
    mounts = [r for r in model.references if r.kind == "mount-from"]
    assert [r.value for r in mounts] == ["busybox:1.36"]
    assert text_at(source, mounts[0].raw_range) == "busybox:1.36"


def test_digest_only_reference() -> None:
    digest = "sha256:" + "0" * 64
    reference = parse(f"FROM python@{digest}\n").references[0]
    assert reference.ref is not None
    assert reference.ref.tag is None and reference.ref.digest == digest


def test_invalid_reference_is_reported_with_reason() -> None:
    reference = parse("FROM Python:3.12\n").references[0]
    assert reference.ref is None
    assert reference.error == "repository name must be lowercase"


def test_stage_platform_and_names() -> None:
    model = parse("FROM --platform=linux/arm64 debian:13 AS one\nFROM one AS two\n")
    assert model.stages[0].platform == "linux/arm64"
    assert model.stage_by_name("TWO") is model.stages[1]


def test_bom_and_non_bmp_columns() -> None:
    source = "\ufeffFROM python:3.12\nLABEL x=\U0001f40d\nFROM node:22 # \U0001f40d\n"
    model = parse(source)
    assert keywords(source) == ["FROM", "LABEL", "FROM"]
    assert model.references[0].raw_range.start == Position(0, 6)
    assert utf16_column("a\U0001f40db", 2) == 3
    assert column_from_utf16("a\U0001f40db", 3) == 2


def test_arbitrary_garbage_does_not_raise() -> None:
    for source in ["", "\n\n", "FROM", "FROM \\", "RUN <<", "ARG =x\nFROM ${", "\x00\x01", "`\\`"]:
        parse(source)


def test_exec_form_detection() -> None:
    model = parse('FROM a:1\nCMD ["python", "-m", "app"]\nENTRYPOINT python app.py\nCMD [bad\n')
    cmd, entrypoint, bad = model.instructions[1:]
    assert cmd.exec_form() == ["python", "-m", "app"]
    assert entrypoint.exec_form() is None
    assert bad.exec_form() is None
