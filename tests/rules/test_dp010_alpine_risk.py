"""DP010 alpine-risk: Python, Node.js, Java or native extensions on musl."""

from __future__ import annotations

import pytest

from dockpin.rules.base import Finding, RuleContext, Severity
from dockpin.rules.dp010_alpine_risk import RULE
from dockpin.syntax import Position, Range, parse


def check(text: str) -> list[Finding]:
    return list(RULE.check(RuleContext(parse(text)), RULE))


def span(line: int, start: int, end: int) -> Range:
    return Range(Position(line, start), Position(line, end))


def test_python_alpine_image_names_the_risk_and_the_slim_tag() -> None:
    findings = check(
        "FROM python:3.12-alpine\nCOPY . /app\nRUN pip install -r /app/requirements.txt\n"
        'CMD ["python", "/app/main.py"]\n'
    )
    assert len(findings) == 1
    finding = findings[0]
    assert (finding.code, finding.name) == ("DP010", "alpine-risk")
    assert finding.severity is Severity.WARNING
    assert finding.range == span(0, 5, 23)
    assert finding.message == (
        "python:3.12-alpine uses musl: pip must compile many packages from source (manylinux "
        "wheels do not fit musl) and musl's allocator is slow under threads; use python:3.12-slim"
    )
    assert finding.reference is not None and finding.reference.value == "python:3.12-alpine"


def test_alpine_version_suffix_swaps_to_plain_slim() -> None:
    (finding,) = check("FROM python:3.12-alpine3.20 AS app\n")
    assert finding.message.endswith("; use python:3.12-slim")
    assert finding.range == span(0, 5, 27)


def test_node_alpine_lowercase_keywords() -> None:
    (finding,) = check("from node:22-alpine as build\nworkdir /src\nrun npm ci\n")
    assert finding.range == span(0, 5, 19)
    assert "native npm modules must be rebuilt for musl" in finding.message
    assert finding.message.endswith("use node:22-slim")


def test_java_alpine_suggests_the_glibc_jre() -> None:
    (finding,) = check("FROM eclipse-temurin:21-jre-alpine\nCOPY app.jar /app.jar\n")
    assert "JVM thread stacks" in finding.message
    assert finding.message.endswith("use eclipse-temurin:21-jre")


def test_deprecated_openjdk_alpine_suggests_temurin_not_openjdk() -> None:
    (finding,) = check("FROM openjdk:8-alpine\n")
    assert finding.message.endswith("use eclipse-temurin:8-jre")


def test_plain_alpine_installing_python_with_apk() -> None:
    (finding,) = check(
        "FROM alpine:3.20\n"
        "RUN apk add --no-cache python3 py3-pip \\\n"
        "    && pip install --break-system-packages awscli\n"
    )
    assert finding.range == span(0, 5, 16)
    assert finding.message.startswith(
        "alpine:3.20 uses musl and this stage installs python3 with apk: pip must compile"
    )
    assert finding.message.endswith("use python:3-slim")


def test_apk_openjdk_package_gives_the_matching_temurin_version() -> None:
    (finding,) = check("FROM alpine:3.20\nRUN apk add openjdk17-jre-headless=17.0.12_p7-r0\n")
    assert "installs openjdk17-jre-headless with apk" in finding.message
    assert finding.message.endswith("use eclipse-temurin:17-jre")


def test_pip_install_inside_a_heredoc_body() -> None:
    (finding,) = check(
        "# syntax=docker/dockerfile:1\n"
        "FROM alpine:3.20\n"
        "RUN <<EOF\n"
        "set -eux\n"
        "pip3 install -r requirements.txt\n"
        "EOF\n"
    )
    assert finding.range == span(1, 5, 16)
    assert "`pip3 install` here builds native extensions for it" in finding.message


@pytest.mark.parametrize(
    "run",
    [
        'RUN sh -c "pip install flask"',
        "RUN if [ -f requirements.txt ]; then pip install -r requirements.txt; fi",
        "RUN sudo -E pip3.12 install flask",
        'RUN ["python3", "-m", "pip", "install", "flask"]',
        "RUN uv pip install --system flask",
    ],
)
def test_pip_install_is_found_through_shell_wrappers(run: str) -> None:
    (finding,) = check(f"FROM alpine:3.20\n{run}\n")
    assert "install` here builds native extensions for it" in finding.message


def test_java_home_marks_a_copied_jvm() -> None:
    (finding,) = check(
        "FROM alpine:3.20\nENV JAVA_HOME=/opt/java\nCOPY --from=jre-build /javaruntime $JAVA_HOME\n"
    )
    assert "sets JAVA_HOME" in finding.message


def test_ruby_native_gems() -> None:
    (finding,) = check("FROM ruby:3.3-alpine\nRUN apk add build-base && bundle install\n")
    assert "`bundle install`" in finding.message
    assert finding.message.endswith("use ruby:3.3-slim")


