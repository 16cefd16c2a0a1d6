"""Plain data the registry client takes and returns: configuration, results
and request counters. No I/O here."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
DOCKER_MANIFEST_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"

INDEX_MEDIA_TYPES = frozenset({OCI_INDEX, DOCKER_MANIFEST_LIST})
IMAGE_MEDIA_TYPES = frozenset({OCI_MANIFEST, DOCKER_MANIFEST})
#: All four, index types first: with only the Docker v2 type a registry answers
#: a multi-arch tag with its linux/amd64 child (a wrong digest), and GHCR and
#: distribution 2.8 refuse an index unless the OCI index type is listed.
MANIFEST_MEDIA_TYPES: tuple[str, ...] = (
    OCI_INDEX,
    DOCKER_MANIFEST_LIST,
    OCI_MANIFEST,
    DOCKER_MANIFEST,
)


@dataclass(frozen=True)
class RegistryConfig:
    """How to reach registries. Built once from `.dockpin.toml` / LSP settings.

    ``mirrors`` maps a registry (``docker.io``) to a base URL that serves the
    same ``/v2/<path>/...`` API, the way a pull-through cache is used.
    ``insecure`` lists hosts (``host`` or ``host:port``) that may be spoken to
    over plain http; loopback hosts always may, everything else is https.
    """

    mirrors: Mapping[str, str] = field(default_factory=dict)
    insecure: Sequence[str] = ()
    timeout: float = 5.0
    offline: bool = False
    cache_dir: Path | None = None
    tag_ttl: float = 3600.0
    max_concurrency_per_host: int = 16
    max_retries: int = 3
    max_retry_after: float = 10.0

    def __post_init__(self) -> None:
        if self.timeout <= 0:
            raise ValueError("timeout must be positive")
        if self.tag_ttl < 0:
            raise ValueError("tag_ttl must not be negative")
        if self.max_concurrency_per_host < 1:
            raise ValueError("max_concurrency_per_host must be at least 1")
        if self.max_retries < 0:
            raise ValueError("max_retries must not be negative")


@dataclass(frozen=True, slots=True)
class Resolution:
    """What a tag points to now.

    ``stale`` is only ever true offline: the cached answer is older than the
    tag TTL but was the best available.
    """

    digest: str
    media_type: str
    from_cache: bool
    stale: bool = False

    @property
    def is_index(self) -> bool:
        return self.media_type in INDEX_MEDIA_TYPES


@dataclass(frozen=True, slots=True)
class Platform:
    """One platform-specific manifest of an image."""

    os: str
    architecture: str
    variant: str | None
    digest: str

    @property
    def label(self) -> str:
        """``linux/arm64/v8`` as Docker prints it."""
        parts = [self.os, self.architecture]
        if self.variant:
            parts.append(self.variant)
        return "/".join(parts)


@dataclass(frozen=True, slots=True)
class ManifestFacts:
    """Facts about one manifest or index, keyed by its (content) digest.

    For an index, ``platforms`` lists its children (attestations skipped) and
    ``platform``/``created``/``compressed_size`` describe one representative
    child (linux/amd64 when present, else the first). For a single manifest,
    ``platforms`` holds just that manifest. ``created`` is the ISO 8601 string
    from the image config, ``compressed_size`` the sum of layer sizes in bytes;
    either is ``None`` when the registry did not say.
    """

    digest: str
    media_type: str
    platforms: tuple[Platform, ...]
    platform: Platform | None
    created: str | None
    compressed_size: int | None

    @property
    def is_index(self) -> bool:
        return self.media_type in INDEX_MEDIA_TYPES

    def to_json(self) -> dict[str, Any]:
        def platform_json(p: Platform) -> dict[str, Any]:
            return {
                "os": p.os,
                "architecture": p.architecture,
                "variant": p.variant,
                "digest": p.digest,
            }

        return {
            "digest": self.digest,
            "media_type": self.media_type,
            "platforms": [platform_json(p) for p in self.platforms],
            "platform": platform_json(self.platform) if self.platform else None,
            "created": self.created,
            "compressed_size": self.compressed_size,
        }

    @classmethod
    def from_json(cls, data: Any) -> ManifestFacts:
        """Inverse of :meth:`to_json`; raises ``ValueError`` on any other shape
        (the cache treats that as a miss)."""

        def platform(p: Any) -> Platform:
            if not isinstance(p, dict):
                raise ValueError("platform is not an object")
            os_, arch, variant, digest = (
                p.get("os"),
                p.get("architecture"),
                p.get("variant"),
                p.get("digest"),
            )
            if not (
                isinstance(os_, str)
                and isinstance(arch, str)
                and isinstance(digest, str)
                and (variant is None or isinstance(variant, str))
            ):
                raise ValueError("malformed platform")
            return Platform(os_, arch, variant, digest)

        if not isinstance(data, dict):
            raise ValueError("facts are not an object")
        digest, media_type = data.get("digest"), data.get("media_type")
        created, size = data.get("created"), data.get("compressed_size")
        platforms = data.get("platforms")
        if not (
            isinstance(digest, str)
            and isinstance(media_type, str)
            and isinstance(platforms, list)
            and (created is None or isinstance(created, str))
            and (size is None or (isinstance(size, int) and not isinstance(size, bool)))
        ):
            raise ValueError("malformed facts")
        chosen = data.get("platform")
        return cls(
            digest=digest,
            media_type=media_type,
            platforms=tuple(platform(p) for p in platforms),
            platform=platform(chosen) if chosen is not None else None,
            created=created,
            compressed_size=size,
        )


@dataclass
class RequestStats:
    """Requests actually sent over the network by one client (retries and
    redirect hops included). Cache hits send nothing, so a warm run shows 0."""

    head: int = 0
    get: int = 0
    #: Requests to token realms (GET, or POST for OAuth2 refresh tokens).
    token: int = 0

    @property
    def total(self) -> int:
        return self.head + self.get + self.token
