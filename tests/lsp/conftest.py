"""A real `dockpin lsp` process over stdio, driven by pytest-lsp's client."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from lsprotocol import types
from pytest_lsp import LanguageClient, client_capabilities
from pytest_lsp.client import make_test_lsp_client

from support.env import isolated_env


def server_env(tmp: Path) -> dict[str, str]:
    return isolated_env(tmp)


SERVER = [sys.executable, "-m", "dockpin.cli", "lsp"]


@pytest_asyncio.fixture
async def lsp(tmp_path: Path) -> AsyncIterator[LanguageClient]:
    """A started `dockpin lsp` (not yet initialized: tests pick capabilities)."""
    client = make_test_lsp_client()
    await client.start_io(*SERVER, env=server_env(tmp_path))
    try:
        yield client
    finally:
        try:
            await asyncio.wait_for(client.shutdown_session(), 10)
        finally:
            await client.stop()


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    root = tmp_path / "ws"
    root.mkdir()
    return root


def open_document(client: LanguageClient, path: Path, text: str, version: int = 1) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    uri = path.as_uri()
    client.text_document_did_open(
        types.DidOpenTextDocumentParams(
            text_document=types.TextDocumentItem(
                uri=uri, language_id="dockerfile", version=version, text=text
            )
        )
    )
    return uri


async def initialize(
    client: LanguageClient, spec: str = "visual-studio-code", *, pull: bool = False,
    options: dict[str, Any] | None = None, root: Path | None = None,
) -> types.InitializeResult:
    capabilities = client_capabilities(spec)
    if capabilities.text_document is not None:
        # The recorded VS Code (1.65) predates pull diagnostics; newer ones pull.
        capabilities.text_document.diagnostic = (
            types.DiagnosticClientCapabilities(related_document_support=False) if pull else None
        )
    if pull and capabilities.workspace is not None:
        capabilities.workspace.diagnostics = types.DiagnosticWorkspaceClientCapabilities(
            refresh_support=True
        )
    return await client.initialize_session(
        types.InitializeParams(
            capabilities=capabilities,
            initialization_options=options,
            root_uri=root.as_uri() if root else None,
        )
    )


__all__ = ["SERVER", "initialize", "open_document", "server_env"]
