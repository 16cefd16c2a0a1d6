"""`dockpin pin` against a hostile or broken registry.

A fault proxy sits in front of the real docker-registry on loopback (Basic
auth, or Bearer tokens from the test token server) and lies: a wrong digest
header, a body that is not what its digest says, a 50 MB manifest, a response
that never ends, a redirect to another host, a token realm somewhere else, a
401 that never stops, a ``Retry-After`` of a day.

Each time ``dockpin pin`` (a subprocess, as a user runs it, with credentials
in its DOCKER_CONFIG) must exit 1 with a message that says what happened,
within the configured timeout (plus start-up slack), write nothing, and never
show a secret: not in its output, not in its cache, not to a host the
credentials do not belong to (a second proxy on 127.0.0.2 records what it
gets). The CLI has no verbose mode, so the same lookup also runs in-process
with every logger at DEBUG, and the log must not hold a secret either.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from dockpin.references import parse_reference
from dockpin.registry import (
    CredentialStore,
    ErrorKind,
    RegistryClient,
    RegistryConfig,
    RegistryError,
)
from support.env import isolated_env
from support.oci import build_image
from support.proxy import Fault, FaultProxy
from support.registry import RegistryServer

USER, PASSWORD = "alice", "s3cret"
BASIC = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
TIMEOUT = 2.0
WALL_LIMIT = TIMEOUT * 3 + 5  # a functional bound: "gives up on time", not a benchmark
ORIGINAL = b"FROM python:3.12\n"
MiB = 1024 * 1024

ProxyFactory = Callable[..., FaultProxy]


def secrets_in(text: str) -> list[str]:
    """Secrets that must never be shown: the password, the Basic header
    value, and JWTs (every token the test token server issues starts so)."""
    return [s for s in (PASSWORD, BASIC, "eyJ") if s in text]


@dataclass
class Run:
    result: subprocess.CompletedProcess[str]
    elapsed: float


@dataclass
class Project:
    root: Path
    home: Path
    cache: Path
    env: dict[str, str]

    @property
    def dockerfile(self) -> Path:
        return self.root / "Dockerfile"

    @property
    def docker_config(self) -> Path:
        return self.home / ".docker"

    def configure(self, proxy: FaultProxy) -> None:
        """docker.io through ``proxy`` (a mirror), credentials for it."""
        (self.root / ".dockpin.toml").write_text(
            f'[registry]\nmirrors = {{ "docker.io" = "{proxy.url}" }}\ntimeout = {TIMEOUT}\n'
        )
        self.docker_config.mkdir(parents=True, exist_ok=True)
        (self.docker_config / "config.json").write_text(
            json.dumps({"auths": {proxy.host: {"auth": BASIC}}})
        )

    def pin(self) -> Run:
        started = time.monotonic()
        result = subprocess.run(
            [sys.executable, "-m", "dockpin.cli", "pin"],
            cwd=self.root,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        return Run(result, time.monotonic() - started)


@pytest.fixture
def project(tmp_path: Path) -> Project:
    root, home = tmp_path / "project", tmp_path / "home"
    root.mkdir()
    home.mkdir()
    (root / "Dockerfile").write_bytes(ORIGINAL)
    env = isolated_env(tmp_path)
    return Project(root, home, tmp_path / "cache", env)


def resolve_in_process(
    project: Project, proxy: FaultProxy, caplog: pytest.LogCaptureFixture
) -> RegistryError:
    """The same lookup with the registry client in this process and every
    logger (dockpin's, httpx's, httpcore's) at DEBUG."""
    store = CredentialStore(
        env={"PATH": os.environ["PATH"], "DOCKER_CONFIG": str(project.docker_config)},
        home=project.home,
    )
    config = RegistryConfig(
        mirrors={"docker.io": proxy.url},
        timeout=TIMEOUT,
        cache_dir=project.cache.with_name("in-process-cache"),
    )

    async def lookup() -> RegistryError:
        async with RegistryClient(config, credentials=store) as client:
            try:
                await client.resolve(parse_reference("python:3.12"))
            except RegistryError as error:
                return error
        raise AssertionError("the lookup succeeded against a hostile registry")

    with caplog.at_level(logging.DEBUG):
        return asyncio.run(lookup())


def assert_refused(project: Project, run: Run, message: str) -> None:
    output = run.result.stdout + run.result.stderr
    assert run.result.returncode == 1, output
    assert message in run.result.stderr.lower(), run.result.stderr
    assert "Traceback" not in output
    assert run.elapsed < WALL_LIMIT, f"took {run.elapsed:.1f}s"
    assert project.dockerfile.read_bytes() == ORIGINAL
    assert sorted(p.name for p in project.root.iterdir()) == [".dockpin.toml", "Dockerfile"]
    assert secrets_in(output) == []
    for path in project.cache.rglob("*"):
        if path.is_file():
            assert secrets_in(path.read_text(errors="replace")) == [], path


def assert_quiet_logs(caplog: pytest.LogCaptureFixture) -> None:
    assert caplog.records, "nothing was logged: the capture is not working"
    assert any(r.name.startswith(("httpx", "httpcore")) for r in caplog.records)
    logged = "\n".join(
        f"{r.name} {r.getMessage()} {r.args!r} {r.exc_text or ''}" for r in caplog.records
    )
    assert secrets_in(logged + caplog.text) == []


def assert_nothing_secret_reached(proxy: FaultProxy) -> None:
    for request in proxy.requests:
        seen = f"{request.target}\n{request.headers}\n{request.body.decode(errors='replace')}"
        assert "authorization" not in request.headers, request
        assert secrets_in(seen) == [], request


@pytest.fixture
def basic(basic_registry: RegistryServer, fault_proxy: ProxyFactory) -> Iterator[FaultProxy]:
    basic_registry.push("library/python", "3.12", build_image("python"))
    yield fault_proxy(basic_registry)


def used_credentials(proxy: FaultProxy) -> bool:
    return any(r.authorization == f"Basic {BASIC}" for r in proxy.requests)


# -- lies about content ----------------------------------------------------------------------


def test_wrong_docker_content_digest(
    basic: FaultProxy, project: Project, caplog: pytest.LogCaptureFixture
) -> None:
    basic.add_fault(Fault.wrong_digest(path="/manifests/"))
    project.configure(basic)

    assert_refused(project, project.pin(), "does not serve that manifest")
    assert used_credentials(basic)
    assert resolve_in_process(project, basic, caplog).kind is ErrorKind.DIGEST_MISMATCH
    assert_quiet_logs(caplog)


def test_body_that_does_not_match_its_digest(
    basic: FaultProxy, project: Project, caplog: pytest.LogCaptureFixture
) -> None:
    """No digest on the tag's HEAD forces a GET; its body is another image's
    manifest under the registry's own digest header."""
    other = build_image("python", salt="impostor").top.data
    basic.add_fault(Fault.strip_digest(method="HEAD", path="/manifests/"))
    basic.add_fault(Fault.replace_body(other, method="GET", path="/manifests/"))
    project.configure(basic)

    assert_refused(project, project.pin(), "but its content hashes to")
    assert basic.requests_matching("/manifests/", method="GET")
    assert resolve_in_process(project, basic, caplog).kind is ErrorKind.DIGEST_MISMATCH
    assert_quiet_logs(caplog)


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_a_50_mb_manifest(
    basic: FaultProxy, project: Project, caplog: pytest.LogCaptureFixture, chunked: bool
) -> None:
    basic.add_fault(Fault.strip_digest(method="HEAD", path="/manifests/"))
    basic.add_fault(Fault.huge(50 * MiB, chunked=chunked, method="GET", path="/manifests/"))
    project.configure(basic)

    assert_refused(project, project.pin(), "larger than 4 mib; refused")
    assert resolve_in_process(project, basic, caplog).kind is ErrorKind.TOO_LARGE
    assert_quiet_logs(caplog)


@pytest.mark.parametrize("method", ["HEAD", "GET"])
def test_a_response_that_never_ends(
    basic: FaultProxy, project: Project, caplog: pytest.LogCaptureFixture, method: str
) -> None:
    """HEAD: nothing at all comes back; GET: headers and half a body."""
    if method == "GET":
        basic.add_fault(Fault.strip_digest(method="HEAD", path="/manifests/"))
    basic.add_fault(Fault.never_ends(method=method, path="/manifests/"))
    project.configure(basic)

    assert_refused(project, project.pin(), f"timed out after {TIMEOUT}s")
    started = time.monotonic()
    assert resolve_in_process(project, basic, caplog).kind is ErrorKind.TIMEOUT
    assert time.monotonic() - started < WALL_LIMIT
    assert_quiet_logs(caplog)


# -- lies about where to go ------------------------------------------------------------------


def test_a_redirect_to_another_host_never_carries_the_credentials(
    basic_registry: RegistryServer,
    basic: FaultProxy,
    fault_proxy: ProxyFactory,
    project: Project,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The first manifest request gets the registry's Basic challenge, so the
    credentials are in use when the next answer redirects to 127.0.0.2."""
    elsewhere = fault_proxy(basic_registry, host="127.0.0.2")
    challenge = {"WWW-Authenticate": 'Basic realm="basic-realm"'}
    basic.add_fault(Fault.respond(401, b"", challenge, times=1, path="/manifests/"))
    basic.add_fault(Fault.redirect(elsewhere.url, path="/manifests/"))
    project.configure(basic)

    assert_refused(project, project.pin(), f"redirected to {elsewhere.host}, which refused")
    assert used_credentials(basic)
    assert elsewhere.requests, "the redirect was not followed: nothing was tested"
    assert_nothing_secret_reached(elsewhere)

    basic.faults[0].hits = 0
    assert resolve_in_process(project, basic, caplog).kind is ErrorKind.UNAUTHORIZED
    assert_nothing_secret_reached(elsewhere)
    assert_quiet_logs(caplog)


@pytest.fixture
def token(token_registry: RegistryServer, fault_proxy: ProxyFactory) -> Iterator[FaultProxy]:
    token_registry.push("library/python", "3.12", build_image("python"))
    token_registry.token_server.requests.clear()  # the push's own token requests
    yield fault_proxy(token_registry)


def rewrite_realm(proxy: FaultProxy, realm: str) -> None:
    challenge = f'Bearer realm="{realm}",service="test-registry"'
    proxy.add_fault(Fault(headers={"WWW-Authenticate": challenge}, path="/v2/"))


def test_a_token_realm_over_plain_http_to_a_remote_host_is_refused(
    token_registry: RegistryServer,
    token: FaultProxy,
    project: Project,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The registry is loopback and speaks http, but its challenge must not
    send the credentials in clear text to a host out on the network."""
    rewrite_realm(token, "http://auth.registry.example.com/token")
    project.configure(token)

    assert_refused(project, project.pin(), "plain-http realm auth.registry.example.com")
    assert token_registry.token_server.requests == []
    assert resolve_in_process(project, token, caplog).kind is ErrorKind.INSECURE_REFUSED
    assert_quiet_logs(caplog)


def test_a_token_realm_on_another_host_gets_no_secret_in_clear(
    token_registry: RegistryServer,
    token: FaultProxy,
    fault_proxy: ProxyFactory,
    project: Project,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A realm on another host over https: the token request only ever
    travels inside TLS (here the other host speaks plain http, so the
    handshake fails and nothing readable reaches it)."""
    elsewhere = fault_proxy(token_registry.token_server.url, host="127.0.0.2")
    rewrite_realm(token, f"https://{elsewhere.host}/token")
    project.configure(token)

    assert_refused(project, project.pin(), "tls handshake")
    assert_nothing_secret_reached(elsewhere)
    assert token_registry.token_server.requests == []
    assert resolve_in_process(project, token, caplog).kind is ErrorKind.UNREACHABLE
    assert_nothing_secret_reached(elsewhere)
    assert_quiet_logs(caplog)


# -- lies about access -----------------------------------------------------------------------


def test_a_basic_401_loop_ends_after_one_retry(
    basic: FaultProxy, project: Project, caplog: pytest.LogCaptureFixture
) -> None:
    challenge = {"WWW-Authenticate": 'Basic realm="basic-realm"'}
    basic.add_fault(Fault.error(401, "UNAUTHORIZED", headers=challenge, path="/v2/"))
    project.configure(basic)

    run = project.pin()

    assert_refused(project, run, "were rejected")
    assert used_credentials(basic)
    assert len(basic.requests) <= 4, [r.target for r in basic.requests]
    assert resolve_in_process(project, basic, caplog).kind is ErrorKind.UNAUTHORIZED
    assert_quiet_logs(caplog)


def test_a_token_401_loop_ends_after_one_fresh_token(
    token_registry: RegistryServer,
    token: FaultProxy,
    project: Project,
    caplog: pytest.LogCaptureFixture,
) -> None:
    realm = token_registry.token_server.realm
    challenge = {
        "WWW-Authenticate": f'Bearer realm="{realm}",service="test-registry",'
        'scope="repository:library/python:pull"'
    }
    token.add_fault(Fault.error(401, "UNAUTHORIZED", headers=challenge, path="/v2/"))
    project.configure(token)

    run = project.pin()

    assert_refused(project, run, "were rejected")
    tokens = token_registry.token_server.requests
    assert 1 <= len(tokens) <= 2 and all(t.status == 200 for t in tokens)
    assert any(r.authorization and r.authorization.startswith("Bearer ") for r in token.requests)
    assert len(token.requests) <= 4
    assert resolve_in_process(project, token, caplog).kind is ErrorKind.UNAUTHORIZED
    assert_quiet_logs(caplog)


def test_a_retry_after_of_a_day_is_not_waited_for(
    basic: FaultProxy, project: Project, caplog: pytest.LogCaptureFixture
) -> None:
    basic.add_fault(Fault.rate_limited("86400", path="/manifests/"))
    project.configure(basic)

    run = project.pin()

    assert_refused(project, run, "retry after 24h")
    assert len(basic.requests_matching("/manifests/")) <= 2
    error = resolve_in_process(project, basic, caplog)
    assert error.kind is ErrorKind.RATE_LIMITED and error.retry_after == 86400
    assert_quiet_logs(caplog)


# -- the same rules without a network --------------------------------------------------------


def test_a_plain_http_realm_off_the_registry_host_is_refused_for_an_insecure_registry(
    tmp_path: Path,
) -> None:
    """An insecure-listed registry on the LAN: its challenge arrives over
    plain http, which anyone on the way can rewrite. A realm on its own host
    is fine; one elsewhere over plain http never sees a request."""
    seen: list[httpx.Request] = []

    def registry(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        realm = "http://evil.example.net/token"
        return httpx.Response(401, headers={"WWW-Authenticate": f'Bearer realm="{realm}"'})

    config_dir = tmp_path / "docker"
    config_dir.mkdir()
    (config_dir / "config.json").write_text(
        json.dumps({"auths": {"registry.lan:5000": {"auth": BASIC}}})
    )
    store = CredentialStore(env={"DOCKER_CONFIG": str(config_dir)}, home=tmp_path)
    config = RegistryConfig(
        insecure=["registry.lan:5000"], timeout=TIMEOUT, cache_dir=tmp_path / "cache"
    )

    async def lookup() -> RegistryError:
        client = RegistryClient(
            config, credentials=store, transport=httpx.MockTransport(registry)
        )
        async with client:
            with pytest.raises(RegistryError) as caught:
                await client.resolve(parse_reference("registry.lan:5000/app:1"))
            return caught.value

    error = asyncio.run(lookup())

    assert error.kind is ErrorKind.INSECURE_REFUSED
    assert "plain-http realm evil.example.net" in error.message
    assert {r.url.host for r in seen} == {"registry.lan"}
    assert all("authorization" not in r.headers for r in seen)
