"""The floor for a Python Dockerfile language server: pygls 2.x plus dockerfile-parse.

On open and on every change it parses the whole document with dockerfile-parse
and publishes one simple diagnostic per ``FROM`` without a digest. Nothing else:
no rules, no registry, no configuration. dockerfile-parse gets an in-memory
``fileobj`` so it never writes ``./Dockerfile`` to disk.

    python benchmarks/minimal_pygls_server.py      # speaks LSP on stdio
"""

from __future__ import annotations

import io

from dockerfile_parse import DockerfileParser
from lsprotocol import types
from pygls.lsp.server import LanguageServer

server = LanguageServer("minimal-dockerfile-server", "1.0")


def _diagnostics(text: str) -> list[types.Diagnostic]:
    parser = DockerfileParser(fileobj=io.BytesIO())
    parser.content = text
    found = []
    for instruction in parser.structure:
        if instruction["instruction"] != "FROM" or "@sha256:" in instruction["value"]:
            continue
        line = instruction["startline"]
        found.append(
            types.Diagnostic(
                range=types.Range(
                    start=types.Position(line=line, character=0),
                    end=types.Position(line=line, character=len(instruction["content"].rstrip())),
                ),
                message="image is not pinned to a digest",
                severity=types.DiagnosticSeverity.Information,
                source="minimal",
            )
        )
    return found


def _publish(ls: LanguageServer, uri: str) -> None:
    document = ls.workspace.get_text_document(uri)
    ls.text_document_publish_diagnostics(
        types.PublishDiagnosticsParams(
            uri=uri, version=document.version, diagnostics=_diagnostics(document.source)
        )
    )


@server.feature(types.TEXT_DOCUMENT_DID_OPEN)
def did_open(ls: LanguageServer, params: types.DidOpenTextDocumentParams) -> None:
    _publish(ls, params.text_document.uri)


@server.feature(types.TEXT_DOCUMENT_DID_CHANGE)
def did_change(ls: LanguageServer, params: types.DidChangeTextDocumentParams) -> None:
    _publish(ls, params.text_document.uri)


@server.feature(types.TEXT_DOCUMENT_DID_CLOSE)
def did_close(ls: LanguageServer, params: types.DidCloseTextDocumentParams) -> None:
    ls.text_document_publish_diagnostics(
        types.PublishDiagnosticsParams(uri=params.text_document.uri, diagnostics=[])
    )


if __name__ == "__main__":
    server.start_io()
