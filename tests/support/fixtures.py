"""Pytest fixtures for the real registry, token server and fault proxy.

Register with ``pytest_plugins = ["support.fixtures"]`` (and ``pythonpath = ["tests"]``).
Tests that use any of these fixtures are marked ``registry`` automatically.

The binaries are required, not optional: a missing ``docker-registry``/``skopeo``/``htpasswd``
makes the fixture fail with the install command (CI installs them).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from support.proxy import FaultProxy
from support.registry import (
    HTPASSWD_BIN,
    INSTALL_HINT,
    REGISTRY_BIN,
    SKOPEO_BIN,
    Auth,
    HtpasswdAuth,
    RegistryServer,
    TokenAuth,
    missing_binaries,
)

REGISTRY_FIXTURES = frozenset(
    {"registry", "basic_registry", "token_registry", "registry_factory", "fault_proxy"}
)

RegistryFactory = Callable[..., RegistryServer]
ProxyFactory = Callable[..., FaultProxy]


def require_binaries(*names: str) -> None:
    """Fail (not skip) the current test when a needed binary is missing."""
    missing = missing_binaries(*names)
    if missing:
        pytest.fail(
            f"required binaries not found on PATH: {', '.join(missing)}. "
            f"Install them with: {INSTALL_HINT}",
            pytrace=False,
        )


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if REGISTRY_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.registry)


@pytest.fixture
def registry_factory(tmp_path: Path) -> Iterator[RegistryFactory]:
    """``registry_factory(auth=None, name="registry") -> RegistryServer`` (started).

    Use for several registries in one test or custom auth (``TokenAuth(anonymous_pull=True)``).
    All are stopped at teardown.
    """
    started: list[RegistryServer] = []

    def make(auth: Auth | None = None, name: str | None = None) -> RegistryServer:
        needed = [REGISTRY_BIN, SKOPEO_BIN]
        if isinstance(auth, HtpasswdAuth):
            needed.append(HTPASSWD_BIN)
        require_binaries(*needed)
        server = RegistryServer(tmp_path / (name or f"registry-{len(started)}"), auth=auth)
        started.append(server)
        return server.start()

    try:
        yield make
    finally:
        for server in reversed(started):
            server.stop()


@pytest.fixture
def registry(registry_factory: RegistryFactory) -> RegistryServer:
    """An anonymous registry (no auth) on 127.0.0.1."""
    return registry_factory(name="registry")


@pytest.fixture
def basic_registry(registry_factory: RegistryFactory) -> RegistryServer:
    """A registry behind htpasswd Basic auth; user ``alice`` / ``s3cret``."""
    return registry_factory(HtpasswdAuth("alice", "s3cret"), name="basic-registry")


@pytest.fixture
def token_registry(registry_factory: RegistryFactory) -> RegistryServer:
    """A registry behind Bearer token auth; token server user ``alice`` / ``s3cret``.

    ``token_registry.token_server`` is the running ``TokenServer`` (``.requests``, knobs).
    """
    return registry_factory(TokenAuth(users={"alice": "s3cret"}), name="token-registry")


@pytest.fixture
def fault_proxy() -> Iterator[ProxyFactory]:
    """``fault_proxy(upstream, host="127.0.0.1") -> FaultProxy`` (started; stopped at teardown).

    ``upstream`` is a ``RegistryServer`` or an ``http://host:port`` base URL.
    """
    started: list[FaultProxy] = []

    def make(upstream: RegistryServer | str, *, host: str = "127.0.0.1") -> FaultProxy:
        url = upstream.url if isinstance(upstream, RegistryServer) else upstream
        proxy = FaultProxy(url, host=host)
        started.append(proxy)
        return proxy.start()

    try:
        yield make
    finally:
        for proxy in reversed(started):
            proxy.stop()
