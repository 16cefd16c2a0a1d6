"""`dockpin lsp` end to end: a real server process over stdio, pytest-lsp's
client, and a real docker-registry on loopback for everything that needs
digests, tags or manifests."""

from __future__ import annotations

import asyncio
import contextlib
import time
from pathlib import Path
from typing import Any

import pytest
from lsprotocol import types
from pytest_lsp import LanguageClient, client_capabilities

from lsp.conftest import initialize, open_document
from support.oci import build_image
from support.proxy import Fault, FaultProxy
from support.registry import RegistryServer, skopeo_digest

TIMEOUT = 20


def mirror_config(root: Path, url: str, extra: str = "") -> None:
    (root / ".dockpin.toml").write_text(
        f'[registry]\nmirrors = {{ "docker.io" = "{url}" }}\ntimeout = 3.0\n{extra}'
    )


async def diagnostics_for(
    client: LanguageClient, uri: str, predicate: Any = None, timeout: float = TIMEOUT
) -> list[types.Diagnostic]:
    """Wait until the published diagnostics for ``uri`` satisfy ``predicate``."""
    deadline = time.monotonic() + timeout
    while True:
        current = list(client.diagnostics.get(uri, []))
        if uri in client.diagnostics and (predicate is None or predicate(current)):
            return current
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise AssertionError(f"diagnostics never matched; last: {current}")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(
                client.wait_for_notification(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS),
                remaining,
            )


def codes(diagnostics: list[types.Diagnostic]) -> list[str]:
    return [str(d.code) for d in diagnostics]


def apply(text: str, edit: types.WorkspaceEdit, uri: str) -> str:
    """Apply a WorkspaceEdit the way an editor does (UTF-16 columns, ASCII here)."""
    edits: list[Any] = []
    if edit.document_changes:
        for change in edit.document_changes:
            assert isinstance(change, types.TextDocumentEdit)
            assert change.text_document.uri == uri
            edits.extend(change.edits)
    elif edit.changes:
        edits.extend(edit.changes[uri])
    lines = text.split("\n")
    starts = [0]
    for line in lines[:-1]:
        starts.append(starts[-1] + len(line) + 1)

    def offset(position: types.Position) -> int:
        return starts[position.line] + position.character

    for item in sorted(edits, key=lambda e: offset(e.range.start), reverse=True):
        text = text[: offset(item.range.start)] + item.new_text + text[offset(item.range.end):]
    return text


async def actions_at(
    client: LanguageClient, uri: str, diagnostics: list[types.Diagnostic], line: int,
    only: list[str] | None = None,
) -> list[types.CodeAction]:
    here = [d for d in diagnostics if d.range.start.line == line]
    result = await asyncio.wait_for(
        client.text_document_code_action_async(
            types.CodeActionParams(
                text_document=types.TextDocumentIdentifier(uri=uri),
                range=types.Range(start=types.Position(line, 0), end=types.Position(line, 0)),
                context=types.CodeActionContext(diagnostics=here, only=only),
            )
        ),
        TIMEOUT,
    )
    return [a for a in result or [] if isinstance(a, types.CodeAction)]


def by_title(actions: list[types.CodeAction], prefix: str) -> types.CodeAction:
    for action in actions:
        if action.title.startswith(prefix):
            return action
    raise AssertionError(f"no action starting {prefix!r} in {[a.title for a in actions]}")


