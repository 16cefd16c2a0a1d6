"""A small asyncio LSP client over stdio, the same for every server measured.

Its own JSON-RPC framing (``Content-Length`` headers), so no server gets a
client library it happens to share code with. Every message is timestamped
(``time.perf_counter``) the moment its body is read, before it is decoded, and
``publishDiagnostics`` notifications are queued per document URI so a
measurement waits for the diagnostics of exactly the document it changed.

Client capabilities are those of a plain editor that supports push
diagnostics only: ``textDocument.diagnostic`` (pull) is left out on purpose,
so every server publishes. ``workspace.configuration`` is supported and
answered with ``null`` for every item (server defaults), as an editor without
settings for that server would.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

CLIENT_CAPABILITIES: dict[str, Any] = {
    "workspace": {
        "applyEdit": True,
        "configuration": True,
        "workspaceFolders": True,
        "didChangeConfiguration": {"dynamicRegistration": True},
        "workspaceEdit": {"documentChanges": True},
    },
    "textDocument": {
        "synchronization": {"dynamicRegistration": False, "didSave": True},
        "publishDiagnostics": {
            "relatedInformation": True,
            "versionSupport": True,
            "codeDescriptionSupport": True,
            "dataSupport": True,
        },
        "codeAction": {
            "codeActionLiteralSupport": {
                "codeActionKind": {"valueSet": ["", "quickfix", "refactor", "source"]}
            },
            "dataSupport": True,
            "resolveSupport": {"properties": ["edit"]},
        },
        "hover": {"contentFormat": ["markdown", "plaintext"]},
        # No "diagnostic" entry: this client cannot pull diagnostics.
    },
    "window": {"workDoneProgress": False},
    "general": {"positionEncodings": ["utf-16"]},
}


class ServerExited(Exception):
    pass


@dataclass
class Publish:
    """One ``textDocument/publishDiagnostics`` as received."""

    received: float
    version: int | None
    count: int


@dataclass
class LspProcess:
    """A language server child process and the client's view of it."""

    name: str
    proc: asyncio.subprocess.Process
    started: float
    stderr_path: Path
    _next_id: int = 1
    _pending: dict[int, asyncio.Future[tuple[float, Any]]] = field(default_factory=dict)
    _diagnostics: dict[str, asyncio.Queue[Publish]] = field(
        default_factory=lambda: defaultdict(asyncio.Queue)
    )
    _reader: asyncio.Task[None] | None = None
    server_requests: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    notifications: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    capabilities: dict[str, Any] = field(default_factory=dict)

    @property
    def pid(self) -> int:
        return self.proc.pid

    # -- process -----------------------------------------------------------------------------

    @classmethod
    async def start(
        cls,
        name: str,
        command: Sequence[str],
        *,
        cwd: Path,
        stderr_path: Path,
        env: dict[str, str] | None = None,
    ) -> LspProcess:
        stderr_path.parent.mkdir(parents=True, exist_ok=True)
        with stderr_path.open("ab") as stderr:
            started = time.perf_counter()
            proc = await asyncio.create_subprocess_exec(
                *command,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=stderr,
                cwd=cwd,
                env=env if env is not None else dict(os.environ),
                limit=64 * 1024 * 1024,
            )
        server = cls(name=name, proc=proc, started=started, stderr_path=stderr_path)
        server._reader = asyncio.create_task(server._read_loop(), name=f"lsp-reader-{name}")
        return server

    def rss_kb(self) -> dict[str, int]:
        """VmRSS and VmHWM (peak) from /proc, in kB."""
        out: dict[str, int] = {}
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                out[key] = int(value.split()[0])
        return out

    def cpu_s(self) -> float:
        """User + system CPU time of the server process so far."""
        fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        ticks = os.sysconf("SC_CLK_TCK")
        return (int(fields[11]) + int(fields[12])) / ticks

    def publish_count(self) -> int:
        return self.notifications.get("textDocument/publishDiagnostics", 0)

    async def stop(self, timeout: float = 5.0) -> None:
        """shutdown + exit, then wait; kill this process if it does not leave."""
        if self.proc.returncode is None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.request("shutdown", None), timeout)
                await self.notify("exit", None)
            try:
                await asyncio.wait_for(self.proc.wait(), timeout)
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._reader

    # -- framing -----------------------------------------------------------------------------

    async def _send(self, message: dict[str, Any]) -> None:
        body = json.dumps(message, separators=(",", ":")).encode()
        assert self.proc.stdin is not None
        self.proc.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        await self.proc.stdin.drain()

    async def _read_loop(self) -> None:
        stdout = self.proc.stdout
        assert stdout is not None
        try:
            while True:
                length = None
                while True:
                    line = await stdout.readline()
                    if not line:
                        raise ServerExited(self.name)
                    line = line.strip()
                    if not line:
                        break
                    key, _, value = line.decode("ascii").partition(":")
                    if key.strip().lower() == "content-length":
                        length = int(value)
                if length is None:
                    continue
                body = await stdout.readexactly(length)
                received = time.perf_counter()
                await self._dispatch(json.loads(body), received)
        except (ServerExited, asyncio.IncompleteReadError, ConnectionError):
            for future in self._pending.values():
                if not future.done():
                    future.set_exception(ServerExited(self.name))

    async def _dispatch(self, message: dict[str, Any], received: float) -> None:
        method = message.get("method")
        if method is None:  # a response
            future = self._pending.pop(message.get("id"), None)  # type: ignore[arg-type]
            if future is not None and not future.done():
                if "error" in message:
                    future.set_exception(RuntimeError(f"{self.name}: {message['error']}"))
                else:
                    future.set_result((received, message.get("result")))
            return
        if "id" in message:  # a request from the server
            self.server_requests[method] += 1
            result: Any = None
            if method == "workspace/configuration":
                result = [None for _ in message.get("params", {}).get("items", [])]
            elif method == "workspace/workspaceFolders":
                result = []
            await self._send({"jsonrpc": "2.0", "id": message["id"], "result": result})
            return
        self.notifications[method] += 1
        if method == "textDocument/publishDiagnostics":
            params = message["params"]
            self._diagnostics[params["uri"]].put_nowait(
                Publish(received, params.get("version"), len(params.get("diagnostics", [])))
            )

    # -- messages ----------------------------------------------------------------------------

    async def request(self, method: str, params: Any) -> tuple[float, Any]:
        """(time the response arrived, result)."""
        request_id = self._next_id
        self._next_id += 1
        future: asyncio.Future[tuple[float, Any]] = asyncio.get_running_loop().create_future()
        self._pending[request_id] = future
        await self._send({"jsonrpc": "2.0", "id": request_id, "method": method, "params": params})
        return await future

    async def notify(self, method: str, params: Any) -> None:
        await self._send({"jsonrpc": "2.0", "method": method, "params": params})

    async def initialize(self, root: Path) -> float:
        """initialize + initialized; returns seconds from process start to the result."""
        received, result = await self.request(
            "initialize",
            {
                "processId": os.getpid(),
                "clientInfo": {"name": "dockpin-bench", "version": "1"},
                "rootUri": root.as_uri(),
                "workspaceFolders": [{"uri": root.as_uri(), "name": root.name}],
                "capabilities": CLIENT_CAPABILITIES,
                "initializationOptions": None,
            },
        )
        self.capabilities = (result or {}).get("capabilities", {})
        await self.notify("initialized", {})
        return received - self.started

    @property
    def incremental(self) -> bool:
        sync = self.capabilities.get("textDocumentSync")
        kind = sync.get("change") if isinstance(sync, dict) else sync
        return kind == 2

    def take_publishes(self, uri: str) -> list[Publish]:
        """Publishes already received for ``uri`` and not yet waited for."""
        queue = self._diagnostics[uri]
        taken = []
        while not queue.empty():
            taken.append(queue.get_nowait())
        return taken

    async def wait_diagnostics(
        self, uri: str, version: int | None, sent: float, timeout: float
    ) -> tuple[Publish, int]:
        """The first publish for ``uri`` received after ``sent`` that is for ``version``
        (or carries no version). Returns it and how many stale ones were skipped."""
        queue = self._diagnostics[uri]
        skipped = 0
        deadline = time.perf_counter() + timeout
        while True:
            remaining = deadline - time.perf_counter()
            if remaining <= 0:
                raise TimeoutError(f"{self.name}: no diagnostics for {uri} v{version}")
            publish = await asyncio.wait_for(queue.get(), remaining)
            if publish.received < sent:
                skipped += 1
                continue
            if publish.version is not None and version is not None and publish.version != version:
                skipped += 1
                continue
            return publish, skipped

    async def did_open(self, uri: str, text: str, version: int = 1) -> float:
        """Send didOpen; returns the time it was written."""
        sent = time.perf_counter()
        await self.notify(
            "textDocument/didOpen",
            {
                "textDocument": {
                    "uri": uri,
                    "languageId": "dockerfile",
                    "version": version,
                    "text": text,
                }
            },
        )
        return sent

    async def did_change(
        self, uri: str, version: int, line: int, character: int, new_char: str, full_text: str
    ) -> float:
        """Replace one character (incrementally when the server allows it)."""
        if self.incremental:
            change: dict[str, Any] = {
                "range": {
                    "start": {"line": line, "character": character},
                    "end": {"line": line, "character": character + 1},
                },
                "rangeLength": 1,
                "text": new_char,
            }
        else:
            change = {"text": full_text}
        sent = time.perf_counter()
        await self.notify(
            "textDocument/didChange",
            {"textDocument": {"uri": uri, "version": version}, "contentChanges": [change]},
        )
        return sent

    async def did_close(self, uri: str) -> None:
        await self.notify("textDocument/didClose", {"textDocument": {"uri": uri}})
