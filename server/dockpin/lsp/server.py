"""``dockpin lsp``: the language server. A thin adapter: it keeps the open
documents, maps LSP requests onto the core (syntax, analysis, actions,
pinning) and converts positions to the client's encoding.

Responsiveness rules:

- the offline rules run on open and on every change, straight away, and
  never wait for the network; a burst of edits already sent is read in one
  go and analysed once, so typing never queues up work;
- registry lookups (DP004/DP005, digests for titles) run in background tasks
  per document and republish when they land; a slow or dead registry only
  delays those;
- everything published carries the document version it was computed for.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from lsprotocol import types
from pygls.lsp.server import LanguageServer
from pygls.protocol import LanguageServerProtocol
from pygls.protocol.language_server import lsp_method

from dockpin import __version__
from dockpin.actions import ActionPlan, pin_all_plan, pin_edits, plans_for, unpinned
from dockpin.analysis import analyze
from dockpin.config import Config, ConfigError, find_config, load_config, merge_settings
from dockpin.facts import ReferenceFacts, RegistryFacts
from dockpin.fixes import TextEdit
from dockpin.lsp.buffer import TextBuffer, column_from_client, column_to_client
from dockpin.lsp.features import completion_items, hover_markdown
from dockpin.references import ImageRef
from dockpin.rules.base import Finding
from dockpin.syntax import Dockerfile, ImageReference, Position, Range, parse

log = logging.getLogger("dockpin.lsp")

SOURCE = "dockpin"
RULES_URL = "https://github.com/dockpin/dockpin/blob/main/docs/rules.md"
PIN_ALL_KIND = "source.dockpin.pinAll"
PIN_ALL_COMMAND = "dockpin.pinAll"
BACKGROUND_DELAY = 0.3  # seconds of quiet typing before asking registries
FACTS_MAX_AGE = 3600.0  # re-ask after this long (the tag cache's own TTL)
ERROR_RETRY_AFTER = 60.0  # a registry that failed is asked again after this
PROGRESS_THRESHOLD = 5
MODELS_KEPT = 8  # parsed documents kept in memory (most recently used)


def _encoding_name(kind: object) -> str:
    value = str(getattr(kind, "value", kind) or "utf-16").lower()
    return value if value in ("utf-8", "utf-16", "utf-32") else "utf-16"


def uri_to_path(uri: str) -> Path | None:
    parsed = urlparse(uri)
    if parsed.scheme != "file":
        return None
    return Path(unquote(parsed.path))


@dataclass(slots=True)
class _Facts:
    facts: ReferenceFacts
    at: float


@dataclass(slots=True)
class DocumentState:
    buffer: TextBuffer
    config: Config = field(default_factory=Config)
    config_error: str | None = None
    config_mtime: float | None = None
    config_generation: int = 0  # bumped on every config reload (pull result ids)
    diagnostics: list[types.Diagnostic] = field(default_factory=list)
    # The resolvable images of the analysed text, by written value: what the
    # background registry lookups ask about, without keeping the model.
    image_refs: dict[str, ImageRef] = field(default_factory=dict)
    analysed_version: int | None = None
    facts_version: int = 0  # bumped when registry facts about its references change
    analysed_facts_version: int = -1
    scheduled: asyncio.Handle | None = None
    registry_task: asyncio.Task[None] | None = None
    registry_handle: asyncio.TimerHandle | None = None


class DockpinProtocol(LanguageServerProtocol):
    """Documents live in :class:`TextBuffer` (see buffer.py), not in pygls'
    workspace, so the open/change/close notifications go straight to the
    server's handlers."""

    def _user_handler(self, method: str) -> Any:
        return self.fm.features.get(method)

    @lsp_method(types.TEXT_DOCUMENT_DID_OPEN)
    def lsp_text_document__did_open(self, params: types.DidOpenTextDocumentParams) -> Any:
        if (handler := self._user_handler(types.TEXT_DOCUMENT_DID_OPEN)) is not None:
            yield handler, (params,), None

    @lsp_method(types.TEXT_DOCUMENT_DID_CHANGE)
    def lsp_text_document__did_change(self, params: types.DidChangeTextDocumentParams) -> Any:
        if (handler := self._user_handler(types.TEXT_DOCUMENT_DID_CHANGE)) is not None:
            yield handler, (params,), None

    @lsp_method(types.TEXT_DOCUMENT_DID_CLOSE)
    def lsp_text_document__did_close(self, params: types.DidCloseTextDocumentParams) -> Any:
        if (handler := self._user_handler(types.TEXT_DOCUMENT_DID_CLOSE)) is not None:
            yield handler, (params,), None


