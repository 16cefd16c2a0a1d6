"""Proof that the test infrastructure in tests/support is real: real registry, real skopeo."""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from support.fixtures import ProxyFactory, RegistryFactory, require_binaries
from support.oci import (
    ACCEPT_ALL,
    ATTESTATION_TYPE,
    ATTESTATION_TYPE_KEY,
    DOCKER_LIST,
    DOCKER_MANIFEST,
    OCI_INDEX,
    OCI_MANIFEST,
    ImageSet,
    build_image,
)
from support.proxy import DOCKER_HUB_RATE_LIMIT_BODY, WRONG_DIGEST, Fault
from support.registry import (
    RegistryClient,
    RegistryServer,
    TokenAuth,
    parse_challenge,
    skopeo_digest,
    skopeo_inspect_raw,
)

IMAGES: dict[str, Callable[[], ImageSet]] = {
    "oci-index": lambda: build_image("library/python"),
    "docker-list": lambda: build_image("library/python", fmt="docker"),
    "single": lambda: build_image("library/python", platforms=[("linux", "arm64", "v8")]),
    "oci-attestation": lambda: build_image("library/python", attestation=True),
}

REPO = "library/python"


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def head_digest(base_url: str, repo: str, ref: str, accept: str = ACCEPT_ALL) -> httpx.Response:
    return httpx.head(f"{base_url}/v2/{repo}/manifests/{ref}", headers={"Accept": accept})


# -- oci ------------------------------------------------------------------------------------------


def test_images_are_deterministic_and_salt_moves_the_digest() -> None:
    a, b = build_image("x"), build_image("x")
    assert [m.data for m in a.all()] == [m.data for m in b.all()]
    assert a.top.digest == b.top.digest
    assert build_image("x", salt="v2").top.digest != a.top.digest
    assert a.top.media_type == OCI_INDEX
    assert set(a.children) == {("linux", "amd64", None), ("linux", "arm64", "v8")}
    assert a.manifests[-1] is a.top
    entries = a.top.json()["manifests"]
    assert [e["digest"] for e in entries] == list(a.children.values())
    assert build_image("x", fmt="docker").top.media_type == DOCKER_LIST
    assert build_image("x", platforms=[("linux", "amd64", None)]).top.media_type == OCI_MANIFEST
    with pytest.raises(ValueError):
        build_image("x", fmt="docker", attestation=True)


def test_attestation_entries() -> None:
    image = build_image("x", attestation=True)
    entries = image.top.json()["manifests"]
    attestations = [e for e in entries if e["platform"]["os"] == "unknown"]
    assert len(attestations) == 2
    for entry in attestations:
        assert entry["platform"] == {"architecture": "unknown", "os": "unknown"}
        assert entry["annotations"][ATTESTATION_TYPE_KEY] == ATTESTATION_TYPE
        child = entry["annotations"]["vnd.docker.reference.digest"]
        assert image.attestations[child] == entry["digest"]


# -- registry + skopeo oracle ---------------------------------------------------------------------


@pytest.mark.parametrize("kind", list(IMAGES))
def test_push_matches_skopeo_and_head(registry: RegistryServer, kind: str) -> None:
    image = IMAGES[kind]()
    digest = registry.push(REPO, "3.12-slim", image)
    assert digest == image.top.digest
    assert skopeo_digest(registry.host, REPO, "3.12-slim") == digest
    assert sha256(skopeo_inspect_raw(registry.host, REPO, "3.12-slim")) == digest

    head = head_digest(registry.url, REPO, "3.12-slim")
    assert head.status_code == 200
    assert head.headers["Docker-Content-Digest"] == digest
    assert head.headers["Content-Type"] == image.top.media_type
    get = httpx.get(f"{registry.url}/v2/{REPO}/manifests/3.12-slim", headers={"Accept": ACCEPT_ALL})
    assert sha256(get.content) == digest == get.headers["Docker-Content-Digest"]
    for child in image.children.values():  # children are reachable by digest
        assert head_digest(registry.url, REPO, child).headers["Docker-Content-Digest"] == child


