"""A Docker Hub style token server (``GET /token?service=...&scope=...``) for the real registry.

The registry (distribution 2.8.2) is configured with ``auth.token.rootcertbundle`` = our
self-signed certificate; tokens are RS256 JWTs whose header carries the certificate in ``x5c``
(or, with ``key_mode="kid"``, the libtrust key id of its public key; both verified to work).
"""

from __future__ import annotations

import base64
import datetime as dt
import functools
import hashlib
import json
import threading
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Literal
from urllib.parse import parse_qs, urlsplit

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

KeyMode = Literal["x5c", "kid"]


@dataclass(frozen=True)
class TokenRequest:
    """One request the token server received."""

    method: str
    path: str
    query: dict[str, list[str]]
    authorization: str | None
    client: str
    status: int = 0
    username: str | None = None

    @property
    def scopes(self) -> list[str]:
        return [s for value in self.query.get("scope", []) for s in value.split(" ") if s]

    @property
    def service(self) -> str | None:
        values = self.query.get("service")
        return values[0] if values else None


@dataclass(frozen=True)
class SigningMaterial:
    key: rsa.RSAPrivateKey
    cert: x509.Certificate

    @property
    def cert_pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)

    @property
    def cert_der_b64(self) -> str:
        return base64.b64encode(self.cert.public_bytes(serialization.Encoding.DER)).decode()

    @property
    def libtrust_kid(self) -> str:
        """libtrust key id: base32(sha256(DER SubjectPublicKeyInfo)[:30]) in 4-char groups."""
        spki = self.key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        b32 = base64.b32encode(hashlib.sha256(spki).digest()[:30]).decode().rstrip("=")
        return ":".join(b32[i : i + 4] for i in range(0, len(b32), 4))


