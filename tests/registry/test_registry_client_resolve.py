"""Resolution against a real registry: the digest must equal skopeo's."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from registry_client_support import ClientFactory, Pushed, move_clock, push_standard_images, ref

from dockpin.registry import ErrorKind, RegistryError
from support.fixtures import ProxyFactory
from support.oci import DOCKER_LIST, OCI_INDEX, OCI_MANIFEST
from support.proxy import WRONG_DIGEST, Fault
from support.registry import RegistryServer, skopeo_digest


@pytest.mark.parametrize(
    ("tag", "attr", "media_type"),
    [
        ("3.12", "multi", OCI_INDEX),
        ("3.12-docker", "docker_list", DOCKER_LIST),
        ("3.12-single", "single", OCI_MANIFEST),
        ("3.12-attest", "attested", OCI_INDEX),
    ],
)
async def test_resolve_matches_skopeo(
    registry: RegistryServer, make_client: ClientFactory, tag: str, attr: str, media_type: str
) -> None:
    pushed = push_standard_images(registry)
    async with make_client(registry.url) as client:
        resolution = await client.resolve(ref(f"python:{tag}"))

    assert resolution.digest == skopeo_digest(registry.host, "library/python", tag)
    assert resolution.digest == getattr(pushed, attr).digest
    assert resolution.media_type == media_type
    assert not resolution.from_cache


async def test_resolve_uses_head_only_when_digest_header_present(
    registry: RegistryServer, make_client: ClientFactory, fault_proxy: ProxyFactory
) -> None:
    pushed = push_standard_images(registry)
    proxy = fault_proxy(registry)
    async with make_client(proxy.url) as client:
        await client.resolve(ref("python:3.12"))
        assert (client.stats.head, client.stats.get, client.stats.token) == (2, 0, 0)
    # The tag, then the digest it named: a HEAD cannot be hashed, so the
    # registry must confirm it serves that digest.
    assert [(r.method, r.path) for r in proxy.requests] == [
        ("HEAD", "/v2/library/python/manifests/3.12"),
        ("HEAD", f"/v2/library/python/manifests/{pushed.multi.digest}"),
    ]


async def test_resolve_sends_all_four_manifest_types(
    registry: RegistryServer, make_client: ClientFactory, fault_proxy: ProxyFactory
) -> None:
    pushed = push_standard_images(registry)
    proxy = fault_proxy(registry)
    async with make_client(proxy.url) as client:
        resolution = await client.resolve(ref("python:3.12"))
    assert resolution.digest == pushed.multi.digest
    assert len(proxy.requests) == 2  # the tag, then its digest
    for request in proxy.requests:
        accept = request.headers["accept"]
        for media_type in (OCI_INDEX, DOCKER_LIST, OCI_MANIFEST, "manifest.v2+json"):
            assert media_type in accept


async def test_get_fallback_hashes_body_when_digest_header_missing(
    registry: RegistryServer, make_client: ClientFactory, fault_proxy: ProxyFactory
) -> None:
    push_standard_images(registry)
    proxy = fault_proxy(registry)
    proxy.add_fault(Fault.strip_digest(path=r"/manifests/"))
    async with make_client(proxy.url) as client:
        resolution = await client.resolve(ref("python:3.12-docker"))
        assert (client.stats.head, client.stats.get) == (1, 1)
    assert resolution.digest == skopeo_digest(registry.host, "library/python", "3.12-docker")


@pytest.mark.parametrize(
    "fault",
    [
        # HEAD lies too, so the GET path (which can check) is the one taken.
        Fault.wrong_digest(path=r"/manifests/"),
        Fault.replace_body(
            b'{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json",'
            b'"manifests":[]}',
            path=r"/manifests/",
            method="GET",
        ),
    ],
    ids=["header-rewritten", "body-rewritten"],
)
async def test_digest_mismatch_is_rejected(
    registry: RegistryServer, make_client: ClientFactory, fault_proxy: ProxyFactory, fault: Fault
) -> None:
    push_standard_images(registry)
    proxy = fault_proxy(registry)
    proxy.add_fault(Fault.strip_digest(path=r"/manifests/", method="HEAD"))
    proxy.add_fault(fault)
    async with make_client(proxy.url) as client:
        with pytest.raises(RegistryError) as caught:
            await client.resolve(ref("python:3.12"))
    assert caught.value.kind is ErrorKind.DIGEST_MISMATCH
    assert "refused" in caught.value.message


@pytest.mark.parametrize(
    "named",
    [
        # Exists, but is a platform manifest: its Content-Type differs.
        lambda pushed: pushed.multi.children[("linux", "amd64", None)],
        # Exists with the same type (another tag's OCI index): its length differs.
        lambda pushed: pushed.attested.digest,
        # Does not exist: the HEAD by digest is a 404.
        lambda pushed: WRONG_DIGEST,
    ],
    ids=["child-manifest", "other-tags-index", "absent"],
)
async def test_rewritten_digest_on_the_tag_head_is_refused(
    registry: RegistryServer,
    make_client: ClientFactory,
    fault_proxy: ProxyFactory,
    named: Callable[[Pushed], str],
) -> None:
    pushed = push_standard_images(registry)
    lie = named(pushed)
    served = {
        blob.digest: blob
        for image in (pushed.multi, pushed.docker_list, pushed.single, pushed.attested)
        for blob in image.manifests
    }
    if lie in served:  # what the confirming HEAD can tell apart
        assert (served[lie].media_type, served[lie].size) != (
            pushed.multi.top.media_type,
            pushed.multi.top.size,
        )
    proxy = fault_proxy(registry)
    # The tag's HEAD only: the HEAD by digest gets the registry's own answer.
    fault = proxy.add_fault(Fault.wrong_digest(lie, path=r"/manifests/3\.12$", method="HEAD"))
    async with make_client(proxy.url) as client:
        with pytest.raises(RegistryError) as caught:
            await client.resolve(ref("python:3.12"))
        assert (client.stats.head, client.stats.get) == (2, 0)
        assert fault.hits == 1
        assert [(r.method, r.path) for r in proxy.requests] == [
            ("HEAD", "/v2/library/python/manifests/3.12"),
            ("HEAD", f"/v2/library/python/manifests/{lie}"),
        ]
        # Nothing was cached: once the proxy stops lying, the truth is asked for.
        proxy.clear_faults()
        resolution = await client.resolve(ref("python:3.12"))
    assert caught.value.kind is ErrorKind.DIGEST_MISMATCH
    assert caught.value.message == (
        f"docker.io/library/python: {proxy.host} says tag '3.12' is {lie}, but does not "
        f"serve that manifest (via mirror {proxy.host}); refused"
    )
    assert resolution.digest == pushed.multi.digest and not resolution.from_cache


async def test_manifest_by_wrong_digest_content_is_rejected(
    registry: RegistryServer, make_client: ClientFactory, fault_proxy: ProxyFactory
) -> None:
    pushed = push_standard_images(registry)
    proxy = fault_proxy(registry)
    proxy.add_fault(
        Fault.replace_body(pushed.docker_list.top.data, path=pushed.multi.digest, method="GET")
    )
    async with make_client(proxy.url) as client:
        with pytest.raises(RegistryError) as caught:
            await client.manifest(ref("python:3.12"), pushed.multi.digest)
    assert caught.value.kind is ErrorKind.DIGEST_MISMATCH


async def test_manifest_facts_of_index(
    registry: RegistryServer, make_client: ClientFactory
) -> None:
    pushed = push_standard_images(registry)
    async with make_client(registry.url) as client:
        facts = await client.manifest(ref("python:3.12-attest"))

    assert facts.digest == pushed.attested.digest
    assert facts.is_index
    assert [(p.os, p.architecture, p.variant) for p in facts.platforms] == [
        ("linux", "amd64", None),
        ("linux", "arm64", "v8"),
    ]
    assert {p.digest for p in facts.platforms} == set(pushed.attested.children.values())
    assert facts.platform is not None and facts.platform.architecture == "amd64"
    assert facts.created == "2026-01-01T00:00:00Z"
    amd64 = pushed.attested.by_digest(pushed.attested.children[("linux", "amd64", None)])
    layer_sizes = sum(layer["size"] for layer in amd64.json()["layers"])
    assert facts.compressed_size == layer_sizes


async def test_manifest_facts_of_single_platform(
    registry: RegistryServer, make_client: ClientFactory
) -> None:
    pushed = push_standard_images(registry)
    async with make_client(registry.url) as client:
        facts = await client.manifest(ref("python:3.12-single"))
    assert not facts.is_index
    assert facts.digest == pushed.single.digest
    assert [p.label for p in facts.platforms] == ["linux/amd64"]
    assert facts.created == "2026-01-01T00:00:00Z"
    assert facts.compressed_size == sum(
        layer["size"] for layer in pushed.single.top.json()["layers"]
    )


async def test_platform_child(registry: RegistryServer, make_client: ClientFactory) -> None:
    pushed = push_standard_images(registry)
    index = pushed.docker_list.digest
    python = ref("python:3.12-docker")
    async with make_client(registry.url) as client:
        arm = await client.platform_child(python, index, "linux", "arm64", None)
        amd = await client.platform_child(python, index, "linux", "amd64", None)
        missing = await client.platform_child(python, index, "windows", "amd64", None)
        # Only the index was needed: no config blobs, no child manifests.
        assert client.stats.get == 1
    async with make_client(registry.url) as warm:
        assert await warm.platform_child(python, index, "linux", "arm64", "v8") == arm
        assert warm.stats.total == 0
    assert arm == pushed.docker_list.children[("linux", "arm64", "v8")]
    assert amd == pushed.docker_list.children[("linux", "amd64", None)]
    assert missing is None


async def test_children_of_an_index_skip_attestations_with_one_get(
    registry: RegistryServer,
    make_client: ClientFactory,
    fault_proxy: ProxyFactory,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    pushed = push_standard_images(registry)
    index = pushed.attested.digest
    python = ref("python:3.12-attest")
    proxy = fault_proxy(registry)
    async with make_client(proxy.url) as client:
        children = await client.children(python, index)
        assert (client.stats.head, client.stats.get, client.stats.token) == (0, 1, 0)
        again = await client.children(python, index)
        assert client.stats.total == 1
    assert [(r.method, r.path) for r in proxy.requests] == [
        ("GET", f"/v2/library/python/manifests/{index}")
    ]
    move_clock(monkeypatch, 10 * 365 * 86400)
    async with make_client(proxy.url) as warm:  # from disk, and never expires
        from_disk = await warm.children(python, index)
        assert warm.stats.total == 0
    assert children is not None
    assert [(p.os, p.architecture, p.variant, p.digest) for p in children] == [
        ("linux", "amd64", None, pushed.attested.children[("linux", "amd64", None)]),
        ("linux", "arm64", "v8", pushed.attested.children[("linux", "arm64", "v8")]),
    ]
    assert not {p.digest for p in children} & set(pushed.attested.attestations.values())
    assert again == from_disk == children


async def test_children_of_a_single_manifest_is_none(
    registry: RegistryServer, make_client: ClientFactory, fault_proxy: ProxyFactory
) -> None:
    pushed = push_standard_images(registry)
    single = pushed.single.digest
    python = ref("python:3.12-single")
    proxy = fault_proxy(registry)
    async with make_client(proxy.url) as client:
        assert await client.children(python, single) is None
        sent = client.stats.total
        assert await client.children(python, single) is None
        assert client.stats.total == sent
    # What is cached for a non-index is its facts (platform_child needs the
    # platform, which only the config has): the manifest, then its config.
    config = pushed.single.top.json()["config"]["digest"]
    assert [(r.method, r.path) for r in proxy.requests] == [
        ("GET", f"/v2/library/python/manifests/{single}"),
        ("GET", f"/v2/library/python/blobs/{config}"),
    ]


async def test_children_answered_from_cached_manifest_facts(
    registry: RegistryServer, make_client: ClientFactory
) -> None:
    pushed = push_standard_images(registry)
    python = ref("python:3.12")
    async with make_client(registry.url) as client:
        facts = await client.manifest(python, pushed.multi.digest)
        sent = client.stats.total
        children = await client.children(python, pushed.multi.digest)
        assert client.stats.total == sent
    assert children == facts.platforms
    assert {p.digest for p in children} == set(pushed.multi.children.values())


async def test_digest_exists(registry: RegistryServer, make_client: ClientFactory) -> None:
    pushed = push_standard_images(registry)
    python = ref("python:3.12")
    async with make_client(registry.url) as client:
        assert await client.digest_exists(python, pushed.multi.digest)
        assert not await client.digest_exists(python, "sha256:" + "1" * 64)
    registry.delete_manifest("library/python", pushed.single.digest)
    async with make_client(registry.url, tag_ttl=0) as client:
        assert not await client.digest_exists(python, pushed.single.digest)


async def test_resolve_digest_only_reference(
    registry: RegistryServer, make_client: ClientFactory
) -> None:
    pushed = push_standard_images(registry)
    async with make_client(registry.url) as client:
        resolution = await client.resolve(ref(f"python@{pushed.multi.digest}"))
        assert resolution.digest == pushed.multi.digest
        with pytest.raises(RegistryError) as caught:
            await client.resolve(ref("python@sha256:" + "2" * 64))
    assert caught.value.kind is ErrorKind.DIGEST_NOT_FOUND
    assert caught.value.message == (
        f"docker.io/library/python: digest sha256:{'2' * 64} not found (via mirror {registry.host})"
    )


async def test_tags_follow_same_origin_pagination_only(
    registry: RegistryServer, make_client: ClientFactory, fault_proxy: ProxyFactory
) -> None:
    push_standard_images(registry)
    proxy = fault_proxy(registry)
    elsewhere = fault_proxy(registry, host="127.0.0.2")
    # distribution 2.8 does not paginate tags itself: the proxy adds the
    # Link headers a paginating registry (Quay, ACR, distribution 3) sends.
    proxy.add_fault(
        Fault(
            headers={"Link": '</v2/library/python/tags/list?n=1000&last=3.12>; rel="next"'},
            path=r"/tags/list\?n=1000$",
        )
    )
    proxy.add_fault(
        Fault(
            headers={"Link": f'<{elsewhere.url}/v2/library/python/tags/list?last=z>; rel="next"'},
            path=r"last=3\.12",
        )
    )
    async with make_client(proxy.url) as client:
        tags = await client.tags(ref("python"))
    assert sorted(tags) == ["3.12", "3.12-attest", "3.12-docker", "3.12-single"]
    assert [r.target for r in proxy.requests_matching(r"/tags/list")] == [
        "/v2/library/python/tags/list?n=1000",
        "/v2/library/python/tags/list?n=1000&last=3.12",
    ]
    assert elsewhere.requests == []


async def test_tags_of_missing_repository(
    registry: RegistryServer, make_client: ClientFactory
) -> None:
    async with make_client(registry.url) as client:
        with pytest.raises(RegistryError) as caught:
            await client.tags(ref("nosuchimage"))
    assert caught.value.kind is ErrorKind.REPOSITORY_NOT_FOUND
