"""Helpers shared by the registry client tests (fixtures are in conftest.py)."""

from __future__ import annotations

import base64
import time
from collections.abc import Callable
from dataclasses import dataclass

import pytest

from dockpin.references import ImageRef, parse_reference
from dockpin.registry import CredentialStore, RegistryClient
from support.oci import ImageSet, build_image
from support.registry import RegistryServer

ClientFactory = Callable[..., RegistryClient]
StoreFactory = Callable[..., CredentialStore]


@dataclass(frozen=True)
class Pushed:
    """The standard images, as pushed to ``library/python`` on a registry."""

    multi: ImageSet  # 3.12: OCI index, linux/amd64 + linux/arm64/v8
    docker_list: ImageSet  # 3.12-docker: Docker manifest list
    single: ImageSet  # 3.12-single: one OCI manifest
    attested: ImageSet  # 3.12-attest: OCI index with attestation entries


def push_standard_images(server: RegistryServer) -> Pushed:
    pushed = Pushed(
        multi=build_image("python"),
        docker_list=build_image("python", fmt="docker", salt="docker"),
        single=build_image("python", platforms=[("linux", "amd64", None)], salt="single"),
        attested=build_image("python", attestation=True, salt="attest"),
    )
    server.push("library/python", "3.12", pushed.multi)
    server.push("library/python", "3.12-docker", pushed.docker_list)
    server.push("library/python", "3.12-single", pushed.single)
    server.push("library/python", "3.12-attest", pushed.attested)
    return pushed


def ref(text: str) -> ImageRef:
    return parse_reference(text)


def move_clock(monkeypatch: pytest.MonkeyPatch, seconds: float) -> None:
    """Make the cache believe ``seconds`` have passed."""
    base = time.time()
    monkeypatch.setattr("dockpin.registry.cache.now", lambda: base + seconds)


def auth_entry(username: str, password: str) -> dict[str, str]:
    """A config.json ``auths`` entry as ``docker login`` writes it."""
    return {"auth": base64.b64encode(f"{username}:{password}".encode()).decode()}
