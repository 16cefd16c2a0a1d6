"""Image references: the distribution/reference grammar and Docker's normalisation.

Tables follow the reference implementation's own tests (distribution/reference
``reference_test.go`` and ``normalize_test.go``, as ``ParseNormalizedNamed``
sees them) plus the rules in ``shared/notes/registry.md``.
"""

from __future__ import annotations

import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dockpin.references import (
    DOCKER_HUB,
    ImageRef,
    ReferenceError,
    Span,
    familiar_name,
    parse_reference,
    split_domain,
    try_parse_reference,
)

SHA = "sha256:" + "f" * 64
SHA_B = "sha256:" + "0123456789abcdef" * 4
SHA512 = "sha512:" + "f" * 128
HEX64 = "1a3f5e7d9c1b3a5f7e9d1c3b5a7f9e1d3c5b7a9f1e3d5d7c9b1a3f5e7d9c1b3a"

# (input, domain, path, tag, digest) after normalisation.
VALID: list[tuple[str, str, str, str | None, str | None]] = [
    # Familiar names: Docker Hub, official images under library/.
    ("python", "docker.io", "library/python", None, None),
    ("python:3.12", "docker.io", "library/python", "3.12", None),
    ("python:3.12-slim-bookworm", "docker.io", "library/python", "3.12-slim-bookworm", None),
    (f"python@{SHA}", "docker.io", "library/python", None, SHA),
    (f"python:3.12@{SHA}", "docker.io", "library/python", "3.12", SHA),
    ("library/python", "docker.io", "library/python", None, None),
    ("library/foo/bar", "docker.io", "library/foo/bar", None, None),
    ("bitnami/redis:7.2", "docker.io", "bitnami/redis", "7.2", None),
    ("store/foo/bar", "docker.io", "store/foo/bar", None, None),
    ("other/library", "docker.io", "other/library", None, None),
    ("test_com", "docker.io", "library/test_com", None, None),
    ("test_com/foo", "docker.io", "test_com/foo", None, None),
    ("docker/migrator", "docker.io", "docker/migrator", None, None),
    # docker.io and index.docker.io are the same registry.
    ("docker.io/python", "docker.io", "library/python", None, None),
    ("docker.io/library/python:3.12", "docker.io", "library/python", "3.12", None),
    ("docker.io/library/foo/bar", "docker.io", "library/foo/bar", None, None),
    ("docker.io/bitnami/redis", "docker.io", "bitnami/redis", None, None),
    ("index.docker.io/x", "docker.io", "library/x", None, None),
    ("index.docker.io/library/debian", "docker.io", "library/debian", None, None),
    ("index.docker.io/docker/docker", "docker.io", "docker/docker", None, None),
    (f"docker.io/{HEX64}", "docker.io", f"library/{HEX64}", None, None),
    # Without a '/', a ':' is a tag, never a port: these are Docker Hub images.
    ("test.com:tag", "docker.io", "library/test.com", "tag", None),
    ("test.com:5000", "docker.io", "library/test.com", "5000", None),
    ("localhost:5000", "docker.io", "library/localhost", "5000", None),
    ("localhost", "docker.io", "library/localhost", None, None),
    ("192.168.1.1", "docker.io", "library/192.168.1.1", None, None),
    ("192.168.1.1:5000", "docker.io", "library/192.168.1.1", "5000", None),
    ("foo_bar.com:8080", "docker.io", "library/foo_bar.com", "8080", None),
    ("foo/foo_bar.com:8080", "docker.io", "foo/foo_bar.com", "8080", None),
    (f"{HEX64}:tag", "docker.io", f"library/{HEX64}", "tag", None),
    (HEX64[:-1], "docker.io", f"library/{HEX64[:-1]}", None, None),
    # localhost is always a registry when it is the first component.
    ("localhost/app", "localhost", "app", None, None),
    ("localhost/app:1.0", "localhost", "app", "1.0", None),
    ("localhost:5000/app", "localhost:5000", "app", None, None),
    ("localhost:5000/app:1.0", "localhost:5000", "app", "1.0", None),
    ("localhost:5000/a/b/c", "localhost:5000", "a/b/c", None, None),
    # A '.' or ':' in the first component makes it a registry.
    ("example.com/a/b:tag", "example.com", "a/b", "tag", None),
    ("example.com/privatebase", "example.com", "privatebase", None, None),
    ("example.com:8000/private/moonbase", "example.com:8000", "private/moonbase", None, None),
    ("test:5000/repo", "test:5000", "repo", None, None),
    ("test:5000/repo:tag", "test:5000", "repo", "tag", None),
    (f"test:5000/repo@{SHA}", "test:5000", "repo", None, SHA),
    (f"test:5000/repo:tag@{SHA}", "test:5000", "repo", "tag", SHA),
    ("test-com:8080/foo", "test-com:8080", "foo", None, None),
    ("sub-dom1.foo.com/bar/baz/quux", "sub-dom1.foo.com", "bar/baz/quux", None, None),
    (
        "sub-dom1.foo.com/bar/baz/quux:some-long-tag",
        "sub-dom1.foo.com",
        "bar/baz/quux",
        "some-long-tag",
        None,
    ),
    (
        "b.gcr.io/test.example.com/my-app:test.example.com",
        "b.gcr.io",
        "test.example.com/my-app",
        "test.example.com",
        None,
    ),
    ("xn--n3h.com/myimage:xn--n3h.com", "xn--n3h.com", "myimage", "xn--n3h.com", None),
    ("xn--n3h.com:18080/foo", "xn--n3h.com:18080", "foo", None, None),
    (
        f"xn--7o8h.com/myimage:xn--7o8h.com@{SHA512}",
        "xn--7o8h.com",
        "myimage",
        "xn--7o8h.com",
        SHA512,
    ),
    ("192.168.1.1/repo", "192.168.1.1", "repo", None, None),
    ("192.168.1.1:5000/repo", "192.168.1.1:5000", "repo", None, None),
    ("192.168.1.1:5000/repo:5050", "192.168.1.1:5000", "repo", "5050", None),
    ("127.0.0.1:5000/library/debian", "127.0.0.1:5000", "library/debian", None, None),
    ("127.0.0.1:5000/debian", "127.0.0.1:5000", "debian", None, None),
    ("192.168.0.1:8/debian", "192.168.0.1:8", "debian", None, None),
    ("ghcr.io/org/app:1.0", "ghcr.io", "org/app", "1.0", None),
    (
        "gcr.io/distroless/static-debian12:nonroot",
        "gcr.io",
        "distroless/static-debian12",
        "nonroot",
        None,
    ),
    ("mcr.microsoft.com/dotnet/sdk:8.0", "mcr.microsoft.com", "dotnet/sdk", "8.0", None),
    (
        "public.ecr.aws/docker/library/python:3.12",
        "public.ecr.aws",
        "docker/library/python",
        "3.12",
        None,
    ),
    (
        "quay.io/prometheus/node-exporter:v1.8.0",
        "quay.io",
        "prometheus/node-exporter",
        "v1.8.0",
        None,
    ),
    # IPv6 hosts, with and without a port.
    ("[::1]:5000/x", "[::1]:5000", "x", None, None),
    ("[::1]:5000/repo:tag", "[::1]:5000", "repo", "tag", None),
    ("[2001:db8::1]/repo", "[2001:db8::1]", "repo", None, None),
    ("[2001:db8:1:2:3:4:5:6]/repo:tag", "[2001:db8:1:2:3:4:5:6]", "repo", "tag", None),
    ("[2001:db8::1]:5000/repo", "[2001:db8::1]:5000", "repo", None, None),
    ("[2001:db8::1]:5000/repo:tag", "[2001:db8::1]:5000", "repo", "tag", None),
    (f"[2001:db8::1]:5000/repo@{SHA}", "[2001:db8::1]:5000", "repo", None, SHA),
    (f"[2001:db8::1]:5000/repo:tag@{SHA}", "[2001:db8::1]:5000", "repo", "tag", SHA),
    ("[2001:db8::]:5000/repo", "[2001:db8::]:5000", "repo", None, None),
    ("[fc00::1]:5000/docker/docker", "[fc00::1]:5000", "docker/docker", None, None),
    # An uppercase letter in the first component makes it a registry host.
    ("Foo/bar", "Foo", "bar", None, None),
    ("FOO/bar", "FOO", "bar", None, None),
    ("Docker/docker", "Docker", "docker", None, None),
    ("DOCKER/docker:1", "DOCKER", "docker", "1", None),
    # Separators inside path components.
    ("docker-rules/docker", "docker.io", "docker-rules/docker", None, None),
    ("docker---rules/docker", "docker.io", "docker---rules/docker", None, None),
    ("dock__er/docker", "docker.io", "dock__er/docker", None, None),
    ("a_b--c/d.e-f", "docker.io", "a_b--c/d.e-f", None, None),
    ("d/docker", "docker.io", "d/docker", None, None),
    ("jess/t", "docker.io", "jess/t", None, None),
    ("a", "docker.io", "library/a", None, None),
    ("0", "docker.io", "library/0", None, None),
    (
        "thisisthesongthatneverendsitgoesonandonandonthisisthesongthatnev",
        "docker.io",
        "library/thisisthesongthatneverendsitgoesonandonandonthisisthesongthatnev",
        None,
        None,
    ),
    # Tags: [\w][\w.-]{0,127}, uppercase allowed.
    ("lowercase:Uppercase", "docker.io", "library/lowercase", "Uppercase", None),
    ("a:_", "docker.io", "library/a", "_", None),
    ("a:0", "docker.io", "library/a", "0", None),
    ("a:v1.2.3-rc.1_build-4", "docker.io", "library/a", "v1.2.3-rc.1_build-4", None),
    ("a:" + "t" * 128, "docker.io", "library/a", "t" * 128, None),
    ("a:1--__..x", "docker.io", "library/a", "1--__..x", None),
    # Digests: other algorithms follow the grammar.
    (f"a@{SHA_B}", "docker.io", "library/a", None, SHA_B),
    (f"a@{SHA512}", "docker.io", "library/a", None, SHA512),
    ("a@sha384:" + "a" * 96, "docker.io", "library/a", None, "sha384:" + "a" * 96),
    (
        "a@multihash+base58:" + "0" * 32,
        "docker.io",
        "library/a",
        None,
        "multihash+base58:" + "0" * 32,
    ),
    (
        "a@s.h-a_b+x2:" + "AbCdEf0123456789" * 2,
        "docker.io",
        "library/a",
        None,
        "s.h-a_b+x2:" + "AbCdEf0123456789" * 2,
    ),
    ("a:latest@" + SHA, "docker.io", "library/a", "latest", SHA),
    # Length limits: 255 characters of (normalised) path; the host does not count.
    (
        "a/" * 127 + "a:tag-puts-this-over-max",
        "docker.io",
        "a/" * 127 + "a",
        "tag-puts-this-over-max",
        None,
    ),
    ("example.com/" + "a" * 255 + ":tag", "example.com", "a" * 255, "tag", None),
    ("a" * 247, "docker.io", "library/" + "a" * 247, None, None),
]