async def test_diagnostics_on_open_and_on_incremental_change(
    lsp: LanguageClient, workspace: Path
) -> None:
    await initialize(lsp, options={"registry": {"offline": True}})
    text = "FROM python:3.12-slim AS app\nCMD [\"python\"]\n"
    uri = open_document(lsp, workspace / "Dockerfile", text)
    first = await diagnostics_for(lsp, uri)
    assert codes(first) == ["DP003"]
    assert first[0].range == types.Range(
        start=types.Position(0, 5), end=types.Position(0, 21)
    )
    assert first[0].severity == types.DiagnosticSeverity.Warning
    assert first[0].source == "dockpin"

    digest = "sha256:" + "1" * 64
    lsp.text_document_did_change(
        types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=2),
            content_changes=[
                types.TextDocumentContentChangePartial(
                    range=types.Range(start=types.Position(0, 21), end=types.Position(0, 21)),
                    text=f"@{digest}",
                )
            ],
        )
    )
    assert await diagnostics_for(lsp, uri, lambda d: d == []) == []
    # A later edit brings a finding back, on the new text.
    lsp.text_document_did_change(
        types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=3),
            content_changes=[types.TextDocumentContentChangeWholeDocument(
                text="FROM ubuntu\nRUN true\n")],
        )
    )
    assert codes(await diagnostics_for(lsp, uri, lambda d: d != [])) == ["DP001"]


@pytest.mark.parametrize("client_spec", ["visual-studio-code", "neovim@v0.7.0"])
async def test_pin_quick_fix_inserts_the_verified_digest(
    lsp: LanguageClient, workspace: Path, registry: RegistryServer, client_spec: str
) -> None:
    registry.push("library/python", "3.12", build_image("python"))
    expected = skopeo_digest(registry.host, "library/python", "3.12")
    mirror_config(workspace, registry.url)
    await initialize(lsp, client_spec)
    text = "# base\nFROM python:3.12 AS build\nRUN pip wheel .\n"
    uri = open_document(lsp, workspace / "Dockerfile", text)
    diagnostics = await diagnostics_for(lsp, uri, lambda d: "DP003" in codes(d))

    actions = await actions_at(lsp, uri, diagnostics, 1)
    pin = by_title(actions, "Pin python:3.12 to")
    assert pin.kind == types.CodeActionKind.QuickFix
    if pin.edit is None:  # resolved lazily where the client supports it
        pin = await asyncio.wait_for(lsp.code_action_resolve_async(pin), TIMEOUT)
    assert pin.edit is not None
    assert apply(text, pin.edit, uri) == (
        f"# base\nFROM python:3.12@{expected} AS build\nRUN pip wheel .\n"
    )
    if pin.edit.document_changes:
        change = pin.edit.document_changes[0]
        assert isinstance(change, types.TextDocumentEdit)
        assert change.text_document.version == 1


async def test_title_names_the_digest_once_the_background_lookup_landed(
    lsp: LanguageClient, workspace: Path, registry: RegistryServer
) -> None:
    digest = registry.push("library/node", "22", build_image("node"))
    mirror_config(workspace, registry.url)
    await initialize(lsp)
    uri = open_document(lsp, workspace / "Dockerfile", "FROM node:22\n")
    diagnostics = await diagnostics_for(lsp, uri)
    deadline = time.monotonic() + TIMEOUT
    while True:
        actions = await actions_at(lsp, uri, diagnostics, 0)
        titles = [a.title for a in actions]
        if f"Pin node:22 to {digest[:15]}..." in titles:
            break
        assert time.monotonic() < deadline, titles
        await asyncio.sleep(0.2)
    assert "Ignore DP003 on this line" in titles
    assert "Ignore DP003 in this file" in titles


async def test_pin_all_source_action_and_code_lens(
    lsp: LanguageClient, workspace: Path, registry: RegistryServer
) -> None:
    py = registry.push("library/python", "3.12", build_image("python"))
    go = registry.push("library/golang", "1.22", build_image("golang", fmt="docker"))
    mirror_config(workspace, registry.url)
    await initialize(lsp)
    text = (
        "ARG GO=1.22\nFROM golang:${GO} AS build\nRUN go build ./...\n"
        "FROM python:3.12\nCOPY --from=build /out /out\n"
    )
    uri = open_document(lsp, workspace / "Dockerfile", text)
    await diagnostics_for(lsp, uri)

    lenses = await asyncio.wait_for(
        lsp.text_document_code_lens_async(
            types.CodeLensParams(text_document=types.TextDocumentIdentifier(uri=uri))
        ),
        TIMEOUT,
    )
    assert lenses is not None
    assert [lens.command.title for lens in lenses if lens.command] == [
        "2 images unpinned - Pin all"
    ]
    assert lenses[0].range.start.line == 1

    actions = await actions_at(lsp, uri, [], 0, only=["source"])
    pin_all = by_title(actions, "Pin all images in this file")
    if pin_all.edit is None:
        pin_all = await asyncio.wait_for(lsp.code_action_resolve_async(pin_all), TIMEOUT)
    assert pin_all.edit is not None
    assert apply(text, pin_all.edit, uri) == (
        f"ARG GO=1.22@{go}\nFROM golang:${{GO}} AS build\nRUN go build ./...\n"
        f"FROM python:3.12@{py}\nCOPY --from=build /out /out\n"
    )