@functools.cache
def signing_material(common_name: str = "test-issuer") -> SigningMaterial:
    """A self-signed RSA-2048 certificate (generated once per process: keygen is the slow bit)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .sign(key, hashes.SHA256())
    )
    return SigningMaterial(key=key, cert=cert)


def parse_scope(scope: str) -> tuple[str, str, list[str]] | None:
    """``repository:library/python:pull,push`` -> ("repository", "library/python", [...])."""
    try:
        rest, actions = scope.rsplit(":", 1)
        type_, name = rest.split(":", 1)
    except ValueError:
        return None
    return type_, name, [a for a in actions.split(",") if a]


@dataclass
class TokenServer:
    """Token endpoint on a free loopback port, served from a background thread.

    ``users``: username -> password accepted in Basic credentials. Authenticated users get every
    action they ask for unless ``permissions[user]`` restricts it. Anonymous requests: 401 when
    ``deny_anonymous``; otherwise a token granting ``pull`` if ``anonymous_pull`` else granting
    nothing (what Docker Hub does for private repositories). Wrong credentials: 401.

    Runtime knobs (plain attributes, set them from tests): ``access_token_only``, ``expires_in``
    (``None`` leaves the field out), ``fail_with`` (answer every request with that status).
    """

    tmp_dir: Path
    users: Mapping[str, str] = field(default_factory=dict)
    anonymous_pull: bool = False
    deny_anonymous: bool = False
    permissions: Mapping[str, set[str]] = field(default_factory=dict)
    access_token_only: bool = False
    expires_in: int | None = 300
    issuer: str = "test-issuer"
    service: str = "test-registry"
    host: str = "127.0.0.1"
    key_mode: KeyMode = "x5c"
    fail_with: int | None = None

    requests: list[TokenRequest] = field(default_factory=list, init=False)
    issued: list[dict[str, Any]] = field(default_factory=list, init=False)
    _httpd: ThreadingHTTPServer | None = field(default=None, init=False, repr=False)
    _thread: threading.Thread | None = field(default=None, init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    # -- lifecycle ------------------------------------------------------------------------------

    @property
    def cert_path(self) -> Path:
        return self.tmp_dir / "token.crt"

    @property
    def port(self) -> int:
        if self._httpd is None:
            raise RuntimeError("token server not started")
        return int(self._httpd.server_address[1])

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def realm(self) -> str:
        return f"{self.url}/token"

    def registry_auth_config(self) -> dict[str, Any]:
        """The ``auth`` section for the registry config."""
        return {
            "token": {
                "realm": self.realm,
                "service": self.service,
                "issuer": self.issuer,
                "rootcertbundle": str(self.cert_path),
            }
        }

    def start(self) -> TokenServer:
        if self._httpd is not None:
            return self
        self.tmp_dir.mkdir(parents=True, exist_ok=True)
        self.cert_path.write_bytes(signing_material().cert_pem)
        handler = functools.partial(_TokenHandler, self)
        self._httpd = _TokenHTTPServer((self.host, 0), handler)
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="token-server",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        httpd, self._httpd = self._httpd, None
        if httpd is None:
            return
        httpd.shutdown()
        httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> TokenServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- tokens ---------------------------------------------------------------------------------

    def make_token(
        self,
        subject: str,
        access: list[dict[str, Any]],
        *,
        lifetime_s: int = 300,
        audience: str | None = None,
        issuer: str | None = None,
    ) -> str:
        """A signed JWT the registry accepts (tests may also forge odd ones through the args)."""
        material = signing_material()
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": issuer or self.issuer,
            "sub": subject,
            "aud": audience or self.service,
            "exp": now + lifetime_s,
            "nbf": now - 10,
            "iat": now,
            "jti": uuid.uuid4().hex,
            "access": access,
        }
        headers: dict[str, Any] = (
            {"x5c": [material.cert_der_b64]}
            if self.key_mode == "x5c"
            else {"kid": material.libtrust_kid}
        )
        with self._lock:
            self.issued.append(claims)
        return jwt.encode(claims, material.key, algorithm="RS256", headers=headers)

    def grant(self, username: str | None, scopes: list[str]) -> list[dict[str, Any]]:
        access: list[dict[str, Any]] = []
        for scope in scopes:
            parsed = parse_scope(scope)
            if parsed is None:
                continue
            type_, name, actions = parsed
            if username is None:
                allowed = {"pull"} if self.anonymous_pull else set()
            else:
                allowed = self.permissions.get(username, {"pull", "push", "delete", "*"})
            granted = [a for a in actions if a in allowed]
            if granted:
                access.append({"type": type_, "name": name, "actions": granted})
        return access

    def _record(self, request: TokenRequest) -> None:
        with self._lock:
            self.requests.append(request)


class _TokenHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128


class _TokenHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in separate writes: without TCP_NODELAY, Nagle + delayed ACK
    # add ~40 ms to every response with a body.
    disable_nagle_algorithm = True

    def __init__(self, server_state: TokenServer, *args: Any, **kwargs: Any) -> None:
        self.state = server_state
        super().__init__(*args, **kwargs)

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _send_json(self, status: int, payload: Any, headers: Mapping[str, str] = {}) -> None:
        body = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for k, v in headers.items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _credentials(self, header: str | None) -> tuple[str, str] | None:
        if not header or not header.lower().startswith("basic "):
            return None
        try:
            user, _, password = base64.b64decode(header[6:].strip()).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            return None
        return user, password

    def do_GET(self) -> None:
        state = self.state
        split = urlsplit(self.path)
        query = parse_qs(split.query, keep_blank_values=True)
        authorization = self.headers.get("Authorization")
        creds = self._credentials(authorization)
        username = creds[0] if creds else None

        def record(status: int) -> None:
            state._record(
                TokenRequest(
                    method=self.command,
                    path=split.path,
                    query=query,
                    authorization=authorization,
                    client=self.client_address[0],
                    status=status,
                    username=username,
                )
            )

        if split.path != "/token":
            record(404)
            self._send_json(404, {"details": "not found"})
            return
        if state.fail_with is not None:
            record(state.fail_with)
            self._send_json(state.fail_with, {"details": "injected failure"})
            return
        challenge = {"WWW-Authenticate": 'Basic realm="token"'}
        if creds is not None and state.users.get(creds[0]) != creds[1]:
            record(401)
            self._send_json(401, {"details": "incorrect username or password"}, challenge)
            return
        if creds is None and state.deny_anonymous:
            record(401)
            self._send_json(401, {"details": "authentication required"}, challenge)
            return
        scopes = [s for v in query.get("scope", []) for s in v.split(" ") if s]
        lifetime = state.expires_in if state.expires_in is not None else 60
        token = state.make_token(username or "", state.grant(username, scopes), lifetime_s=lifetime)
        payload: dict[str, Any] = {"access_token": token}
        if not state.access_token_only:
            payload["token"] = token
        if state.expires_in is not None:
            payload["expires_in"] = state.expires_in
        payload["issued_at"] = dt.datetime.now(dt.UTC).isoformat().replace("+00:00", "Z")
        record(200)
        self._send_json(200, payload)

    do_HEAD = do_GET
