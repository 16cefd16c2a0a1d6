"""Where a reference's registry API lives, and which hosts may use plain http.

Maps an image's registry (``docker.io``, ``ghcr.io``, ``127.0.0.1:5000``) to
the base URL actually spoken to: Docker Hub's API host, a configured mirror,
or the registry itself; https unless the host is loopback or listed as
insecure.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from urllib.parse import urlsplit

from ..references import DOCKER_HUB, DOCKER_HUB_API_HOST
from .errors import ErrorKind, RegistryError
from .models import RegistryConfig

#: Spellings that all mean Docker Hub in configuration and credential files.
DOCKER_HUB_ALIASES = frozenset(
    {DOCKER_HUB, "index.docker.io", "registry-1.docker.io", "registry.hub.docker.com"}
)


def split_host_port(netloc: str) -> tuple[str, int | None]:
    """``[::1]:5000`` -> (``::1``, 5000); ``ghcr.io`` -> (``ghcr.io``, None)."""
    netloc = netloc.rsplit("@", 1)[-1]
    if netloc.startswith("["):
        end = netloc.find("]")
        host = netloc[1:end] if end != -1 else netloc[1:]
        rest = netloc[end + 1 :] if end != -1 else ""
        port = rest[1:] if rest.startswith(":") else ""
    elif netloc.count(":") == 1:
        host, port = netloc.split(":")
    else:
        host, port = netloc, ""
    return host.lower(), int(port) if port.isdigit() else None


def _ip(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def is_loopback(netloc: str) -> bool:
    host, _ = split_host_port(netloc)
    if host == "localhost" or host.endswith(".localhost"):
        return True
    ip = _ip(host)
    return ip is not None and ip.is_loopback


def is_private(netloc: str) -> bool:
    """Loopback, private or link-local: addresses a token realm must not point
    at unless the registry itself lives there (crane's SSRF guard). Only IP
    literals and ``localhost`` are recognised; resolving names here would be
    both slow and racy."""
    if is_loopback(netloc):
        return True
    ip = _ip(split_host_port(netloc)[0])
    return ip is not None and (ip.is_private or ip.is_link_local or ip.is_unspecified)


def normalise_registry_key(key: str) -> str:
    """A credential or config key as people write it -> ``host[:port]``.

    ``https://index.docker.io/v1/`` -> ``docker.io``, ``https://ghcr.io`` ->
    ``ghcr.io``, ``ghcr.io/v1/`` -> ``ghcr.io``. A path other than ``/v1``
    or ``/v2`` is dropped too: callers that support namespaced keys split the
    path themselves first.
    """
    text = key.strip()
    if "://" in text:
        text = text.split("://", 1)[1]
    host = text.split("/", 1)[0].lower()
    return DOCKER_HUB if host in DOCKER_HUB_ALIASES else host


@dataclass(frozen=True, slots=True)
class Endpoint:
    """The API a reference's requests go to."""

    #: ``https://registry-1.docker.io`` or a mirror's base URL; no trailing slash.
    base_url: str
    #: ``host[:port]`` of base_url, the key for concurrency limits and
    #: the only origin that registry credentials are sent to.
    netloc: str
    scheme: str
    #: The registry the reference names (``docker.io``), for messages.
    registry: str
    #: The mirror base URL when one is used, for messages.
    mirror: str | None
    #: Key for credential lookup: the mirror's host when mirrored (a mirror has
    #: its own accounts), Docker Hub's key for Docker Hub.
    credential_host: str
    #: Loopback or insecure-listed: token realms may then be plain http.
    allows_http: bool

    @property
    def origin(self) -> str:
        return f"{self.scheme}://{self.netloc}"

    @property
    def display(self) -> str:
        """How messages name the server: ``ghcr.io``, ``127.0.0.1:5000``."""
        if self.mirror is None and self.registry == DOCKER_HUB:
            return DOCKER_HUB
        return self.netloc

    @property
    def is_docker_hub(self) -> bool:
        return self.netloc == DOCKER_HUB_API_HOST

    def url(self, path: str) -> str:
        return f"{self.base_url}{path}"

    def via(self) -> str:
        """A suffix naming the mirror, so messages do not blame docker.io for
        what a mirror said."""
        return f" (via mirror {self.netloc})" if self.mirror else ""


def host_is_insecure_allowed(netloc: str, config: RegistryConfig) -> bool:
    """Plain http is allowed for loopback hosts and hosts listed in
    ``config.insecure`` (by ``host`` or exact ``host:port``)."""
    if is_loopback(netloc):
        return True
    host, _ = split_host_port(netloc)
    listed = {entry.strip().lower() for entry in config.insecure}
    return netloc.lower() in listed or host in listed


def _mirror_for(registry: str, config: RegistryConfig) -> str | None:
    for key, value in config.mirrors.items():
        if normalise_registry_key(key) == registry:
            return value
    return None


def endpoint_for(registry: str, config: RegistryConfig) -> Endpoint:
    """Compute where requests for images of ``registry`` go.

    Raises ``insecure_refused`` for a plain-http mirror on a host that is
    neither loopback nor listed as insecure.
    """
    mirror = _mirror_for(registry, config)
    if mirror is not None:
        raw = mirror.strip()
        if "://" not in raw:
            netloc = raw.split("/", 1)[0]
            raw = ("http://" if host_is_insecure_allowed(netloc, config) else "https://") + raw
        parts = urlsplit(raw)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise RegistryError(
                ErrorKind.BAD_RESPONSE, f"mirror for {registry} is not an http(s) URL: {mirror!r}"
            )
        # Never keep user:password@ from a URL: credentials come from the
        # credential store only, and URLs end up in messages.
        netloc = parts.netloc.rsplit("@", 1)[-1].lower()
        allows_http = host_is_insecure_allowed(netloc, config)
        if parts.scheme == "http" and not allows_http:
            raise RegistryError(
                ErrorKind.INSECURE_REFUSED,
                f"mirror {netloc} for {registry} uses plain http; "
                f"list it under insecure to allow that",
            )
        path = parts.path.rstrip("/")
        path = path.removesuffix("/v2")
        return Endpoint(
            base_url=f"{parts.scheme}://{netloc}{path}",
            netloc=netloc,
            scheme=parts.scheme,
            registry=registry,
            mirror=f"{parts.scheme}://{netloc}{path}",
            credential_host=normalise_registry_key(netloc),
            allows_http=allows_http,
        )

    netloc = DOCKER_HUB_API_HOST if registry == DOCKER_HUB else registry.lower()
    allows_http = host_is_insecure_allowed(netloc, config)
    # Loopback and insecure-listed registries are spoken to over plain http,
    # which is what a local `docker-registry` serves. (Docker would try https
    # first; that costs a failed handshake per request for no gain here.)
    scheme = "http" if allows_http else "https"
    return Endpoint(
        base_url=f"{scheme}://{netloc}",
        netloc=netloc,
        scheme=scheme,
        registry=registry,
        mirror=None,
        credential_host=normalise_registry_key(registry),
        allows_http=allows_http,
    )
