"""Image references: the distribution/reference grammar and its normalisation.

Pure functions only. A reference such as ``python:3.12`` or
``ghcr.io/org/app:1.0@sha256:...`` is split into domain, path, tag and digest,
with offsets into the original text so that callers can point at, or edit,
exactly the characters the user wrote.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

DOCKER_HUB = "docker.io"
DOCKER_HUB_API_HOST = "registry-1.docker.io"
DOCKER_HUB_CREDENTIAL_KEY = "https://index.docker.io/v1/"
MAX_NAME_LENGTH = 255

_ALNUM = r"[a-z0-9]+"
_SEPARATOR = r"(?:[._]|__|[-]+)"
_PATH_COMPONENT = rf"{_ALNUM}(?:{_SEPARATOR}{_ALNUM})*"
_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN_NAME = rf"{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*"
_IPV6 = r"\[(?:[a-fA-F0-9:]+)\]"
_HOST = rf"(?:{_DOMAIN_NAME}|{_IPV6})"
_DOMAIN_AND_PORT = rf"{_HOST}(?::[0-9]+)?"

PATH_RE = re.compile(rf"^{_PATH_COMPONENT}(?:/{_PATH_COMPONENT})*$")
DOMAIN_RE = re.compile(rf"^{_DOMAIN_AND_PORT}$")
TAG_RE = re.compile(r"^[\w][\w.-]{0,127}$", re.ASCII)
DIGEST_RE = re.compile(r"^[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}$")
SHA256_DIGEST_RE = re.compile(r"^sha256:[a-f0-9]{64}$")
# A bare 64-hex string is an image ID, never a repository name (Docker refuses it).
IDENTIFIER_RE = re.compile(r"^[a-f0-9]{64}$")


@dataclass(frozen=True, slots=True)
class Span:
    """Half-open character offsets ``[start, end)`` into the reference text."""

    start: int
    end: int


@dataclass(frozen=True, slots=True)
class ImageRef:
    """A parsed image reference.

    ``domain`` and ``path`` are normalised (``python`` has domain
    ``docker.io`` and path ``library/python``); the spans point into
    ``text`` as the user wrote it.
    """

    text: str
    domain: str
    path: str
    tag: str | None
    digest: str | None
    name_span: Span
    tag_span: Span | None
    digest_span: Span | None

    @property
    def name(self) -> str:
        """The repository as the user wrote it (``python``, ``ghcr.io/org/app``)."""
        return self.text[self.name_span.start : self.name_span.end]

    @property
    def repository(self) -> str:
        """The fully qualified repository: ``docker.io/library/python``."""
        return f"{self.domain}/{self.path}"

    @property
    def effective_tag(self) -> str | None:
        """The tag a pull would use: the written tag, ``latest`` when neither
        tag nor digest is written, ``None`` for a digest-only reference."""
        if self.tag is not None:
            return self.tag
        return None if self.digest is not None else "latest"

    @property
    def familiar(self) -> str:
        """The short form Docker prints: ``python:3.12``, ``org/app``."""
        name = familiar_name(self.domain, self.path)
        if self.tag is not None:
            name += f":{self.tag}"
        if self.digest is not None:
            name += f"@{self.digest}"
        return name

    @property
    def is_docker_hub(self) -> bool:
        return self.domain == DOCKER_HUB

    def with_digest(self, digest: str) -> str:
        """The user's text with ``digest`` set, keeping their spelling of name
        and tag (``python:3.12`` -> ``python:3.12@sha256:...``)."""
        base = self.text[: self.digest_span.start - 1] if self.digest_span else self.text
        return f"{base}@{digest}"


class ReferenceError(ValueError):
    """The text is not a valid image reference; ``reason`` says why."""

    def __init__(self, text: str, reason: str) -> None:
        super().__init__(f"invalid image reference {text!r}: {reason}")
        self.text = text
        self.reason = reason


def familiar_name(domain: str, path: str) -> str:
    """``docker.io/library/python`` -> ``python``; other registries unchanged."""
    if domain != DOCKER_HUB:
        return f"{domain}/{path}"
    if path.startswith("library/") and path.count("/") == 1:
        return path[len("library/") :]
    return path


def split_domain(name: str) -> tuple[str, str, int]:
    """Split a repository name into (normalised domain, normalised path, offset
    of the path in ``name``) following the reference implementation's rules."""
    slash = name.find("/")
    if slash == -1:
        return DOCKER_HUB, f"library/{name}", 0
    first = name[:slash]
    rest = name[slash + 1 :]
    if first == "localhost" or "." in first or ":" in first or first != first.lower():
        domain = first
        if domain == "index.docker.io":
            domain = DOCKER_HUB
        if domain == DOCKER_HUB and "/" not in rest:
            return domain, f"library/{rest}", slash + 1
        return domain, rest, slash + 1
    return DOCKER_HUB, name, 0