@pytest.mark.parametrize(("text", "domain", "path", "tag", "digest"), VALID, ids=lambda v: v)
def test_valid_reference(
    text: str, domain: str, path: str, tag: str | None, digest: str | None
) -> None:
    ref = parse_reference(text)
    assert (ref.domain, ref.path, ref.tag, ref.digest) == (domain, path, tag, digest)
    assert ref.text == text
    assert ref.repository == f"{domain}/{path}"
    assert ref.is_docker_hub is (domain == DOCKER_HUB)
    # The spans cut the text back into what the user wrote.
    rebuilt = ref.name
    if ref.tag is not None:
        assert ref.tag_span is not None
        assert text[ref.tag_span.start : ref.tag_span.end] == tag
        assert text[ref.tag_span.start - 1] == ":"
        rebuilt += ":" + tag
    else:
        assert ref.tag_span is None
    if ref.digest is not None:
        assert ref.digest_span is not None
        assert text[ref.digest_span.start : ref.digest_span.end] == digest
        assert text[ref.digest_span.start - 1] == "@"
        rebuilt += "@" + digest
    else:
        assert ref.digest_span is None
    assert rebuilt == text
    assert try_parse_reference(text) == ref


# (input, a fragment of the reason)
INVALID: list[tuple[str, str]] = [
    ("", "empty"),
    (":justtag", "missing repository name"),
    (f"@{SHA}", "missing repository name"),
    (":tag@" + SHA, "missing repository name"),
    ("repo@sha256:" + "f" * 34, "64 lowercase hex"),
    ("repo@sha256:" + "f" * 65, "64 lowercase hex"),
    ("repo@sha256:" + "F" * 64, "lowercase hex"),
    ("repo@sha256:" + "f" * 63 + "F", "lowercase hex"),
    ("repo@sha256:" + "g" * 64, "malformed digest"),
    ("repo@sha256:", "malformed digest"),
    ("repo@sha256", "malformed digest"),
    ("repo@", "malformed digest"),
    ("repo@:" + "f" * 64, "malformed digest"),
    ("repo@1sha:" + "f" * 32, "malformed digest"),
    ("repo@sha-:" + "f" * 32, "malformed digest"),
    ("repo@sha._2:" + "f" * 32, "malformed digest"),
    ("repo@sha.2x:" + "f" * 32, "malformed digest"),
    ("repo@sha512:" + "f" * 31, "malformed digest"),
    ("repo@" + "f" * 64, "malformed digest"),
    ("repo@sha256:" + "f" * 64 + "@sha256:" + "f" * 64, "malformed digest"),
    ("Uppercase:tag", "lowercase"),
    ("test:5000/Uppercase/lowercase:tag", "lowercase"),
    ("docker/Docker", "lowercase"),
    ("docker.io/docker/Docker", "lowercase"),
    ("example.com/App:1.0", "lowercase"),
    ("Python", "lowercase"),
    ("Python:3.12", "lowercase"),
    ("aa/asdf$$^/aa", "invalid repository name"),
    ("https://github.com/docker/docker", "invalid registry host"),
    ("-docker", "invalid repository name"),
    ("-docker/docker", "invalid repository name"),
    ("docker-/docker", "invalid repository name"),
    ("-docker-/docker", "invalid repository name"),
    ("-docker.io/docker/docker", "invalid registry host"),
    ("docker.io-/x", "invalid registry host"),
    ("docker///docker", "invalid repository name"),
    ("docker.io/docker///docker", "invalid repository name"),
    ("docker/", "invalid repository name"),
    ("docker.io/", "invalid repository name"),
    ("example.com/", "invalid repository name"),
    ("/python", "invalid repository name"),
    ("python/", "invalid repository name"),
    ("____/____", "invalid repository name"),
    ("_docker/_docker", "invalid repository name"),
    # A '.' makes the first component a host, and these are not valid hosts.
    ("dock..er/docker", "invalid registry host"),
    ("dock_.er/docker", "invalid registry host"),
    ("dock-.er/docker", "invalid registry host"),
    ("a_b.c-d/e", "invalid registry host"),
    ("dock..er", "invalid repository name"),
    ("org/dock..er", "invalid repository name"),
    ("org/dock_.er", "invalid repository name"),
    ("a__b".replace("__", "___"), "invalid repository name"),
    ("a._b", "invalid repository name"),
    ("a-_b", "invalid repository name"),
    ("a_-b", "invalid repository name"),
    ("a.-b", "invalid repository name"),
    ("a..b", "invalid repository name"),
    ("a.", "invalid repository name"),
    ("a_", "invalid repository name"),
    ("a-", "invalid repository name"),
    (".a", "invalid repository name"),
    ("[2001:db8::1]", "invalid"),
    ("[2001:db8::1]:5000", "invalid repository name"),
    ("[2001:db8::1]:tag", "invalid repository name"),
    ("[fc00::1]", "invalid"),
    ("[fc00::1]:5000", "invalid repository name"),
    ("fc00::1:5000/debian", "invalid registry host"),
    ("[fe80::1%eth0]:5000/repo", "invalid registry host"),
    ("[fe80::1%@invalidzone]:5000/repo", "malformed digest"),
    ("[2001:db8:3:4::192.0.2.33]:5000/debian", "invalid registry host"),
    ("example.com:/app", "invalid registry host"),
    ("example.com:port/app", "invalid registry host"),
    ("exa_mple.com/app", "invalid registry host"),
    ("ex..ample.com/app", "invalid registry host"),
    ("a:", "empty tag"),
    ("a:-tag", "invalid tag"),
    ("a:.tag", "invalid tag"),
    ("a:t@g", "malformed digest"),
    ("a:t+g", "invalid tag"),
    ("a:t/g", "invalid registry host"),
    ("a:" + "t" * 129, "invalid tag"),
    ("a:tä", "invalid tag"),
    ("pythön:3", "invalid repository name"),
    ("a b", "whitespace"),
    ("python:3.12\n", "whitespace"),
    ("\tpython", "whitespace"),
    (HEX64, "image ID"),
    ("domain/" + "a" * 256 + ":tag", "longer than 255"),
    ("a/" * 128 + "a:tag", "longer than 255"),
    ("example.com/" + "a" * 256, "longer than 255"),
    ("a" * 248, "longer than 255"),
    ("docker.io/" + "a" * 248, "longer than 255"),
    (
        "this_is_not_a_valid_namespace_because_its_lenth_is_greater_than_255_" * 4 + "x/docker",
        "longer than 255",
    ),
    ("${IMAGE}", "invalid repository name"),
    ("python:${VERSION}", "invalid tag"),
]