async def test_pin_all_command_applies_the_edit_through_the_client(
    lsp: LanguageClient, workspace: Path, registry: RegistryServer
) -> None:
    digest = registry.push("library/debian", "13", build_image("debian"))
    mirror_config(workspace, registry.url)
    applied: list[types.ApplyWorkspaceEditParams] = []

    @lsp.feature(types.WORKSPACE_APPLY_EDIT)
    def apply_edit(params: types.ApplyWorkspaceEditParams) -> types.ApplyWorkspaceEditResult:
        applied.append(params)
        return types.ApplyWorkspaceEditResult(applied=True)

    await initialize(lsp)
    text = "FROM debian:13\n"
    uri = open_document(lsp, workspace / "Dockerfile", text)
    await diagnostics_for(lsp, uri)
    result = await asyncio.wait_for(
        lsp.workspace_execute_command_async(
            types.ExecuteCommandParams(command="dockpin.pinAll", arguments=[uri])
        ),
        TIMEOUT,
    )
    assert result == {"applied": True}
    assert apply(text, applied[0].edit, uri) == f"FROM debian:13@{digest}\n"


async def test_update_stale_digest(
    lsp: LanguageClient, workspace: Path, registry: RegistryServer
) -> None:
    old = registry.push("library/redis", "7", build_image("redis"))
    new = registry.push("library/redis", "7", build_image("redis", salt="rebuilt"))
    mirror_config(workspace, registry.url)
    await initialize(lsp)
    text = f"FROM redis:7@{old}\n"
    uri = open_document(lsp, workspace / "Dockerfile", text)
    diagnostics = await diagnostics_for(lsp, uri, lambda d: "DP004" in codes(d))

    update = by_title(await actions_at(lsp, uri, diagnostics, 0), "Update stale digest")
    assert update.edit is not None
    assert apply(text, update.edit, uri) == f"FROM redis:7@{new}\n"


async def test_switch_to_slim_only_when_the_registry_has_it(
    lsp: LanguageClient, workspace: Path, registry: RegistryServer
) -> None:
    registry.push("library/python", "3.12-slim", build_image("python-slim"))
    mirror_config(workspace, registry.url, '[rules]\nDP003 = "off"\n')
    await initialize(lsp)
    text = 'FROM python:3.12-alpine\nRUN pip install uvloop\nCMD ["python"]\n'
    uri = open_document(lsp, workspace / "Dockerfile", text)
    diagnostics = await diagnostics_for(lsp, uri, lambda d: "DP010" in codes(d))

    swap = by_title(await actions_at(lsp, uri, diagnostics, 0), "Switch to python:3.12-slim")
    assert swap.title == "Switch to python:3.12-slim"
    assert swap.edit is not None
    assert apply(text, swap.edit, uri).startswith("FROM python:3.12-slim\n")

    # node:22-bookworm-slim is not in the registry: no swap is offered.
    text2 = "FROM node:22-alpine\nRUN npm ci\n"
    uri2 = open_document(lsp, workspace / "b" / "Dockerfile", text2)
    diagnostics2 = await diagnostics_for(lsp, uri2, lambda d: "DP010" in codes(d))
    titles = [a.title for a in await actions_at(lsp, uri2, diagnostics2, 0)]
    assert not any(t.startswith("Switch to") for t in titles), titles


