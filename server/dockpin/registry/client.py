"""The registry client: tag -> digest, manifest facts, existence, tag lists.

A few precise operations (as in crane) over one httpx client that owns auth,
retries, redirects and limits. Each public operation runs under the
registry host's concurrency slot and one overall deadline (``timeout``), so a
response that never ends fails on time. Results go through the cache; in
offline mode only the cache answers.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import math
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, NoReturn
from urllib.parse import quote, urljoin

import httpx
import platformdirs

from .. import __version__
from ..references import SHA256_DIGEST_RE, ImageRef
from .auth import Authenticator
from .cache import RegistryCache
from .credentials import CredentialStore
from .endpoints import Endpoint, endpoint_for, host_is_insecure_allowed
from .errors import ErrorKind, RegistryError
from .models import (
    IMAGE_MEDIA_TYPES,
    INDEX_MEDIA_TYPES,
    MANIFEST_MEDIA_TYPES,
    OCI_INDEX,
    OCI_MANIFEST,
    ManifestFacts,
    Platform,
    RegistryConfig,
    RequestStats,
    Resolution,
)
from .transport import Reply, Session, TooLarge, netloc_of, origin_of, parse_retry_after

log = logging.getLogger(__name__)

_MIB = 1024 * 1024
#: containerd's limit for manifests and indexes; enforced while streaming.
MANIFEST_LIMIT = 4 * _MIB
#: Image configs carry the build history and can outgrow manifests.
CONFIG_LIMIT = 8 * _MIB
TAGS_PAGE_LIMIT = 4 * _MIB
TAGS_PAGE_SIZE = 1000
MAX_TAG_PAGES = 50

_ACCEPT_MANIFESTS = ", ".join(MANIFEST_MEDIA_TYPES)
_SCHEMA1_TYPES = frozenset(
    {
        "application/vnd.docker.distribution.manifest.v1+json",
        "application/vnd.docker.distribution.manifest.v1+prettyjws",
    }
)
_HASHES = {"sha256": hashlib.sha256, "sha384": hashlib.sha384, "sha512": hashlib.sha512}
_LINK_NEXT_RE = re.compile(r'<([^>]*)>\s*;[^,]*?\brel="?next"?', re.IGNORECASE)
_ARCH_ALIASES = {"x86_64": "amd64", "x86-64": "amd64", "aarch64": "arm64", "armhf": "arm"}


@dataclass(frozen=True, slots=True)
class _Operation:
    """One public call in flight: where it goes and when it must be done."""

    ref: ImageRef
    endpoint: Endpoint
    deadline: float

    @property
    def subject(self) -> str:
        """The repository as messages name it: ``docker.io/library/python``."""
        return self.ref.repository


@dataclass(frozen=True, slots=True)
class _Manifest:
    """A verified manifest: its digest is the hash of ``body``."""

    digest: str
    media_type: str
    data: dict[str, Any]


def _content_type(headers: httpx.Headers) -> str:
    value: str = headers.get("content-type", "")
    return value.split(";", 1)[0].strip().lower()


def _header_digest(headers: httpx.Headers) -> str | None:
    """``Docker-Content-Digest`` if it is a well-formed sha256 digest; any
    other value is not trusted (and not used)."""
    value = headers.get("docker-content-digest", "").strip()
    return value if SHA256_DIGEST_RE.match(value) else None


def _format_wait(seconds: float) -> str:
    if seconds < 120:
        return f"{math.ceil(seconds)}s"
    if seconds < 7200:
        return f"{math.ceil(seconds / 60)}min"
    return f"{math.ceil(seconds / 3600)}h"


def _error_codes(body: bytes) -> set[str]:
    """Codes from a distribution error body ``{"errors":[{"code":...}]}``."""
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return set()
    errors = data.get("errors") if isinstance(data, dict) else None
    if not isinstance(errors, list):
        return set()
    return {e["code"] for e in errors if isinstance(e, dict) and isinstance(e.get("code"), str)}


def _normalise_platform(architecture: str, variant: str | None) -> tuple[str, str | None]:
    """containerd's equivalences: arm64 means arm64/v8, arm means arm/v7,
    amd64 means amd64/v1; aarch64/x86_64 are the same architectures."""
    arch = _ARCH_ALIASES.get(architecture.lower(), architecture.lower())
    var = (variant or "").lower() or None
    defaults = {"arm64": "v8", "arm": "v7", "amd64": "v1"}
    if var is None:
        var = defaults.get(arch)
    return arch, var


def _platform_matches(platform: Platform, os: str, architecture: str, variant: str | None) -> bool:
    return platform.os.lower() == os.lower() and _normalise_platform(
        platform.architecture, platform.variant
    ) == _normalise_platform(architecture, variant)


def _is_attestation(entry: dict[str, Any]) -> bool:
    platform = entry.get("platform")
    annotations = entry.get("annotations")
    if isinstance(annotations, dict) and (
        annotations.get("vnd.docker.reference.type") == "attestation-manifest"
    ):
        return True
    return (
        isinstance(platform, dict)
        and platform.get("os") == "unknown"
        and platform.get("architecture") == "unknown"
    )


def _index_platforms(data: dict[str, Any]) -> tuple[Platform, ...]:
    """Platform children of an index, attestations and entries without a
    platform (artifacts) skipped, in the index's order."""
    manifests = data.get("manifests")
    if not isinstance(manifests, list):
        return ()
    platforms: list[Platform] = []
    for entry in manifests:
        if not isinstance(entry, dict) or _is_attestation(entry):
            continue
        platform = entry.get("platform")
        digest = entry.get("digest")
        if not isinstance(platform, dict) or not isinstance(digest, str):
            continue
        if not SHA256_DIGEST_RE.match(digest):
            log.debug("skipping index child with unsupported digest %r", digest)
            continue
        os_, arch, variant = (
            platform.get("os"),
            platform.get("architecture"),
            platform.get("variant"),
        )
        if not isinstance(os_, str) or not isinstance(arch, str):
            continue
        platforms.append(
            Platform(os_, arch, variant if isinstance(variant, str) and variant else None, digest)
        )
    return tuple(platforms)


