"""Narrow unit tests of parsing and policy: challenges, Retry-After, token
answers, credential keys, endpoints and the token-realm guard."""

from __future__ import annotations

import email.utils
import json
from pathlib import Path

import pytest
from registry_client_support import StoreFactory

from dockpin.registry import ErrorKind, ManifestFacts, Platform, RegistryConfig, RegistryError
from dockpin.registry.auth import (
    Challenge,
    check_realm,
    choose_challenge,
    parse_challenges,
    parse_token_response,
)
from dockpin.registry.endpoints import endpoint_for, normalise_registry_key
from dockpin.registry.transport import parse_retry_after


def test_challenge_scope_with_commas_is_one_value() -> None:
    header = (
        'Bearer realm="https://auth.example/token",service="reg",'
        'scope="repository:team/app:pull,push"'
    )
    assert parse_challenges([header]) == [
        Challenge(
            "bearer",
            {
                "realm": "https://auth.example/token",
                "service": "reg",
                "scope": "repository:team/app:pull,push",
            },
        )
    ]


def test_several_challenges_in_one_or_many_headers_prefer_bearer() -> None:
    one_header = 'Basic realm="basic", Bearer realm="https://a/token",service="s"'
    many = ['Basic realm="basic"', 'Bearer realm="https://a/token"']
    for values in ([one_header], many):
        challenges = parse_challenges(values)
        assert [c.scheme for c in challenges] == ["basic", "bearer"]
        chosen = choose_challenge(challenges)
        assert chosen is not None and chosen.params["realm"] == "https://a/token"


def test_challenge_quirks() -> None:
    assert parse_challenges(["Negotiate abc==, Basic realm=unquoted"]) == [
        Challenge("negotiate", {}),
        Challenge("basic", {"realm": "unquoted"}),
    ]
    assert parse_challenges(['Bearer realm="a\\"b"'])[0].params["realm"] == 'a"b'
    assert choose_challenge(parse_challenges(["Negotiate abc"])) is None


def test_retry_after() -> None:
    assert parse_retry_after("120") == 120.0
    assert parse_retry_after(None) is None
    assert parse_retry_after("soon") is None
    when = email.utils.formatdate(1_000_060, usegmt=True)
    assert parse_retry_after(when, now=1_000_000) == pytest.approx(60)
    assert parse_retry_after(email.utils.formatdate(0, usegmt=True), now=1_000_000) == 0


def test_token_response() -> None:
    assert parse_token_response(b'{"token":"t","expires_in":300}') == ("t", 300.0)
    assert parse_token_response(b'{"access_token":"a"}') == ("a", 60.0)
    assert parse_token_response(b'{"token":"t","expires_in":"x"}') == ("t", 60.0)
    for bad in (b'{"expires_in":5}', b"[]", b"<html>", b'{"token":""}'):
        with pytest.raises(ValueError):
            parse_token_response(bad)


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ("https://index.docker.io/v1/", "docker.io"),
        ("index.docker.io", "docker.io"),
        ("registry-1.docker.io", "docker.io"),
        ("docker.io", "docker.io"),
        ("https://ghcr.io", "ghcr.io"),
        ("ghcr.io/v1/", "ghcr.io"),
        ("http://LOCALHOST:5000/v2/", "localhost:5000"),
    ],
)
def test_credential_keys_are_normalised(key: str, expected: str) -> None:
    assert normalise_registry_key(key) == expected


async def test_config_json_entries(make_store: StoreFactory) -> None:
    store = make_store(
        {
            "auths": {
                "https://index.docker.io/v1/": {"auth": "YWxpY2U6czNjcjp0"},  # alice:s3cr:t
                "plain.example": {"username": "u", "password": "p"},
                "broken.example": {"auth": "%%%not-base64"},
                "empty.example": {},
            }
        }
    )
    hub = await store.lookup("index.docker.io")
    assert hub is not None and (hub.username, hub.password) == ("alice", "s3cr:t")
    plain = await store.lookup("plain.example")
    assert plain is not None and (plain.username, plain.password) == ("u", "p")
    assert await store.lookup("broken.example") is None
    assert await store.lookup("empty.example") is None
    assert "not valid base64" in store.notes["broken.example"][0]


