"""DP020 full-base-image: the final stage ships a full image where a slim, JRE
or distroless one exists."""

from __future__ import annotations

import pytest

from dockpin.rules.base import Finding, RuleContext, Severity
from dockpin.rules.dp020_full_base_image import RULE
from dockpin.syntax import Position, Range, parse


def check(text: str) -> list[Finding]:
    return list(RULE.check(RuleContext(parse(text)), RULE))


def span(line: int, start: int, end: int) -> Range:
    return Range(Position(line, start), Position(line, end))


def test_python_full_image_single_stage() -> None:
    (finding,) = check('FROM python:3.12\nCOPY . /app\nCMD ["python", "/app/main.py"]\n')
    assert (finding.code, finding.name) == ("DP020", "full-base-image")
    assert finding.severity is Severity.INFO
    assert finding.range == span(0, 5, 16)
    assert finding.message == (
        "python:3.12 is the full image: use python:3.12-slim or "
        "gcr.io/distroless/python3-debian13 (Python 3.12 -> 3.13)"
    )


def test_debian_suite_is_kept() -> None:
    (finding,) = check("FROM python:3.12-bookworm\n")
    assert "use python:3.12-slim-bookworm or" in finding.message


def test_python_313_distroless_without_version_change() -> None:
    (finding,) = check("FROM python:3.13-trixie\n")
    assert finding.message == (
        "python:3.13-trixie is the full image: use python:3.13-slim-trixie or "
        "gcr.io/distroless/python3-debian13"
    )


def test_node_slim_goes_after_the_suite() -> None:
    (finding,) = check("FROM node:22-bookworm\n")
    assert finding.message == (
        "node:22-bookworm is the full image: use node:22-bookworm-slim or "
        "gcr.io/distroless/nodejs22-debian13"
    )


def test_node_without_distroless_of_its_version_says_the_change() -> None:
    (finding,) = check("FROM node:20\n")
    assert "gcr.io/distroless/nodejs22-debian13 (Node.js 20 -> 22)" in finding.message


def test_ruby_has_no_distroless() -> None:
    (finding,) = check("FROM ruby:3.4\n")
    assert finding.message == "ruby:3.4 is the full image: use ruby:3.4-slim"


def test_temurin_jdk_to_jre() -> None:
    (finding,) = check("FROM eclipse-temurin:21-jdk-noble\nCOPY app.jar /app.jar\n")
    assert finding.message == (
        "eclipse-temurin:21-jdk-noble ships a full JDK: use eclipse-temurin:21-jre-noble or "
        "gcr.io/distroless/java21-debian13"
    )


def test_openjdk_is_deprecated_and_never_suggested() -> None:
    (finding,) = check("FROM openjdk:17\n")
    assert finding.message == (
        "openjdk:17 is deprecated and ships a full JDK: use eclipse-temurin:17-jre or "
        "gcr.io/distroless/java17-debian13"
    )
    assert "use openjdk" not in finding.message


def test_maven_as_final_stage() -> None:
    (finding,) = check("FROM maven:3.9-eclipse-temurin-21\nRUN mvn package\n")
    assert finding.message == (
        "maven:3.9-eclipse-temurin-21 is a build image with the JDK and maven: run the jar on "
        "eclipse-temurin:21-jre or gcr.io/distroless/java21-debian13"
    )


def test_debian_with_packages_gets_slim_only() -> None:
    (finding,) = check("FROM debian:bookworm\nRUN apt-get update && apt-get install -y curl\n")
    assert finding.message == "debian:bookworm is the full image: use debian:bookworm-slim"


def test_debian_that_only_receives_files_also_gets_distroless() -> None:
    (finding,) = check('FROM debian:12\nCOPY --from=build /app /app\nENTRYPOINT ["/app"]\n')
    assert finding.message == (
        "debian:12 is the full image: use debian:12-slim or gcr.io/distroless/cc-debian13"
    )


def test_ubuntu_only_when_it_just_carries_files() -> None:
    assert check("FROM ubuntu:24.04\nRUN apt-get update && apt-get install -y nginx\n") == []
    (finding,) = check('FROM ubuntu:24.04\nCOPY --from=build /app /app\nCMD ["/app"]\n')
    assert finding.message.startswith("ubuntu:24.04 has no slim variant")
    assert "gcr.io/distroless/cc-debian13" in finding.message


def test_golang_shipping_its_own_build() -> None:
    (finding,) = check(
        'FROM golang:1.22\nWORKDIR /src\nCOPY . .\nRUN go build -o /app .\nCMD ["/app"]\n'
    )
    assert finding.message.startswith("golang:1.22 is a build image with the whole Go toolchain")
    assert "gcr.io/distroless/static-debian13 or scratch" in finding.message


def test_golang_dev_and_tool_images_are_left_alone() -> None:
    assert check("FROM golang:1.22\nRUN go install golang.org/x/tools/gopls@latest\n") == []
    assert check('FROM golang:1.22-alpine\nRUN go build ./...\nCMD ["/bin/sh"]\n') == []


def test_only_the_final_stage_is_judged() -> None:
    text = (
        "FROM python:3.12 AS build\nRUN pip wheel -w /wheels -r requirements.txt\n"
        "FROM python:3.12-slim\nCOPY --from=build /wheels /wheels\n"
    )
    assert check(text) == []


def test_final_stage_from_an_earlier_stage_points_at_its_from_argument() -> None:
    text = "FROM node:22 AS base\nWORKDIR /app\n\nfrom base\nCOPY . .\n"
    (finding,) = check(text)
    assert finding.range == span(3, 5, 9)
    assert finding.reference is not None and finding.reference.value == "node:22"
    assert finding.message.startswith("node:22 is the full image")


def test_arg_substituted_base() -> None:
    (finding,) = check("ARG NODE_VERSION=22\nFROM node:${NODE_VERSION}-bookworm\n")
    assert finding.range == span(1, 5, 34)
    assert finding.message.startswith("node:22-bookworm is the full image: use node:22-bookworm-")


def test_continuation_inside_from_with_crlf() -> None:
    (finding,) = check("FROM \\\r\n    python:3.12 \\\r\n    AS app\r\n")
    assert finding.range == span(1, 4, 15)


def test_digest_pinned_full_image_still_counts() -> None:
    digest = "sha256:" + "a" * 64
    (finding,) = check(f"FROM python:3.12@{digest}\n")
    assert finding.message.startswith("python:3.12 is the full image")
    assert finding.range == span(0, 5, 16 + 1 + len(digest))


@pytest.mark.parametrize(
    "base",
    [
        "python:3.12-slim",
        "python:3.12-slim-bookworm",
        "node:24-trixie-slim",
        "eclipse-temurin:21-jre",
        "openjdk:11-jre",
        "python:3.12-alpine",  # DP010's business
        "gcr.io/distroless/python3-debian13",
        "scratch",
        "registry.example.com/library/python:3.12",
        "mirror.gcr.io/library/python:3.12",
        "bitnami/python:3.12",
        "python:3.13-windowsservercore-ltsc2022",
        "golang:1.26-windowsservercore-ltsc2022",
        "nginx:1.27",
    ],
)
def test_not_for_slim_jre_alpine_distroless_scratch_or_look_alikes(base: str) -> None:
    assert check(f"FROM {base}\nCOPY app /app\n") == []