def _representative(platforms: tuple[Platform, ...]) -> Platform | None:
    """The child hover describes: linux/amd64 when present, else the first."""
    for platform in platforms:
        if platform.os == "linux" and platform.architecture == "amd64":
            return platform
    return platforms[0] if platforms else None


def _parse_link_next(headers: httpx.Headers) -> str | None:
    for value in headers.get_list("link"):
        match = _LINK_NEXT_RE.search(value)
        if match:
            return match.group(1)
    return None


class RegistryClient:
    """Talks to registries for one process. Use as ``async with``.

    ``credentials`` defaults to a :class:`CredentialStore` over the real
    environment; ``transport`` lets tests or embedders swap httpx's
    transport.
    """

    def __init__(
        self,
        config: RegistryConfig,
        *,
        credentials: CredentialStore | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._config = config
        self.stats = RequestStats()
        self._http = httpx.AsyncClient(
            transport=transport,
            # Redirects are followed by hand (see transport.Session).
            follow_redirects=False,
            timeout=httpx.Timeout(config.timeout),
            headers={"User-Agent": f"dockpin/{__version__}"},
        )
        self._session = Session(
            self._http,
            self.stats,
            timeout=config.timeout,
            max_retries=config.max_retries,
            max_retry_after=config.max_retry_after,
            allows_http=lambda netloc: host_is_insecure_allowed(netloc, config),
        )
        self._credentials = credentials if credentials is not None else CredentialStore()
        self._auth = Authenticator(self._session, self._credentials)
        cache_dir = config.cache_dir or Path(platformdirs.user_cache_dir("dockpin"))
        self._cache = RegistryCache(cache_dir / "registry", config.tag_ttl)
        self._slots: dict[str, asyncio.Semaphore] = {}
        self._key_locks: dict[str, asyncio.Lock] = {}

    def __repr__(self) -> str:
        return f"RegistryClient(offline={self._config.offline}, stats={self.stats!r})"

    async def __aenter__(self) -> RegistryClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    # -- public operations ---------------------------------------------------

    async def resolve(self, ref: ImageRef, *, fresh: bool = False) -> Resolution:
        """What ``ref``'s tag points to now: the index digest for a multi-arch
        tag. A digest-only reference resolves to its digest once the registry
        confirms it exists. ``fresh`` skips the cached tag answer when online
        (``pin --update`` must see a tag that moved a minute ago)."""
        endpoint = endpoint_for(ref.domain, self._config)
        tag = ref.effective_tag
        if tag is None:
            assert ref.digest is not None  # effective_tag is None only then
            return await self._resolve_digest(ref, endpoint, ref.digest)
        key = f"{endpoint.base_url}/{ref.path}:{tag}"
        async with self._key_lock(f"tag\0{key}"):
            cached = self._cached_tag(key)
            if cached is not None and (self._config.offline or not fresh):
                return cached
            self._require_online(f"{ref.repository}:{tag}")
            async with self._operation(ref, endpoint) as op:
                resolution = await self._resolve_tag(op, tag)
            self._remember_tag(key, resolution.digest, resolution.media_type)
            return resolution

    async def manifest(self, ref: ImageRef, digest: str | None = None) -> ManifestFacts:
        """Facts about ``digest`` (default: the reference's digest, else what
        its tag points to): platforms of an index, and created/size of one
        platform. Cached forever by digest."""
        endpoint = endpoint_for(ref.domain, self._config)
        digest = digest or ref.digest
        tag = ref.effective_tag
        key = f"{endpoint.base_url}/{ref.path}:{tag}"
        if digest is None and tag is not None:
            cached = self._cached_tag(key)
            if cached is not None:
                digest = cached.digest
        if digest is not None:
            async with self._key_lock(f"facts\0{digest}"):
                facts = self._cache.get_facts(digest)
                if facts is not None:
                    return facts
                self._require_online(f"{ref.repository}@{digest}")
                async with self._operation(ref, endpoint) as op:
                    manifest = await self._get_manifest(op, digest, expected=digest)
                    facts = await self._facts(op, manifest)
                self._cache.put_facts(facts)
                return facts
        assert tag is not None
        self._require_online(f"{ref.repository}:{tag}")
        async with self._operation(ref, endpoint) as op:
            manifest = await self._get_manifest(op, tag)
            self._remember_tag(key, manifest.digest, manifest.media_type)
            facts = self._cache.get_facts(manifest.digest) or await self._facts(op, manifest)
        self._cache.put_facts(facts)
        return facts

    async def platform_child(
        self,
        ref: ImageRef,
        index_digest: str,
        os: str,
        architecture: str,
        variant: str | None,
    ) -> str | None:
        """The digest of ``index_digest``'s child for os/architecture/variant
        (``arm64`` matches ``arm64/v8``), or None. For a single-platform
        manifest: its own digest when its platform matches."""
        facts = self._cache.get_facts(index_digest)
        if facts is None:
            children = await self._children(ref, index_digest)
            if children is not None:
                for platform in children:
                    if _platform_matches(platform, os, architecture, variant):
                        return platform.digest
                return None
            facts = await self.manifest(ref, index_digest)
        for platform in facts.platforms:
            if _platform_matches(platform, os, architecture, variant):
                return platform.digest
        return None

    async def children(self, ref: ImageRef, digest: str) -> tuple[Platform, ...] | None:
        """The platform manifests of index ``digest`` (attestations skipped),
        from one GET and cached forever; None when ``digest`` is not an index."""
        facts = self._cache.get_facts(digest)
        if facts is not None:
            return facts.platforms if facts.is_index else None
        return await self._children(ref, digest)

    async def digest_exists(self, ref: ImageRef, digest: str) -> bool:
        """Whether the registry still serves ``digest`` in ``ref``'s
        repository (a deleted one breaks builds). Positive answers are cached
        for the tag TTL; manifests can be deleted."""
        endpoint = endpoint_for(ref.domain, self._config)
        media_type = await self._head_digest(ref, endpoint, digest)
        return media_type is not None

    async def tags(self, ref: ImageRef) -> list[str]:
        """All tags of ``ref``'s repository, following ``Link: rel="next"``
        pages on the same origin, at most ``MAX_TAG_PAGES`` pages."""
        endpoint = endpoint_for(ref.domain, self._config)
        key = f"{endpoint.base_url}/{ref.path}"
        cached = self._cache.get_timed("taglists", key, allow_expired=self._config.offline)
        if cached is not None and isinstance(cached.value, list):
            return [t for t in cached.value if isinstance(t, str)]
        self._require_online(f"tags of {ref.repository}")
        async with self._operation(ref, endpoint) as op:
            tags = await self._list_tags(op)
        self._cache.put_timed("taglists", key, tags)
        return tags

    # -- plumbing ------------------------------------------------------------

    def _key_lock(self, key: str) -> asyncio.Lock:
        """One lock per cache key: concurrent lookups of the same tag (one
        Dockerfile naming python:3.12 five times) make one set of requests."""
        return self._key_locks.setdefault(key, asyncio.Lock())

    def _require_online(self, what: str) -> None:
        if self._config.offline:
            raise RegistryError(
                ErrorKind.OFFLINE_CACHE_MISS,
                f"offline: {what} is not in the cache (run once online to fill it)",
            )

    def _cached_tag(self, key: str) -> Resolution | None:
        entry = self._cache.get_timed("tags", key, allow_expired=self._config.offline)
        if entry is None or not isinstance(entry.value, dict):
            return None
        digest, media_type = entry.value.get("digest"), entry.value.get("media_type")
        if not (isinstance(digest, str) and SHA256_DIGEST_RE.match(digest)):
            return None
        if not isinstance(media_type, str):
            return None
        return Resolution(digest, media_type, from_cache=True, stale=entry.expired)

    def _remember_tag(self, key: str, digest: str, media_type: str) -> None:
        self._cache.put_timed("tags", key, {"digest": digest, "media_type": media_type})

    @asynccontextmanager
    async def _operation(self, ref: ImageRef, endpoint: Endpoint) -> AsyncIterator[_Operation]:
        """Hold one of the host's slots, and bound the whole operation (auth,
        retries, redirects, body) by the timeout. The clock starts once the
        slot is held: queueing behind other lookups is not the registry's
        slowness."""
        slot = self._slots.setdefault(
            endpoint.netloc, asyncio.Semaphore(self._config.max_concurrency_per_host)
        )
        async with slot:
            loop = asyncio.get_running_loop()
            deadline = loop.time() + self._config.timeout
            try:
                async with asyncio.timeout_at(deadline):
                    yield _Operation(ref, endpoint, deadline)
            except TimeoutError:
                raise RegistryError(
                    ErrorKind.TIMEOUT,
                    f"timed out after {self._config.timeout}s talking to {endpoint.display}",
                ) from None

    async def _request(
        self, op: _Operation, method: str, url: str, *, accept: str | None, limit: int, what: str
    ) -> Reply:
        """A registry request with auth: sends known authorization up front,
        and after a 401 re-authenticates at most once."""
        headers = {"Accept": accept} if accept else {}
        authorization = await self._auth.authorization(op.endpoint, op.ref.path, op.deadline)
        reauthenticated = False
        while True:
            try:
                reply = await self._session.send_with_retries(
                    method,
                    url,
                    headers=headers,
                    authorization=authorization,
                    limit=limit,
                    display=op.endpoint.display,
                    deadline=op.deadline,
                )
            except TooLarge:
                raise RegistryError(
                    ErrorKind.TOO_LARGE,
                    f"{op.subject}: {what} from {op.endpoint.display} is larger than "
                    f"{limit // _MIB} MiB; refused",
                ) from None
            # Only a 401 from the registry itself is a challenge for it; one
            # from a storage host it redirected to is just an error.
            if (
                reply.status != 401
                or reauthenticated
                or (origin_of(reply.url) != origin_of(op.endpoint.base_url))
            ):
                return reply
            reauthenticated = True
            fresh = await self._auth.on_unauthorized(op.endpoint, op.ref.path, reply, op.deadline)
            if fresh is None:
                return reply
            authorization = fresh

    def _manifest_url(self, op: _Operation, reference: str) -> str:
        return op.endpoint.url(f"/v2/{op.ref.path}/manifests/{quote(reference, safe=':')}")

    async def _head_manifest(self, op: _Operation, reference: str) -> Reply:
        """HEAD a manifest by tag or digest, accepting all four manifest types."""
        return await self._request(
            op,
            "HEAD",
            self._manifest_url(op, reference),
            accept=_ACCEPT_MANIFESTS,
            limit=MANIFEST_LIMIT,
            what="manifest",
        )

    async def _resolve_tag(self, op: _Operation, tag: str) -> Resolution:
        # HEAD first: it is cheap and does not count against Docker Hub's
        # pull limit. Its digest header is the registry's word for the bytes
        # a pull would get.
        reply = await self._head_manifest(op, tag)
        if reply.status == 200:
            digest = _header_digest(reply.headers)
            media_type = _content_type(reply.headers)
            if digest is not None and media_type in MANIFEST_MEDIA_TYPES:
                await self._confirm_by_digest(op, tag, digest, media_type, reply.headers)
                return Resolution(digest, media_type, from_cache=False)
            log.debug("%s: HEAD without usable digest/type; falling back to GET", op.subject)
        elif reply.status not in (404, 405, 400):
            self._raise_for_status(op, reply, tag=tag)
        # No usable header, or a 404 whose body (absent on HEAD) tells
        # repository from tag: GET and hash the bytes ourselves.
        manifest = await self._get_manifest(op, tag)
        return Resolution(manifest.digest, manifest.media_type, from_cache=False)

    async def _confirm_by_digest(
        self,
        op: _Operation,
        tag: str,
        digest: str,
        media_type: str,
        tag_headers: httpx.Headers,
    ) -> None:
        """A HEAD answer cannot be hashed, so ask for the manifest by the
        digest the registry named: it must exist with the same type and size.
        A wrong ``Docker-Content-Digest`` (a broken proxy, a hostile mirror)
        is caught here for one more HEAD, which Docker Hub does not count as
        a pull, instead of a GET that it does."""
        reply = await self._head_manifest(op, digest)
        mismatch = reply.status == 404
        if reply.status == 200:
            tag_length = tag_headers.get("content-length")
            length = reply.headers.get("content-length")
            header = _header_digest(reply.headers)
            mismatch = (
                _content_type(reply.headers) != media_type
                or (tag_length is not None and length is not None and tag_length != length)
                or (header is not None and header != digest)
            )
        elif reply.status == 405:
            # No HEAD by digest here: fetch it, which also verifies its hash.
            manifest = await self._get_manifest(op, digest, expected=digest)
            mismatch = manifest.media_type != media_type
        elif reply.status != 404:
            self._raise_for_status(op, reply, digest=digest)
        if mismatch:
            raise RegistryError(
                ErrorKind.DIGEST_MISMATCH,
                f"{op.subject}: {op.endpoint.display} says tag '{tag}' is {digest}, but "
                f"does not serve that manifest{op.endpoint.via()}; refused",
            )

    async def _get_manifest(
        self, op: _Operation, reference: str, *, expected: str | None = None
    ) -> _Manifest:
        """GET a manifest by tag or digest and verify it: the body's hash must
        match the digest asked for and the registry's digest header."""
        reply = await self._request(
            op,
            "GET",
            self._manifest_url(op, reference),
            accept=_ACCEPT_MANIFESTS,
            limit=MANIFEST_LIMIT,
            what="manifest",
        )
        if reply.status != 200:
            if expected is not None:
                self._raise_for_status(op, reply, digest=expected)
            await self._raise_tag_status(op, reply, reference)
        computed = "sha256:" + hashlib.sha256(reply.body).hexdigest()
        digest = computed
        if expected is not None:
            algorithm, _, hex_part = expected.partition(":")
            hasher = _HASHES.get(algorithm)
            if hasher is None:
                raise RegistryError(
                    ErrorKind.BAD_RESPONSE,
                    f"{op.subject}: cannot verify digest algorithm {algorithm!r}",
                )
            if hasher(reply.body).hexdigest() != hex_part.lower():
                raise RegistryError(
                    ErrorKind.DIGEST_MISMATCH,
                    f"{op.subject}: {op.endpoint.display} sent a manifest whose content does "
                    f"not match {expected}{op.endpoint.via()}; refused",
                )
            digest = expected
        header = _header_digest(reply.headers)
        if header is not None and header != computed:
            raise RegistryError(
                ErrorKind.DIGEST_MISMATCH,
                f"{op.subject}: {op.endpoint.display} says the manifest is {header} but its "
                f"content hashes to {computed}{op.endpoint.via()}; refused",
            )
        data = self._parse_json(op, reply.body, "manifest")
        media_type = self._media_type(op, reply, data)
        return _Manifest(digest, media_type, data)

    def _parse_json(self, op: _Operation, body: bytes, what: str) -> dict[str, Any]:
        try:
            data = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            raise RegistryError(
                ErrorKind.BAD_RESPONSE,
                f"{op.subject}: {op.endpoint.display} sent malformed JSON for the {what}"
                f"{op.endpoint.via()}",
            ) from None
        if not isinstance(data, dict):
            raise RegistryError(
                ErrorKind.BAD_RESPONSE,
                f"{op.subject}: {op.endpoint.display} sent a {what} that is not a JSON object",
            )
        return data

    def _media_type(self, op: _Operation, reply: Reply, data: dict[str, Any]) -> str:
        declared = data.get("mediaType")
        header = _content_type(reply.headers)
        if data.get("schemaVersion") == 1 or declared in _SCHEMA1_TYPES or header in _SCHEMA1_TYPES:
            raise RegistryError(
                ErrorKind.BAD_RESPONSE,
                f"{op.subject}: {op.endpoint.display} sent a legacy schema 1 manifest, whose "
                f"digest is not what a pull uses",
            )
        if isinstance(declared, str) and declared in MANIFEST_MEDIA_TYPES:
            return declared
        if header in MANIFEST_MEDIA_TYPES:
            return header
        # The OCI spec lets mediaType be omitted; the shape then tells.
        if isinstance(data.get("manifests"), list):
            return OCI_INDEX
        if isinstance(data.get("config"), dict) and isinstance(data.get("layers"), list):
            return OCI_MANIFEST
        raise RegistryError(
            ErrorKind.BAD_RESPONSE,
            f"{op.subject}: {op.endpoint.display} sent something that is not an image "
            f"manifest or index ({declared or header or 'no media type'})",
        )

    async def _raise_tag_status(self, op: _Operation, reply: Reply, tag: str) -> NoReturn:
        """Raise for a failed manifest request by tag. A bare MANIFEST_UNKNOWN
        does not say whether the repository exists (distribution answers it
        for both); the tag list does."""
        if (
            reply.status == 404
            and "NAME_UNKNOWN" not in _error_codes(reply.body)
            and await self._repository_missing(op)
        ):
            self._raise_for_status(op, reply, repository_missing=True)
        self._raise_for_status(op, reply, tag=tag)

    async def _repository_missing(self, op: _Operation) -> bool:
        try:
            reply = await self._request(
                op,
                "GET",
                op.endpoint.url(f"/v2/{op.ref.path}/tags/list?n=1"),
                accept="application/json",
                limit=TAGS_PAGE_LIMIT,
                what="tag list",
            )
        except RegistryError:
            return False
        return reply.status == 404

    def _raise_for_status(
        self,
        op: _Operation,
        reply: Reply,
        *,
        tag: str | None = None,
        digest: str | None = None,
        repository_missing: bool = False,
    ) -> NoReturn:
        endpoint, subject, via = op.endpoint, op.subject, op.endpoint.via()
        status = reply.status
        if status in (401, 403) and origin_of(reply.url) != origin_of(endpoint.base_url):
            # Not the registry's verdict on the credentials: they were never
            # sent to the host it redirected to.
            raise RegistryError(
                ErrorKind.UNAUTHORIZED if status == 401 else ErrorKind.FORBIDDEN,
                f"{subject}: {endpoint.display} redirected to {netloc_of(reply.url)}, which "
                f"refused access (HTTP {status}); credentials are not sent to another "
                f"host{via}",
            )
        if status == 401:
            raise RegistryError(
                ErrorKind.UNAUTHORIZED, self._auth.unauthorized_message(endpoint, subject)
            )
        if status == 403:
            raise RegistryError(
                ErrorKind.FORBIDDEN, f"{subject}: access denied by {endpoint.display}{via}"
            )
        if status == 404:
            if repository_missing or "NAME_UNKNOWN" in _error_codes(reply.body):
                raise RegistryError(
                    ErrorKind.REPOSITORY_NOT_FOUND, f"{subject}: repository not found{via}"
                )
            if digest is not None:
                raise RegistryError(
                    ErrorKind.DIGEST_NOT_FOUND, f"{subject}: digest {digest} not found{via}"
                )
            raise RegistryError(ErrorKind.TAG_NOT_FOUND, f"{subject}: tag '{tag}' not found{via}")
        if status == 429:
            raise self._rate_limited(op, reply)
        if status in (502, 503, 504):
            raise RegistryError(
                ErrorKind.UNREACHABLE,
                f"registry {endpoint.display} is unavailable (HTTP {status}){via}",
            )
        raise RegistryError(
            ErrorKind.BAD_RESPONSE,
            f"{subject}: unexpected HTTP {status} from {endpoint.display}{via}",
        )

    def _rate_limited(self, op: _Operation, reply: Reply) -> RegistryError:
        endpoint = op.endpoint
        retry_after = parse_retry_after(reply.headers.get("retry-after"))
        when = "retry later"
        if retry_after is not None:
            when = f"retry after {_format_wait(retry_after)}"
        hub = (
            endpoint.is_docker_hub
            or b"pull rate limit" in reply.body.lower()
            or "ratelimit-limit" in reply.headers
        )
        if not hub:
            return RegistryError(
                ErrorKind.RATE_LIMITED,
                f"rate limited by {endpoint.display}{endpoint.via()}; {when}",
                retry_after=retry_after,
            )
        # Through a mirror, the limit is the mirror's upstream account, so
        # logging in to the mirror is not the advice to give.
        credential = self._auth.credential_used(endpoint)
        if endpoint.mirror is not None:
            message = (
                f"rate limited by Docker Hub (pull limit reached, via mirror {endpoint.netloc}); "
                f"{when}"
            )
        elif credential is None:
            message = f"rate limited by Docker Hub (anonymous pull limit reached); {when} or log in"
        else:
            message = (
                f"rate limited by Docker Hub (pull limit for {credential.username} reached); {when}"
            )
        return RegistryError(ErrorKind.RATE_LIMITED, message, retry_after=retry_after)

    async def _facts(self, op: _Operation, manifest: _Manifest) -> ManifestFacts:
        if manifest.media_type in INDEX_MEDIA_TYPES:
            platforms = _index_platforms(manifest.data)
            self._remember_children(manifest.digest, platforms)
            chosen = _representative(platforms)
            created: str | None = None
            size: int | None = None
            if chosen is not None:
                child = self._cache.get_facts(chosen.digest)
                if child is None:
                    child_manifest = await self._get_manifest(
                        op, chosen.digest, expected=chosen.digest
                    )
                    if child_manifest.media_type in IMAGE_MEDIA_TYPES:
                        child = await self._image_facts(op, child_manifest, chosen)
                        self._cache.put_facts(child)
                if child is not None:
                    created, size = child.created, child.compressed_size
            return ManifestFacts(
                digest=manifest.digest,
                media_type=manifest.media_type,
                platforms=platforms,
                platform=chosen,
                created=created,
                compressed_size=size,
            )
        return await self._image_facts(op, manifest, None)

    async def _image_facts(
        self, op: _Operation, manifest: _Manifest, descriptor: Platform | None
    ) -> ManifestFacts:
        """Facts of a single-platform manifest: layer sizes from it, platform
        and creation time from its config blob."""
        layers = manifest.data.get("layers")
        size: int | None = None
        if isinstance(layers, list):
            sizes = [layer.get("size") for layer in layers if isinstance(layer, dict)]
            if all(isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in sizes):
                size = sum(s for s in sizes if isinstance(s, int))
        config = manifest.data.get("config")
        config_digest = config.get("digest") if isinstance(config, dict) else None
        created: str | None = None
        os_ = descriptor.os if descriptor else "unknown"
        arch = descriptor.architecture if descriptor else "unknown"
        variant = descriptor.variant if descriptor else None
        if isinstance(config_digest, str) and SHA256_DIGEST_RE.match(config_digest):
            blob = await self._get_blob(op, config_digest)
            if isinstance(blob.get("created"), str):
                created = blob["created"]
            if isinstance(blob.get("os"), str) and isinstance(blob.get("architecture"), str):
                os_, arch = blob["os"], blob["architecture"]
                blob_variant = blob.get("variant")
                variant = blob_variant if isinstance(blob_variant, str) and blob_variant else None
        platform = Platform(os_, arch, variant, manifest.digest)
        return ManifestFacts(
            digest=manifest.digest,
            media_type=manifest.media_type,
            platforms=(platform,),
            platform=platform,
            created=created,
            compressed_size=size,
        )

    async def _get_blob(self, op: _Operation, digest: str) -> dict[str, Any]:
        """GET a JSON blob (an image config) by digest, verified. Registries
        usually redirect blobs to storage; the redirect is followed without
        the registry's Authorization."""
        reply = await self._request(
            op,
            "GET",
            op.endpoint.url(f"/v2/{op.ref.path}/blobs/{digest}"),
            accept=None,
            limit=CONFIG_LIMIT,
            what="image config",
        )
        if reply.status != 200:
            self._raise_for_status(op, reply, digest=digest)
        if "sha256:" + hashlib.sha256(reply.body).hexdigest() != digest:
            raise RegistryError(
                ErrorKind.DIGEST_MISMATCH,
                f"{op.subject}: image config from {op.endpoint.display} does not match "
                f"{digest}{op.endpoint.via()}; refused",
            )
        return self._parse_json(op, reply.body, "image config")

    async def _children(self, ref: ImageRef, digest: str) -> tuple[Platform, ...] | None:
        """Platforms of an index without fetching any config (what
        platform_child needs); None when ``digest`` is not an index."""
        cached = self._cache.get_forever("children", digest)
        if isinstance(cached, list):
            # Same shape as an index's own entries, so the same parser
            # validates what came back from disk.
            return _index_platforms({"manifests": cached})
        self._require_online(f"{ref.repository}@{digest}")
        endpoint = endpoint_for(ref.domain, self._config)
        async with self._operation(ref, endpoint) as op:
            manifest = await self._get_manifest(op, digest, expected=digest)
            if manifest.media_type not in INDEX_MEDIA_TYPES:
                facts = await self._image_facts(op, manifest, None)
                self._cache.put_facts(facts)
                return None
        platforms = _index_platforms(manifest.data)
        self._remember_children(digest, platforms)
        return platforms

    def _remember_children(self, digest: str, platforms: tuple[Platform, ...]) -> None:
        entries = []
        for p in platforms:
            platform = {"os": p.os, "architecture": p.architecture}
            if p.variant:
                platform["variant"] = p.variant
            entries.append({"digest": p.digest, "platform": platform})
        self._cache.put_forever("children", digest, entries)

    async def _head_digest(self, ref: ImageRef, endpoint: Endpoint, digest: str) -> str | None:
        """HEAD a manifest by digest: its media type, or None on 404."""
        key = f"{endpoint.base_url}/{ref.path}@{digest}"
        cached = self._cache.get_timed("exists", key, allow_expired=self._config.offline)
        if cached is not None and isinstance(cached.value, str):
            return cached.value
        self._require_online(f"{ref.repository}@{digest}")
        async with self._operation(ref, endpoint) as op:
            reply = await self._head_manifest(op, digest)
            if reply.status == 404:
                return None
            if reply.status != 200:
                self._raise_for_status(op, reply, digest=digest)
            header = _header_digest(reply.headers)
            if header is not None and digest.startswith("sha256:") and header != digest:
                raise RegistryError(
                    ErrorKind.DIGEST_MISMATCH,
                    f"{op.subject}: asked for {digest}, {endpoint.display} answered for {header}",
                )
            media_type = _content_type(reply.headers)
            if media_type not in MANIFEST_MEDIA_TYPES:
                media_type = (await self._get_manifest(op, digest, expected=digest)).media_type
        self._cache.put_timed("exists", key, media_type)
        return media_type

    async def _resolve_digest(self, ref: ImageRef, endpoint: Endpoint, digest: str) -> Resolution:
        key = f"{endpoint.base_url}/{ref.path}@{digest}"
        cached = self._cache.get_timed("exists", key, allow_expired=self._config.offline)
        if cached is not None and isinstance(cached.value, str):
            return Resolution(digest, cached.value, from_cache=True, stale=cached.expired)
        media_type = await self._head_digest(ref, endpoint, digest)
        if media_type is None:
            raise RegistryError(
                ErrorKind.DIGEST_NOT_FOUND,
                f"{ref.repository}: digest {digest} not found{endpoint.via()}",
            )
        return Resolution(digest, media_type, from_cache=False)

    async def _list_tags(self, op: _Operation) -> list[str]:
        url = op.endpoint.url(f"/v2/{op.ref.path}/tags/list?n={TAGS_PAGE_SIZE}")
        origin = origin_of(url)
        seen_urls: set[str] = set()
        tags: dict[str, None] = {}
        for _page in range(MAX_TAG_PAGES):
            seen_urls.add(url)
            reply = await self._request(
                op, "GET", url, accept="application/json", limit=TAGS_PAGE_LIMIT, what="tag list"
            )
            if reply.status == 404:
                raise RegistryError(
                    ErrorKind.REPOSITORY_NOT_FOUND,
                    f"{op.subject}: repository not found{op.endpoint.via()}",
                )
            if reply.status != 200:
                self._raise_for_status(op, reply)
            data = self._parse_json(op, reply.body, "tag list")
            page = data.get("tags")
            if page is not None and not isinstance(page, list):
                raise RegistryError(
                    ErrorKind.BAD_RESPONSE,
                    f"{op.subject}: {op.endpoint.display} sent a malformed tag list",
                )
            for tag in page or []:
                if isinstance(tag, str):
                    tags.setdefault(tag, None)
            link = _parse_link_next(reply.headers)
            if link is None:
                break
            next_url = urljoin(reply.url, link)
            if origin_of(next_url) != origin:
                log.warning("%s: tag list pagination leaves %s; stopped", op.subject, origin)
                break
            if next_url in seen_urls:
                break
            url = next_url
        else:
            log.warning("%s: more than %d pages of tags; list truncated", op.subject, MAX_TAG_PAGES)
        return list(tags)
