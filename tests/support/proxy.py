"""A fault-injecting reverse proxy, in a background thread, in front of a real registry.

    with FaultProxy(registry.url) as proxy:
        proxy.add_fault(Fault.rate_limited(path=r"/manifests/", method="HEAD"))
        ...                      # point the code under test at proxy.url / proxy.host
        proxy.requests           # everything received, with headers (Authorization included)

Faults are matched in order against the method and the request target (path + query, a regex
searched with ``re.search``). The first matching fault that has an action (status, body rewrite,
hang, ...) decides the response; every matching delay-only fault (``Fault.delay``) adds its
latency on top, so a global 50 ms delay composes with other faults. A fault with ``times=N``
stops matching after N hits ("fail first N times then pass"); ``fault.hits`` counts matches.

The ``Host`` header is forwarded unchanged, so URLs the registry builds (upload ``Location``)
point back at the proxy. ``stop()`` closes every open connection, hanging ones included.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import re
import socket
import threading
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self
from urllib.parse import parse_qs, urlsplit

HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "trailers",
        "transfer-encoding",
        "upgrade",
    }
)

DOCKER_HUB_RATE_LIMIT_BODY = json.dumps(
    {
        "errors": [
            {
                "code": "TOOMANYREQUESTS",
                "message": (
                    "You have reached your pull rate limit. You may increase the limit by "
                    "authenticating and upgrading: https://www.docker.com/increase-rate-limit"
                ),
            }
        ]
    }
).encode()

WRONG_DIGEST = "sha256:" + "0" * 64
MALFORMED_JSON = b'{"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": [{"digest": '  # noqa: E501


@dataclass
class Fault:
    """What to do with matching requests. Build with the classmethods; fields may be combined."""

    path: str = ""
    method: str | None = None
    times: int | None = None
    delay_s: float = 0.0
    status: int | None = None
    body: bytes | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    drop_headers: Sequence[str] = ()
    hang: bool = False
    partial_body: bytes | None = None
    body_size: int | None = None
    chunked: bool = False
    redirect_to: str | None = None
    redirect_status: int = 307
    hits: int = field(default=0, init=False)

    # matching ---------------------------------------------------------------------------------

    def matches(self, method: str, target: str) -> bool:
        if self.times is not None and self.hits >= self.times:
            return False
        if self.method is not None and self.method.upper() != method.upper():
            return False
        return re.search(self.path, target) is not None

    @property
    def has_action(self) -> bool:
        return bool(
            self.status is not None
            or self.body is not None
            or self.headers
            or self.drop_headers
            or self.hang
            or self.body_size is not None
            or self.redirect_to is not None
        )

    # factories ------------------------------------------------------------------------------

    @classmethod
    def respond(
        cls,
        status: int,
        body: bytes = b"",
        headers: Mapping[str, str] | None = None,
        **match: Any,
    ) -> Self:
        """Answer with ``status``/``body``/``headers`` without contacting the registry."""
        hdrs = {"Content-Type": "application/json"} if body else {}
        hdrs.update(headers or {})
        return cls(status=status, body=body, headers=hdrs, **match)

    @classmethod
    def error(cls, status: int, code: str, message: str = "", **match: Any) -> Self:
        """A registry-style error body ``{"errors":[{"code":..., "message":...}]}``."""
        body = json.dumps({"errors": [{"code": code, "message": message or code.lower()}]})
        return cls.respond(status, body.encode(), **match)

    @classmethod
    def rate_limited(cls, retry_after: str | None = "60", **match: Any) -> Self:
        """Docker Hub's 429 with its TOOMANYREQUESTS body, ``Retry-After`` and ratelimit headers."""
        headers = {"ratelimit-limit": "100;w=21600", "ratelimit-remaining": "0;w=21600"}
        if retry_after is not None:
            headers["Retry-After"] = retry_after
        return cls.respond(429, DOCKER_HUB_RATE_LIMIT_BODY, headers, **match)

    @classmethod
    def fail_first(cls, n: int, status: int = 503, body: bytes = b"", **match: Any) -> Self:
        """The first ``n`` matching requests get ``status``; later ones pass through."""
        return cls.respond(status, body, times=n, **match)

    @classmethod
    def strip_digest(cls, **match: Any) -> Self:
        """Forward, but remove ``Docker-Content-Digest`` from the response."""
        return cls(drop_headers=("Docker-Content-Digest",), **match)

    @classmethod
    def wrong_digest(cls, digest: str = WRONG_DIGEST, **match: Any) -> Self:
        """Forward, but replace ``Docker-Content-Digest`` with ``digest``."""
        return cls(headers={"Docker-Content-Digest": digest}, **match)

    @classmethod
    def replace_body(cls, data: bytes, **match: Any) -> Self:
        """Forward, keep the registry's headers (digest included), send ``data`` as the body."""
        return cls(body=data, **match)

    @classmethod
    def malformed_json(cls, **match: Any) -> Self:
        """Forward, but send truncated JSON as the body."""
        return cls(body=MALFORMED_JSON, **match)

    @classmethod
    def delay(cls, seconds: float, **match: Any) -> Self:
        """Add latency (composes with other faults). Interrupted by ``stop()``."""
        return cls(delay_s=seconds, **match)

    @classmethod
    def never_ends(cls, partial_body: bytes | None = None, **match: Any) -> Self:
        """Send the registry's status and headers and part of the body, then hang until stop.

        For HEAD (no body to truncate) nothing at all is sent.
        """
        return cls(hang=True, partial_body=partial_body, **match)

    @classmethod
    def huge(cls, size: int = 50 * 1024 * 1024, *, chunked: bool = False, **match: Any) -> Self:
        """Forward, then stream ``size`` bytes as the body (``chunked``: no Content-Length)."""
        return cls(body_size=size, chunked=chunked, **match)

    @classmethod
    def redirect(cls, base_url: str, status: int = 307, **match: Any) -> Self:
        """Answer ``status`` with ``Location: base_url + <original path and query>``."""
        return cls(redirect_to=base_url.rstrip("/"), redirect_status=status, **match)