@pytest.mark.parametrize(("text", "reason"), INVALID, ids=lambda v: v[:60])
def test_invalid_reference(text: str, reason: str) -> None:
    with pytest.raises(ReferenceError) as caught:
        parse_reference(text)
    assert reason in caught.value.reason
    assert caught.value.text == text
    assert str(caught.value).startswith(f"invalid image reference {text!r}: ")
    assert try_parse_reference(text) is None


@pytest.mark.parametrize(
    "text",
    ["a___b", "a__b", "a---b", "a._b", "a_b", "a.b", "a-b", "a--b", "a_.b"],
)
def test_separators(text: str) -> None:
    # separator := [._] | __ | [-]+ ; "a__b" and "a---b" are valid, "a___b",
    # "a._b" and "a_.b" are not.
    valid = {"a__b", "a---b", "a_b", "a.b", "a-b", "a--b"}
    assert (try_parse_reference(text) is not None) is (text in valid)


def test_reference_error_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="repository name must be lowercase"):
        parse_reference("Python")


# ---------------------------------------------------------------------------
# Spans: exactly what the user wrote
# ---------------------------------------------------------------------------

SPANS: list[tuple[str, tuple[int, int], tuple[int, int] | None, tuple[int, int] | None]] = [
    ("python", (0, 6), None, None),
    ("python:3.12", (0, 6), (7, 11), None),
    (f"python@{SHA}", (0, 6), None, (7, 78)),
    (f"python:3.12@{SHA}", (0, 6), (7, 11), (12, 83)),
    ("localhost:5000/app", (0, 18), None, None),
    ("localhost:5000/app:1", (0, 18), (19, 20), None),
    ("[::1]:5000/x:y", (0, 12), (13, 14), None),
    ("index.docker.io/library/python:3", (0, 30), (31, 32), None),
    (f"ghcr.io/o/a:v@{SHA}", (0, 11), (12, 13), (14, 85)),
]


