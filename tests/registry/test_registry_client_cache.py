"""The cache: warm runs send nothing, tags expire, digests do not, offline
answers from the cache only, and nothing secret reaches the disk."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from registry_client_support import (
    ClientFactory,
    StoreFactory,
    auth_entry,
    move_clock,
    push_standard_images,
    ref,
)

from dockpin.registry import ErrorKind, RegistryError
from support.fixtures import ProxyFactory
from support.oci import build_image
from support.proxy import Fault
from support.registry import RegistryServer


async def test_second_resolve_sends_nothing(
    registry: RegistryServer, make_client: ClientFactory
) -> None:
    push_standard_images(registry)
    async with make_client(registry.url) as client:
        first = await client.resolve(ref("python:3.12"))
        sent = client.stats.total
        second = await client.resolve(ref("python:3.12"))
        assert client.stats.total == sent
    assert second.digest == first.digest
    assert (first.from_cache, second.from_cache) == (False, True)


async def test_disk_cache_survives_a_new_client(
    registry: RegistryServer, make_client: ClientFactory
) -> None:
    pushed = push_standard_images(registry)
    python = ref("python:3.12")
    async with make_client(registry.url) as client:
        await client.resolve(python)
        await client.manifest(python)
        await client.digest_exists(python, pushed.multi.digest)
    async with make_client(registry.url) as warm:
        resolution = await warm.resolve(python)
        facts = await warm.manifest(python)
        child = await warm.platform_child(python, facts.digest, "linux", "arm64", "v8")
        assert await warm.digest_exists(python, pushed.multi.digest)
        assert warm.stats.total == 0
    assert resolution.from_cache and resolution.digest == pushed.multi.digest
    assert facts.created == "2026-01-01T00:00:00Z"
    assert child == pushed.multi.children[("linux", "arm64", "v8")]


async def test_expired_tag_is_resolved_again_and_sees_the_moved_tag(
    registry: RegistryServer, make_client: ClientFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    pushed = push_standard_images(registry)
    moved = build_image("python", salt="rebuilt")
    async with make_client(registry.url, tag_ttl=60) as client:
        assert (await client.resolve(ref("python:3.12"))).digest == pushed.multi.digest
        registry.push("library/python", "3.12", moved)
        move_clock(monkeypatch, 30)
        assert (await client.resolve(ref("python:3.12"))).digest == pushed.multi.digest
        move_clock(monkeypatch, 61)
        again = await client.resolve(ref("python:3.12"))
        # Tag HEAD + digest HEAD at first and after expiry; nothing at 30 s.
        assert client.stats.head == 4
    assert again.digest == moved.digest and not again.from_cache


async def test_fresh_resolve_sees_a_moved_tag_the_cache_still_hides(
    registry: RegistryServer, make_client: ClientFactory
) -> None:
    pushed = push_standard_images(registry)
    moved = build_image("python", salt="rebuilt")
    python = ref("python:3.12")
    async with make_client(registry.url, tag_ttl=3600) as client:
        first = await client.resolve(python)
        registry.push("library/python", "3.12", moved)
        cached = await client.resolve(python)
        assert client.stats.total == 2  # tag HEAD + digest HEAD, then nothing
        fresh = await client.resolve(python, fresh=True)
        assert (client.stats.head, client.stats.get) == (4, 0)  # both again
        after = await client.resolve(python)
        assert client.stats.total == 4
    assert first.digest == cached.digest == pushed.multi.digest
    assert cached.from_cache and not first.from_cache
    assert fresh.digest == moved.digest and not fresh.from_cache
    # The fresh answer replaced the cached one.
    assert after.digest == moved.digest and after.from_cache

    registry.stop()  # any request would now fail loudly
    async with make_client(registry.url, offline=True) as offline:
        # Offline, fresh cannot skip the cache: it is the only answer.
        offline_answer = await offline.resolve(python, fresh=True)
        assert offline.stats.total == 0
    assert offline_answer.digest == moved.digest and offline_answer.from_cache


async def test_manifest_facts_never_expire(
    registry: RegistryServer, make_client: ClientFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    pushed = push_standard_images(registry)
    async with make_client(registry.url) as client:
        await client.manifest(ref("python:3.12"), pushed.multi.digest)
        sent = client.stats.total
        move_clock(monkeypatch, 10 * 365 * 86400)
        facts = await client.manifest(ref("python:3.12"), pushed.multi.digest)
        assert client.stats.total == sent
    assert facts.digest == pushed.multi.digest


async def test_offline_answers_from_cache_and_says_when_it_cannot(
    registry: RegistryServer, make_client: ClientFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    pushed = push_standard_images(registry)
    async with make_client(registry.url) as client:
        await client.resolve(ref("python:3.12"))
        await client.manifest(ref("python:3.12"))
    registry.stop()  # any request would now fail loudly
    async with make_client(registry.url, offline=True) as offline:
        fresh = await offline.resolve(ref("python:3.12"))
        facts = await offline.manifest(ref("python:3.12"))
        move_clock(monkeypatch, 7200)
        stale = await offline.resolve(ref("python:3.12"))
        with pytest.raises(RegistryError) as caught:
            await offline.resolve(ref("python:3.13"))
        assert offline.stats.total == 0
    assert (fresh.digest, fresh.stale) == (pushed.multi.digest, False)
    assert (stale.digest, stale.stale) == (pushed.multi.digest, True)
    assert facts.digest == pushed.multi.digest
    assert caught.value.kind is ErrorKind.OFFLINE_CACHE_MISS
    assert caught.value.message == (
        "offline: docker.io/library/python:3.13 is not in the cache (run once online to fill it)"
    )


async def test_cache_key_includes_the_registry_url(
    registry: RegistryServer, make_client: ClientFactory, fault_proxy: ProxyFactory
) -> None:
    push_standard_images(registry)
    proxy = fault_proxy(registry)
    async with make_client(registry.url) as client:
        await client.resolve(ref("python:3.12"))
    async with make_client(proxy.url) as other_mirror:
        resolution = await other_mirror.resolve(ref("python:3.12"))
    assert not resolution.from_cache


async def test_corrupt_cache_files_are_ignored(
    registry: RegistryServer, make_client: ClientFactory, tmp_path: Path
) -> None:
    pushed = push_standard_images(registry)
    async with make_client(registry.url) as client:
        await client.resolve(ref("python:3.12"))
        await client.manifest(ref("python:3.12"))
    files = list((tmp_path / "cache").rglob("*.json"))
    assert files
    for n, path in enumerate(files):
        path.write_bytes([b"{not json", b"", b"[1, 2]", b'{"format": 1}', b"\xff\xfe"][n % 5])
    async with make_client(registry.url) as client:
        resolution = await client.resolve(ref("python:3.12"))
        facts = await client.manifest(ref("python:3.12"))
    assert not resolution.from_cache
    assert (resolution.digest, facts.digest) == (pushed.multi.digest, pushed.multi.digest)


async def test_no_credentials_or_tokens_on_disk(
    token_registry: RegistryServer,
    make_client: ClientFactory,
    make_store: StoreFactory,
    tmp_path: Path,
) -> None:
    push_standard_images(token_registry)
    store = make_store({"auths": {token_registry.host: auth_entry("alice", "s3cret")}})
    async with make_client(token_registry.url, credentials=store) as client:
        await client.resolve(ref("python:3.12"))
        await client.manifest(ref("python:3.12"))
    stored = b"".join(p.read_bytes() for p in (tmp_path / "cache").rglob("*") if p.is_file())
    assert stored
    for secret in (
        b"s3cret",
        b"alice",
        b"Bearer",
        b"eyJ",
        auth_entry("alice", "s3cret")["auth"].encode(),
    ):
        assert secret not in stored


async def test_concurrent_lookups_of_one_tag_share_one_resolution(
    registry: RegistryServer, make_client: ClientFactory
) -> None:
    push_standard_images(registry)
    async with make_client(registry.url) as client:
        results = await asyncio.gather(*(client.resolve(ref("python:3.12")) for _ in range(5)))
        # One tag HEAD and one digest HEAD for all five.
        assert (client.stats.head, client.stats.get) == (2, 0)
    assert len({r.digest for r in results}) == 1


async def test_per_host_concurrency_limit(
    registry: RegistryServer, make_client: ClientFactory, fault_proxy: ProxyFactory
) -> None:
    pushed = push_standard_images(registry)
    for n in range(4):
        registry.push("library/python", f"t{n}", pushed.single)
    proxy = fault_proxy(registry)
    proxy.add_fault(Fault.delay(0.2, method="HEAD"))
    async with make_client(proxy.url, max_concurrency_per_host=2) as client:
        await asyncio.gather(*(client.resolve(ref(f"python:t{n}")) for n in range(4)))
    assert len(proxy.requests) == 8  # a tag HEAD and a digest HEAD per tag
    arrivals = sorted(r.time for r in proxy.requests)
    # Two at a time: the third request can only start once one of the first
    # two (each held 0.2 s by the proxy) has finished.
    assert arrivals[1] - arrivals[0] < 0.18
    assert arrivals[2] - arrivals[0] >= 0.18
    # A slot is held for a whole resolution (both HEADs), so the third tag's
    # first request waits for two delayed requests in a row.
    tag_heads = sorted(r.time for r in proxy.requests_matching(r"/manifests/t\d$"))
    assert tag_heads[1] - tag_heads[0] < 0.18
    assert tag_heads[2] - tag_heads[0] >= 0.38