def parse_reference(text: str) -> ImageRef:
    """Parse ``text`` per the distribution/reference grammar.

    Raises :class:`ReferenceError` with a user-facing reason.
    """
    if not text:
        raise ReferenceError(text, "empty reference")
    if any(ch.isspace() for ch in text):
        raise ReferenceError(text, "contains whitespace")
    if IDENTIFIER_RE.match(text):
        raise ReferenceError(
            text, "a 64-character hex string is an image ID, not a repository name"
        )

    digest: str | None = None
    digest_span: Span | None = None
    at = text.find("@")
    body_end = len(text)
    if at != -1:
        digest = text[at + 1 :]
        digest_span = Span(at + 1, len(text))
        body_end = at
        if not DIGEST_RE.match(digest):
            raise ReferenceError(text, f"malformed digest {digest!r}")
        algorithm, _, hex_part = digest.partition(":")
        if algorithm == "sha256" and not SHA256_DIGEST_RE.match(digest):
            raise ReferenceError(
                text,
                f"sha256 digest must be 64 lowercase hex characters, got {len(hex_part)}"
                if len(hex_part) != 64
                else "sha256 digest must be lowercase hex",
            )

    body = text[:body_end]
    # A tag is the part after the last ':' unless that ':' belongs to a port
    # (i.e. a '/' follows it): `localhost:5000/app` has no tag.
    tag: str | None = None
    tag_span: Span | None = None
    colon = body.rfind(":")
    name_end = body_end
    if colon != -1 and "/" not in body[colon + 1 :]:
        tag = body[colon + 1 :]
        tag_span = Span(colon + 1, body_end)
        name_end = colon
        if not TAG_RE.match(tag):
            if not tag:
                raise ReferenceError(text, "empty tag after ':'")
            raise ReferenceError(text, f"invalid tag {tag!r}")

    name = text[:name_end]
    if not name:
        raise ReferenceError(text, "missing repository name")
    domain, path, path_offset = split_domain(name)
    written_path = name[path_offset:]
    if domain != DOCKER_HUB or path_offset:
        written_domain = name[: path_offset - 1] if path_offset else ""
        if written_domain and not DOMAIN_RE.match(written_domain):
            raise ReferenceError(text, f"invalid registry host {written_domain!r}")
    if not PATH_RE.match(written_path):
        if written_path != written_path.lower() and PATH_RE.match(written_path.lower()):
            raise ReferenceError(text, "repository name must be lowercase")
        raise ReferenceError(text, f"invalid repository name {written_path!r}")
    # As distribution/reference does: the limit applies to the normalised path
    # (``library/`` included for official images), not to the registry host.
    if len(path) > MAX_NAME_LENGTH:
        raise ReferenceError(text, f"repository name longer than {MAX_NAME_LENGTH} characters")
    return ImageRef(
        text=text,
        domain=domain,
        path=path,
        tag=tag,
        digest=digest,
        name_span=Span(0, name_end),
        tag_span=tag_span,
        digest_span=digest_span,
    )


def try_parse_reference(text: str) -> ImageRef | None:
    """``parse_reference`` that returns ``None`` instead of raising."""
    try:
        return parse_reference(text)
    except ReferenceError:
        return None