async def test_switch_to_distroless_converts_cmd_to_exec_form(
    lsp: LanguageClient, workspace: Path, registry: RegistryServer
) -> None:
    registry.push("distroless/python3-debian13", "latest", build_image("distroless"))
    (workspace / ".dockpin.toml").write_text(
        f'[registry]\nmirrors = {{ "gcr.io" = "{registry.url}" }}\ntimeout = 3.0\n'
        '[rules]\nDP003 = "off"\n'
    )
    await initialize(lsp)
    text = "FROM python:3.12\nCOPY app.py /app.py\nCMD python /app.py\n"
    uri = open_document(lsp, workspace / "Dockerfile", text)
    diagnostics = await diagnostics_for(lsp, uri, lambda d: "DP020" in codes(d))

    swap = by_title(
        await actions_at(lsp, uri, diagnostics, 0),
        "Switch to gcr.io/distroless/python3-debian13 (Python 3.12 -> 3.13)",
    )
    assert swap.edit is not None
    assert apply(text, swap.edit, uri) == (
        "FROM gcr.io/distroless/python3-debian13\nCOPY app.py /app.py\n"
        'CMD ["python", "/app.py"]\n'
    )


async def test_convert_to_exec_form_and_ignore_pragmas(
    lsp: LanguageClient, workspace: Path
) -> None:
    await initialize(lsp, options={"registry": {"offline": True}})
    digest = "sha256:" + "2" * 64
    text = f"FROM gcr.io/distroless/static-debian13@{digest}\nENTRYPOINT /app --serve\n"
    uri = open_document(lsp, workspace / "Dockerfile", text)
    diagnostics = await diagnostics_for(lsp, uri, lambda d: "DP030" in codes(d))

    actions = await actions_at(lsp, uri, diagnostics, 1)
    convert = by_title(actions, "Convert to exec form")
    assert convert.edit is not None
    assert apply(text, convert.edit, uri).endswith('ENTRYPOINT ["/app", "--serve"]\n')
    ignore_line = by_title(actions, "Ignore DP030 on this line")
    assert ignore_line.edit is not None
    assert apply(text, ignore_line.edit, uri).split("\n")[1] == "# dockpin ignore=DP030"
    ignore_file = by_title(actions, "Ignore DP030 in this file")
    assert ignore_file.edit is not None
    assert apply(text, ignore_file.edit, uri).startswith("# dockpin global ignore=DP030\n")


async def test_hover_shows_digest_platforms_created_and_size(
    lsp: LanguageClient, workspace: Path, registry: RegistryServer
) -> None:
    image = build_image("python", created="2026-03-04T05:06:07Z")
    digest = registry.push("library/python", "3.12", image)
    mirror_config(workspace, registry.url)
    await initialize(lsp)
    uri = open_document(lsp, workspace / "Dockerfile", "FROM python:3.12\n")
    await diagnostics_for(lsp, uri)

    hover = await asyncio.wait_for(
        lsp.text_document_hover_async(
            types.HoverParams(text_document=types.TextDocumentIdentifier(uri=uri),
                              position=types.Position(0, 8))
        ),
        TIMEOUT,
    )
    assert hover is not None
    assert isinstance(hover.contents, types.MarkupContent)
    text = hover.contents.value
    assert "docker.io/library/python" in text
    assert f"`3.12` points to `{digest}` now" in text
    assert "linux/amd64, linux/arm64/v8" in text
    assert "2026-03-04T05:06:07Z" in text
    assert "compressed size:" in text
    assert "libc: glibc" in text


async def test_hover_offline_says_so(lsp: LanguageClient, workspace: Path) -> None:
    await initialize(lsp, options={"registry": {"offline": True}})
    uri = open_document(lsp, workspace / "Dockerfile", "FROM python:3.12-alpine\n")
    await diagnostics_for(lsp, uri)
    hover = await asyncio.wait_for(
        lsp.text_document_hover_async(
            types.HoverParams(text_document=types.TextDocumentIdentifier(uri=uri),
                              position=types.Position(0, 6))
        ),
        TIMEOUT,
    )
    assert hover is not None and isinstance(hover.contents, types.MarkupContent)
    assert "offline" in hover.contents.value
    assert "libc: musl" in hover.contents.value


