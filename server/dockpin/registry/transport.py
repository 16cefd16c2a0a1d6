"""HTTP mechanics below auth: redirects, size limits, retries, error mapping.

httpx's own redirect following is off: a registry's blob and manifest
redirects to storage are normal, but the Authorization header must be dropped
when a redirect leaves the origin it belongs to, and a redirect must never
downgrade https to http towards a host that is not allowed plain http.
"""

from __future__ import annotations

import asyncio
import email.utils
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

import httpx

from .errors import ErrorKind, RegistryError
from .models import RequestStats

log = logging.getLogger(__name__)

RETRYABLE_STATUSES = frozenset({429, 502, 503, 504})
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
MAX_REDIRECTS = 5
#: First backoff step in seconds; doubled per attempt, with jitter.
BACKOFF_BASE = 0.2


@dataclass(frozen=True, slots=True)
class Reply:
    """A fully read response. ``url`` is the last hop's URL."""

    status: int
    headers: httpx.Headers
    body: bytes
    url: str


def origin_of(url: str) -> str:
    """``scheme://host:port`` with default ports spelled out, for comparing
    where a request goes with where credentials belong."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if ":" in host:
        host = f"[{host}]"
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return f"{parts.scheme}://{host}:{port}"


def netloc_of(url: str) -> str:
    return urlsplit(url).netloc.rsplit("@", 1)[-1].lower()


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or an
    HTTP date); None when absent or unreadable."""
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    if text.isdigit():
        return float(text)
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    current = time.time() if now is None else now
    return max(0.0, when.timestamp() - current)


def backoff_delay(attempt: int) -> float:
    """Exponential backoff with jitter (between half and all of the step), so
    that many clients retrying at once do not arrive in lockstep."""
    step: float = BACKOFF_BASE * (2**attempt)
    return step * (0.5 + random.random() / 2)


def _is_refused(exc: BaseException) -> bool:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, ConnectionRefusedError):
            return True
        text = str(current).lower()
        if "refused" in text or "errno 111" in text:
            return True
        current = current.__cause__ or current.__context__
    return False


def network_error(exc: httpx.HTTPError, display: str, timeout: float) -> RegistryError:
    """Map an httpx failure to a user-facing error naming the host only
    (httpx messages may include URLs; ours never carry secrets, but a host is
    what the user can act on)."""
    if isinstance(exc, httpx.TimeoutException):
        return RegistryError(ErrorKind.TIMEOUT, f"timed out after {timeout}s talking to {display}")
    if isinstance(exc, httpx.ConnectError):
        if _is_refused(exc):
            return RegistryError(
                ErrorKind.UNREACHABLE, f"registry {display} refused the connection"
            )
        text = str(exc).lower()
        if (
            "name or service not known" in text
            or "nodename nor servname" in text
            or ("temporary failure in name resolution" in text)
        ):
            return RegistryError(ErrorKind.UNREACHABLE, f"cannot resolve registry host {display}")
        if "ssl" in text or "certificate" in text:
            return RegistryError(
                ErrorKind.UNREACHABLE, f"TLS handshake with {display} failed: {str(exc)[:200]}"
            )
        return RegistryError(ErrorKind.UNREACHABLE, f"cannot connect to registry {display}")
    if isinstance(exc, (httpx.ReadError, httpx.WriteError, httpx.RemoteProtocolError)):
        return RegistryError(
            ErrorKind.UNREACHABLE, f"connection to {display} was closed unexpectedly"
        )
    return RegistryError(ErrorKind.UNREACHABLE, f"cannot talk to registry {display}")


def _retryable_network_error(exc: httpx.HTTPError) -> bool:
    """Connection resets and protocol hiccups are worth another try; refused
    connections, DNS failures, TLS errors and timeouts are not (they would
    only multiply the wait)."""
    return isinstance(exc, (httpx.ReadError, httpx.WriteError, httpx.RemoteProtocolError))


class TooLarge(Exception):
    """A response body went over its limit while streaming."""


async def read_limited(response: httpx.Response, limit: int) -> bytes:
    """Read the body, failing as soon as it exceeds ``limit`` bytes (so a
    50 MB "manifest" costs at most ``limit`` bytes of memory)."""
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise TooLarge
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_bytes():
        size += len(chunk)
        if size > limit:
            raise TooLarge
        chunks.append(chunk)
    return b"".join(chunks)