def test_cgo_go_build_on_alpine() -> None:
    (finding,) = check(
        "FROM golang:1.22-alpine AS build\n"
        "RUN apk add --no-cache gcc musl-dev\n"
        "RUN go build -o /out/app ./cmd/app\n"
    )
    assert finding.message == (
        "golang:1.22-alpine uses musl and builds Go with cgo: cgo links the binary against musl "
        "(a different DNS resolver, a slow allocator); set CGO_ENABLED=0 or build on golang:1.22"
    )


def test_derived_stage_points_at_its_own_from_argument() -> None:
    text = (
        "FROM alpine:3.20 AS base\nRUN apk add curl\n\nFROM base AS app\nRUN apk add nodejs npm\n"
    )
    (finding,) = check(text)
    assert finding.range == span(3, 5, 9)
    assert finding.reference is not None and finding.reference.value == "alpine:3.20"
    assert finding.message.startswith("alpine:3.20 uses musl and this stage installs nodejs")


def test_risk_is_reported_once_where_it_first_appears() -> None:
    text = (
        "FROM python:3.12-alpine AS base\n"
        "FROM base AS deps\nRUN pip install -r requirements.txt\n"
        'FROM deps\nCMD ["python", "app.py"]\n'
    )
    findings = check(text)
    assert [finding.range for finding in findings] == [span(0, 5, 23)]


def test_arg_substituted_base_reports_the_written_text_and_the_value() -> None:
    (finding,) = check("ARG PY=3.12\nFROM python:${PY}-alpine\n")
    assert finding.range == span(1, 5, 24)
    assert finding.message.startswith("python:3.12-alpine uses musl")


def test_continuation_inside_from_and_crlf() -> None:
    text = "ARG PY=3.12\r\nFROM \\\r\n  python:${PY}-alpine AS app\r\nRUN pip install flask\r\n"
    (finding,) = check(text)
    assert finding.range == span(2, 2, 21)


def test_unresolved_base_is_not_judged() -> None:
    assert check("ARG PY\nFROM python:${PY}-alpine\nRUN pip install x\n") == []


def test_static_go_on_alpine_is_fine() -> None:
    assert (
        check(
            "FROM golang:1.22-alpine AS build\n"
            "RUN apk add --no-cache git gcc musl-dev\n"
            "ENV CGO_ENABLED=0\n"
            "RUN go build -o /out/app .\n"
        )
        == []
    )
    assert check("FROM golang:1.22-alpine\nRUN CGO_ENABLED=0 go build -o /app .\n") == []
    # No C compiler in golang:*-alpine: cgo is off by default since Go 1.20.
    assert check("FROM golang:1.22-alpine\nRUN go build -o /app .\n") == []


def test_static_rust_on_alpine_is_fine() -> None:
    assert (
        check(
            "FROM rust:1.80-alpine AS build\n"
            "RUN apk add --no-cache musl-dev\n"
            "RUN cargo build --release --target x86_64-unknown-linux-musl\n"
            "FROM alpine:3.20\n"
            "COPY --from=build /target/x86_64-unknown-linux-musl/release/app /app\n"
            'ENTRYPOINT ["/app"]\n'
        )
        == []
    )


def test_simple_services_and_binary_carriers_are_fine() -> None:
    assert check("FROM nginx:1.27-alpine\nCOPY dist/ /usr/share/nginx/html/\n") == []
    assert check("FROM alpine:3.20\nRUN apk add --no-cache curl ca-certificates tzdata\n") == []
    assert check('FROM alpine:3.20\nCOPY --from=build /app /app\nENTRYPOINT ["/app"]\n') == []


def test_compiling_a_c_program_on_alpine_is_fine() -> None:
    assert (
        check(
            "FROM alpine:3.20\n"
            "RUN apk add --no-cache --virtual .build-deps build-base gcc musl-dev make \\\n"
            "    && make -C /src install && apk del .build-deps\n"
        )
        == []
    )


def test_build_only_interpreter_in_a_deleted_virtual_group_is_fine() -> None:
    # Node's own Alpine build needs python3 for gyp, then deletes it.
    assert (
        check(
            "FROM alpine:3.20\n"
            "RUN apk add --no-cache --virtual .build-deps-full python3 g++ make \\\n"
            "    && ./configure && make && apk del .build-deps-full\n"
        )
        == []
    )


def test_version_queries_are_not_installs() -> None:
    assert check("FROM alpine:3.20\nRUN bundle --version; yarn --version\n") == []


def test_glibc_and_alpaquita_images_are_not_alpine() -> None:
    assert check("FROM python:3.12-slim\nRUN pip install flask\n") == []
    assert check("FROM bellsoft/liberica-runtime-container:jre-21-musl\nCOPY app.jar /\n") == []
    assert check("FROM cgr.dev/chainguard/python:latest-dev\nRUN pip install flask\n") == []