async def test_tag_and_stage_completion(
    lsp: LanguageClient, workspace: Path, registry: RegistryServer
) -> None:
    for tag in ("3.9", "3.12", "3.12-slim", "3.13", "latest"):
        registry.push("library/python", tag, build_image("python", salt=tag))
    mirror_config(workspace, registry.url)
    await initialize(lsp)
    text = "FROM golang:1.22 AS build\nFROM python:3.1\nCOPY --from=\n"
    uri = open_document(lsp, workspace / "Dockerfile", text)
    await diagnostics_for(lsp, uri)

    tags = await asyncio.wait_for(
        lsp.text_document_completion_async(
            types.CompletionParams(text_document=types.TextDocumentIdentifier(uri=uri),
                                   position=types.Position(1, 15))
        ),
        TIMEOUT,
    )
    assert isinstance(tags, types.CompletionList)
    labels = [item.label for item in sorted(tags.items, key=lambda i: i.sort_text or "")]
    assert labels == ["3.13", "3.12", "3.12-slim"]
    edit = tags.items[0].text_edit
    assert isinstance(edit, types.TextEdit)
    assert edit.range.start == types.Position(1, 12)

    stages = await asyncio.wait_for(
        lsp.text_document_completion_async(
            types.CompletionParams(text_document=types.TextDocumentIdentifier(uri=uri),
                                   position=types.Position(2, 12))
        ),
        TIMEOUT,
    )
    assert isinstance(stages, types.CompletionList)
    assert [item.label for item in stages.items] == ["build"]


async def test_dead_registry_does_not_delay_diagnostics(
    lsp: LanguageClient, workspace: Path, registry: RegistryServer, fault_proxy: Any
) -> None:
    proxy: FaultProxy = fault_proxy(registry)
    proxy.add_fault(Fault.never_ends())
    mirror_config(workspace, proxy.url)
    await initialize(lsp)
    started = time.monotonic()
    uri = open_document(lsp, workspace / "Dockerfile", "FROM python:3.12\n")
    diagnostics = await diagnostics_for(lsp, uri)
    elapsed = time.monotonic() - started
    assert "DP003" in codes(diagnostics)
    # Functional bound, far below the 3 s registry timeout the registry hangs in.
    assert elapsed < 2.5, elapsed
    # Other requests are answered while the lookup hangs.
    lsp.text_document_did_change(
        types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=2),
            content_changes=[types.TextDocumentContentChangeWholeDocument(
                text="FROM ubuntu\n")],
        )
    )
    assert codes(await diagnostics_for(lsp, uri, lambda d: "DP001" in codes(d)))[0] == "DP001"


async def test_settings_change_applies_without_restart(
    lsp: LanguageClient, workspace: Path
) -> None:
    lsp.set_configuration({"registry": {"offline": True}}, section="dockpin")
    await initialize(lsp)
    uri = open_document(lsp, workspace / "Dockerfile", "FROM python:3.12-slim\n")
    assert codes(await diagnostics_for(lsp, uri)) == ["DP003"]

    lsp.set_configuration(
        {"registry": {"offline": True}, "rules": {"DP003": "off", "DP020": "error"}},
        section="dockpin",
    )
    lsp.workspace_did_change_configuration(types.DidChangeConfigurationParams(settings=None))
    assert await diagnostics_for(lsp, uri, lambda d: d == []) == []

    # The project's .dockpin.toml wins over editor settings.
    (workspace / ".dockpin.toml").write_text('[rules]\nDP003 = "error"\n')
    lsp.workspace_did_change_configuration(types.DidChangeConfigurationParams(settings=None))
    found = await diagnostics_for(lsp, uri, lambda d: d != [])
    assert [(d.code, d.severity) for d in found] == [("DP003", types.DiagnosticSeverity.Error)]


