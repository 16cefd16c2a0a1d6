"""Basic and Bearer auth against the real registry, with credentials found
where docker keeps them (a temporary DOCKER_CONFIG, a credential helper)."""

from __future__ import annotations

import asyncio
import json
import os
import stat
from pathlib import Path

import pytest
from registry_client_support import (
    ClientFactory,
    StoreFactory,
    auth_entry,
    push_standard_images,
    ref,
)

from dockpin.registry import ErrorKind, RegistryError
from support.fixtures import ProxyFactory, RegistryFactory
from support.registry import RegistryServer, TokenAuth, skopeo_digest


def write_helper(directory: Path, name: str, script: str) -> Path:
    """A ``docker-credential-<name>`` executable in ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"docker-credential-{name}"
    path.write_text("#!/bin/sh\n" + script)
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return path


def path_with(directory: Path) -> dict[str, str]:
    return {"PATH": f"{directory}{os.pathsep}{os.environ.get('PATH', os.defpath)}"}


async def test_basic_auth_from_docker_config(
    basic_registry: RegistryServer,
    make_client: ClientFactory,
    make_store: StoreFactory,
    fault_proxy: ProxyFactory,
) -> None:
    pushed = push_standard_images(basic_registry)
    proxy = fault_proxy(basic_registry)
    store = make_store({"auths": {f"http://{proxy.host}/v2/": auth_entry("alice", "s3cret")}})
    async with make_client(proxy.url, credentials=store) as client:
        first = await client.resolve(ref("python:3.12"))
        second = await client.resolve(ref("python:3.12-docker"))
    assert first.digest == skopeo_digest(
        basic_registry.host, "library/python", "3.12", creds=("alice", "s3cret")
    )
    assert second.digest == pushed.docker_list.digest
    # One 401 to learn the scheme; after that Basic is sent up front, to the
    # digest HEAD that confirms each tag's answer too.
    assert [(r.method, r.path, r.status) for r in proxy.requests] == [
        ("HEAD", "/v2/library/python/manifests/3.12", 401),
        ("HEAD", "/v2/library/python/manifests/3.12", 200),
        ("HEAD", f"/v2/library/python/manifests/{pushed.multi.digest}", 200),
        ("HEAD", "/v2/library/python/manifests/3.12-docker", 200),
        ("HEAD", f"/v2/library/python/manifests/{pushed.docker_list.digest}", 200),
    ]
    assert all(r.authorization for r in proxy.requests[1:])


async def test_basic_auth_without_credentials(
    basic_registry: RegistryServer, make_client: ClientFactory
) -> None:
    async with make_client(basic_registry.url) as client:
        with pytest.raises(RegistryError) as caught:
            await client.resolve(ref("python:3.12"))
    assert caught.value.kind is ErrorKind.UNAUTHORIZED
    assert caught.value.message == (
        f"{basic_registry.host} requires a login and no credentials were found for "
        f"{basic_registry.host}"
    )


async def test_wrong_password_is_reported_without_the_secret(
    basic_registry: RegistryServer,
    make_client: ClientFactory,
    make_store: StoreFactory,
    fault_proxy: ProxyFactory,
) -> None:
    proxy = fault_proxy(basic_registry)
    store = make_store({"auths": {proxy.host: auth_entry("alice", "wrong-pass")}})
    async with make_client(proxy.url, credentials=store) as client:
        with pytest.raises(RegistryError) as caught:
            await client.resolve(ref("python:3.12"))
        assert "wrong-pass" not in repr(client) + repr(store)
    assert caught.value.kind is ErrorKind.UNAUTHORIZED
    assert caught.value.message.startswith(
        f"docker.io/library/python: credentials for {proxy.host} (from "
    )
    assert "wrong-pass" not in str(caught.value) + repr(caught.value)
    # At most one re-authentication per request: no 401 loop.
    assert [r.status for r in proxy.requests] == [401, 401]


async def test_docker_hub_credentials_are_not_sent_to_a_mirror(
    basic_registry: RegistryServer,
    make_client: ClientFactory,
    make_store: StoreFactory,
    fault_proxy: ProxyFactory,
) -> None:
    push_standard_images(basic_registry)
    proxy = fault_proxy(basic_registry)
    store = make_store({"auths": {"https://index.docker.io/v1/": auth_entry("alice", "s3cret")}})
    async with make_client(proxy.url, credentials=store) as client:
        with pytest.raises(RegistryError) as caught:
            await client.resolve(ref("python:3.12"))
    assert caught.value.kind is ErrorKind.UNAUTHORIZED
    assert all(r.authorization is None for r in proxy.requests)


async def test_credential_helper_from_cred_helpers(
    basic_registry: RegistryServer,
    make_client: ClientFactory,
    make_store: StoreFactory,
    tmp_path: Path,
) -> None:
    pushed = push_standard_images(basic_registry)
    bin_dir = tmp_path / "bin"
    seen = tmp_path / "helper-stdin"
    write_helper(
        bin_dir,
        "test",
        f'[ "$1" = get ] || exit 2\ncat > {seen}\n'
        'echo \'{"ServerURL":"x","Username":"alice","Secret":"s3cret"}\'\n',
    )
    store = make_store(
        {"credHelpers": {basic_registry.host: "test"}, "credsStore": "absent"},
        env=path_with(bin_dir),
    )
    async with make_client(basic_registry.url, credentials=store) as client:
        resolution = await client.resolve(ref("python:3.12"))
    assert resolution.digest == pushed.multi.digest
    assert seen.read_text() == basic_registry.host


async def test_default_creds_store_and_docker_hub_server_url(
    make_store: StoreFactory, tmp_path: Path
) -> None:
    bin_dir = tmp_path / "bin"
    write_helper(
        bin_dir,
        "desktop",
        'read server\n[ "$server" = "https://index.docker.io/v1/" ] || '
        '{ echo "credentials not found in native keychain"; exit 1; }\n'
        'echo \'{"Username":"bob","Secret":"hub-secret"}\'\n',
    )
    store = make_store({"credsStore": "desktop"}, env=path_with(bin_dir))
    hub = await store.lookup("registry-1.docker.io")
    other = await store.lookup("ghcr.io")
    assert hub is not None and (hub.username, hub.password) == ("bob", "hub-secret")
    assert "hub-secret" not in repr(hub)
    assert other is None
    assert store.notes == {}


async def test_failing_helper_falls_back_to_anonymous_and_says_so(
    registry: RegistryServer,
    basic_registry: RegistryServer,
    make_client: ClientFactory,
    make_store: StoreFactory,
    tmp_path: Path,
) -> None:
    pushed = push_standard_images(registry)
    bin_dir = tmp_path / "bin"
    write_helper(bin_dir, "broken", "echo 'keychain locked' >&2\nexit 3\n")
    config = {"credsStore": "broken", "credHelpers": {basic_registry.host: "missing"}}
    store = make_store(config, env=path_with(bin_dir))
    async with make_client(registry.url, credentials=store) as client:
        resolution = await client.resolve(ref("python:3.12"))
    assert resolution.digest == pushed.multi.digest

    async with make_client(basic_registry.url, credentials=store) as client:
        with pytest.raises(RegistryError) as caught:
            await client.resolve(ref("python:3.12"))
    assert caught.value.kind is ErrorKind.UNAUTHORIZED
    assert "docker-credential-missing not found on PATH" in caught.value.message


async def test_helper_failure_and_timeout_are_noted(
    make_store: StoreFactory, tmp_path: Path
) -> None:
    bin_dir = tmp_path / "bin"
    write_helper(bin_dir, "broken", "echo 'keychain locked' >&2\nexit 3\n")
    write_helper(bin_dir, "slow", "sleep 5\n")
    store = make_store(
        {"credHelpers": {"a.example": "broken", "b.example": "slow"}},
        env=path_with(bin_dir),
        helper_timeout=0.3,
    )
    assert await store.lookup("a.example") is None
    assert await store.lookup("b.example") is None
    assert store.notes["a.example"] == [
        "credential helper docker-credential-broken failed: keychain locked"
    ]
    assert store.notes["b.example"] == [
        "credential helper docker-credential-slow timed out after 0.3s"
    ]


async def test_containers_auth_files(make_store: StoreFactory, tmp_path: Path) -> None:
    registry_auth = tmp_path / "registry-auth.json"
    registry_auth.write_text(
        json.dumps(
            {
                "auths": {
                    "quay.io/team": auth_entry("team", "team-pass"),
                    "quay.io": auth_entry("any", "any-pass"),
                }
            }
        )
    )
    runtime = tmp_path / "run"
    (runtime / "containers").mkdir(parents=True)
    (runtime / "containers" / "auth.json").write_text(
        json.dumps({"auths": {"https://ghcr.io": auth_entry("gh", "gh-pass")}})
    )
    store = make_store(
        {"auths": {"ghcr.io/v1/": {"identitytoken": "refresh-me"}}},
        env={"REGISTRY_AUTH_FILE": str(registry_auth), "XDG_RUNTIME_DIR": str(runtime)},
    )
    team = await store.lookup("quay.io", "team/app")
    other = await store.lookup("quay.io", "someone/else")
    ghcr = await store.lookup("ghcr.io")
    assert team is not None and team.username == "team"
    assert other is not None and other.username == "any"
    # DOCKER_CONFIG comes first: its identity token wins over auth.json.
    assert ghcr is not None and ghcr.identity_token == "refresh-me"


async def test_token_auth_with_credentials(
    token_registry: RegistryServer,
    make_client: ClientFactory,
    make_store: StoreFactory,
) -> None:
    pushed = push_standard_images(token_registry)
    token_server = token_registry.token_server
    token_server.requests.clear()  # the push's own token requests
    store = make_store({"auths": {token_registry.host: auth_entry("alice", "s3cret")}})
    async with make_client(token_registry.url, credentials=store) as client:
        first = await client.resolve(ref("python:3.12"))
        second = await client.resolve(ref("python:3.12-single"))
        # 3.12: 401, token, tag HEAD, digest HEAD; 3.12-single: tag HEAD and
        # digest HEAD with the token already held.
        assert client.stats.token == 1
        assert client.stats.head == 5
    (request,) = token_server.requests
    assert (first.digest, second.digest) == (pushed.multi.digest, pushed.single.digest)
    assert first.digest == skopeo_digest(
        token_registry.host, "library/python", "3.12", creds=("alice", "s3cret")
    )
    assert request.username == "alice"
    assert request.scopes == ["repository:library/python:pull"]
    assert request.service == "test-registry"


async def test_token_auth_with_access_token_only(
    token_registry: RegistryServer, make_client: ClientFactory, make_store: StoreFactory
) -> None:
    pushed = push_standard_images(token_registry)
    token_registry.token_server.access_token_only = True
    token_registry.token_server.expires_in = None
    store = make_store({"auths": {token_registry.host: auth_entry("alice", "s3cret")}})
    async with make_client(token_registry.url, credentials=store) as client:
        resolution = await client.resolve(ref("python:3.12"))
    assert resolution.digest == pushed.multi.digest


async def test_anonymous_token_auth(
    registry_factory: RegistryFactory, make_client: ClientFactory
) -> None:
    server = registry_factory(TokenAuth(anonymous_pull=True), name="anon-token")
    pushed = push_standard_images(server)
    server.push("library/ubuntu", "24.04", pushed.single)
    server.token_server.requests.clear()  # the push's own token requests
    async with make_client(server.url) as client:
        resolution = await client.resolve(ref("python:3.12"))
        # The challenge is remembered: another repository gets its token
        # before the first request instead of after a 401.
        await client.resolve(ref("ubuntu:24.04"))
        # python: 401 + tag HEAD + digest HEAD; ubuntu: tag HEAD + digest HEAD.
        assert (client.stats.head, client.stats.token) == (5, 2)
    assert resolution.digest == pushed.multi.digest
    assert all(r.authorization is None for r in server.token_server.requests)


async def test_token_without_pull_access_stops_after_one_retry(
    token_registry: RegistryServer, make_client: ClientFactory
) -> None:
    # Docker Hub answers private or missing repositories this way: an
    # anonymous token that grants nothing, then 401 again.
    push_standard_images(token_registry)
    async with make_client(token_registry.url) as client:
        with pytest.raises(RegistryError) as caught:
            await client.resolve(ref("python:3.12"))
        assert (client.stats.head, client.stats.token) == (2, 1)
    assert caught.value.kind is ErrorKind.UNAUTHORIZED
    assert caught.value.message == (
        f"docker.io/library/python: authentication required (via mirror "
        f"{token_registry.host}); the repository may not exist, or needs a login to "
        f"{token_registry.host}"
    )


async def test_token_server_rejecting_credentials(
    token_registry: RegistryServer, make_client: ClientFactory, make_store: StoreFactory
) -> None:
    store = make_store({"auths": {token_registry.host: auth_entry("alice", "nope")}})
    async with make_client(token_registry.url, credentials=store) as client:
        with pytest.raises(RegistryError) as caught:
            await client.resolve(ref("python:3.12"))
    assert caught.value.kind is ErrorKind.UNAUTHORIZED
    assert caught.value.message.startswith(
        f"token server {token_registry.token_server.url.removeprefix('http://')} rejected "
        f"the credentials for {token_registry.host}"
    )


async def test_expired_token_is_renewed(
    registry_factory: RegistryFactory, make_client: ClientFactory
) -> None:
    server = registry_factory(TokenAuth(anonymous_pull=True, expires_in=1), name="short-token")
    push_standard_images(server)
    async with make_client(server.url, tag_ttl=0) as client:
        await client.resolve(ref("python:3.12"))
        await asyncio.sleep(1.0)
        await client.resolve(ref("python:3.12"))
        assert client.stats.token == 2
    # Renewed before use, so the registry never had to refuse a stale token:
    # one 401, then a tag HEAD and a digest HEAD per resolution.
    assert client.stats.head == 5


async def test_identity_token_is_used_with_a_token_server_without_oauth(
    registry_factory: RegistryFactory, make_client: ClientFactory, make_store: StoreFactory
) -> None:
    # The test token server only answers GET; the OAuth2 POST gets 501 and
    # the client falls back to Basic with the identity token as password.
    server = registry_factory(TokenAuth(users={"<token>": "refresh-tok"}), name="idtoken")
    pushed = push_standard_images(server)
    server.token_server.requests.clear()  # the push's own token requests
    store = make_store({"auths": {server.host: {"identitytoken": "refresh-tok"}}})
    async with make_client(server.url, credentials=store) as client:
        resolution = await client.resolve(ref("python:3.12"))
    assert resolution.digest == pushed.multi.digest
    assert [r.method for r in server.token_server.requests] == ["GET"]