class DockpinServer(LanguageServer):
    def __init__(self) -> None:
        super().__init__("dockpin", __version__, protocol_cls=DockpinProtocol)
        self.documents: dict[str, DocumentState] = {}
        self._models: OrderedDict[str, tuple[int, Dockerfile]] = OrderedDict()
        self._asking: set[tuple[str, str]] = set()  # (registry key, image) being looked up
        self.settings: dict[str, Any] = {}
        self.init_settings: dict[str, Any] = {}  # initializationOptions, under later settings
        self.pull_diagnostics = False
        self.refresh_support = False
        self.resolve_edits = False
        self.document_changes = False
        self.configuration_support = False
        self.progress_support = False
        self.encoding = "utf-16"
        self._facts: dict[tuple[str, str], _Facts] = {}
        self._clients: dict[str, Any] = {}  # registry key -> RegistryClient
        self._warned: set[str] = set()

    # -- small helpers ------------------------------------------------------

    def log(self, message: str, level: types.MessageType = types.MessageType.Info) -> None:
        try:
            self.window_log_message(types.LogMessageParams(type=level, message=message))
        except Exception:  # the transport may be gone during shutdown
            log.debug("could not send log message: %s", message)

    def warn_once(self, key: str, message: str) -> None:
        if key in self._warned:
            return
        self._warned.add(key)
        self.log(message, types.MessageType.Warning)

    def report_server_error(self, error: Exception, source: Any) -> None:
        # Log instead of popping a message box at the user for every fault.
        log.exception("server error from %s", source, exc_info=error)
        self.log(
            f"internal error ({source.__name__ if hasattr(source, '__name__') else source}): "
            f"{error}",
            types.MessageType.Error,
        )

    def to_client_range(self, buffer: TextBuffer, range_: Range) -> types.Range:
        return types.Range(
            start=self.to_client_position(buffer, range_.start),
            end=self.to_client_position(buffer, range_.end),
        )

    def to_client_position(self, buffer: TextBuffer, position: Position) -> types.Position:
        line = buffer.line(position.line)
        return types.Position(
            line=position.line,
            character=column_to_client(line, position.character, self.encoding),
        )

    def from_client_position(self, buffer: TextBuffer, position: types.Position) -> Position:
        line = buffer.line(position.line)
        return Position(position.line, column_from_client(line, position.character, self.encoding))

    # -- configuration ------------------------------------------------------

    def refresh_config(self, state: DocumentState) -> None:
        path = uri_to_path(state.buffer.uri)
        found = find_config(path) if path is not None else None
        state.config_error = None
        state.config_generation += 1
        try:
            if found is not None:
                state.config = load_config(found, self.settings)
                state.config_mtime = found.stat().st_mtime
            else:
                state.config = Config.from_mapping(self.settings)
                state.config_mtime = None
        except (ConfigError, OSError) as error:
            state.config_error = str(error)
            state.config = Config()
            self.warn_once(f"config:{error}", f"dockpin: {error}; using defaults")

    def registry_key(self, config: Config) -> str:
        return repr(
            (
                sorted(config.mirrors.items()),
                sorted(config.insecure),
                config.timeout,
                config.offline,
            )
        )

    def client_for(self, config: Config) -> Any:
        from dockpin.pin import cache_dir_from_env
        from dockpin.pinning import registry_config
        from dockpin.registry import RegistryClient

        key = self.registry_key(config)
        client = self._clients.get(key)
        if client is None:
            client = RegistryClient(registry_config(config, cache_dir=cache_dir_from_env()))
            self._clients[key] = client
        return client

    # -- analysis -------------------------------------------------------------

    def model(self, state: DocumentState) -> Dockerfile:
        """The parsed current text. Models are kept for the few most recently
        used documents only: a model is ~20 times its text, and with hundreds
        of files open only the text and the diagnostics need to stay."""
        uri = state.buffer.uri
        cached = self._models.get(uri)
        if cached is not None and cached[0] == state.buffer.version:
            self._models.move_to_end(uri)
            return cached[1]
        model = parse(state.buffer.text)
        self._models[uri] = (state.buffer.version, model)
        self._models.move_to_end(uri)
        while len(self._models) > MODELS_KEPT:
            self._models.popitem(last=False)
        return model

    def findings(self, state: DocumentState) -> list[Finding]:
        """The findings behind ``state.diagnostics`` (same text, settings, facts)."""
        model = self.model(state)
        # DP004/DP005 only online: offline, cached answers may be old.
        facts = None if state.config.offline else self.known_facts(state, model)
        return analyze(model, state.config, facts)

    def known_facts(self, state: DocumentState, model: Dockerfile) -> RegistryFacts:
        """What the registry (or, offline, the cache) has said about the
        document's references so far."""
        key = self.registry_key(state.config)
        found: dict[str, ReferenceFacts] = {}
        for reference in model.references:
            entry = self._facts.get((key, reference.value))
            if entry is not None and entry.facts.error is None:
                found[reference.value] = entry.facts
        return RegistryFacts(found)

    def analyse(self, state: DocumentState) -> None:
        """Run the rules on the current text and publish (push mode)."""
        state.scheduled = None
        findings = self.findings(state)
        state.diagnostics = [self.diagnostic(state.buffer, f) for f in findings]
        state.image_refs = {
            r.value: r.ref
            for r in self.model(state).references
            if r.ref is not None and r.is_resolved
        }
        state.analysed_version = state.buffer.version
        state.analysed_facts_version = state.facts_version
        if not self.pull_diagnostics:
            self.text_document_publish_diagnostics(
                types.PublishDiagnosticsParams(
                    uri=state.buffer.uri,
                    diagnostics=state.diagnostics,
                    version=state.buffer.version,
                )
            )

    def schedule_analysis(self, state: DocumentState) -> None:
        """Analyse as soon as the messages already received are handled: a
        burst of changes (a paste, a macro) is read in one go from the pipe
        (see :class:`_PipeReader`), so only the newest text is analysed."""
        if state.scheduled is None:
            state.scheduled = asyncio.get_running_loop().call_soon(self._run_analysis, state)

    def _run_analysis(self, state: DocumentState) -> None:
        if self.documents.get(state.buffer.uri) is not state:
            return  # closed meanwhile
        try:
            self.analyse(state)
        except Exception as error:  # never let one document take the server down
            log.exception("analysis failed")
            self.log(
                f"dockpin: analysis failed for {state.buffer.uri}: {error}", types.MessageType.Error
            )
        self.schedule_registry(state)

    def ensure_analysed(self, state: DocumentState) -> None:
        if (
            state.analysed_version != state.buffer.version
            or state.analysed_facts_version != state.facts_version
        ):
            if state.scheduled is not None:
                state.scheduled.cancel()
                state.scheduled = None
            self.analyse(state)

    def diagnostic(self, buffer: TextBuffer, finding: Finding) -> types.Diagnostic:
        return types.Diagnostic(
            range=self.to_client_range(buffer, finding.range),
            message=finding.message,
            severity=types.DiagnosticSeverity(int(finding.severity)),
            code=finding.code,
            code_description=types.CodeDescription(
                href=f"{RULES_URL}#{finding.code.lower()}-{finding.name}"
            ),
            source=SOURCE,
            data={"name": finding.name},
        )

    # -- registry in the background -----------------------------------------

    def schedule_registry(self, state: DocumentState) -> None:
        """Ask registries about the document's references in the background
        (offline, the client answers from its cache without any request)."""
        key = self.registry_key(state.config)
        now = time.monotonic()
        pending = [value for value in state.image_refs if self._needs_asking(key, value, now)]
        if not pending:
            return
        if state.registry_handle is not None:
            state.registry_handle.cancel()
        loop = asyncio.get_running_loop()
        state.registry_handle = loop.call_later(BACKGROUND_DELAY, self._start_registry_task, state)

    def _needs_asking(self, key: str, value: str, now: float) -> bool:
        if (key, value) in self._asking:
            return False
        entry = self._facts.get((key, value))
        if entry is None:
            return True
        age = now - entry.at
        return age > (ERROR_RETRY_AFTER if entry.facts.error else FACTS_MAX_AGE)

    def _start_registry_task(self, state: DocumentState) -> None:
        state.registry_handle = None
        if state.registry_task is not None and not state.registry_task.done():
            return  # it schedules another round when it ends
        state.registry_task = asyncio.ensure_future(self._ask_registry(state))

    async def _ask_registry(self, state: DocumentState) -> None:
        from dockpin.pinning import Resolver, reference_facts

        config = state.config
        key = self.registry_key(config)
        now = time.monotonic()
        references = {
            value: ref
            for value, ref in state.image_refs.items()
            if self._needs_asking(key, value, now)
        }
        if not references:
            return
        # Other documents naming the same image wait for this answer instead
        # of asking again (200 open files often name the same few images).
        self._asking.update((key, value) for value in references)
        resolver = Resolver(self.client_for(config))
        token: str | None = None
        if len(references) > PROGRESS_THRESHOLD and self.progress_support:
            token = await self._progress_begin(f"Resolving {len(references)} images")
        done = 0
        changed: set[str] = set()

        async def one(value: str, ref: ImageRef) -> None:
            nonlocal done
            try:
                facts = await reference_facts(resolver, ref)
            finally:
                self._asking.discard((key, value))
            previous = self._facts.get((key, value))
            self._facts[(key, value)] = _Facts(facts, time.monotonic())
            if facts.error is None and (previous is None or previous.facts != facts):
                changed.add(value)
            if facts.error is not None and not config.offline:
                self.warn_once(
                    f"registry:{facts.error}", f"dockpin: registry checks skipped: {facts.error}"
                )
            done += 1
            if token is not None:
                self._progress_report(token, done, len(references))

        try:
            await asyncio.gather(*(one(value, ref) for value, ref in references.items()))
        except Exception as error:
            log.exception("registry lookups failed")
            self.log(f"dockpin: registry lookups failed: {error}", types.MessageType.Warning)
        finally:
            if token is not None:
                self._progress_end(token)
        if changed:
            self._republish(key, changed)
        if self.documents.get(state.buffer.uri) is state:
            self.schedule_registry(state)  # images added while this ran

    def _republish(self, key: str, values: set[str]) -> None:
        """Re-analyse the documents whose references got new facts (only
        those: with hundreds of documents open, one lookup must not redo
        them all)."""
        affected = [
            state
            for state in list(self.documents.values())
            if self.registry_key(state.config) == key and not values.isdisjoint(state.image_refs)
        ]
        for state in affected:
            state.facts_version += 1
        if self.pull_diagnostics:
            if affected and self.refresh_support:
                self.workspace_diagnostic_refresh(None)
            return
        for state in affected:
            self._run_analysis_quietly(state)

    def _run_analysis_quietly(self, state: DocumentState) -> None:
        try:
            self.analyse(state)
        except Exception:
            log.exception("analysis failed")

    async def _progress_begin(self, title: str) -> str | None:
        token = f"dockpin-{time.monotonic_ns()}"
        try:
            await self.work_done_progress.create_async(token)
        except Exception:
            return None
        self.work_done_progress.begin(
            token, types.WorkDoneProgressBegin(title=title, percentage=0, cancellable=False)
        )
        return token

    def _progress_report(self, token: str, done: int, total: int) -> None:
        self.work_done_progress.report(
            token,
            types.WorkDoneProgressReport(
                message=f"{done}/{total}", percentage=int(100 * done / total)
            ),
        )

    def _progress_end(self, token: str) -> None:
        self.work_done_progress.end(token, types.WorkDoneProgressEnd(message="done"))

    async def resolve_digests(
        self, state: DocumentState, references: Sequence[ImageReference]
    ) -> list[str | None]:
        """Current digests for ``references`` (None where the registry could
        not say), through the cache; used by pin actions."""
        from dockpin.pinning import Resolver, _current_target

        resolver = Resolver(self.client_for(state.config))
        token = None
        if len(references) > PROGRESS_THRESHOLD and self.progress_support:
            token = await self._progress_begin(f"Pinning {len(references)} images")
        try:
            targets = await asyncio.gather(
                *(_current_target(resolver, r.ref) for r in references if r.ref is not None)
            )
        finally:
            if token is not None:
                self._progress_end(token)
        digests: list[str | None] = []
        for reference, target in zip(references, targets, strict=True):
            if target.digest is None:
                self.log(
                    f"dockpin: cannot pin {reference.value}: {target.problem}",
                    types.MessageType.Warning,
                )
            digests.append(target.digest)
        return digests

    async def exists(self, state: DocumentState, value: str) -> bool | None:
        """Whether the registry has ``value`` (a swap target); None offline
        or when the registry cannot be asked."""
        from dockpin.references import ReferenceError, parse_reference
        from dockpin.registry import RegistryError

        if state.config.offline:
            return None
        try:
            ref = parse_reference(value)
        except ReferenceError:
            return False
        try:
            await asyncio.wait_for(
                self.client_for(state.config).resolve(ref), state.config.timeout + 1
            )
        except RegistryError as error:
            return False if error.kind.is_not_found else None
        except TimeoutError:
            return None
        return True

    # -- edits ---------------------------------------------------------------------

    def workspace_edit(
        self, state: DocumentState, edits: Iterable[TextEdit], version: int | None = None
    ) -> types.WorkspaceEdit:
        buffer = state.buffer
        lsp_edits: list[types.TextEdit | types.AnnotatedTextEdit | types.SnippetTextEdit] = [
            types.TextEdit(range=self.to_client_range(buffer, e.range), new_text=e.new_text)
            for e in edits
        ]
        if self.document_changes:
            return types.WorkspaceEdit(
                document_changes=[
                    types.TextDocumentEdit(
                        text_document=types.OptionalVersionedTextDocumentIdentifier(
                            uri=buffer.uri,
                            version=buffer.version if version is None else version,
                        ),
                        edits=lsp_edits,
                    )
                ]
            )
        return types.WorkspaceEdit(changes={buffer.uri: lsp_edits})  # type: ignore[dict-item]

    async def pin_all_edit(self, state: DocumentState) -> types.WorkspaceEdit | None:
        model = self.model(state)
        version = state.buffer.version
        references = unpinned(model)
        if not references:
            return None
        digests = await self.resolve_digests(state, references)
        if state.buffer.version != version:
            return None  # the text changed while we asked; the edit would not fit
        edits = pin_edits(model, references, digests)
        return self.workspace_edit(state, edits, version) if edits else None