async def test_pull_diagnostics_when_the_client_supports_them(
    lsp: LanguageClient, workspace: Path
) -> None:
    result = await initialize(lsp, pull=True, options={"registry": {"offline": True}})
    assert result.capabilities.diagnostic_provider is not None
    uri = open_document(lsp, workspace / "Dockerfile", "FROM ubuntu:latest\nRUN true\n")
    report = await asyncio.wait_for(
        lsp.text_document_diagnostic_async(
            types.DocumentDiagnosticParams(text_document=types.TextDocumentIdentifier(uri=uri))
        ),
        TIMEOUT,
    )
    assert isinstance(report, types.RelatedFullDocumentDiagnosticReport)
    assert codes(list(report.items)) == ["DP002"]
    # Asked again with the last result id, an unchanged document says so
    # (once the settings read at start-up have been applied).
    previous = report.result_id
    for _ in range(50):
        again = await asyncio.wait_for(
            lsp.text_document_diagnostic_async(
                types.DocumentDiagnosticParams(
                    text_document=types.TextDocumentIdentifier(uri=uri),
                    previous_result_id=previous,
                )
            ),
            TIMEOUT,
        )
        if isinstance(again, types.RelatedUnchangedDocumentDiagnosticReport):
            break
        assert codes(list(again.items)) == ["DP002"]
        previous = again.result_id
        await asyncio.sleep(0.05)
    assert isinstance(again, types.RelatedUnchangedDocumentDiagnosticReport)
    assert uri not in lsp.diagnostics  # nothing pushed to a pull client


async def test_pull_client_is_told_to_refresh_after_a_settings_change(
    lsp: LanguageClient, workspace: Path
) -> None:
    lsp.set_configuration({"registry": {"offline": True}}, section="dockpin")
    await initialize(lsp, pull=True)
    uri = open_document(lsp, workspace / "Dockerfile", "FROM ubuntu:24.04\nRUN true\n")
    params = types.DocumentDiagnosticParams(text_document=types.TextDocumentIdentifier(uri=uri))
    first = await asyncio.wait_for(lsp.text_document_diagnostic_async(params), TIMEOUT)
    assert isinstance(first, types.RelatedFullDocumentDiagnosticReport)
    assert codes(list(first.items)) == ["DP003"]

    refreshes = lsp.diagnostic_refresh_count
    lsp.set_configuration(
        {"registry": {"offline": True}, "rules": {"DP003": "error"}}, section="dockpin"
    )
    lsp.workspace_did_change_configuration(types.DidChangeConfigurationParams(settings=None))
    deadline = time.monotonic() + TIMEOUT
    while lsp.diagnostic_refresh_count == refreshes:
        assert time.monotonic() < deadline, "no workspace/diagnostic/refresh"
        await asyncio.sleep(0.05)
    params.previous_result_id = first.result_id
    second = await asyncio.wait_for(lsp.text_document_diagnostic_async(params), TIMEOUT)
    assert isinstance(second, types.RelatedFullDocumentDiagnosticReport)
    assert [d.severity for d in second.items] == [types.DiagnosticSeverity.Error]


async def test_pull_without_refresh_support_falls_back_to_push(
    lsp: LanguageClient, workspace: Path
) -> None:
    capabilities = client_capabilities("neovim@v0.10.0")
    assert capabilities.text_document is not None
    capabilities.text_document.diagnostic = types.DiagnosticClientCapabilities()
    if capabilities.workspace is not None:
        capabilities.workspace.diagnostics = None
    result = await lsp.initialize_session(
        types.InitializeParams(capabilities=capabilities,
                               initialization_options={"registry": {"offline": True}})
    )
    assert result.capabilities.diagnostic_provider is None
    uri = open_document(lsp, workspace / "Dockerfile", "FROM ubuntu:24.04\nRUN true\n")
    assert codes(await diagnostics_for(lsp, uri)) == ["DP003"]
