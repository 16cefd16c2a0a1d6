"""DP031 dynamic-binary-in-scratch: a cgo Go binary copied into a final stage
without a C library."""

from __future__ import annotations

import pytest

from dockpin.rules.base import Finding, RuleContext, Severity
from dockpin.rules.dp031_dynamic_binary_in_scratch import RULE
from dockpin.syntax import Position, Range, parse


def check(text: str) -> list[Finding]:
    return list(RULE.check(RuleContext(parse(text)), RULE))


def span(line: int, start: int, end: int) -> Range:
    return Range(Position(line, start), Position(line, end))


def go_file(build_stage: str, final: str = "FROM scratch") -> str:
    return f'{build_stage}\n{final}\nCOPY --from=build /out/app /app\nENTRYPOINT ["/app"]\n'


DEFAULT_CGO = "FROM golang:1.22 AS build\nWORKDIR /src\nCOPY . .\nRUN go build -o /out/app ."


def test_debian_golang_default_cgo_into_scratch() -> None:
    (finding,) = check(go_file(DEFAULT_CGO))
    assert (finding.code, finding.name) == ("DP031", "dynamic-binary-in-scratch")
    assert finding.severity is Severity.WARNING
    assert finding.range == span(4, 5, 12)  # the word `scratch`
    assert finding.message == (
        "scratch has no C library, but stage build builds Go with cgo on, so the binary links "
        "libc dynamically and will not start: build with CGO_ENABLED=0, or use "
        "gcr.io/distroless/base-debian13"
    )
    assert finding.instruction is not None and finding.instruction.keyword == "COPY"


def test_distroless_static_final_points_at_the_image_reference() -> None:
    (finding,) = check(go_file(DEFAULT_CGO, "FROM gcr.io/distroless/static-debian12:nonroot"))
    assert finding.range == span(4, 5, 46)
    assert finding.message.startswith("gcr.io/distroless/static-debian12:nonroot has no C library")


def test_distroless_base_has_libc() -> None:
    assert check(go_file(DEFAULT_CGO, "FROM gcr.io/distroless/base-debian13")) == []


@pytest.mark.parametrize(
    "build_stage",
    [
        "FROM golang:1.22 AS build\nENV CGO_ENABLED=0\nRUN go build -o /out/app .",
        "FROM golang:1.22 AS build\nENV CGO_ENABLED 0\nRUN go build -o /out/app .",
        "FROM golang:1.22 AS build\nARG CGO_ENABLED=0\nRUN go build -o /out/app .",
        "FROM golang:1.22 AS build\nRUN CGO_ENABLED=0 GOOS=linux go build -o /out/app .",
        "FROM golang:1.22 AS build\nRUN go mod download && CGO_ENABLED=0 go build -o /out/app .",
        "FROM golang:1.22 AS build\nARG TARGETARCH\n"
        "RUN CGO_ENABLED=0 GOARCH=${TARGETARCH} go build -o /out/app .",
        "FROM golang:1.22 AS build\nRUN export CGO_ENABLED=0 && go build -o /out/app .",
        "FROM golang:1.22 AS build\nRUN go env -w CGO_ENABLED=0 && go build -o /out/app .",
        "FROM golang:1.22 AS build\n"
        "RUN go build -ldflags '-s -w -extldflags \"-static\"' -o /out/app .",
        "FROM golang:1.22 AS build\nRUN go build -tags netgo,osusergo -o /out/app .",
        "FROM golang:1.22 AS build\nRUN xx-go build -o /out/app . && xx-verify --static /out/app",
        # golang:*-alpine has no C compiler: cgo is off since Go 1.20.
        "FROM golang:1.22-alpine AS build\nRUN go build -o /out/app .",
        # Not judged: the value comes from a variable.
        "FROM golang:1.22 AS build\nARG CGO\nRUN CGO_ENABLED=${CGO} go build -o /out/app .",
        # Not judged: Go from the distribution, cgo depends on what else is there.
        "FROM alpine:3.20 AS build\nRUN apk add go && go build -o /out/app .",
    ],
)
def test_static_or_unknown_builds_are_fine(build_stage: str) -> None:
    assert check(go_file(build_stage)) == []


@pytest.mark.parametrize(
    "build_stage",
    [
        "FROM golang:1.22-alpine AS build\nRUN apk add --no-cache gcc musl-dev\n"
        "RUN go build -o /out/app .",
        "FROM golang:1.18-alpine AS build\nRUN go build -o /out/app .",
        "FROM golang:1.22-alpine AS build\nRUN CGO_ENABLED=1 go build -o /out/app .",
        "FROM golang:1.22 AS build\nENV CGO_ENABLED=0\nRUN CGO_ENABLED=1 go build -o /out/app .",
    ],
)
def test_cgo_builds_fire(build_stage: str) -> None:
    assert len(check(go_file(build_stage))) == 1


def test_go_build_inside_a_heredoc() -> None:
    build = "FROM golang:1.22 AS build\nRUN <<EOF\nset -e\ngo build -o /out/app ./cmd/app\nEOF"
    (finding,) = check(go_file(build))
    assert finding.range.start.line == 5


def test_copy_from_a_stage_index_and_lowercase() -> None:
    text = "from golang:1.22\nrun go build -o /app .\nfrom scratch\ncopy --from=0 /app /app\n"
    (finding,) = check(text)
    assert finding.range == span(2, 5, 12)
    assert "but stage 0 builds Go" in finding.message


def test_build_in_a_parent_stage() -> None:
    text = (
        "FROM golang:1.22 AS base\nRUN go build -o /out/app .\n"
        "FROM base AS build\nRUN echo done\n"
        "FROM scratch\nCOPY --from=build /out/app /app\n"
    )
    assert len(check(text)) == 1


def test_scratch_reached_through_a_stage_chain() -> None:
    text = DEFAULT_CGO + "\nFROM scratch AS base\nCOPY --from=build /out/app /app\nFROM base\n"
    (finding,) = check(text)
    assert finding.range == span(6, 5, 9)  # `base`


def test_data_files_are_not_binaries() -> None:
    text = (
        DEFAULT_CGO + "\nFROM scratch\n"
        "COPY --from=build /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/\n"
        "COPY --from=build /src/config.yaml /config.yaml\n"
    )
    assert check(text) == []


def test_a_go_installed_tool_matters_only_when_it_is_copied() -> None:
    build = (
        "FROM golang:1.22 AS build\n"
        "RUN go install github.com/a8m/envsubst/cmd/envsubst@v1.4.3\n"
        "RUN envsubst < tpl > /out/app"
    )
    assert check(go_file(build)) == []
    shipped = (
        "FROM golang:1.22 AS build\nRUN go install github.com/a8m/envsubst/cmd/envsubst@v1.4.3\n"
        "FROM scratch\nCOPY --from=build /go/bin/envsubst /envsubst\n"
    )
    assert len(check(shipped)) == 1


def test_only_the_final_stage_is_judged() -> None:
    text = go_file(DEFAULT_CGO) + "FROM debian:bookworm-slim\nCOPY --from=build /out/app /app\n"
    assert check(text) == []


def test_platform_flag_and_arg_substituted_go_version() -> None:
    text = (
        "ARG GO_VERSION=1.22\n"
        "FROM --platform=$BUILDPLATFORM golang:${GO_VERSION} AS build\n"
        "RUN go build -o /out/app .\n"
        "FROM --platform=$TARGETPLATFORM scratch\n"
        "COPY --from=build /out/app /app\n"
    )
    (finding,) = check(text)
    assert finding.range == span(3, 32, 39)