def build_server() -> DockpinServer:
    server = DockpinServer()
    register_handlers(server)
    return server


def _settings_from(value: Any) -> dict[str, Any]:
    """Accept ``{"dockpin": {...}}`` or the section itself."""
    if not isinstance(value, dict):
        return {}
    inner = value.get("dockpin", value)
    return (
        {k: v for k, v in inner.items() if k in ("rules", "registry")}
        if isinstance(inner, dict)
        else {}
    )


def register_handlers(server: DockpinServer) -> None:
    @server.feature(types.INITIALIZE)
    def initialize(params: types.InitializeParams) -> None:
        capabilities = params.capabilities
        text_document = capabilities.text_document
        workspace = capabilities.workspace
        server.init_settings = _settings_from(params.initialization_options)
        server.settings = dict(server.init_settings)
        server.refresh_support = bool(
            workspace and workspace.diagnostics and workspace.diagnostics.refresh_support
        )
        # Pull only where the server can ask for a re-pull: registry findings
        # and settings arrive after the first pull (Neovim 0.11 pulls without
        # announcing refresh support, so it gets pushed diagnostics).
        server.pull_diagnostics = (
            bool(text_document and text_document.diagnostic) and server.refresh_support
        )
        resolve = (
            text_document.code_action.resolve_support
            if text_document and text_document.code_action
            else None
        )
        server.resolve_edits = bool(resolve and "edit" in resolve.properties)
        server.document_changes = bool(
            workspace and workspace.workspace_edit and workspace.workspace_edit.document_changes
        )
        server.configuration_support = bool(workspace and workspace.configuration)
        server.progress_support = bool(
            capabilities.window and capabilities.window.work_done_progress
        )
        if server.pull_diagnostics:
            server.feature(
                types.TEXT_DOCUMENT_DIAGNOSTIC,
                types.DiagnosticOptions(
                    identifier=SOURCE, inter_file_dependencies=False, workspace_diagnostics=False
                ),
            )(pull_diagnostics)

    @server.feature(types.INITIALIZED)
    async def initialized(params: types.InitializedParams) -> None:
        server.encoding = _encoding_name(server.workspace.position_encoding)
        server.log(
            f"dockpin {__version__} ready ({'pull' if server.pull_diagnostics else 'push'}"
            f" diagnostics, {server.encoding} positions)"
        )
        if server.configuration_support:
            await load_workspace_settings()

    async def load_workspace_settings() -> None:
        try:
            result = await server.workspace_configuration_async(
                types.ConfigurationParams(items=[types.ConfigurationItem(section="dockpin")])
            )
        except Exception as error:
            server.log(f"dockpin: could not read settings: {error}", types.MessageType.Warning)
            return
        workspace_settings = _settings_from(result[0]) if result else {}
        server.settings = merge_settings(server.init_settings, workspace_settings)
        apply_settings()

    def apply_settings() -> None:
        server._warned.clear()
        for state in server.documents.values():
            server.refresh_config(state)
            if state.scheduled is not None:
                state.scheduled.cancel()
                state.scheduled = None
            server._run_analysis(state)
        if server.pull_diagnostics and server.refresh_support:
            server.workspace_diagnostic_refresh(None)

    @server.feature(types.WORKSPACE_DID_CHANGE_CONFIGURATION)
    async def did_change_configuration(params: types.DidChangeConfigurationParams) -> None:
        if server.configuration_support:
            await load_workspace_settings()
            return
        server.settings = merge_settings(server.init_settings, _settings_from(params.settings))
        apply_settings()

    @server.feature(types.TEXT_DOCUMENT_DID_OPEN)
    def did_open(params: types.DidOpenTextDocumentParams) -> None:
        item = params.text_document
        state = DocumentState(TextBuffer(item.uri, item.text, item.version, item.language_id))
        server.documents[item.uri] = state
        server.refresh_config(state)
        server._run_analysis(state)

    @server.feature(types.TEXT_DOCUMENT_DID_CHANGE)
    def did_change(params: types.DidChangeTextDocumentParams) -> None:
        state = server.documents.get(params.text_document.uri)
        if state is None:
            server.log(
                f"dockpin: change for a document that is not open: {params.text_document.uri}",
                types.MessageType.Warning,
            )
            return
        for change in params.content_changes:
            if isinstance(change, types.TextDocumentContentChangePartial):
                state.buffer.apply_change(
                    change.text,
                    (change.range.start.line, change.range.start.character),
                    (change.range.end.line, change.range.end.character),
                    server.encoding,
                )
            else:
                state.buffer.apply_change(change.text, None, None, server.encoding)
        state.buffer.version = params.text_document.version
        server.schedule_analysis(state)

    @server.feature(types.TEXT_DOCUMENT_DID_SAVE)
    def did_save(params: types.DidSaveTextDocumentParams) -> None:
        state = server.documents.get(params.text_document.uri)
        if state is None:
            return
        path = uri_to_path(state.buffer.uri)
        config_path = find_config(path) if path is not None else None
        mtime = config_path.stat().st_mtime if config_path is not None else None
        if mtime != state.config_mtime:
            server.refresh_config(state)
            server._run_analysis(state)

    @server.feature(types.TEXT_DOCUMENT_DID_CLOSE)
    def did_close(params: types.DidCloseTextDocumentParams) -> None:
        state = server.documents.pop(params.text_document.uri, None)
        server._models.pop(params.text_document.uri, None)
        if state is None:
            return
        for handle in (state.scheduled, state.registry_handle):
            if handle is not None:
                handle.cancel()
        if state.registry_task is not None:
            state.registry_task.cancel()
        if not server.pull_diagnostics:
            server.text_document_publish_diagnostics(
                types.PublishDiagnosticsParams(uri=params.text_document.uri, diagnostics=[])
            )

    def pull_diagnostics(
        params: types.DocumentDiagnosticParams,
    ) -> types.RelatedFullDocumentDiagnosticReport | types.RelatedUnchangedDocumentDiagnosticReport:
        state = server.documents.get(params.text_document.uri)
        if state is None:
            return types.RelatedFullDocumentDiagnosticReport(items=[])
        server.ensure_analysed(state)
        result_id = f"{state.buffer.version}:{state.facts_version}:{state.config_generation}"
        if params.previous_result_id == result_id:
            return types.RelatedUnchangedDocumentDiagnosticReport(result_id=result_id)
        return types.RelatedFullDocumentDiagnosticReport(
            items=state.diagnostics, result_id=result_id
        )

    def find_findings(
        state: DocumentState, diagnostics: Sequence[types.Diagnostic]
    ) -> list[Finding]:
        wanted = {
            (
                d.code,
                d.range.start.line,
                d.range.start.character,
                d.range.end.line,
                d.range.end.character,
            )
            for d in diagnostics
            if d.source == SOURCE
        }
        found = []
        findings = server.findings(state)
        for finding, diagnostic in zip(findings, state.diagnostics, strict=True):
            r = diagnostic.range
            key = (diagnostic.code, r.start.line, r.start.character, r.end.line, r.end.character)
            if key in wanted:
                found.append(finding)
        return found

    def action_from_plan(
        state: DocumentState,
        plan: ActionPlan,
        diagnostics: list[types.Diagnostic],
        data: dict[str, Any] | None,
    ) -> types.CodeAction:
        kind = types.CodeActionKind.QuickFix if plan.kind == "quickfix" else PIN_ALL_KIND
        action = types.CodeAction(
            title=plan.title,
            kind=kind,
            diagnostics=diagnostics or None,
            is_preferred=plan.preferred or None,
            data=data,
        )
        if plan.edits:
            action.edit = server.workspace_edit(state, plan.edits)
        return action

    def wanted(kind: str, only: Sequence[str] | None) -> bool:
        return not only or any(kind == o or kind.startswith(f"{o}.") for o in only)

    @server.feature(
        types.TEXT_DOCUMENT_CODE_ACTION,
        types.CodeActionOptions(
            code_action_kinds=[types.CodeActionKind.QuickFix, PIN_ALL_KIND],
            resolve_provider=True,
        ),
    )
    async def code_action(params: types.CodeActionParams) -> list[types.CodeAction] | None:
        state = server.documents.get(params.text_document.uri)
        if state is None:
            return None
        server.ensure_analysed(state)
        model = server.model(state)
        version = state.buffer.version
        facts = server.known_facts(state, model)
        only = params.context.only
        actions: list[types.CodeAction] = []
        offline = state.config.offline
        if wanted(types.CodeActionKind.QuickFix, only):
            planned: list[tuple[ActionPlan, types.Diagnostic]] = []
            for finding in find_findings(state, params.context.diagnostics):
                diagnostic = server.diagnostic(state.buffer, finding)
                for plan in plans_for(model, finding, facts):
                    if offline and plan.pin:
                        continue  # no digest in the cache: nothing to pin offline
                    planned.append((plan, diagnostic))
            verified = await verify_targets(state, [p.verify for p, _ in planned if p.verify])
            for plan, diagnostic in planned:
                if plan.verify is not None:
                    exists = verified.get(plan.verify)
                    if exists is False:
                        continue
                    if exists is None:
                        plan = ActionPlan(
                            f"{plan.title} (not verified: "
                            f"{'offline' if offline else 'registry not reachable'})",
                            plan.kind,
                            plan.codes,
                            plan.edits,
                        )
                actions.append(await materialise(state, plan, [diagnostic], version))
        if wanted(PIN_ALL_KIND, only):
            pin_all_action = pin_all_plan(model)
            if pin_all_action is not None and not (
                offline and any(facts.get(r.value) is None for r in pin_all_action.pin)
            ):
                actions.append(await materialise(state, pin_all_action, [], version))
        if state.buffer.version != version:
            return None  # stale: the client will ask again for the new text
        return actions

    async def verify_targets(state: DocumentState, values: list[str]) -> dict[str, bool | None]:
        """Whether each swap target exists, asked concurrently and bounded so
        that listing actions never waits long on a slow registry."""
        unique = list(dict.fromkeys(values))
        if not unique:
            return {}
        tasks = [asyncio.ensure_future(server.exists(state, value)) for value in unique]
        done, pending = await asyncio.wait(tasks, timeout=min(state.config.timeout, 2.0))
        for task in pending:
            task.cancel()
        return {
            value: (task.result() if task in done and not task.cancelled() else None)
            for value, task in zip(unique, tasks, strict=True)
        }

    async def materialise(
        state: DocumentState, plan: ActionPlan, diagnostics: list[types.Diagnostic], version: int
    ) -> types.CodeAction:
        """An action with its edit, or (when the client can resolve edits)
        one whose edit is computed by ``codeAction/resolve``."""
        if not plan.pin:
            return action_from_plan(state, plan, diagnostics, None)
        data = {
            "uri": state.buffer.uri,
            "version": version,
            "pin": [r.raw_offset for r in plan.pin],
            "lines": [r.instruction.start_line for r in plan.pin],
        }
        action = action_from_plan(state, plan, diagnostics, data)
        if not server.resolve_edits:
            action.edit = await pin_edit_for(state, data)
        return action

    async def pin_edit_for(
        state: DocumentState, data: dict[str, Any]
    ) -> types.WorkspaceEdit | None:
        if state.buffer.version != data.get("version"):
            return None
        model = server.model(state)
        keys = set(zip(data.get("lines", []), data.get("pin", []), strict=False))
        references = [
            r for r in unpinned(model) if (r.instruction.start_line, r.raw_offset) in keys
        ]
        if not references:
            return None
        digests = await server.resolve_digests(state, references)
        if state.buffer.version != data.get("version"):
            return None
        edits = pin_edits(model, references, digests)
        return server.workspace_edit(state, edits, data["version"]) if edits else None

    @server.feature(types.CODE_ACTION_RESOLVE)
    async def code_action_resolve(action: types.CodeAction) -> types.CodeAction:
        data = action.data if isinstance(action.data, dict) else {}
        state = server.documents.get(str(data.get("uri")))
        if state is not None and action.edit is None and "pin" in data:
            action.edit = await pin_edit_for(state, data)
        return action

    @server.command(PIN_ALL_COMMAND)
    async def pin_all(arguments: Any = None) -> dict[str, Any]:
        uri = None
        if isinstance(arguments, list) and arguments:
            uri = arguments[0] if isinstance(arguments[0], str) else None
        elif isinstance(arguments, str):
            uri = arguments
        state = server.documents.get(uri or "")
        if state is None:
            return {"applied": False, "reason": "document not open"}
        edit = await server.pin_all_edit(state)
        if edit is None:
            return {"applied": False, "reason": "nothing to pin"}
        result = await server.workspace_apply_edit_async(
            types.ApplyWorkspaceEditParams(edit=edit, label="Pin all images")
        )
        return {"applied": bool(result and result.applied)}

    @server.feature(types.TEXT_DOCUMENT_CODE_LENS)
    def code_lens(params: types.CodeLensParams) -> list[types.CodeLens] | None:
        state = server.documents.get(params.text_document.uri)
        if state is None or state.config.offline:
            return None
        model = server.model(state)
        references = unpinned(model)
        if not references or not model.stages:
            return None
        count = len(references)
        title = f"{count} image{'s' if count != 1 else ''} unpinned - Pin all"
        first = model.stages[0].from_instruction.keyword_range
        return [
            types.CodeLens(
                range=server.to_client_range(state.buffer, first),
                command=types.Command(
                    title=title, command=PIN_ALL_COMMAND, arguments=[state.buffer.uri]
                ),
            )
        ]

    @server.feature(types.TEXT_DOCUMENT_HOVER)
    async def hover(params: types.HoverParams) -> types.Hover | None:
        state = server.documents.get(params.text_document.uri)
        if state is None:
            return None
        model = server.model(state)
        position = server.from_client_position(state.buffer, params.position)
        reference = next((r for r in model.references if r.raw_range.contains(position)), None)
        if reference is None or reference.ref is None:
            return None
        facts = server.known_facts(state, model)
        client = None if state.config.offline else server.client_for(state.config)
        markdown = await hover_markdown(reference, facts, client, state.config)
        return types.Hover(
            contents=types.MarkupContent(kind=types.MarkupKind.Markdown, value=markdown),
            range=server.to_client_range(state.buffer, reference.raw_range),
        )

    @server.feature(
        types.TEXT_DOCUMENT_COMPLETION,
        types.CompletionOptions(trigger_characters=[":", "="]),
    )
    async def completion(params: types.CompletionParams) -> types.CompletionList | None:
        state = server.documents.get(params.text_document.uri)
        if state is None:
            return None
        model = server.model(state)
        position = server.from_client_position(state.buffer, params.position)
        line_text = state.buffer.line(position.line)
        client = None if state.config.offline else server.client_for(state.config)
        result = await completion_items(model, line_text, position, client)
        if result is None:
            return None
        items = []
        for index, (label, kind, start_column, detail) in enumerate(result):
            start = server.to_client_position(state.buffer, Position(position.line, start_column))
            end = server.to_client_position(state.buffer, position)
            items.append(
                types.CompletionItem(
                    label=label,
                    kind=kind,
                    detail=detail,
                    sort_text=f"{index:05d}",
                    text_edit=types.TextEdit(
                        range=types.Range(start=start, end=end), new_text=label
                    ),
                )
            )
        return types.CompletionList(is_incomplete=False, items=items)

    @server.feature(types.SHUTDOWN)
    async def shutdown(params: None) -> None:
        for client in server._clients.values():
            try:
                await client.aclose()
            except Exception:
                log.debug("closing a registry client failed", exc_info=True)
        server._clients.clear()