@pytest.mark.parametrize(("text", "name", "tag", "digest"), SPANS, ids=lambda v: str(v)[:40])
def test_spans(
    text: str,
    name: tuple[int, int],
    tag: tuple[int, int] | None,
    digest: tuple[int, int] | None,
) -> None:
    ref = parse_reference(text)
    assert ref.name_span == Span(*name)
    assert ref.tag_span == (Span(*tag) if tag else None)
    assert ref.digest_span == (Span(*digest) if digest else None)
    assert ref.name == text[name[0] : name[1]]


# ---------------------------------------------------------------------------
# Familiar names, effective tags and digest insertion
# ---------------------------------------------------------------------------

FAMILIAR = [
    ("python", "python"),
    ("docker.io/library/python", "python"),
    ("index.docker.io/library/python", "python"),
    ("docker.io/python", "python"),
    ("library/python", "python"),
    ("library/python:3.12", "python:3.12"),
    (f"docker.io/library/busybox:latest@{SHA}", f"busybox:latest@{SHA}"),
    ("docker.io/fooo/bar", "fooo/bar"),
    ("index.docker.io/fooo/bar", "fooo/bar"),
    ("nonlibrary/ubuntu", "nonlibrary/ubuntu"),
    ("library/foo/bar", "library/foo/bar"),
    ("docker.io/library/foo/bar", "library/foo/bar"),
    ("127.0.0.1:8000/private/moonbase", "127.0.0.1:8000/private/moonbase"),
    ("example.com/privatebase:1", "example.com/privatebase:1"),
    ("localhost/library/x", "localhost/library/x"),
    ("Foo/bar", "Foo/bar"),
    ("ghcr.io/library/x", "ghcr.io/library/x"),
]