@dataclass
class RecordedRequest:
    """One request received by the proxy. ``headers`` keys are lower-case."""

    method: str
    target: str
    headers: dict[str, str]
    body: bytes
    proxy_host: str
    client: str
    time: float
    fault: Fault | None = None
    status: int | None = None

    @property
    def path(self) -> str:
        return urlsplit(self.target).path

    @property
    def query(self) -> dict[str, list[str]]:
        return parse_qs(urlsplit(self.target).query, keep_blank_values=True)

    @property
    def authorization(self) -> str | None:
        return self.headers.get("authorization")

    @property
    def host_header(self) -> str | None:
        return self.headers.get("host")


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256  # benchmarks open many connections at once

    def __init__(self, proxy: FaultProxy, address: tuple[str, int]) -> None:
        self.proxy = proxy
        self.connections: set[socket.socket] = set()
        self.conn_lock = threading.Lock()
        super().__init__(address, _ProxyHandler)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self.conn_lock:
            self.connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self.conn_lock:
            self.connections.discard(request)
        super().shutdown_request(request)

    def close_all_connections(self) -> None:
        with self.conn_lock:
            conns = list(self.connections)
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)


class _Stopped(Exception):
    pass


class _ProxyHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in separate writes: without TCP_NODELAY, Nagle + delayed ACK
    # add ~40 ms to every response with a body.
    disable_nagle_algorithm = True
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def setup(self) -> None:
        super().setup()
        self._upstream: http.client.HTTPConnection | None = None

    def finish(self) -> None:
        if self._upstream is not None:
            self._upstream.close()
        with contextlib.suppress(OSError):
            super().finish()

    # dispatch -----------------------------------------------------------------------------------

    def do_GET(self) -> None:
        try:
            self._handle()
        except (_Stopped, BrokenPipeError, ConnectionResetError, TimeoutError):
            self.close_connection = True

    do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = do_GET

    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    break
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            return b"".join(chunks)
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _handle(self) -> None:
        proxy = self.server.proxy
        body = self._read_body()
        record = RecordedRequest(
            method=self.command,
            target=self.path,
            headers=_combine(self.headers.items()),
            body=body,
            proxy_host=proxy.host,
            client=self.client_address[0],
            time=time.monotonic(),
        )
        delay, fault = proxy._select(self.command, self.path)
        record.fault = fault
        proxy._record(record)

        if delay > 0 and proxy._stopping.wait(delay):
            raise _Stopped
        if fault is not None and fault.redirect_to is not None:
            record.status = fault.redirect_status
            self._send(
                fault.redirect_status, {"Location": fault.redirect_to + self.path}, b"", None
            )
            return
        if fault is not None and fault.status is not None:
            record.status = fault.status
            self._send(fault.status, dict(fault.headers), fault.body or b"", None)
            return
        if fault is not None and fault.hang and self.command == "HEAD":
            proxy._stopping.wait()
            raise _Stopped

        status, headers, upstream_body = self._forward(body)
        record.status = status
        if fault is None:
            self._send(status, headers, upstream_body, _content_length(headers))
            return
        for name in fault.drop_headers:
            headers = [(k, v) for k, v in headers if k.lower() != name.lower()]
        for name, value in fault.headers.items():
            headers = [(k, v) for k, v in headers if k.lower() != name.lower()]
            headers.append((name, value))
        if fault.hang:
            self._hang(status, headers, upstream_body, fault.partial_body)
            return
        if fault.body_size is not None:
            self._stream(status, headers, fault.body_size, fault.chunked)
            return
        new_body = fault.body if fault.body is not None else upstream_body
        length = len(new_body) if fault.body is not None else _content_length(headers)
        self._send(status, headers, new_body, length)

    # upstream ---------------------------------------------------------------------------------

    def _forward(self, body: bytes) -> tuple[int, list[tuple[str, str]], bytes]:
        proxy = self.server.proxy
        # A list, not a dict: Go clients (skopeo) send one Accept line per media type.
        headers = [
            (k, v)
            for k, v in self.headers.items()
            if k.lower() not in HOP_BY_HOP and k.lower() not in ("content-length", "expect")
        ]
        if body or self.command in ("POST", "PUT", "PATCH"):
            headers.append(("Content-Length", str(len(body))))
        for attempt in (1, 2):
            if self._upstream is None:
                self._upstream = http.client.HTTPConnection(
                    proxy._upstream_host, proxy._upstream_port, timeout=proxy.upstream_timeout
                )
            try:
                self._upstream.putrequest(
                    self.command, self.path, skip_host=True, skip_accept_encoding=True
                )
                for name, value in headers:
                    self._upstream.putheader(name, value)
                self._upstream.endheaders(body or None)
                resp = self._upstream.getresponse()
                data = resp.read()
            except (OSError, http.client.HTTPException) as exc:
                self._upstream.close()
                self._upstream = None
                if attempt == 2:
                    msg = json.dumps({"errors": [{"code": "PROXY", "message": str(exc)}]})
                    return 502, [("Content-Type", "application/json")], msg.encode()
                continue
            out = [(k, v) for k, v in resp.getheaders() if k.lower() not in HOP_BY_HOP]
            return resp.status, out, data
        raise AssertionError("unreachable")

    # responses --------------------------------------------------------------------------------

    def _start(self, status: int, headers: Any, length: int | None, chunked: bool = False) -> None:
        items = headers.items() if isinstance(headers, Mapping) else headers
        self.send_response(status)
        for name, value in items:
            if name.lower() != "content-length":
                self.send_header(name, value)
        if chunked:
            self.send_header("Transfer-Encoding", "chunked")
        elif length is not None:
            self.send_header("Content-Length", str(length))
        self.end_headers()

    def _send(self, status: int, headers: Any, body: bytes, length: int | None) -> None:
        if length is None:
            length = len(body)
        self._start(status, headers, length)
        if self.command != "HEAD" and body:
            self.wfile.write(body)
        self.wfile.flush()

    def _hang(
        self, status: int, headers: list[tuple[str, str]], body: bytes, partial: bytes | None
    ) -> None:
        proxy = self.server.proxy
        full_length = max(len(body), len(partial or b"") + 1, 2)
        sent = partial if partial is not None else body[: len(body) // 2]
        self._start(status, headers, full_length)
        self.wfile.write(sent)
        self.wfile.flush()
        proxy._stopping.wait()
        raise _Stopped

    def _stream(
        self, status: int, headers: list[tuple[str, str]], size: int, chunked: bool
    ) -> None:
        proxy = self.server.proxy
        self._start(status, headers, None if chunked else size, chunked=chunked)
        if self.command == "HEAD":
            return
        chunk = b" " * (1024 * 1024)
        remaining = size
        while remaining > 0:
            if proxy._stopping.is_set():
                raise _Stopped
            piece = chunk[: min(len(chunk), remaining)]
            if chunked:
                self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
            else:
                self.wfile.write(piece)
            remaining -= len(piece)
        if chunked:
            self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()


def _combine(items: Iterable[tuple[str, str]]) -> dict[str, str]:
    """Lower-case names; repeated headers joined with ", " (RFC 9110 field combination)."""
    out: dict[str, str] = {}
    for name, value in items:
        key = name.lower()
        out[key] = f"{out[key]}, {value}" if key in out else value
    return out


def _content_length(headers: list[tuple[str, str]]) -> int | None:
    for name, value in headers:
        if name.lower() == "content-length":
            return int(value)
    return None


class FaultProxy:
    """Reverse proxy on ``host:<free port>`` forwarding to ``upstream`` (``http://host:port``).

    ``host`` may be any loopback address (``127.0.0.2`` works on Linux), e.g. to play a second
    host for redirect / credential-leak tests.
    """

    def __init__(
        self, upstream: str, *, host: str = "127.0.0.1", upstream_timeout: float = 30.0
    ) -> None:
        split = urlsplit(upstream)
        if split.scheme != "http" or not split.hostname:
            raise ValueError(f"upstream must be http://host:port, not {upstream!r}")
        self.upstream = upstream.rstrip("/")
        self._upstream_host = split.hostname
        self._upstream_port = split.port or 80
        self.bind_host = host
        self.upstream_timeout = upstream_timeout
        self.faults: list[Fault] = []
        self.requests: list[RecordedRequest] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # lifecycle -------------------------------------------------------------------------------

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("proxy not started")
        return int(self._server.server_address[1])

    @property
    def host(self) -> str:
        return f"{self.bind_host}:{self.port}"

    @property
    def url(self) -> str:
        return f"http://{self.host}"

    def start(self) -> Self:
        if self._server is not None:
            return self
        self._stopping.clear()
        self._server = _Server(self, (self.bind_host, 0))
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"fault-proxy-{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        self._stopping.set()
        server.shutdown()
        server.close_all_connections()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with server.conn_lock:
                if not server.connections:
                    break
            server.close_all_connections()
            time.sleep(0.01)
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=timeout)
            self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # faults -----------------------------------------------------------------------------------

    def add_fault(self, fault: Fault) -> Fault:
        with self._lock:
            self.faults.append(fault)
        return fault

    def remove_fault(self, fault: Fault) -> None:
        with self._lock:
            self.faults = [f for f in self.faults if f is not fault]

    def clear_faults(self) -> None:
        with self._lock:
            self.faults = []

    def clear_requests(self) -> None:
        with self._lock:
            self.requests = []

    def _select(self, method: str, target: str) -> tuple[float, Fault | None]:
        delay = 0.0
        chosen: Fault | None = None
        with self._lock:
            for fault in self.faults:
                if fault.has_action and chosen is not None:
                    continue
                if not fault.matches(method, target):
                    continue
                if fault.has_action:
                    chosen = fault
                fault.hits += 1
                delay += fault.delay_s
        return delay, chosen

    def _record(self, request: RecordedRequest) -> None:
        with self._lock:
            self.requests.append(request)

    # inspection -------------------------------------------------------------------------------

    def requests_matching(self, path: str = "", method: str | None = None) -> list[RecordedRequest]:
        with self._lock:
            reqs = list(self.requests)
        return [
            r
            for r in reqs
            if re.search(path, r.target) and (method is None or r.method == method.upper())
        ]

    def __iter__(self) -> Iterator[RecordedRequest]:
        with self._lock:
            return iter(list(self.requests))
