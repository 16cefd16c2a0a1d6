"""Base-image facts: Alpine and libc detection, slim/JRE tags, distroless
choices, shell-less images. Current as of shared/notes/base-images.md."""

from __future__ import annotations

import pytest

from dockpin.knowledge import (
    DISTROLESS_RUNTIME_IMAGES,
    distroless_for,
    glibc_alternative,
    is_alpine,
    is_debug_tag,
    is_distroless,
    is_shell_less,
    is_static_base,
    is_windows,
    libc_family,
    lighter_tag,
    official_name,
    runtime_of,
    runtime_version,
    short_form,
)
from dockpin.references import parse_reference


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("alpine", True),
        ("alpine:3.20", True),
        ("arm64v8/alpine:3.20", True),
        ("docker.io/library/alpine:3.20@sha256:" + "a" * 64, True),
        ("python:3.12-alpine3.20", True),
        ("node:22-alpine", True),
        ("node:lts-alpine", True),
        ("golang:1.22-alpine", True),
        ("nginx:1.27-alpine-slim", True),
        ("eclipse-temurin:21-jre-alpine", True),
        ("alpine/git:2.45", True),
        ("easypi/alpine-arm", True),
        ("docker:27-dind", True),
        ("caddy:2", True),
        ("docker:27-windowsservercore-ltsc2022", False),
        ("python:3.12", False),
        ("python:3.12-slim-bookworm", False),
        ("cgr.dev/chainguard/python:latest", False),  # Wolfi is glibc
        ("bellsoft/liberica-runtime-container:jdk-21-musl", False),  # musl, not Alpine
        ("ghcr.io/example/alpineapp:1.0", False),
    ],
)
def test_is_alpine(text: str, expected: bool) -> None:
    assert is_alpine(parse_reference(text)) is expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("alpine:3.20", "musl"),
        ("python:3.12-alpine", "musl"),
        ("bellsoft/liberica-runtime-container:jdk-21-musl", "musl"),
        ("bellsoft/alpaquita-linux-base:stream-glibc", "glibc"),
        ("python:3.12", "glibc"),
        ("debian:bookworm-slim", "glibc"),
        ("cgr.dev/chainguard/wolfi-base", "glibc"),
        ("gcr.io/distroless/base-debian13", "glibc"),
        ("gcr.io/distroless/python3-debian13:nonroot", "glibc"),
        ("gcr.io/distroless/static-debian12", None),  # no libc at all
        ("cgr.dev/chainguard/static", None),
        ("python:3.13-windowsservercore-ltsc2022", None),
        ("registry.example.com/team/app:1.0", None),
    ],
)
def test_libc_family(text: str, expected: str | None) -> None:
    assert libc_family(parse_reference(text)) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("python", "python"),
        ("docker.io/library/python:3.12", "python"),
        ("index.docker.io/library/node", "node"),
        ("amd64/python:3.12", "python"),
        ("bitnami/python:3.12", None),
        ("mirror.gcr.io/library/python:3.12", None),
        ("ghcr.io/library/python:3.12", None),
    ],
)
def test_official_name_only_for_docker_hub_library(text: str, expected: str | None) -> None:
    assert official_name(parse_reference(text)) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("python:3.12-bookworm", "3.12-slim-bookworm"),
        ("python:3.12", "3.12-slim"),
        ("python:3.12.4", "3.12.4-slim"),
        ("python:3.12-alpine3.20", "3.12-slim"),
        ("python:3.15-rc-trixie", "3.15-rc-slim-trixie"),
        ("python", "slim"),
        ("python:bookworm", "slim-bookworm"),
        ("python:3.12-slim", None),
        ("python:3.12-slim-bookworm", None),
        ("python:3.13-windowsservercore-ltsc2022", None),
        ("node:22-bookworm", "22-bookworm-slim"),
        ("node:22", "22-slim"),
        ("node:lts", "lts-slim"),
        ("node:iron", "iron-slim"),
        ("node:22-alpine3.20", "22-slim"),
        ("node:24-trixie-slim", None),
        ("ruby:3.4-bookworm", "3.4-slim-bookworm"),
        ("ruby:3.4", "3.4-slim"),
        ("debian:bookworm", "bookworm-slim"),
        ("debian:12", "12-slim"),
        ("debian:12.5", "12.5-slim"),
        ("debian:bookworm-20240110", "bookworm-20240110-slim"),
        ("debian", "stable-slim"),
        ("debian:bookworm-backports", None),
        ("debian:trixie-slim", None),
        ("eclipse-temurin:21-jdk", "21-jre"),
        ("eclipse-temurin:21", "21-jre"),
        ("eclipse-temurin:21-jdk-noble", "21-jre-noble"),
        ("eclipse-temurin:21-noble", "21-jre-noble"),
        ("eclipse-temurin:21.0.5_11-jdk-jammy", "21.0.5_11-jre-jammy"),
        ("eclipse-temurin:8u402-b06-jdk", "8u402-b06-jre"),
        ("eclipse-temurin:21-jre-noble", None),
        ("eclipse-temurin:21-jdk-windowsservercore-ltsc2022", None),
        ("ubuntu:24.04", None),  # ubuntu has no slim variant
        ("golang:1.22", None),
        ("openjdk:17", None),  # deprecated: never a suggestion source
    ],
)
def test_lighter_tag(text: str, expected: str | None) -> None:
    assert lighter_tag(parse_reference(text)) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("python:3.12-alpine3.20", "python:3.12-slim"),
        ("docker.io/library/python:3.12-alpine", "docker.io/library/python:3.12-slim"),
        ("node:lts-alpine", "node:lts-slim"),
        ("eclipse-temurin:21-jre-alpine", "eclipse-temurin:21-jre"),
        ("golang:1.22-alpine3.20", "golang:1.22"),
        ("maven:3.9-eclipse-temurin-21-alpine", "maven:3.9-eclipse-temurin-21"),
        ("openjdk:8-alpine", "eclipse-temurin:8-jre"),
        ("java:8-jre-alpine", "eclipse-temurin:8-jre"),
        ("alpine:3.20", None),
        ("ghcr.io/example/tool:1-alpine", None),
    ],
)
def test_glibc_alternative_never_suggests_openjdk(text: str, expected: str | None) -> None:
    assert glibc_alternative(parse_reference(text)) == expected


