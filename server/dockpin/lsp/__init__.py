"""The language server (``dockpin lsp``)."""

from __future__ import annotations


def run_server(tcp: str | None = None) -> int:
    """Serve LSP over stdio, or on ``HOST:PORT`` when ``tcp`` is given.

    Imported lazily so that ``dockpin check`` never loads pygls.
    """
    from dockpin.lsp.server import run_server as serve

    return serve(tcp)
