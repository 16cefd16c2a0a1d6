"""Registry authentication: anonymous, Basic, and the Bearer token challenge.

A registry says how it wants to be spoken to in ``WWW-Authenticate`` on a
401. For Bearer, the client asks the token realm for a token scoped to the
repository (with Basic credentials when it has them) and caches it per
(registry, scope) until it expires. Each registry origin's challenge is
remembered, so later repositories on the same registry get their token
before the first request instead of after a 401.

Credentials go to the registry origin they belong to and to its token realm
during the exchange, nowhere else. A realm that is not https, or that points
at a loopback/private/link-local address, is refused unless the registry
itself is such a host (crane's SSRF guard).
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import re
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from urllib.parse import urlencode, urlsplit

from .credentials import Credential, CredentialStore
from .endpoints import Endpoint, is_loopback, is_private, split_host_port
from .errors import ErrorKind, RegistryError
from .transport import Reply, Session, netloc_of, origin_of

log = logging.getLogger(__name__)

#: Token responses are small JSON documents; anything bigger is not one.
TOKEN_RESPONSE_LIMIT = 1024 * 1024
DEFAULT_TOKEN_LIFETIME = 60.0

# An auth-scheme token, then parameters. Parameter values may be quoted and
# contain commas (scope="repository:x:pull,push"), so parameters are matched
# as key=value pairs, never by splitting on commas.
_SCHEME_RE = re.compile(r"\s*,?\s*([A-Za-z][A-Za-z0-9!#$%&'*+.^_`|~-]*)(?=\s|,|$)")
_PARAM_RE = re.compile(r'\s*,?\s*([A-Za-z0-9_.-]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^\s,"]*)')
_TOKEN68_RE = re.compile(r"\s*[A-Za-z0-9._~+/-]+=*\s*(?=,|$)")


@dataclass(frozen=True, slots=True)
class Challenge:
    """One challenge from ``WWW-Authenticate``; ``scheme`` is lowercase,
    parameter names are lowercase."""

    scheme: str
    params: Mapping[str, str] = field(default_factory=dict)


def parse_challenges(values: Iterable[str]) -> list[Challenge]:
    """Parse every challenge in one or more ``WWW-Authenticate`` values.

    ``Bearer realm="https://a/token",service="reg",scope="repository:x:pull,push",
    Basic realm="r"`` gives two challenges.
    """
    challenges: list[Challenge] = []
    for value in values:
        pos = 0
        while pos < len(value):
            scheme_match = _SCHEME_RE.match(value, pos)
            if scheme_match is None:
                break
            scheme = scheme_match.group(1).lower()
            pos = scheme_match.end()
            params: dict[str, str] = {}
            # "Negotiate abc==": a token68 credential, not parameters.
            token68 = _TOKEN68_RE.match(value, pos)
            if token68 is not None and token68.group(0).strip():
                pos = token68.end()
            while token68 is None:
                param = _PARAM_RE.match(value, pos)
                if param is None:
                    break
                raw = param.group(2)
                if raw.startswith('"'):
                    raw = re.sub(r"\\(.)", r"\1", raw[1:-1])
                params.setdefault(param.group(1).lower(), raw)
                pos = param.end()
            challenges.append(Challenge(scheme, params))
    return challenges


def choose_challenge(challenges: Iterable[Challenge]) -> Challenge | None:
    """Bearer if offered (it works anonymously and scopes access), else Basic."""
    by_scheme = {c.scheme: c for c in reversed(list(challenges))}
    return by_scheme.get("bearer") or by_scheme.get("basic")


def basic_header(username: str, password: str) -> str:
    raw = f"{username}:{password}".encode()
    return "Basic " + base64.b64encode(raw).decode("ascii")


@dataclass(frozen=True, slots=True)
class _Token:
    value: str = field(repr=False)
    expires_at: float


def parse_token_response(body: bytes) -> tuple[str, float]:
    """(token, lifetime seconds) from a token server's JSON answer.

    Raises ``ValueError`` when there is no usable token.
    """
    data = json.loads(body)
    if not isinstance(data, dict):
        raise ValueError("token response is not a JSON object")
    token = data.get("token") or data.get("access_token")
    if not isinstance(token, str) or not token:
        raise ValueError("token response has neither token nor access_token")
    lifetime = data.get("expires_in")
    if isinstance(lifetime, bool) or not isinstance(lifetime, (int, float)) or lifetime <= 0:
        lifetime = DEFAULT_TOKEN_LIFETIME
    return token, float(lifetime)


def check_realm(
    realm: str, endpoint: Endpoint, *, allows_http: Callable[[str], bool] | None = None
) -> None:
    """Refuse a token realm that would leak credentials or reach inside the
    network: a private/loopback/link-local address unless the registry is one
    too, and plain http unless the registry itself may use http *and* the
    realm is on the registry's own host, on loopback, or (``allows_http``)
    listed as insecure: the credentials then never cross the network in
    clear text to a host nobody vouched for."""
    parts = urlsplit(realm)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise RegistryError(
            ErrorKind.BAD_RESPONSE,
            f"{endpoint.display} sent a token realm that is not an http(s) URL",
        )
    realm_host = netloc_of(realm)
    if parts.scheme == "http":
        same_host = split_host_port(realm_host)[0] == split_host_port(endpoint.netloc)[0]
        trusted = allows_http(realm_host) if allows_http is not None else is_loopback(realm_host)
        if not endpoint.allows_http or not (same_host or trusted):
            raise RegistryError(
                ErrorKind.INSECURE_REFUSED,
                f"{endpoint.display} asked for a token from plain-http realm {realm_host}; "
                f"refused (credentials go over plain http only to a loopback or "
                f"insecure-listed host)",
            )
    if is_private(realm_host) and not is_private(endpoint.netloc):
        raise RegistryError(
            ErrorKind.INSECURE_REFUSED,
            f"{endpoint.display} asked for a token from {realm_host}, a private or "
            f"loopback address; refused",
        )


class Authenticator:
    """Per-client auth state: remembered challenges, Basic headers and
    tokens, all in memory only."""

    def __init__(self, session: Session, credentials: CredentialStore) -> None:
        self._session = session
        self._credentials = credentials
        self._challenges: dict[str, Challenge] = {}
        self._basic: dict[str, str] = {}
        self._tokens: dict[tuple[str, str], _Token] = {}
        self._locks: dict[tuple[str, str], asyncio.Lock] = {}
        #: origin -> the credential used there (None: anonymous), for messages.
        self._used: dict[str, Credential | None] = {}

    def __repr__(self) -> str:
        return f"Authenticator(registries={sorted(self._challenges)!r})"

    def credential_used(self, endpoint: Endpoint) -> Credential | None:
        return self._used.get(origin_of(endpoint.base_url))

    async def authorization(
        self, endpoint: Endpoint, repository: str, deadline: float
    ) -> tuple[str, str] | None:
        """The Authorization to send before any 401: a Basic header or a
        token for this repository, when the registry's challenge is known."""
        origin = origin_of(endpoint.base_url)
        challenge = self._challenges.get(origin)
        if challenge is None:
            return None
        if challenge.scheme == "basic":
            header = self._basic.get(origin)
            return (origin, header) if header else None
        token = await self._token(endpoint, challenge, repository, deadline, fresh=False)
        return origin, f"Bearer {token}"

    async def on_unauthorized(
        self,
        endpoint: Endpoint,
        repository: str,
        reply: Reply,
        deadline: float,
    ) -> tuple[str, str] | None:
        """After a 401: learn the challenge and get fresh authorization.

        Returns None when the challenge is missing or unsupported (the caller
        then reports the 401). Raises ``unauthorized`` when a login is needed
        and there are no credentials.
        """
        origin = origin_of(endpoint.base_url)
        challenge = choose_challenge(parse_challenges(reply.headers.get_list("www-authenticate")))
        if challenge is None:
            return None
        self._challenges[origin] = challenge
        if challenge.scheme == "basic":
            credential = await self._credentials.lookup(endpoint.credential_host, repository)
            self._used[origin] = credential
            if credential is None:
                raise RegistryError(
                    ErrorKind.UNAUTHORIZED,
                    f"{endpoint.display} requires a login and no credentials were found for "
                    f"{endpoint.credential_host}{self._notes(endpoint)}",
                )
            secret = credential.identity_token or credential.password
            self._basic[origin] = basic_header(credential.username, secret)
            return origin, self._basic[origin]
        token = await self._token(endpoint, challenge, repository, deadline, fresh=True)
        return origin, f"Bearer {token}"

    def _notes(self, endpoint: Endpoint) -> str:
        notes = self._credentials.notes.get(endpoint.credential_host)
        return f" ({'; '.join(notes)})" if notes else ""

    def unauthorized_message(self, endpoint: Endpoint, subject: str) -> str:
        """What to tell the user after a 401 that re-authentication did not fix."""
        credential = self.credential_used(endpoint)
        if credential is not None:
            return (
                f"{subject}: credentials for {endpoint.credential_host} "
                f"(from {credential.source}) were rejected{endpoint.via()}"
            )
        return (
            f"{subject}: authentication required{endpoint.via()}; the repository may not "
            f"exist, or needs a login to {endpoint.credential_host}{self._notes(endpoint)}"
        )

    async def _token(
        self,
        endpoint: Endpoint,
        challenge: Challenge,
        repository: str,
        deadline: float,
        *,
        fresh: bool,
    ) -> str:
        origin = origin_of(endpoint.base_url)
        scope = f"repository:{repository}:pull"
        key = (origin, scope)
        lock = self._locks.setdefault(key, asyncio.Lock())
        async with lock:
            cached = self._tokens.get(key)
            # "fresh" after a 401: the cached token, if any, was just refused.
            if cached is not None and not fresh and cached.expires_at > time.monotonic():
                return cached.value
            value, lifetime = await self._fetch_token(
                endpoint, challenge, repository, scope, deadline
            )
            # Renew a little early so a token does not expire in flight.
            self._tokens[key] = _Token(value, time.monotonic() + lifetime * 0.9)
            return value

    async def _fetch_token(
        self,
        endpoint: Endpoint,
        challenge: Challenge,
        repository: str,
        scope: str,
        deadline: float,
    ) -> tuple[str, float]:
        realm = challenge.params.get("realm")
        if not realm:
            raise RegistryError(
                ErrorKind.BAD_RESPONSE, f"{endpoint.display} sent a Bearer challenge without realm"
            )
        check_realm(realm, endpoint, allows_http=self._session.allows_http)
        credential = await self._credentials.lookup(endpoint.credential_host, repository)
        origin = origin_of(endpoint.base_url)
        self._used[origin] = credential
        service = challenge.params.get("service")
        scopes = [scope]
        offered = challenge.params.get("scope")
        if offered and offered != scope:
            scopes.append(offered)
        realm_origin = origin_of(realm)
        reply: Reply | None = None
        if credential is not None and credential.identity_token:
            # OAuth2 refresh-token grant, as docker and crane do for
            # `identitytoken`; token servers without OAuth2 answer 404/405,
            # and then the plain GET below carries the token as the password.
            form = {
                "grant_type": "refresh_token",
                "refresh_token": credential.identity_token,
                "client_id": "dockpin",
                "scope": " ".join(scopes),
            }
            if service:
                form["service"] = service
            reply = await self._session.send_with_retries(
                "POST",
                realm,
                headers={"Accept": "application/json"},
                authorization=None,
                limit=TOKEN_RESPONSE_LIMIT,
                display=netloc_of(realm),
                deadline=deadline,
                follow_redirects=False,
                data=form,
                token=True,
            )
            # 501: a server without POST support at all (a minimal token server).
            if reply.status in (404, 405, 501):
                reply = None
        if reply is None:
            query: list[tuple[str, str]] = []
            if service:
                query.append(("service", service))
            query.extend(("scope", s) for s in scopes)
            separator = "&" if "?" in realm else "?"
            url = f"{realm}{separator}{urlencode(query)}" if query else realm
            authorization = None
            if credential is not None:
                secret = credential.identity_token or credential.password
                authorization = (realm_origin, basic_header(credential.username, secret))
            reply = await self._session.send_with_retries(
                "GET",
                url,
                headers={"Accept": "application/json"},
                authorization=authorization,
                limit=TOKEN_RESPONSE_LIMIT,
                display=netloc_of(realm),
                deadline=deadline,
                follow_redirects=False,
                token=True,
            )
        return self._token_from_reply(reply, endpoint, credential, netloc_of(realm))

    def _token_from_reply(
        self, reply: Reply, endpoint: Endpoint, credential: Credential | None, realm_host: str
    ) -> tuple[str, float]:
        if reply.status in (401, 403):
            if credential is not None:
                message = (
                    f"token server {realm_host} rejected the credentials for "
                    f"{endpoint.credential_host} (from {credential.source})"
                )
            else:
                message = (
                    f"token server {realm_host} refused anonymous access to "
                    f"{endpoint.display}{self._notes(endpoint)}"
                )
            raise RegistryError(ErrorKind.UNAUTHORIZED, message)
        if reply.status == 429:
            raise RegistryError(
                ErrorKind.RATE_LIMITED, f"rate limited by token server {realm_host}"
            )
        if reply.status >= 500:
            raise RegistryError(
                ErrorKind.UNREACHABLE,
                f"token server {realm_host} is unavailable (HTTP {reply.status})",
            )
        if reply.status != 200:
            raise RegistryError(
                ErrorKind.BAD_RESPONSE,
                f"token server {realm_host} answered HTTP {reply.status}",
            )
        try:
            return parse_token_response(reply.body)
        except (ValueError, UnicodeDecodeError) as exc:
            raise RegistryError(
                ErrorKind.BAD_RESPONSE,
                f"token server {realm_host} sent an unusable answer: {exc}",
            ) from None