def test_docker_v2_only_accept_answers_differently(registry: RegistryServer) -> None:
    oci, docker = IMAGES["oci-index"](), IMAGES["docker-list"]()
    single = IMAGES["single"]()
    registry.push(REPO, "oci", oci)
    registry.push(REPO, "docker", docker)
    registry.push(REPO, "single", single)

    resp = httpx.get(f"{registry.url}/v2/{REPO}/manifests/oci", headers={"Accept": DOCKER_MANIFEST})
    assert resp.status_code == 404
    assert "OCI index found, but accept header does not support OCI indexes" in resp.text
    resp = httpx.get(
        f"{registry.url}/v2/{REPO}/manifests/single", headers={"Accept": DOCKER_MANIFEST}
    )
    assert resp.status_code == 404
    assert "OCI manifest found" in resp.text

    # A Docker manifest list is silently replaced by its linux/amd64 child (Dependabot #2962).
    resp = head_digest(registry.url, REPO, "docker", accept=DOCKER_MANIFEST)
    assert resp.status_code == 200
    assert resp.headers["Docker-Content-Digest"] == docker.children[("linux", "amd64", None)]
    # With no Accept at all, 2.8.2 down-converts the list to signed schema1: yet another digest.
    resp = httpx.get(f"{registry.url}/v2/{REPO}/manifests/docker")
    assert resp.status_code == 200
    assert "prettyjws" in resp.headers["Content-Type"]
    assert resp.headers["Docker-Content-Digest"] not in (
        docker.top.digest,
        *docker.children.values(),
    )


def test_unknown_tag_moved_tag_and_delete(registry: RegistryServer) -> None:
    resp = httpx.get(f"{registry.url}/v2/{REPO}/manifests/nope", headers={"Accept": ACCEPT_ALL})
    assert resp.status_code == 404
    assert resp.json()["errors"][0]["code"] == "MANIFEST_UNKNOWN"

    old = registry.push(REPO, "3.12", build_image(REPO))
    new = registry.push(REPO, "3.12", build_image(REPO, salt="rebuild"))
    assert old != new
    assert skopeo_digest(registry.host, REPO, "3.12") == new
    assert head_digest(registry.url, REPO, old).status_code == 200  # still served by digest
    registry.delete_manifest(REPO, old)
    assert head_digest(registry.url, REPO, old).status_code == 404
    registry.delete_manifest(REPO, new)
    assert head_digest(registry.url, REPO, "3.12").status_code == 404


def test_push_by_digest_only(registry: RegistryServer) -> None:
    image = IMAGES["oci-index"]()
    assert registry.push(REPO, None, image) == image.top.digest
    assert head_digest(registry.url, REPO, image.top.digest).status_code == 200
    # 2.8.2: a repository holding only untagged manifests is "unknown" to the tags API.
    tags = httpx.get(f"{registry.url}/v2/{REPO}/tags/list")
    assert tags.status_code == 404
    assert tags.json()["errors"][0]["code"] == "NAME_UNKNOWN"