@pytest.mark.parametrize(("text", "familiar"), FAMILIAR)
def test_familiar(text: str, familiar: str) -> None:
    assert parse_reference(text).familiar == familiar


@pytest.mark.parametrize(
    ("domain", "path", "familiar"),
    [
        ("docker.io", "library/python", "python"),
        ("docker.io", "library/a/b", "library/a/b"),
        ("docker.io", "org/app", "org/app"),
        ("ghcr.io", "library/python", "ghcr.io/library/python"),
        ("localhost:5000", "app", "localhost:5000/app"),
    ],
)
def test_familiar_name(domain: str, path: str, familiar: str) -> None:
    assert familiar_name(domain, path) == familiar


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("python", ("docker.io", "library/python", 0)),
        ("library/python", ("docker.io", "library/python", 0)),
        ("org/app", ("docker.io", "org/app", 0)),
        ("docker.io/app", ("docker.io", "library/app", 10)),
        ("docker.io/org/app", ("docker.io", "org/app", 10)),
        ("index.docker.io/app", ("docker.io", "library/app", 16)),
        ("localhost/app", ("localhost", "app", 10)),
        ("localhost:5000/app", ("localhost:5000", "app", 15)),
        ("example.com/library/app", ("example.com", "library/app", 12)),
        ("Foo/bar", ("Foo", "bar", 4)),
        ("[::1]:5000/x", ("[::1]:5000", "x", 11)),
    ],
)
def test_split_domain(name: str, expected: tuple[str, str, int]) -> None:
    assert split_domain(name) == expected