class Session:
    """Sends requests for the client: one httpx client, counted in ``stats``."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        stats: RequestStats,
        *,
        timeout: float,
        max_retries: int,
        max_retry_after: float,
        allows_http: Callable[[str], bool],
    ) -> None:
        self._client = client
        self.stats = stats
        self._timeout = timeout
        self._max_retries = max_retries
        self._max_retry_after = max_retry_after
        self._allows_http = allows_http

    def allows_http(self, netloc: str) -> bool:
        """Whether plain http may be spoken to ``netloc`` (loopback or insecure-listed)."""
        return self._allows_http(netloc)

    def _count(self, method: str, *, token: bool) -> None:
        if token:
            self.stats.token += 1
        elif method == "HEAD":
            self.stats.head += 1
        else:
            self.stats.get += 1

    async def send(
        self,
        method: str,
        url: str,
        *,
        headers: dict[str, str],
        authorization: tuple[str, str] | None,
        limit: int,
        display: str,
        data: dict[str, str] | None = None,
        follow_redirects: bool = True,
        token: bool = False,
    ) -> Reply:
        """One request, following redirects by hand.

        ``authorization`` is (origin it belongs to, header value): attached
        only to hops whose origin matches, so a redirect to storage on
        another host never sees it.
        """
        current = url
        for _hop in range(MAX_REDIRECTS + 1):
            hop_headers = dict(headers)
            if authorization is not None and origin_of(current) == authorization[0]:
                hop_headers["Authorization"] = authorization[1]
            request = self._client.build_request(method, current, headers=hop_headers, data=data)
            self._count(method, token=token)
            try:
                response = await self._client.send(request, stream=True)
            except httpx.HTTPError as exc:
                raise _NetworkFailure(exc) from exc
            try:
                location = response.headers.get("location")
                if follow_redirects and response.status_code in REDIRECT_STATUSES and location:
                    target = urljoin(current, location)
                    self._check_redirect(current, target, display)
                    log.debug("redirect %s -> %s", origin_of(current), origin_of(target))
                    current = target
                    if response.status_code == 303:
                        method, data = "GET", None
                    continue
                body = b"" if method == "HEAD" else await read_limited(response, limit)
            except httpx.HTTPError as exc:
                raise _NetworkFailure(exc) from exc
            finally:
                await response.aclose()
            return Reply(response.status_code, response.headers, body, current)
        raise RegistryError(
            ErrorKind.BAD_RESPONSE, f"{display} redirected more than {MAX_REDIRECTS} times"
        )

    def _check_redirect(self, source: str, target: str, display: str) -> None:
        scheme = urlsplit(target).scheme
        if scheme not in ("http", "https"):
            raise RegistryError(ErrorKind.BAD_RESPONSE, f"{display} redirected to a non-http URL")
        if scheme == "http" and not self._allows_http(netloc_of(target)):
            raise RegistryError(
                ErrorKind.INSECURE_REFUSED,
                f"{display} redirected to plain http on {netloc_of(target)}; refused",
            )

    async def send_with_retries(
        self,
        method: str,
        url: str,
        *,
        headers: dict[str, str],
        authorization: tuple[str, str] | None,
        limit: int,
        display: str,
        deadline: float,
        follow_redirects: bool = True,
        data: dict[str, str] | None = None,
        token: bool = False,
    ) -> Reply:
        """``send`` plus bounded retries on 429/502/503/504 and resets.

        Returns the last reply when retrying is pointless (out of attempts, or
        a ``Retry-After`` beyond the cap or the remaining time budget): the
        caller turns it into an error that can say why.
        """
        loop = asyncio.get_running_loop()
        attempt = 0
        while True:
            try:
                reply = await self.send(
                    method,
                    url,
                    headers=headers,
                    authorization=authorization,
                    limit=limit,
                    display=display,
                    follow_redirects=follow_redirects,
                    data=data,
                    token=token,
                )
            except _NetworkFailure as failure:
                exc = failure.exc
                if not _retryable_network_error(exc) or attempt >= self._max_retries:
                    raise network_error(exc, display, self._timeout) from None
                delay = backoff_delay(attempt)
                if loop.time() + delay >= deadline:
                    raise network_error(exc, display, self._timeout) from None
                log.debug("retrying %s after %s (%.2fs)", display, type(exc).__name__, delay)
            else:
                if reply.status not in RETRYABLE_STATUSES or attempt >= self._max_retries:
                    return reply
                retry_after = parse_retry_after(reply.headers.get("retry-after"))
                if retry_after is not None:
                    if retry_after > self._max_retry_after:
                        return reply
                    delay = retry_after
                else:
                    delay = backoff_delay(attempt)
                if loop.time() + delay >= deadline:
                    return reply
                log.debug("retrying %s after HTTP %d (%.2fs)", display, reply.status, delay)
            attempt += 1
            await asyncio.sleep(delay)


class _NetworkFailure(Exception):
    """Carries an httpx error out of ``send`` so retry logic sees one type."""

    def __init__(self, exc: httpx.HTTPError) -> None:
        super().__init__(type(exc).__name__)
        self.exc = exc