def test_start_failure_reports_registry_log(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(self: RegistryServer, port: int, auth: object) -> dict[str, object]:
        return {"version": "0.1", "storage": {"nosuchdriver": {}}, "http": {"addr": f":{port}"}}

    monkeypatch.setattr(RegistryServer, "_config", broken)
    server = RegistryServer(tmp_path)
    with pytest.raises(RuntimeError, match="nosuchdriver"):
        server.start()
    assert server.proc is None


def test_missing_binaries_fail_not_skip(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(pytest.fail.Exception, match="docker-registry, skopeo, htpasswd"):
        require_binaries()


# -- auth -----------------------------------------------------------------------------------------


def test_basic_auth_registry(basic_registry: RegistryServer) -> None:
    image = IMAGES["oci-index"]()
    digest = basic_registry.push(REPO, "1", image, username="alice", password="s3cret")

    anon = head_digest(basic_registry.url, REPO, "1")
    assert anon.status_code == 401
    assert parse_challenge(anon.headers["WWW-Authenticate"]) == (
        "basic",
        {"realm": "basic-realm"},
    )
    ok = httpx.head(
        f"{basic_registry.url}/v2/{REPO}/manifests/1",
        headers={"Accept": ACCEPT_ALL},
        auth=("alice", "s3cret"),
    )
    assert ok.status_code == 200
    assert ok.headers["Docker-Content-Digest"] == digest
    bad = httpx.head(f"{basic_registry.url}/v2/", auth=("alice", "wrong"))
    assert bad.status_code == 401
    assert skopeo_digest(basic_registry.host, REPO, "1", creds=("alice", "s3cret")) == digest


def test_token_auth_registry(token_registry: RegistryServer) -> None:
    image = IMAGES["docker-list"]()
    digest = token_registry.push(REPO, "1", image)  # default identity: alice
    tokens = token_registry.token_server
    assert tokens.requests and all(r.username == "alice" for r in tokens.requests)

    anon = head_digest(token_registry.url, REPO, "1")
    assert anon.status_code == 401
    scheme, params = parse_challenge(anon.headers["WWW-Authenticate"])
    assert scheme == "bearer"
    assert params == {
        "realm": tokens.realm,
        "service": "test-registry",
        "scope": f"repository:{REPO}:pull",
    }

    tokens.requests.clear()
    query = {"service": params["service"], "scope": params["scope"]}
    resp = httpx.get(params["realm"], params=query, auth=("alice", "s3cret"))
    body = resp.json()
    assert resp.status_code == 200
    assert body["token"] == body["access_token"]
    assert body["expires_in"] == 300
    (req,) = tokens.requests
    assert req.scopes == [f"repository:{REPO}:pull"]
    assert req.authorization is not None and req.authorization.startswith("Basic ")
    assert tokens.issued[-1]["access"] == [
        {"type": "repository", "name": REPO, "actions": ["pull"]}
    ]

    authed = httpx.head(
        f"{token_registry.url}/v2/{REPO}/manifests/1",
        headers={"Accept": ACCEPT_ALL, "Authorization": f"Bearer {body['token']}"},
    )
    assert authed.status_code == 200
    assert authed.headers["Docker-Content-Digest"] == digest
    assert skopeo_digest(token_registry.host, REPO, "1", creds=("alice", "s3cret")) == digest

    # Wrong password: token server refuses. Anonymous: a token without access (Docker Hub style),
    # which the registry then refuses with insufficient_scope.
    assert httpx.get(params["realm"], params=query, auth=("alice", "nope")).status_code == 401
    anon_token = httpx.get(params["realm"], params={"scope": params["scope"]}).json()["token"]
    refused = httpx.head(
        f"{token_registry.url}/v2/{REPO}/manifests/1",
        headers={"Accept": ACCEPT_ALL, "Authorization": f"Bearer {anon_token}"},
    )
    assert refused.status_code == 401
    assert 'error="insufficient_scope"' in refused.headers["WWW-Authenticate"]

    tokens.access_token_only = True
    only = httpx.get(params["realm"], params=query, auth=("alice", "s3cret")).json()
    assert "token" not in only and "access_token" in only


def test_token_auth_variants(registry_factory: RegistryFactory) -> None:
    """``kid`` (libtrust key id) tokens work too; anonymous pull when allowed."""
    reg = registry_factory(TokenAuth(key_mode="kid", anonymous_pull=True))
    digest = reg.push(REPO, "1", IMAGES["single"]())
    assert skopeo_digest(reg.host, REPO, "1") == digest  # anonymous through the token dance
    assert reg.token_server.requests[-1].authorization is None


# -- fault proxy ----------------------------------------------------------------------------------


@pytest.fixture
def pushed(registry: RegistryServer) -> tuple[RegistryServer, ImageSet]:
    image = IMAGES["oci-index"]()
    registry.push(REPO, "1", image)
    return registry, image


def manifest_url(base: str, ref: str = "1") -> str:
    return f"{base}/v2/{REPO}/manifests/{ref}"


def test_proxy_passthrough_records_requests(
    basic_registry: RegistryServer, fault_proxy: ProxyFactory
) -> None:
    proxy = fault_proxy(basic_registry)
    image = IMAGES["oci-index"]()
    # Push *through* the proxy: upload Locations the registry builds point back at the proxy.
    with RegistryClient(proxy.url, username="alice", password="s3cret") as client:
        assert client.push(REPO, "1", image) == image.top.digest
    assert all(r.proxy_host == proxy.host for r in proxy.requests)
    uploads = [r for r in proxy.requests if r.method == "PUT" and "/blobs/uploads/" in r.path]
    assert len(uploads) == len(image.blobs)
    resp = httpx.head(
        manifest_url(proxy.url), headers={"Accept": ACCEPT_ALL}, auth=("alice", "s3cret")
    )
    assert resp.headers["Docker-Content-Digest"] == image.top.digest
    assert resp.headers["Content-Length"] == str(image.top.size)
    last = proxy.requests[-1]
    assert (last.method, last.path, last.status) == ("HEAD", f"/v2/{REPO}/manifests/1", 200)
    assert last.authorization is not None and last.authorization.startswith("Basic ")
    assert skopeo_digest(proxy.host, REPO, "1", creds=("alice", "s3cret")) == image.top.digest


def test_proxy_rate_limit(
    pushed: tuple[RegistryServer, ImageSet], fault_proxy: ProxyFactory
) -> None:
    proxy = fault_proxy(pushed[0])
    proxy.add_fault(Fault.rate_limited(path="/manifests/", method="GET"))
    resp = httpx.get(manifest_url(proxy.url), headers={"Accept": ACCEPT_ALL})
    assert resp.status_code == 429
    assert resp.headers["Retry-After"] == "60"
    assert resp.content == DOCKER_HUB_RATE_LIMIT_BODY
    assert "pull rate limit" in resp.json()["errors"][0]["message"]
    assert httpx.head(manifest_url(proxy.url), headers={"Accept": ACCEPT_ALL}).status_code == 200


@pytest.mark.parametrize("status", [401, 403, 404])
def test_proxy_fixed_status(
    pushed: tuple[RegistryServer, ImageSet], fault_proxy: ProxyFactory, status: int
) -> None:
    proxy = fault_proxy(pushed[0])
    proxy.add_fault(
        Fault.error(status, "DENIED", headers={"WWW-Authenticate": 'Basic realm="x"'}, path="/v2/")
    )
    resp = httpx.get(manifest_url(proxy.url))
    assert resp.status_code == status
    assert resp.json()["errors"][0]["code"] == "DENIED"
    assert resp.headers["WWW-Authenticate"] == 'Basic realm="x"'


def test_proxy_fail_first_then_pass(
    pushed: tuple[RegistryServer, ImageSet], fault_proxy: ProxyFactory
) -> None:
    proxy = fault_proxy(pushed[0])
    fault = proxy.add_fault(Fault.fail_first(2, status=503, path="/manifests/"))
    codes = [
        httpx.head(manifest_url(proxy.url), headers={"Accept": ACCEPT_ALL}).status_code
        for _ in range(3)
    ]
    assert codes == [503, 503, 200]
    assert fault.hits == 2


def test_proxy_digest_header_faults(
    pushed: tuple[RegistryServer, ImageSet], fault_proxy: ProxyFactory
) -> None:
    registry, image = pushed
    proxy = fault_proxy(registry)
    strip = proxy.add_fault(Fault.strip_digest(method="HEAD"))
    resp = httpx.head(manifest_url(proxy.url), headers={"Accept": ACCEPT_ALL})
    assert resp.status_code == 200 and "Docker-Content-Digest" not in resp.headers
    proxy.remove_fault(strip)
    proxy.add_fault(Fault.wrong_digest())
    resp = httpx.get(manifest_url(proxy.url), headers={"Accept": ACCEPT_ALL})
    assert resp.headers["Docker-Content-Digest"] == WRONG_DIGEST
    assert sha256(resp.content) == image.top.digest


def test_proxy_body_faults(
    pushed: tuple[RegistryServer, ImageSet], fault_proxy: ProxyFactory
) -> None:
    registry, image = pushed
    proxy = fault_proxy(registry)
    proxy.add_fault(Fault.replace_body(b'{"schemaVersion":2}', times=1))
    resp = httpx.get(manifest_url(proxy.url), headers={"Accept": ACCEPT_ALL})
    assert resp.content == b'{"schemaVersion":2}'
    assert resp.headers["Docker-Content-Digest"] == image.top.digest  # now a mismatch
    proxy.add_fault(Fault.malformed_json())
    resp = httpx.get(manifest_url(proxy.url), headers={"Accept": ACCEPT_ALL})
    assert resp.status_code == 200
    with pytest.raises(json.JSONDecodeError):
        resp.json()


def test_proxy_delay_composes(
    pushed: tuple[RegistryServer, ImageSet], fault_proxy: ProxyFactory
) -> None:
    proxy = fault_proxy(pushed[0])
    proxy.add_fault(Fault.delay(0.05))
    proxy.add_fault(Fault.fail_first(1, status=500))
    start = time.monotonic()
    assert httpx.head(manifest_url(proxy.url), headers={"Accept": ACCEPT_ALL}).status_code == 500
    assert httpx.head(manifest_url(proxy.url), headers={"Accept": ACCEPT_ALL}).status_code == 200
    assert time.monotonic() - start >= 0.1


def test_proxy_timeout_and_never_ending_body(
    pushed: tuple[RegistryServer, ImageSet], fault_proxy: ProxyFactory
) -> None:
    proxy = fault_proxy(pushed[0])
    proxy.add_fault(Fault.delay(60, method="HEAD"))
    with pytest.raises(httpx.ReadTimeout):
        httpx.head(manifest_url(proxy.url), headers={"Accept": ACCEPT_ALL}, timeout=0.2)
    proxy.clear_faults()
    proxy.add_fault(Fault.never_ends(method="GET"))
    with (
        httpx.Client(timeout=0.3) as client,
        client.stream("GET", manifest_url(proxy.url), headers={"Accept": ACCEPT_ALL}) as resp,
    ):
        assert resp.status_code == 200  # headers arrived
        with pytest.raises(httpx.ReadTimeout):
            resp.read()


def test_proxy_stop_closes_hanging_connections(
    pushed: tuple[RegistryServer, ImageSet], fault_proxy: ProxyFactory
) -> None:
    proxy = fault_proxy(pushed[0])
    proxy.add_fault(Fault.never_ends())
    errors: list[BaseException] = []

    def client() -> None:
        try:
            httpx.get(manifest_url(proxy.url), headers={"Accept": ACCEPT_ALL}, timeout=30)
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=client)
    thread.start()
    deadline = time.monotonic() + 5
    while not proxy.requests and time.monotonic() < deadline:
        time.sleep(0.01)
    start = time.monotonic()
    proxy.stop()
    thread.join(timeout=5)
    assert not thread.is_alive()
    assert time.monotonic() - start < 2
    assert errors and isinstance(errors[0], httpx.RemoteProtocolError | httpx.ReadError)


@pytest.mark.parametrize("chunked", [False, True])
def test_proxy_huge_body(
    pushed: tuple[RegistryServer, ImageSet], fault_proxy: ProxyFactory, chunked: bool
) -> None:
    proxy = fault_proxy(pushed[0])
    size = 50 * 1024 * 1024
    proxy.add_fault(Fault.huge(size, chunked=chunked))
    with httpx.stream("GET", manifest_url(proxy.url), headers={"Accept": ACCEPT_ALL}) as resp:
        assert (resp.headers.get("Content-Length") == str(size)) is not chunked
        total = sum(len(chunk) for chunk in resp.iter_raw())
    assert total == size


def test_proxy_redirect_to_other_host(
    basic_registry: RegistryServer, fault_proxy: ProxyFactory
) -> None:
    """127.0.0.2 is a second loopback host: see which credentials reach it."""
    image = IMAGES["single"]()
    digest = basic_registry.push(REPO, "1", image)
    front = fault_proxy(basic_registry)
    other = fault_proxy(basic_registry, host="127.0.0.2")
    assert other.url.startswith("http://127.0.0.2:")
    front.add_fault(Fault.redirect(other.url, path="/manifests/"))
    resp = httpx.get(
        manifest_url(front.url),
        headers={"Accept": ACCEPT_ALL},
        auth=("alice", "s3cret"),
        follow_redirects=True,
    )
    assert front.requests[0].authorization is not None
    assert front.requests[0].status == 307
    (at_other,) = other.requests
    assert at_other.host_header == other.host
    # httpx drops Authorization on a cross-origin redirect, so the other host answers 401.
    assert at_other.authorization is None
    assert resp.status_code == 401
    assert resp.url.host == "127.0.0.2"
    ok = httpx.get(
        manifest_url(other.url), headers={"Accept": ACCEPT_ALL}, auth=("alice", "s3cret")
    )
    assert ok.headers["Docker-Content-Digest"] == digest
