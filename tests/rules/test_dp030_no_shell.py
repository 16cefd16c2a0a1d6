"""DP030 no-shell: instructions that need /bin/sh in scratch or distroless."""

from __future__ import annotations

import pytest

from dockpin.rules.base import Finding, RuleContext, Severity
from dockpin.rules.dp030_no_shell import RULE
from dockpin.syntax import Position, Range, parse


def check(text: str) -> list[Finding]:
    return list(RULE.check(RuleContext(parse(text)), RULE))


def span(start_line: int, start: int, end_line: int, end: int) -> Range:
    return Range(Position(start_line, start), Position(end_line, end))


def test_shell_form_run_in_distroless() -> None:
    text = "FROM gcr.io/distroless/static-debian12\nRUN mkdir -p /data\n"
    (finding,) = check(text)
    assert (finding.code, finding.name, finding.severity) == ("DP030", "no-shell", Severity.ERROR)
    assert finding.range == span(1, 0, 1, 18)
    assert finding.message == (
        "RUN in shell form runs /bin/sh -c, but gcr.io/distroless/static-debian12 has no shell: "
        "run it in a build stage and COPY the result in"
    )
    assert finding.instruction is not None and finding.instruction.keyword == "RUN"


def test_shell_form_cmd_in_scratch_suggests_its_exec_form() -> None:
    (finding,) = check("FROM scratch\nCOPY app /app\nCMD /app --port 8080\n")
    assert finding.range == span(2, 0, 2, 20)
    assert finding.message == (
        "CMD in shell form runs /bin/sh -c, but scratch has no shell: "
        'use the exec form: CMD ["/app", "--port", "8080"]'
    )


def test_shell_syntax_gets_a_generic_exec_form_hint() -> None:
    (finding,) = check("FROM scratch\nENTRYPOINT /app --port $PORT\n")
    assert finding.message.endswith('use the exec form, ENTRYPOINT ["/app", "arg"]')


def test_exec_form_running_a_shell() -> None:
    (finding,) = check(
        'FROM gcr.io/distroless/base-debian13\nENTRYPOINT ["/bin/sh", "-c", "exec /app"]\n'
    )
    assert finding.message == (
        "ENTRYPOINT runs /bin/sh, but gcr.io/distroless/base-debian13 has no shell: "
        "run the program directly"
    )


def test_exec_forms_are_fine() -> None:
    text = (
        "FROM gcr.io/distroless/static-debian12:nonroot\n"
        "COPY --from=build /app /app\n"
        'RUN ["/app", "--migrate"]\n'
        'ENTRYPOINT ["/app"]\n'
        'CMD ["--port", "8080"]\n'
    )
    assert check(text) == []


def test_multi_line_run_range_spans_its_lines() -> None:
    text = "FROM scratch\nRUN echo one \\\n    && echo two\n"
    (finding,) = check(text)
    assert finding.range == span(1, 0, 2, 15)


def test_heredoc_run_range_ends_at_the_delimiter() -> None:
    text = "FROM scratch\nRUN <<EOF\necho hi\nEOF\nCOPY a /a\n"
    (finding,) = check(text)
    assert finding.range == span(1, 0, 3, 3)


def test_lowercase_keywords_and_crlf() -> None:
    (finding,) = check("from gcr.io/distroless/python3-debian13\r\nrun pip install flask\r\n")
    assert finding.range == span(1, 0, 1, 21)
    assert finding.message.startswith("RUN in shell form")


def test_healthcheck_shell_form() -> None:
    text = (
        "FROM gcr.io/distroless/nodejs22-debian13\n"
        "HEALTHCHECK --interval=30s CMD curl -f http://localhost/ || exit 1\n"
        "HEALTHCHECK NONE\n"
    )
    (finding,) = check(text)
    assert finding.range.start == Position(1, 0)
    assert finding.message.startswith("HEALTHCHECK CMD in shell form runs /bin/sh -c")


def test_healthcheck_exec_form_is_fine() -> None:
    text = 'FROM scratch\nHEALTHCHECK CMD ["/app", "health"]\n'
    assert check(text) == []


def test_stage_built_from_a_distroless_stage() -> None:
    text = (
        "FROM gcr.io/distroless/static-debian12 AS base\nCOPY app /app\n"
        "FROM base\nRUN chmod +x /app\n"
    )
    (finding,) = check(text)
    assert finding.range == span(3, 0, 3, 17)
    assert "gcr.io/distroless/static-debian12 has no shell" in finding.message


def test_arg_substituted_distroless_base() -> None:
    text = "ARG DISTROLESS=gcr.io/distroless/cc-debian13\nFROM ${DISTROLESS}\nCMD ./app\n"
    (finding,) = check(text)
    assert "gcr.io/distroless/cc-debian13 has no shell" in finding.message


def test_every_offending_instruction_is_reported() -> None:
    text = "FROM scratch\nRUN a\nRUN b\nCMD c\n"
    assert [finding.range.start.line for finding in check(text)] == [1, 2, 3]


@pytest.mark.parametrize(
    "base",
    [
        "gcr.io/distroless/base-debian13:debug",
        "gcr.io/distroless/static-debian12:debug-nonroot",
        "cgr.dev/chainguard/python:latest-dev",
        "cgr.dev/chainguard/wolfi-base",
        "debian:bookworm-slim",
        "alpine:3.20",
    ],
)
def test_images_with_a_shell_are_fine(base: str) -> None:
    assert check(f"FROM {base}\nRUN echo hi\nCMD echo hi\n") == []


def test_chainguard_runtime_without_dev_tag_has_no_shell() -> None:
    (finding,) = check("FROM cgr.dev/chainguard/python:latest\nRUN pip install flask\n")
    assert "cgr.dev/chainguard/python:latest has no shell" in finding.message


def test_dotnet_chiseled_has_no_shell() -> None:
    (finding,) = check(
        "FROM mcr.microsoft.com/dotnet/aspnet:10.0-noble-chiseled\nENTRYPOINT dotnet app.dll\n"
    )
    assert finding.message.endswith('use the exec form: ENTRYPOINT ["dotnet", "app.dll"]')


def test_a_supplied_shell_is_trusted() -> None:
    busybox = (
        "FROM gcr.io/distroless/base-debian13\n"
        "COPY --from=busybox:1.36-musl /bin/busybox /busybox/busybox\n"
        'SHELL ["/busybox/busybox", "sh", "-c"]\n'
        "RUN mkdir /data\n"
    )
    assert check(busybox) == []
    rootfs = 'FROM scratch\nADD rootfs.tar.xz /\nCMD ["sh"]\nRUN echo ok\n'
    assert check(rootfs) == []
    whole = "FROM build AS tree\nFROM scratch\nCOPY --from=tree / /\nRUN echo ok\n"
    assert check(whole) == []


def test_shell_supplied_only_after_the_first_run() -> None:
    text = (
        "FROM scratch\nRUN echo too early\n"
        "COPY --from=busybox:1.36 /bin/busybox /bin/sh\nRUN echo fine\n"
    )
    assert [finding.range.start.line for finding in check(text)] == [1]
