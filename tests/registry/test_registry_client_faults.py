"""Each failure gives its own error kind and a message a user can act on,
through a fault-injecting proxy in front of the real registry."""

from __future__ import annotations

import time

import pytest
from registry_client_support import (
    ClientFactory,
    StoreFactory,
    auth_entry,
    push_standard_images,
    ref,
)

from dockpin.registry import ErrorKind, RegistryError
from support.fixtures import ProxyFactory
from support.oci import build_image
from support.proxy import MALFORMED_JSON, Fault
from support.registry import RegistryServer, free_port


async def resolve_error(
    client_factory: ClientFactory, url: str, text: str, **config: object
) -> RegistryError:
    async with client_factory(url, **config) as client:
        with pytest.raises(RegistryError) as caught:
            await client.resolve(ref(text))
    return caught.value


async def test_unknown_tag(registry: RegistryServer, make_client: ClientFactory) -> None:
    push_standard_images(registry)
    error = await resolve_error(make_client, registry.url, "python:3.99")
    assert error.kind is ErrorKind.TAG_NOT_FOUND
    assert error.message == (
        f"docker.io/library/python: tag '3.99' not found (via mirror {registry.host})"
    )


async def test_unknown_repository(registry: RegistryServer, make_client: ClientFactory) -> None:
    push_standard_images(registry)
    error = await resolve_error(make_client, registry.url, "nosuchimage:1.0")
    assert error.kind is ErrorKind.REPOSITORY_NOT_FOUND
    assert error.message == (
        f"docker.io/library/nosuchimage: repository not found (via mirror {registry.host})"
    )


async def test_unknown_digest(registry: RegistryServer, make_client: ClientFactory) -> None:
    push_standard_images(registry)
    missing = "sha256:" + "3" * 64
    async with make_client(registry.url) as client:
        with pytest.raises(RegistryError) as caught:
            await client.manifest(ref("python:3.12"), missing)
    assert caught.value.kind is ErrorKind.DIGEST_NOT_FOUND
    assert f"digest {missing} not found" in caught.value.message


async def test_forbidden(
    registry: RegistryServer, make_client: ClientFactory, fault_proxy: ProxyFactory
) -> None:
    push_standard_images(registry)
    proxy = fault_proxy(registry)
    proxy.add_fault(Fault.error(403, "DENIED", "requested access to the resource is denied"))
    error = await resolve_error(make_client, proxy.url, "python:3.12")
    assert error.kind is ErrorKind.FORBIDDEN
    assert error.message == (
        f"docker.io/library/python: access denied by {proxy.host} (via mirror {proxy.host})"
    )


async def test_docker_hub_rate_limit_waits_for_retry_after_then_succeeds(
    registry: RegistryServer, make_client: ClientFactory, fault_proxy: ProxyFactory
) -> None:
    pushed = push_standard_images(registry)
    proxy = fault_proxy(registry)
    proxy.add_fault(Fault.rate_limited(retry_after="1", path=r"/manifests/", times=1))
    started = time.monotonic()
    async with make_client(proxy.url) as client:
        resolution = await client.resolve(ref("python:3.12"))
        # Tag HEAD (429), tag HEAD again after Retry-After, digest HEAD.
        assert client.stats.head == 3
    assert time.monotonic() - started >= 1.0
    assert resolution.digest == pushed.multi.digest


async def test_docker_hub_rate_limit_with_long_retry_after_fails_fast(
    registry: RegistryServer, make_client: ClientFactory, fault_proxy: ProxyFactory
) -> None:
    push_standard_images(registry)
    proxy = fault_proxy(registry)
    proxy.add_fault(Fault.rate_limited(retry_after="86400", path=r"/manifests/"))
    started = time.monotonic()
    error = await resolve_error(make_client, proxy.url, "python:3.12")
    assert time.monotonic() - started < 1.0
    assert error.kind is ErrorKind.RATE_LIMITED
    assert error.retry_after == 86400
    assert error.message == (
        f"rate limited by Docker Hub (pull limit reached, via mirror {proxy.host}); retry after 24h"
    )


async def test_rate_limit_from_another_registry(
    registry: RegistryServer, make_client: ClientFactory, fault_proxy: ProxyFactory
) -> None:
    proxy = fault_proxy(registry)
    proxy.add_fault(Fault.respond(429, headers={"Retry-After": "600"}))
    error = await resolve_error(make_client, proxy.url, "python:3.12")
    assert error.kind is ErrorKind.RATE_LIMITED
    assert (
        error.message
        == f"rate limited by {proxy.host} (via mirror {proxy.host}); retry after 10min"
    )


async def test_transient_503_is_retried(
    registry: RegistryServer, make_client: ClientFactory, fault_proxy: ProxyFactory
) -> None:
    pushed = push_standard_images(registry)
    proxy = fault_proxy(registry)
    proxy.add_fault(Fault.fail_first(2, 503, path=r"/manifests/"))
    async with make_client(proxy.url) as client:
        resolution = await client.resolve(ref("python:3.12"))
        # Tag HEAD twice 503, then 200; then the digest HEAD.
        assert client.stats.head == 4
    assert resolution.digest == pushed.multi.digest