class _PipeReader:
    """stdin as an asyncio stream. pygls reads stdin through a thread, one
    line per hop, so a burst of changes arrives one at a time with analyses
    in between; read from a pipe, everything already sent is handled before
    the next analysis runs, which coalesces bursts at no cost in latency."""

    def __init__(self, reader: asyncio.StreamReader) -> None:
        self._reader = reader

    async def readline(self) -> bytes:
        return await self._reader.readline()

    async def readexactly(self, n: int) -> bytes:
        try:
            return await self._reader.readexactly(n)
        except asyncio.IncompleteReadError as error:
            return error.partial


def _serve_stdio(server: DockpinServer) -> None:
    import stat
    import sys
    import threading

    from pygls.io_ import StdoutWriter, run_async

    if not stat.S_ISFIFO(os.fstat(sys.stdin.fileno()).st_mode):
        server.start_io()  # not a pipe (a file, a socket): pygls' own reader
        return

    stop_event = threading.Event()
    server._stop_event = stop_event

    async def serve() -> None:
        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader(limit=1024 * 1024)
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
        server.protocol.set_writer(StdoutWriter(sys.stdout.buffer))
        await run_async(
            stop_event=stop_event,
            reader=_PipeReader(reader),
            protocol=server.protocol,
            logger=log,
            error_handler=server._report_server_error,
        )

    try:
        asyncio.run(serve())
    except BrokenPipeError:
        log.error("the client closed the connection")
    except (KeyboardInterrupt, SystemExit):
        pass
    finally:
        server.shutdown()  # type: ignore[no-untyped-call]


def run_server(tcp: str | None = None) -> int:
    import gc

    logging.basicConfig(level=logging.WARNING, format="dockpin-lsp %(levelname)s %(message)s")
    server = build_server()
    # The imported modules (pygls, lsprotocol, cattrs: ~40 MB of objects) never
    # die; without this, every full collection walks them all and one edit in
    # four or five took twice as long on a 3,000-line file (benchmarks/).
    gc.collect()
    gc.freeze()
    if tcp:
        host, _, port = tcp.rpartition(":")
        server.start_tcp(host or "127.0.0.1", int(port))
    else:
        _serve_stdio(server)
    return 0