@pytest.mark.parametrize(
    ("text", "runtime", "version"),
    [
        ("python:3.12.4-slim", "python", "3.12"),
        ("python:3", "python", None),
        ("python", "python", None),
        ("node:22-bookworm", "node", "22"),
        ("node:jod", "node", "22"),
        ("node:lts", "node", None),
        ("eclipse-temurin:21-jre", "java", "21"),
        ("eclipse-temurin:8u402-b06-jdk", "java", "8"),
        ("maven:3.9-eclipse-temurin-21", "java", "21"),
        ("gradle:8-jdk17", "java", "17"),
        ("golang:1.26-alpine3.23", "go", "1.26"),
        ("gcr.io/distroless/python3-debian13", "python", None),
        ("gcr.io/distroless/nodejs22-debian13", "node", None),
        ("debian:bookworm", None, None),
    ],
)
def test_runtime_and_version(text: str, runtime: str | None, version: str | None) -> None:
    ref = parse_reference(text)
    assert runtime_of(ref) == runtime
    assert runtime_version(ref) == version


def test_distroless_python_says_the_version_changes() -> None:
    choice = distroless_for("python", "3.12")
    assert choice is not None
    assert choice.image == "gcr.io/distroless/python3-debian13"
    assert choice.changes_version
    assert choice.describe() == "gcr.io/distroless/python3-debian13 (Python 3.12 -> 3.13)"


def test_distroless_same_version_is_named_plainly() -> None:
    choice = distroless_for("python", "3.13")
    assert choice is not None and not choice.changes_version
    assert choice.describe() == "gcr.io/distroless/python3-debian13"


def test_distroless_unknown_python_version_names_what_it_ships() -> None:
    choice = distroless_for("python", None)
    assert choice is not None
    assert choice.describe() == "gcr.io/distroless/python3-debian13 (Python 3.13)"


