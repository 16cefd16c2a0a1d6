"""Fixtures for the registry client tests: clients pointed at the real test
registry (through ``mirrors``, the way a pull-through cache is used), images
pushed by the tests themselves, and credential stores that never read the
real ~/.docker."""

from __future__ import annotations

import itertools
import json
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from registry_client_support import ClientFactory, StoreFactory

from dockpin.registry import CredentialStore, RegistryClient, RegistryConfig


@pytest.fixture
def isolated_env(tmp_path: Path) -> dict[str, str]:
    """An environment with no credentials anywhere: only PATH survives."""
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    return {"PATH": os.environ.get("PATH", os.defpath), "HOME": str(home)}


@pytest.fixture
def no_credentials(tmp_path: Path, isolated_env: dict[str, str]) -> CredentialStore:
    return CredentialStore(env=isolated_env, home=Path(isolated_env["HOME"]))


@pytest.fixture
async def make_client(
    tmp_path: Path, no_credentials: CredentialStore
) -> AsyncIterator[ClientFactory]:
    """``make_client(mirror_url, credentials=None, **config)``: a client whose
    docker.io lookups go to ``mirror_url``, caching under tmp_path."""
    clients: list[RegistryClient] = []

    def make(
        mirror: str, *, credentials: CredentialStore | None = None, **config: Any
    ) -> RegistryClient:
        config.setdefault("cache_dir", tmp_path / "cache")
        client = RegistryClient(
            RegistryConfig(mirrors={"docker.io": mirror}, **config),
            credentials=credentials if credentials is not None else no_credentials,
        )
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.aclose()


@pytest.fixture
def make_store(tmp_path: Path, isolated_env: dict[str, str]) -> StoreFactory:
    """``make_store(config_json=None, env=None, helper_timeout=5.0)``: a
    credential store reading a temporary DOCKER_CONFIG holding ``config_json``."""
    counter = itertools.count()

    def make(
        config_json: dict[str, Any] | None = None,
        *,
        env: dict[str, str] | None = None,
        helper_timeout: float = 5.0,
    ) -> CredentialStore:
        docker_dir = tmp_path / f"docker-config-{next(counter)}"
        docker_dir.mkdir()
        if config_json is not None:
            (docker_dir / "config.json").write_text(json.dumps(config_json))
        full_env = {**isolated_env, "DOCKER_CONFIG": str(docker_dir), **(env or {})}
        return CredentialStore(
            env=full_env, home=Path(isolated_env["HOME"]), helper_timeout=helper_timeout
        )

    return make