@pytest.mark.parametrize(
    ("text", "effective"),
    [
        ("python", "latest"),
        ("python:3.12", "3.12"),
        ("python:latest", "latest"),
        (f"python@{SHA}", None),
        (f"python:3.12@{SHA}", "3.12"),
        ("localhost:5000/app", "latest"),
    ],
)
def test_effective_tag(text: str, effective: str | None) -> None:
    assert parse_reference(text).effective_tag == effective


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("python", f"python@{SHA_B}"),
        ("python:3.12", f"python:3.12@{SHA_B}"),
        (f"python:3.12@{SHA}", f"python:3.12@{SHA_B}"),
        (f"python@{SHA}", f"python@{SHA_B}"),
        ("index.docker.io/library/python:3.12", f"index.docker.io/library/python:3.12@{SHA_B}"),
        ("docker.io/python:3", f"docker.io/python:3@{SHA_B}"),
        ("localhost:5000/app", f"localhost:5000/app@{SHA_B}"),
        ("Foo/bar:Tag", f"Foo/bar:Tag@{SHA_B}"),
        ("[::1]:5000/x:1", f"[::1]:5000/x:1@{SHA_B}"),
    ],
)
def test_with_digest_keeps_the_users_spelling(text: str, expected: str) -> None:
    ref = parse_reference(text)
    pinned = ref.with_digest(SHA_B)
    assert pinned == expected
    again = parse_reference(pinned)
    assert (again.domain, again.path, again.tag, again.digest) == (
        ref.domain,
        ref.path,
        ref.tag,
        SHA_B,
    )


def test_image_ref_is_hashable_and_frozen() -> None:
    ref = parse_reference("python:3.12")
    assert {ref: 1}[parse_reference("python:3.12")] == 1
    with pytest.raises(AttributeError):
        ref.tag = "3.13"  # type: ignore[misc]
    assert isinstance(ref, ImageRef)


# ---------------------------------------------------------------------------
# Property: agree with an independent transcription of Docker's Go code
# (distribution/reference ParseNormalizedNamed: splitDockerDomain, then Parse)
# ---------------------------------------------------------------------------

