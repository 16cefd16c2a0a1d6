"""Deterministic, realistic Dockerfiles of a chosen length for the language-server benchmark.

A file is a header (syntax directive, global ARGs) followed by build stages cut
from a few templates: FROM with tags (some through an ARG), RUN with line
continuations and cache mounts, COPY --from an earlier stage or an image, ENV,
WORKDIR, USER, HEALTHCHECK. The same (lines, seed) always gives the same text.

:func:`tag_edits` lists one-character positions inside FROM tags (a version
digit) that an edit can change, spread over the whole file.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass

IMAGES = (
    ("python", "3.12-slim-bookworm"),
    ("golang", "1.22-alpine3.19"),
    ("node", "20.11-bookworm-slim"),
    ("debian", "12.5-slim"),
    ("ubuntu", "22.04"),
    ("alpine", "3.19"),
    ("rust", "1.77-slim"),
    ("eclipse-temurin", "21.0.2_13-jre-jammy"),
    ("nginx", "1.25.4-alpine"),
    ("postgres", "16.2-bookworm"),
    ("ghcr.io/astral-sh/uv", "0.4.18-python3.12-bookworm"),
    ("gcr.io/distroless/static-debian12", "nonroot"),
    ("registry.example.com:5000/team/base", "2024.03.1"),
    ("mcr.microsoft.com/dotnet/aspnet", "8.0.3-jammy-chiseled"),
)
PACKAGES = (
    "build-essential",
    "ca-certificates",
    "curl",
    "git",
    "libpq-dev",
    "libssl-dev",
    "pkg-config",
    "tini",
    "tzdata",
    "unzip",
    "xz-utils",
    "zlib1g-dev",
)


def _build_stage(rng: random.Random, index: int, previous: list[str]) -> list[str]:
    image, tag = IMAGES[rng.randrange(len(IMAGES))]
    name = f"stage{index}"
    lines: list[str] = []
    if rng.random() < 0.3:
        arg = f"BASE{index}_TAG"
        lines += [f"ARG {arg}={tag}", f"FROM {image}:${{{arg}}} AS {name}"]
    else:
        lines.append(f"FROM {image}:{tag} AS {name}")
    lines += [
        f"ARG APP_HOME=/srv/app{index}",
        "ENV LANG=C.UTF-8 \\",
        "    PYTHONDONTWRITEBYTECODE=1 \\",
        f"    APP_STAGE={name}",
        "WORKDIR ${APP_HOME}",
    ]
    packages = sorted(rng.sample(PACKAGES, rng.randint(3, 6)))
    lines += [
        "RUN --mount=type=cache,target=/var/cache/apt,sharing=locked \\",
        "    set -eux; \\",
        "    apt-get update; \\",
        "    apt-get install -y --no-install-recommends \\",
        *[f"        {package} \\" for package in packages],
        "    ; \\",
        "    rm -rf /var/lib/apt/lists/*",
    ]
    if previous:
        source = previous[rng.randrange(len(previous))]
        lines.append(f"COPY --from={source} /out/ /opt/{source}/")
    if rng.random() < 0.4:
        helper, helper_tag = IMAGES[rng.randrange(len(IMAGES))]
        lines.append(f"COPY --from={helper}:{helper_tag} /usr/local/bin/ /usr/local/bin/")
    lines += [
        f"COPY requirements-{index}.txt ./",
        f"RUN pip install --no-cache-dir -r requirements-{index}.txt \\",
        "    && python -m compileall -q . \\",
        f"    && mkdir -p /out && cp -r . /out/ # stage {index}",
        "",
    ]
    return lines


def _final_stage(rng: random.Random, previous: list[str]) -> list[str]:
    image, tag = IMAGES[rng.randrange(len(IMAGES))]
    lines = [f"FROM {image}:{tag}", "ARG VERSION=0.0.0"]
    lines += [f"COPY --from={source} /out/ /app/{source}/" for source in previous[-3:]]
    lines += [
        'LABEL org.opencontainers.image.version="${VERSION}"',
        "USER 65532:65532",
        "EXPOSE 8080",
        'HEALTHCHECK --interval=30s CMD ["/app/healthcheck"]',
        'ENTRYPOINT ["/app/server", "--port", "8080"]',
    ]
    return lines


def generate(lines: int, seed: int = 0) -> str:
    """A Dockerfile of about ``lines`` lines (never fewer than one build stage)."""
    rng = random.Random(f"{lines}:{seed}")
    out = [
        "# syntax=docker/dockerfile:1.7",
        f"# generated for the dockpin language-server benchmark (seed {seed})",
        "ARG REGISTRY=docker.io",
        "ARG PYTHON_VERSION=3.12",
        "",
    ]
    stages: list[str] = []
    final_size = len(_final_stage(random.Random(0), ["a", "b", "c"]))
    while True:
        stage = _build_stage(rng, len(stages), stages)
        if stages and len(out) + len(stage) + final_size > lines:
            break
        out += stage
        stages.append(f"stage{len(stages)}")
    out += _final_stage(rng, stages)
    return "\n".join(out) + "\n"


@dataclass(frozen=True)
class CharSite:
    """One character of a FROM tag: (line, column) in LSP terms."""

    line: int
    character: int


_FROM_TAG = re.compile(r"^FROM\s+[^\s:]+(?::\d+)?[^\s:]*:(?P<tag>[^\s@$]+)")


def tag_edits(text: str) -> list[CharSite]:
    """The first digit of each literal FROM tag, in file order."""
    sites: list[CharSite] = []
    for number, line in enumerate(text.split("\n")):
        match = _FROM_TAG.match(line)
        if match is None:
            continue
        tag_start = match.start("tag")
        for offset, char in enumerate(match.group("tag")):
            if char.isdigit():
                sites.append(CharSite(number, tag_start + offset))
                break
    return sites


if __name__ == "__main__":
    import sys

    sys.stdout.write(generate(int(sys.argv[1]) if len(sys.argv) > 1 else 400))