async def test_unreadable_config_is_noted_not_fatal(
    make_store: StoreFactory, tmp_path: Path
) -> None:
    store = make_store()
    config = tmp_path / "docker-config-0" / "config.json"
    config.write_text("{broken")
    assert await store.lookup("ghcr.io") is None
    assert store.notes["ghcr.io"] == [f"{config} is not valid JSON"]


def test_docker_hub_endpoint_and_mirrors() -> None:
    hub = endpoint_for("docker.io", RegistryConfig())
    assert (hub.base_url, hub.credential_host, hub.display) == (
        "https://registry-1.docker.io",
        "docker.io",
        "docker.io",
    )
    local = endpoint_for("localhost:5000", RegistryConfig())
    assert local.base_url == "http://localhost:5000"
    mirrored = endpoint_for(
        "docker.io", RegistryConfig(mirrors={"index.docker.io": "https://mirror.example/"})
    )
    assert (mirrored.base_url, mirrored.credential_host) == (
        "https://mirror.example",
        "mirror.example",
    )
    assert endpoint_for("ghcr.io", RegistryConfig(insecure=["ghcr.io"])).scheme == "http"


def test_plain_http_mirror_needs_to_be_listed_as_insecure() -> None:
    config = RegistryConfig(mirrors={"docker.io": "http://mirror.corp:5000"})
    with pytest.raises(RegistryError) as caught:
        endpoint_for("docker.io", config)
    assert caught.value.kind is ErrorKind.INSECURE_REFUSED
    allowed = RegistryConfig(
        mirrors={"docker.io": "http://mirror.corp:5000"}, insecure=["mirror.corp"]
    )
    assert endpoint_for("docker.io", allowed).base_url == "http://mirror.corp:5000"


@pytest.mark.parametrize(
    ("registry", "realm", "allowed"),
    [
        ("ghcr.io", "https://ghcr.io/token", True),
        ("ghcr.io", "http://ghcr.io/token", False),
        ("ghcr.io", "https://127.0.0.1/token", False),
        ("ghcr.io", "https://10.1.2.3/token", False),
        ("ghcr.io", "https://169.254.169.254/latest", False),
        ("ghcr.io", "https://[::1]:8443/token", False),
        ("ghcr.io", "file:///etc/passwd", False),
        ("127.0.0.1:5000", "http://127.0.0.1:5001/token", True),
        ("10.0.0.5:5000", "https://10.0.0.6/token", True),
    ],
)
def test_token_realm_guard(registry: str, realm: str, allowed: bool) -> None:
    endpoint = endpoint_for(registry, RegistryConfig(insecure=["10.0.0.5:5000"]))
    if allowed:
        check_realm(realm, endpoint)
    else:
        with pytest.raises(RegistryError):
            check_realm(realm, endpoint)


def test_manifest_facts_round_trip_and_reject_junk() -> None:
    platform = Platform("linux", "arm64", "v8", "sha256:" + "a" * 64)
    facts = ManifestFacts(
        digest="sha256:" + "b" * 64,
        media_type="application/vnd.oci.image.index.v1+json",
        platforms=(platform,),
        platform=platform,
        created="2026-01-01T00:00:00Z",
        compressed_size=123,
    )
    assert ManifestFacts.from_json(json.loads(json.dumps(facts.to_json()))) == facts
    junk_values: list[object] = [
        None,
        [],
        {"digest": 1},
        {**facts.to_json(), "platforms": [{"os": 1}]},
    ]
    for junk in junk_values:
        with pytest.raises(ValueError):
            ManifestFacts.from_json(junk)


def test_config_validation() -> None:
    with pytest.raises(ValueError):
        RegistryConfig(timeout=0)
    with pytest.raises(ValueError):
        RegistryConfig(max_concurrency_per_host=0)