async def test_persistent_503_gives_up_after_bounded_retries(
    registry: RegistryServer, make_client: ClientFactory, fault_proxy: ProxyFactory
) -> None:
    proxy = fault_proxy(registry)
    proxy.add_fault(Fault.respond(503))
    error = await resolve_error(make_client, proxy.url, "python:3.12", max_retries=2)
    assert error.kind is ErrorKind.UNREACHABLE
    assert (
        error.message
        == f"registry {proxy.host} is unavailable (HTTP 503) (via mirror {proxy.host})"
    )
    assert len(proxy.requests) == 3


async def test_slow_registry_times_out(
    registry: RegistryServer, make_client: ClientFactory, fault_proxy: ProxyFactory
) -> None:
    push_standard_images(registry)
    proxy = fault_proxy(registry)
    proxy.add_fault(Fault.delay(3.0))
    started = time.monotonic()
    error = await resolve_error(make_client, proxy.url, "python:3.12", timeout=0.5)
    assert time.monotonic() - started < 1.5
    assert error.kind is ErrorKind.TIMEOUT
    assert error.message == f"timed out after 0.5s talking to {proxy.host}"


async def test_never_ending_body_fails_within_timeout(
    registry: RegistryServer, make_client: ClientFactory, fault_proxy: ProxyFactory
) -> None:
    push_standard_images(registry)
    proxy = fault_proxy(registry)
    proxy.add_fault(Fault.strip_digest(path=r"/manifests/", method="HEAD"))
    proxy.add_fault(Fault.never_ends(path=r"/manifests/", method="GET"))
    started = time.monotonic()
    error = await resolve_error(make_client, proxy.url, "python:3.12", timeout=0.8)
    assert time.monotonic() - started < 1.5
    assert error.kind is ErrorKind.TIMEOUT


async def test_connection_refused(make_client: ClientFactory) -> None:
    closed = f"127.0.0.1:{free_port()}"
    started = time.monotonic()
    error = await resolve_error(make_client, f"http://{closed}", "python:3.12")
    assert time.monotonic() - started < 1.0
    assert error.kind is ErrorKind.UNREACHABLE
    assert error.message == f"registry {closed} refused the connection"


async def test_malformed_json(
    registry: RegistryServer, make_client: ClientFactory, fault_proxy: ProxyFactory
) -> None:
    push_standard_images(registry)
    proxy = fault_proxy(registry)
    # No digest header on either request, so nothing but the JSON is wrong.
    proxy.add_fault(Fault.strip_digest(path=r"/manifests/", method="HEAD"))
    proxy.add_fault(
        Fault(body=MALFORMED_JSON, drop_headers=("Docker-Content-Digest",), path=r"/manifests/")
    )
    error = await resolve_error(make_client, proxy.url, "python:3.12")
    assert error.kind is ErrorKind.BAD_RESPONSE
    assert "malformed JSON" in error.message


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
async def test_huge_manifest_is_refused_while_streaming(
    registry: RegistryServer,
    make_client: ClientFactory,
    fault_proxy: ProxyFactory,
    chunked: bool,
) -> None:
    push_standard_images(registry)
    proxy = fault_proxy(registry)
    proxy.add_fault(Fault.strip_digest(path=r"/manifests/", method="HEAD"))
    proxy.add_fault(
        Fault.huge(50 * 1024 * 1024, chunked=chunked, path=r"/manifests/", method="GET")
    )
    started = time.monotonic()
    error = await resolve_error(make_client, proxy.url, "python:3.12")
    assert time.monotonic() - started < 2.0
    assert error.kind is ErrorKind.TOO_LARGE
    assert "larger than 4 MiB" in error.message


async def test_redirect_to_another_host_does_not_carry_credentials(
    basic_registry: RegistryServer,
    registry: RegistryServer,
    make_client: ClientFactory,
    fault_proxy: ProxyFactory,
    make_store: StoreFactory,
) -> None:
    # Storage on another host (127.0.0.2) serves the same blobs without auth,
    # the way registries redirect blob downloads to signed storage URLs.
    image = build_image("python", platforms=[("linux", "arm64", "v8")])
    basic_registry.push("library/python", "3.12", image)
    registry.push("library/python", "3.12", image)
    front = fault_proxy(basic_registry)
    storage = fault_proxy(registry, host="127.0.0.2")
    front.add_fault(Fault.redirect(storage.url, path=r"/blobs/"))
    store = make_store({"auths": {front.host: auth_entry("alice", "s3cret")}})
    async with make_client(front.url, credentials=store) as client:
        facts = await client.manifest(ref("python:3.12"))
    assert facts.platform is not None and facts.platform.label == "linux/arm64/v8"
    assert [r.authorization for r in storage.requests] == [None]
    assert all(r.authorization for r in front.requests if "/blobs/" in r.path)