@pytest.mark.parametrize(
    ("runtime", "version", "image", "changes"),
    [
        ("node", "22", "gcr.io/distroless/nodejs22-debian13", False),
        ("node", "24", "gcr.io/distroless/nodejs24-debian13", False),
        ("node", "20", "gcr.io/distroless/nodejs22-debian13", True),
        ("node", "23", "gcr.io/distroless/nodejs24-debian13", True),
        ("java", "21", "gcr.io/distroless/java21-debian13", False),
        ("java", "11", "gcr.io/distroless/java17-debian13", True),
        ("java", "8", "gcr.io/distroless/java17-debian13", True),
        ("java", "26", "gcr.io/distroless/java25-debian13", True),
    ],
)
def test_distroless_picks_same_or_nearest_newer(
    runtime: str, version: str, image: str, changes: bool
) -> None:
    choice = distroless_for(runtime, version)  # type: ignore[arg-type]
    assert choice is not None
    assert (choice.image, choice.changes_version) == (image, changes)


def test_distroless_none_without_an_image_or_a_version_to_pick_by() -> None:
    assert distroless_for("ruby", "3.4") is None
    assert distroless_for("node", None) is None  # 22, 24 or 26: cannot guess


def test_no_removed_debian12_runtime_image_is_ever_suggested() -> None:
    images = [image.image for image in DISTROLESS_RUNTIME_IMAGES]
    assert all(image.endswith("-debian13") for image in images)
    for runtime, version in [("python", "3.11"), ("java", "17"), ("node", "18")]:
        choice = distroless_for(runtime, version)  # type: ignore[arg-type]
        assert choice is not None and "debian12" not in choice.image


@pytest.mark.parametrize(
    ("text", "distroless", "debug", "shell_less"),
    [
        ("gcr.io/distroless/static-debian12", True, False, True),
        ("gcr.io/distroless/static-debian12:nonroot", True, False, True),
        ("gcr.io/distroless/base-debian13@sha256:" + "b" * 64, True, False, True),
        ("gcr.io/distroless/python3-debian13:debug", True, True, False),
        ("gcr.io/distroless/static-debian12:debug-nonroot", True, True, False),
        ("cgr.dev/chainguard/python:latest", True, False, True),
        ("cgr.dev/chainguard/python:latest-dev", True, True, False),
        ("cgr.dev/chainguard/wolfi-base", False, False, False),  # has busybox and apk
        ("mcr.microsoft.com/dotnet/aspnet:10.0-noble-chiseled", True, False, True),
        ("mcr.microsoft.com/dotnet/runtime:10.0-azurelinux3.0-distroless", True, False, True),
        ("mcr.microsoft.com/dotnet/aspnet:10.0-noble", False, False, False),
        ("mcr.microsoft.com/azurelinux/distroless/minimal:3.0", True, False, True),
        ("debian:bookworm-slim", False, False, False),
    ],
)
def test_distroless_and_debug_tags(
    text: str, distroless: bool, debug: bool, shell_less: bool
) -> None:
    ref = parse_reference(text)
    assert is_distroless(ref) is distroless
    assert is_debug_tag(ref) is debug
    assert is_shell_less(ref) is shell_less


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("gcr.io/distroless/static", True),
        ("gcr.io/distroless/static-debian13:nonroot", True),
        ("gcr.io/distroless/static-debian12:debug", True),  # busybox is static too
        ("cgr.dev/chainguard/static:latest", True),
        ("gcr.io/distroless/base-debian13", False),
        ("gcr.io/distroless/cc-debian12", False),
        ("alpine:3.20", False),
    ],
)
def test_is_static_base(text: str, expected: bool) -> None:
    assert is_static_base(parse_reference(text)) is expected


def test_short_form_drops_the_digest_keeps_the_spelling() -> None:
    ref = parse_reference("docker.io/library/python:3.12@sha256:" + "c" * 64)
    assert short_form(ref) == "docker.io/library/python:3.12"
    assert short_form(parse_reference("alpine")) == "alpine"


def test_is_windows() -> None:
    assert is_windows(parse_reference("golang:1.26-windowsservercore-ltsc2022"))
    assert is_windows(parse_reference("python:3.13-nanoserver-ltsc2025"))
    assert not is_windows(parse_reference("golang:1.26-bookworm"))