_GO_ALNUM = r"[a-z0-9]+"
_GO_SEPARATOR = r"(?:[._]|__|[-]+)"
_GO_PATH_COMPONENT = rf"{_GO_ALNUM}(?:{_GO_SEPARATOR}{_GO_ALNUM})*"
_GO_REMOTE_NAME = rf"{_GO_PATH_COMPONENT}(?:/{_GO_PATH_COMPONENT})*"
_GO_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_GO_HOST = rf"(?:{_GO_DOMAIN_COMPONENT}(?:\.{_GO_DOMAIN_COMPONENT})*|\[(?:[a-fA-F0-9:]+)\])"
_GO_DOMAIN_AND_PORT = rf"{_GO_HOST}(?::[0-9]+)?"
_GO_TAG = r"[\w][\w.-]{0,127}"
_GO_DIGEST = r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*[:][0-9a-fA-F]{32,}"
_GO_NAME = rf"(?:{_GO_DOMAIN_AND_PORT}/)?{_GO_REMOTE_NAME}"
GO_REFERENCE = re.compile(rf"({_GO_NAME})(?::({_GO_TAG}))?(?:@({_GO_DIGEST}))?", re.ASCII)
GO_ANCHORED_NAME = re.compile(rf"(?:({_GO_DOMAIN_AND_PORT})/)?({_GO_REMOTE_NAME})", re.ASCII)


def go_parse_normalized(s: str) -> tuple[str, str, str | None, str | None] | None:
    """(domain, path, tag, digest), or None where Docker refuses the reference.

    Two deliberate differences, both where Docker's result is unusable anyway:
    digest algorithms other than sha256 follow the grammar only (Docker also
    refuses algorithms it has no hash function for, so its lowercase check is
    cut at '@' here), and a first component that splitDockerDomain takes for a
    host but Parse then reads as a path (``a_b.c/x``: no registry) is refused."""
    if re.fullmatch(r"[a-f0-9]{64}", s):
        return None
    maybe_domain, slash, maybe_remote = s.partition("/")
    if not slash:
        domain, remainder = "docker.io", "library/" + s
    else:
        if maybe_domain == "localhost" or any(c in maybe_domain for c in ".:"):
            domain, remainder = maybe_domain, maybe_remote
        elif maybe_domain == "index.docker.io":
            domain, remainder = "docker.io", maybe_remote
        elif maybe_domain.lower() != maybe_domain:
            domain, remainder = maybe_domain, maybe_remote
        else:
            domain, remainder = "docker.io", s
        if domain == "index.docker.io":
            domain = "docker.io"
        if domain == "docker.io" and "/" not in remainder:
            remainder = "library/" + remainder
    remote = remainder.split("@", 1)[0].split(":", 1)[0]
    if remote.lower() != remote:
        return None
    match = GO_REFERENCE.fullmatch(domain + "/" + remainder)
    if match is None:
        return None
    name, tag, digest = match.groups()
    name_match = GO_ANCHORED_NAME.fullmatch(name)
    assert name_match is not None
    parsed_domain, path = name_match.groups()
    if parsed_domain is None or len(path) > 255:
        return None
    sha256 = digest is not None and digest.startswith("sha256:")
    if sha256 and not re.fullmatch(r"sha256:[a-f0-9]{64}", digest or ""):
        return None
    return parsed_domain, path, tag, digest


def dockpin_view(s: str) -> tuple[str, str, str | None, str | None] | None:
    ref = try_parse_reference(s)
    return None if ref is None else (ref.domain, ref.path, ref.tag, ref.digest)


_PIECES = st.sampled_from(
    [
        "a",
        "b",
        "z",
        "0",
        "9",
        "A",
        "Q",
        ".",
        "_",
        "__",
        "-",
        "--",
        "/",
        ":",
        "@",
        "localhost",
        "docker.io",
        "index.docker.io",
        "library",
        "example.com",
        "127.0.0.1",
        "[::1]",
        "[2001:db8::1]",
        "5000",
        "latest",
        "sha256:",
        "sha512:",
        "sha256",
        "f" * 32,
        "f" * 64,
        "F" * 64,
        "0123456789abcdef" * 4,
        "a" * 120,
        "[",
        "]",
        "%",
    ]
)
_MIXED = st.lists(_PIECES, min_size=1, max_size=12).map("".join)
_GRAMMAR = st.from_regex(GO_REFERENCE, fullmatch=True)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(_MIXED, _GRAMMAR))
def test_agrees_with_dockers_parse_normalized_named(text: str) -> None:
    assert dockpin_view(text) == go_parse_normalized(text)


@pytest.mark.parametrize(
    "text",
    [row[0] for row in VALID] + [row[0] for row in INVALID if row[0].isprintable()],
    ids=lambda v: v[:50],
)
def test_tables_agree_with_the_transcription(text: str) -> None:
    assert dockpin_view(text) == go_parse_normalized(text)
