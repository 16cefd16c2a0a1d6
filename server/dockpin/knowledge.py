"""Base-image facts: which images are Alpine/musl, what runtime each carries,
their slim/JRE and distroless alternatives, and which have no shell.

One table (:data:`IMAGES`) plus pure functions over :class:`ImageRef`, current
as of ``shared/notes/base-images.md`` (late 2026). Rules read it to decide and
to word their messages; code actions read it to build swaps. Nothing here talks
to a registry: a suggested tag is a well-known pattern, which the registry layer
may confirm when online.

Facts worth knowing when editing this table:

- ``gcr.io/distroless`` Debian 12 runtime images (``python3-debian12``,
  ``java*-debian12``, ``nodejs*-debian12``) were removed in 2026 and Debian 12
  reached end of life in Sept 2026, so only ``-debian13`` images are suggested.
- ``openjdk`` (and the older ``java``) is deprecated: it is recognised, never
  suggested; ``eclipse-temurin`` JRE tags are.
- ``ubuntu`` has no slim variant, and is already about the size of
  ``debian:*-slim``: only a distroless base is a real size cut for it.
- Chainguard (Wolfi) images are glibc, not Alpine; BellSoft Alpaquita/Liberica
  have musl and glibc variants named in the tag.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Literal

from dockpin.references import DOCKER_HUB, ImageRef

Runtime = Literal["python", "node", "java", "go", "ruby"]
Libc = Literal["musl", "glibc"]

RUNTIME_LABELS: Mapping[Runtime, str] = {
    "python": "Python",
    "node": "Node.js",
    "java": "Java",
    "go": "Go",
    "ruby": "Ruby",
}

DEBIAN_SUITES = frozenset(
    {"jessie", "stretch", "buster", "bullseye", "bookworm", "trixie", "forky", "sid"}
)
_DEBIAN_ALIASES = frozenset({"stable", "oldstable", "testing", "unstable"})
# Node.js LTS codenames usable as tags (`node:iron`), to their major version.
_NODE_CODENAMES: Mapping[str, str] = {
    "argon": "4",
    "boron": "6",
    "carbon": "8",
    "dubnium": "10",
    "erbium": "12",
    "fermium": "14",
    "gallium": "16",
    "hydrogen": "18",
    "iron": "20",
    "jod": "22",
    "krypton": "24",
}
# Docker Hub namespaces that republish the official images per architecture.
_ARCH_NAMESPACES = frozenset(
    {
        "amd64",
        "arm32v5",
        "arm32v6",
        "arm32v7",
        "arm64v8",
        "i386",
        "mips64le",
        "ppc64le",
        "riscv64",
        "s390x",
        "windows-amd64",
    }
)
_ALPINE_TOKEN_RE = re.compile(r"^alpine(?:\d+(?:\.\d+)*)?$")
_WINDOWS_TOKEN_RE = re.compile(r"^(?:windowsservercore|nanoserver|ltsc\d+)")
_JAVA_VERSION_RE = re.compile(r"^(\d+)(?:u\d+)?")
_JAVA_IN_TAG_RE = re.compile(r"(?:^|-)(?:jdk|jre|temurin|corretto|openjdk)-?(\d+)(?:-|$)")
_MAJOR_MINOR_RE = re.compile(r"^(\d+)\.(\d+)")
_MAJOR_RE = re.compile(r"^(\d+)(?:[.-]|$)")
_TEMURIN_VERSION_RE = re.compile(r"^(?:\d+u\d+-b\d+|\d+(?:\.\d+)*(?:_\d+)?)")


# --------------------------------------------------------------------------
# Tag transformations (full tag -> lighter tag of the same repository)
# --------------------------------------------------------------------------


def _tokens(tag: str) -> list[str]:
    return tag.split("-")


def _is_windows(tag: str) -> bool:
    return any(_WINDOWS_TOKEN_RE.match(token) for token in _tokens(tag))


def is_windows(ref: ImageRef) -> bool:
    """A Windows tag (``windowsservercore-ltsc2022``, ``nanoserver``): none of
    the Linux facts here apply."""
    return _is_windows(ref.effective_tag or "latest")


def _split_variant(tag: str) -> tuple[list[str], str | None, bool] | None:
    """Split ``3.12-bookworm`` into (version tokens, Debian suite, Alpine?).
    None for tags that are already slim, Windows, or have parts after the
    suite this module does not know (``bookworm-backports``)."""
    tokens = _tokens(tag)
    if "slim" in tokens or _is_windows(tag):
        return None
    for index, token in enumerate(tokens):
        if token in DEBIAN_SUITES or _ALPINE_TOKEN_RE.match(token):
            if index != len(tokens) - 1:
                return None
            alpine = token not in DEBIAN_SUITES
            return tokens[:index], None if alpine else token, alpine
    return tokens, None, False


def python_style_slim(tag: str) -> str | None:
    """python and ruby put ``slim`` before the suite: ``3.12-bookworm`` ->
    ``3.12-slim-bookworm``. An Alpine tag becomes plain ``-slim``; the
    suite is kept because plain ``-slim`` now means trixie."""
    split = _split_variant(tag)
    if split is None:
        return None
    version, suite, _ = split
    if version == ["latest"]:
        version = []
    parts = [*version, "slim"]
    if suite is not None:
        parts.append(suite)
    return "-".join(parts)


def node_slim(tag: str) -> str | None:
    """node puts ``slim`` after the suite: ``22-bookworm`` -> ``22-bookworm-slim``."""
    split = _split_variant(tag)
    if split is None:
        return None
    version, suite, _ = split
    if version == ["latest"]:
        version = []
    parts = [*version]
    if suite is not None:
        parts.append(suite)
    parts.append("slim")
    return "-".join(parts)


def debian_slim(tag: str) -> str | None:
    """``bookworm`` -> ``bookworm-slim``, ``12`` -> ``12-slim``, and the
    dated ``bookworm-20240110`` -> ``bookworm-20240110-slim``."""
    if tag == "latest":
        return "stable-slim"
    name, _, date = tag.partition("-")
    known = name in DEBIAN_SUITES or name in _DEBIAN_ALIASES or re.fullmatch(r"\d+(?:\.\d+)?", name)
    if not known or (date and not re.fullmatch(r"\d{8}", date)):
        return None
    return f"{tag}-slim"


def temurin_jre(tag: str) -> str | None:
    """eclipse-temurin JDK tag -> JRE tag: ``21`` / ``21-jdk`` -> ``21-jre``,
    ``21-jdk-noble`` -> ``21-jre-noble``."""
    tokens = _tokens(tag)
    if "jre" in tokens or _is_windows(tag):
        return None
    if "jdk" in tokens:
        return "-".join("jre" if token == "jdk" else token for token in tokens)
    match = _TEMURIN_VERSION_RE.match(tag)
    if match is None:
        return None
    return f"{match.group(0)}-jre{tag[match.end() :]}"


# --------------------------------------------------------------------------
# The table
# --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ImageFacts:
    """What dockpin knows about one repository."""

    runtime: Runtime | None  # the language runtime it carries; None: an OS or a service
    libc: Libc | None  # libc of its standard tags; None: unknown
    always_alpine: bool = False  # every tag is Alpine, not only ``*-alpine*`` ones
    lighter: Callable[[str], str | None] | None = None  # full tag -> slim/JRE tag
    lighter_kind: Literal["slim", "JRE"] = "slim"  # what ``lighter`` gives
    build_image: bool = False  # a toolchain meant for build stages (golang, maven)
    deprecated: bool = False  # recognised, never suggested


IMAGES: Mapping[str, ImageFacts] = {
    # Official Docker Hub images, keyed by their short name.
    "alpine": ImageFacts(None, "musl", always_alpine=True),
    "debian": ImageFacts(None, "glibc", lighter=debian_slim),
    "ubuntu": ImageFacts(None, "glibc"),
    "python": ImageFacts("python", "glibc", lighter=python_style_slim),
    "node": ImageFacts("node", "glibc", lighter=node_slim),
    "ruby": ImageFacts("ruby", "glibc", lighter=python_style_slim),
    "golang": ImageFacts("go", "glibc", build_image=True),
    "eclipse-temurin": ImageFacts("java", "glibc", lighter=temurin_jre, lighter_kind="JRE"),
    "openjdk": ImageFacts("java", "glibc", deprecated=True),
    "java": ImageFacts("java", "glibc", deprecated=True),
    "amazoncorretto": ImageFacts("java", "glibc"),
    "ibm-semeru-runtimes": ImageFacts("java", "glibc"),
    "sapmachine": ImageFacts("java", "glibc"),
    "maven": ImageFacts("java", "glibc", build_image=True),
    "gradle": ImageFacts("java", "glibc", build_image=True),
    "tomcat": ImageFacts("java", "glibc"),
    "rust": ImageFacts(None, "glibc"),
    "docker": ImageFacts(None, "musl", always_alpine=True),
    "caddy": ImageFacts(None, "musl", always_alpine=True),
    "traefik": ImageFacts(None, "musl", always_alpine=True),
    # Other publishers, keyed by repository path (Docker Hub) or domain/path.
    "azul/zulu-openjdk-alpine": ImageFacts("java", "musl", always_alpine=True),
    "bellsoft/liberica-openjdk-alpine": ImageFacts("java", "musl", always_alpine=True),
    "bellsoft/liberica-openjdk-alpine-musl": ImageFacts("java", "musl", always_alpine=True),
    # Alpaquita is not Alpine: its musl variants are named in the tag.
    "bellsoft/liberica-runtime-container": ImageFacts("java", None),
    "bellsoft/alpaquita-linux-base": ImageFacts(None, None),
    "cgr.dev/chainguard/python": ImageFacts("python", "glibc"),
    "cgr.dev/chainguard/node": ImageFacts("node", "glibc"),
    "cgr.dev/chainguard/jre": ImageFacts("java", "glibc"),
    "cgr.dev/chainguard/jdk": ImageFacts("java", "glibc"),
    "cgr.dev/chainguard/go": ImageFacts("go", "glibc", build_image=True),
    "cgr.dev/chainguard/wolfi-base": ImageFacts(None, "glibc"),
    "cgr.dev/chainguard/glibc-dynamic": ImageFacts(None, "glibc"),
    "cgr.dev/chainguard/static": ImageFacts(None, None),
}

# Chainguard images that ship without a shell in their non ``-dev`` tags.
# Others (wolfi-base, go, jdk, busybox...) have one, or we do not know.
_CHAINGUARD_SHELL_LESS = frozenset({"static", "glibc-dynamic", "python", "node", "jre"})
_DISTROLESS_PREFIX = "gcr.io/distroless/"
_DISTROLESS_NAME_RE = re.compile(r"^(?P<name>[a-z]+(?:-[a-z]+)*?)(?P<version>\d+)?(?:-debian\d+)?$")
_DISTROLESS_RUNTIMES: Mapping[str, Runtime] = {"python": "python", "nodejs": "node", "java": "java"}


@dataclass(frozen=True, slots=True)
class DistrolessImage:
    runtime: Runtime
    version: str  # the runtime version it ships
    image: str


DISTROLESS_RUNTIME_IMAGES: tuple[DistrolessImage, ...] = (
    DistrolessImage("python", "3.13", "gcr.io/distroless/python3-debian13"),
    DistrolessImage("node", "22", "gcr.io/distroless/nodejs22-debian13"),
    DistrolessImage("node", "24", "gcr.io/distroless/nodejs24-debian13"),
    DistrolessImage("node", "26", "gcr.io/distroless/nodejs26-debian13"),
    DistrolessImage("java", "17", "gcr.io/distroless/java17-debian13"),
    DistrolessImage("java", "21", "gcr.io/distroless/java21-debian13"),
    DistrolessImage("java", "25", "gcr.io/distroless/java25-debian13"),
)
DISTROLESS_STATIC = "gcr.io/distroless/static-debian13"  # no libc: static binaries only
DISTROLESS_CC = "gcr.io/distroless/cc-debian13"  # glibc + libstdc++: dynamic binaries


# --------------------------------------------------------------------------
# Lookups
# --------------------------------------------------------------------------


def official_name(ref: ImageRef) -> str | None:
    """``python`` for ``python``, ``docker.io/library/python`` and the
    per-architecture copies (``arm64v8/python``); None for anything else,
    including mirrors, which may lag or differ."""
    if ref.domain != DOCKER_HUB:
        return None
    namespace, _, name = ref.path.partition("/")
    if "/" in name or not (namespace == "library" or namespace in _ARCH_NAMESPACES):
        return None
    return name


def repository_key(ref: ImageRef) -> str:
    """The key of ``ref`` in :data:`IMAGES`: the short name of an official
    image, the path of another Docker Hub image, else ``domain/path``."""
    name = official_name(ref)
    if name is not None:
        return name
    return ref.path if ref.domain == DOCKER_HUB else f"{ref.domain}/{ref.path}"


def facts_for(ref: ImageRef) -> ImageFacts | None:
    return IMAGES.get(repository_key(ref))


def short_form(ref: ImageRef) -> str:
    """The reference as written, without its digest: what messages name."""
    return f"{ref.name}:{ref.tag}" if ref.tag is not None else ref.name


def _tag(ref: ImageRef) -> str:
    return ref.effective_tag or "latest"


def _distroless_parts(ref: ImageRef) -> tuple[str, str | None] | None:
    """(family, runtime version) of a gcr.io/distroless image: ``python3-debian13``
    -> (``python``, ``3``), ``nodejs22-debian13`` -> (``nodejs``, ``22``)."""
    repository = ref.repository
    if not repository.startswith(_DISTROLESS_PREFIX):
        return None
    match = _DISTROLESS_NAME_RE.match(repository[len(_DISTROLESS_PREFIX) :])
    if match is None:
        return None
    return match.group("name"), match.group("version")


def is_alpine(ref: ImageRef) -> bool:
    """Alpine Linux: ``alpine``, always-Alpine images (``docker``, ``caddy``),
    any ``*-alpine*`` tag (``3.12-alpine3.20``, ``1.27-alpine-slim``), and
    repositories named after Alpine (``easypi/alpine-arm``)."""
    facts = facts_for(ref)
    if facts is not None and facts.always_alpine:
        return not _is_windows(_tag(ref))
    if any(_ALPINE_TOKEN_RE.match(token) for token in _tokens(_tag(ref))):
        return True
    if ref.domain == DOCKER_HUB and ref.path.startswith("alpine/"):
        return True  # the alpine-docker namespace: alpine/git, alpine/helm
    last = ref.path.rsplit("/", 1)[-1]
    return last == "alpine" or last.startswith("alpine-") or last.endswith("-alpine")


def libc_family(ref: ImageRef) -> Libc | None:
    """The C library the image's programs link against; None when it has none
    (``distroless/static``, ``scratch``-like) or dockpin does not know."""
    tag = _tag(ref)
    if _is_windows(tag):
        return None
    if is_alpine(ref):
        return "musl"
    if ref.path.startswith("bellsoft/"):
        tokens = _tokens(tag)
        return "musl" if "musl" in tokens else "glibc" if "glibc" in tokens else None
    distroless = _distroless_parts(ref)
    if distroless is not None:
        return None if distroless[0] == "static" else "glibc"
    facts = facts_for(ref)
    return facts.libc if facts is not None else None


def runtime_of(ref: ImageRef) -> Runtime | None:
    """The language runtime an image carries, from the table or the name of a
    distroless runtime image."""
    facts = facts_for(ref)
    if facts is not None:
        return facts.runtime
    distroless = _distroless_parts(ref)
    if distroless is not None:
        return _DISTROLESS_RUNTIMES.get(distroless[0])
    return None


def runtime_version(ref: ImageRef) -> str | None:
    """The runtime version a tag names: ``3.12`` for ``python:3.12.4-slim``,
    ``22`` for ``node:jod``, ``21`` for ``eclipse-temurin:21-jre`` or
    ``maven:3.9-eclipse-temurin-21``, ``1.26`` for ``golang:1.26-alpine``.
    None when the tag does not say (``latest``, ``3``, ``lts``)."""
    runtime = runtime_of(ref)
    tag = _tag(ref)
    if runtime in ("python", "ruby", "go"):
        match = _MAJOR_MINOR_RE.match(tag)
        return f"{match.group(1)}.{match.group(2)}" if match else None
    if runtime == "node":
        match = _MAJOR_RE.match(tag)
        if match:
            return match.group(1)
        return _NODE_CODENAMES.get(tag.split("-")[0])
    if runtime == "java":
        facts = facts_for(ref)
        if facts is not None and facts.build_image:
            match = _JAVA_IN_TAG_RE.search(tag)
        else:
            match = _JAVA_VERSION_RE.match(tag)
        return match.group(1) if match else None
    return None


def lighter_tag(ref: ImageRef) -> str | None:
    """The slim (or JRE) tag of the same repository for a full tag, else None."""
    facts = facts_for(ref)
    if facts is None or facts.lighter is None:
        return None
    return facts.lighter(_tag(ref))


def glibc_alternative(ref: ImageRef) -> str | None:
    """A glibc reference to suggest instead of an Alpine one, keeping the
    user's spelling of the name: ``python:3.12-alpine3.20`` ->
    ``python:3.12-slim``, ``eclipse-temurin:21-jre-alpine`` ->
    ``eclipse-temurin:21-jre``, ``openjdk:8-alpine`` -> ``eclipse-temurin:8-jre``."""
    facts = facts_for(ref)
    tag = _tag(ref)
    if facts is None or facts.always_alpine:
        return None
    if facts.deprecated:
        version = runtime_version(ref)
        return f"eclipse-temurin:{version}-jre" if version else None
    if facts.lighter is not None and facts.lighter_kind == "slim":
        slim = facts.lighter(tag)
        return f"{ref.name}:{slim}" if slim else None
    tokens = [token for token in _tokens(tag) if not _ALPINE_TOKEN_RE.match(token)]
    return f"{ref.name}:{'-'.join(tokens)}" if tokens else ref.name


def _version_key(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split("."))


@dataclass(frozen=True, slots=True)
class DistrolessChoice:
    """A distroless image to suggest, and the runtime version change it implies."""

    image: str
    runtime: Runtime
    version: str  # what the distroless image ships
    from_version: str | None  # what the user's tag names, when it says

    @property
    def changes_version(self) -> bool:
        return self.from_version is not None and self.from_version != self.version

    def describe(self) -> str:
        """``gcr.io/distroless/python3-debian13 (Python 3.12 -> 3.13)``: a
        swap must say when the runtime version moves, since native modules
        built for another version will not load."""
        label = RUNTIME_LABELS[self.runtime]
        if self.changes_version:
            return f"{self.image} ({label} {self.from_version} -> {self.version})"
        if self.from_version is None:
            return f"{self.image} ({label} {self.version})"
        return self.image


def distroless_for(runtime: Runtime, version: str | None) -> DistrolessChoice | None:
    """The distroless runtime image for ``runtime`` at ``version``: the same
    version when it exists, else the nearest newer one, else the newest.
    None when there is none (Ruby), or several and the version is unknown."""
    candidates = [image for image in DISTROLESS_RUNTIME_IMAGES if image.runtime == runtime]
    if not candidates:
        return None
    if version is None:
        if len(candidates) != 1:
            return None
        only = candidates[0]
        return DistrolessChoice(only.image, runtime, only.version, None)
    wanted = _version_key(version)
    newer = [image for image in candidates if _version_key(image.version) >= wanted]
    chosen = newer[0] if newer else candidates[-1]
    return DistrolessChoice(chosen.image, runtime, chosen.version, version)


def is_distroless(ref: ImageRef) -> bool:
    """An image family built without shell or package manager: gcr.io/distroless,
    Chainguard runtime images, .NET ``chiseled``/``distroless`` tags, Azure
    Linux distroless. Their debug tags (:func:`is_debug_tag`) add a shell."""
    if ref.repository.startswith(_DISTROLESS_PREFIX):
        return True
    if ref.domain == "cgr.dev" and ref.path.startswith("chainguard/"):
        return ref.path.split("/", 1)[1] in _CHAINGUARD_SHELL_LESS
    if ref.domain == "mcr.microsoft.com":
        if ref.path.startswith(("azurelinux/distroless/", "cbl-mariner/distroless/")):
            return True
        if ref.path.startswith("dotnet/"):
            tokens = _tokens(_tag(ref))
            return "chiseled" in tokens or "distroless" in tokens
    return False


def is_debug_tag(ref: ImageRef) -> bool:
    """A tag that adds a shell to a distroless family: distroless ``debug``,
    ``debug-nonroot`` (busybox), Chainguard ``latest-dev``."""
    tokens = _tokens(_tag(ref))
    return "debug" in tokens or "dev" in tokens


def is_shell_less(ref: ImageRef) -> bool:
    """No ``/bin/sh``: shell-form RUN, CMD and ENTRYPOINT fail there."""
    return is_distroless(ref) and not is_debug_tag(ref)


def is_static_base(ref: ImageRef) -> bool:
    """A base without a C library: only statically linked binaries run on it."""
    distroless = _distroless_parts(ref)
    if distroless is not None:
        return distroless[0] == "static"
    return ref.domain == "cgr.dev" and ref.path == "chainguard/static"
