"""The language server never dies: hostile or broken input over stdio, the
whole corpus, huge and binary documents, bursts of changes. After each, it
still answers the next request correctly.

A raw JSON-RPC client is used here (not pytest-lsp's) so that the tests can
send bytes no well-behaved client would.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from lsp.conftest import SERVER, server_env

CORPUS = Path(__file__).resolve().parents[2].parent / "shared" / "corpus"
TIMEOUT = 60


class RawClient:
    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.next_id = 0
        self.pending: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self.notifications: list[dict[str, Any]] = []
        self.diagnostics: dict[str, dict[str, Any]] = {}
        self.changed = asyncio.Event()
        self.reader = asyncio.ensure_future(self._read())

    async def _read(self) -> None:
        stream = self.process.stdout
        assert stream is not None
        while True:
            headers: dict[str, str] = {}
            while True:
                line = await stream.readline()
                if not line:
                    return
                text = line.decode("ascii").strip()
                if not text:
                    break
                key, _, value = text.partition(":")
                headers[key.lower()] = value.strip()
            body = await stream.readexactly(int(headers["content-length"]))
            message = json.loads(body)
            if "id" in message and ("result" in message or "error" in message):
                future = self.pending.pop(message["id"], None)
                if future is not None and not future.done():
                    future.set_result(message)
            elif "id" in message:
                # A request from the server (configuration, progress): answer it.
                result: Any = None
                if message.get("method") == "workspace/configuration":
                    result = [None for _ in message["params"]["items"]]
                self.send_raw({"jsonrpc": "2.0", "id": message["id"], "result": result})
            else:
                self.notifications.append(message)
                if message.get("method") == "textDocument/publishDiagnostics":
                    self.diagnostics[message["params"]["uri"]] = message["params"]
                self.changed.set()

    def send_bytes(self, data: bytes) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(data)

    def send_raw(self, message: dict[str, Any]) -> None:
        body = json.dumps(message).encode()
        self.send_bytes(b"Content-Length: %d\r\n\r\n%s" % (len(body), body))

    def notify(self, method: str, params: Any) -> None:
        self.send_raw({"jsonrpc": "2.0", "method": method, "params": params})

    async def request(self, method: str, params: Any) -> dict[str, Any]:
        self.next_id += 1
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self.pending[self.next_id] = future
        self.send_raw({"jsonrpc": "2.0", "id": self.next_id, "method": method, "params": params})
        return await asyncio.wait_for(future, TIMEOUT)

    async def wait_diagnostics(self, uri: str, version: int) -> dict[str, Any]:
        deadline = asyncio.get_running_loop().time() + TIMEOUT
        while True:
            found = self.diagnostics.get(uri)
            if found is not None and found.get("version") == version:
                return found
            self.changed.clear()
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0:
                raise AssertionError(f"no diagnostics for {uri} version {version}: {found}")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.changed.wait(), remaining)

    def open(self, uri: str, text: str, version: int = 1) -> None:
        self.notify(
            "textDocument/didOpen",
            {"textDocument": {"uri": uri, "languageId": "dockerfile", "version": version,
                              "text": text}},
        )

    async def alive_and_correct(self, tag: str) -> None:
        """The next request after an insult is answered correctly."""
        uri = f"file:///probe-{tag}/Dockerfile"
        self.open(uri, "FROM ubuntu:latest\nRUN true\n")
        published = await self.wait_diagnostics(uri, 1)
        assert [d["code"] for d in published["diagnostics"]] == ["DP002"]
        hover = await self.request(
            "textDocument/hover",
            {"textDocument": {"uri": uri}, "position": {"line": 0, "character": 7}},
        )
        assert "error" not in hover, hover
        assert "ubuntu:latest" in hover["result"]["contents"]["value"]
        assert self.process.returncode is None


@pytest_asyncio.fixture
async def raw(tmp_path: Path) -> AsyncIterator[RawClient]:
    process = await asyncio.create_subprocess_exec(
        *SERVER,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=server_env(tmp_path),
        limit=64 * 1024 * 1024,
    )
    client = RawClient(process)
    result = await client.request(
        "initialize",
        {"processId": os.getpid(), "rootUri": None,
         "capabilities": {"textDocument": {"publishDiagnostics": {"versionSupport": True}}},
         "initializationOptions": {"registry": {"offline": True}}},
    )
    assert "capabilities" in result["result"]
    client.notify("initialized", {})
    try:
        yield client
    finally:
        if process.returncode is None:
            try:
                await client.request("shutdown", None)
                client.notify("exit", None)
                await asyncio.wait_for(process.wait(), 10)
            except (TimeoutError, ConnectionError, BrokenPipeError):
                process.kill()
                await process.wait()
        client.reader.cancel()


async def test_malformed_json_rpc_and_unknown_methods(raw: RawClient) -> None:
    raw.send_bytes(b"Content-Length: 11\r\n\r\n{not json!}")
    raw.send_raw({"jsonrpc": "2.0", "id": 9001, "method": "dockpin/noSuchThing", "params": {}})
    raw.send_raw({"jsonrpc": "2.0", "method": "textDocument/didOpen", "params": {"bogus": 1}})
    raw.send_raw({"jsonrpc": "2.0", "id": 9002, "method": "textDocument/hover",
                  "params": {"nonsense": True}})
    raw.send_raw({"jsonrpc": "2.0", "method": "$/somethingOptional", "params": None})
    unknown = await raw.request("dockpin/alsoUnknown", {})
    assert unknown["error"]["code"] == -32601  # method not found, as an answer
    await raw.alive_and_correct("malformed")


async def test_change_outside_the_document_is_clamped(raw: RawClient) -> None:
    uri = "file:///outside/Dockerfile"
    raw.open(uri, "FROM python:3.12\n")
    await raw.wait_diagnostics(uri, 1)
    raw.notify(
        "textDocument/didChange",
        {"textDocument": {"uri": uri, "version": 2},
         "contentChanges": [{"range": {"start": {"line": 500, "character": 3},
                                       "end": {"line": 900, "character": 0}},
                             "text": "FROM ubuntu\nRUN true\n"}]},
    )
    published = await raw.wait_diagnostics(uri, 2)
    assert sorted(d["code"] for d in published["diagnostics"]) == ["DP001", "DP003"]
    # A range past the end of a line is clamped to the line end.
    raw.notify(
        "textDocument/didChange",
        {"textDocument": {"uri": uri, "version": 3},
         "contentChanges": [{"range": {"start": {"line": 0, "character": 999},
                                       "end": {"line": 0, "character": 999}},
                             "text": "-slim"}]},
    )
    published = await raw.wait_diagnostics(uri, 3)
    assert published["diagnostics"][0]["message"].startswith("python:3.12-slim")
    await raw.alive_and_correct("outside")


async def test_huge_and_binary_documents(raw: RawClient) -> None:
    block = "FROM python:3.12 AS s{n}\nRUN pip install flask \\\n    requests\n# comment\n\n"
    big = "".join(block.format(n=n) for n in range(5 * 1024 * 1024 // len(block)))
    assert len(big) >= 5 * 1024 * 1024 - len(block)
    raw.open("file:///big/Dockerfile", big)
    published = await raw.wait_diagnostics("file:///big/Dockerfile", 1)
    assert len(published["diagnostics"]) > 1000
    binary = bytes(range(256)).decode("latin-1") * 2000 + "\x00\udcff"
    raw.open("file:///binary/Dockerfile", binary.encode("utf-8", "surrogatepass").decode(
        "utf-8", "replace"))
    await raw.wait_diagnostics("file:///binary/Dockerfile", 1)
    await raw.alive_and_correct("huge")


async def test_a_thousand_changes_in_a_burst(raw: RawClient) -> None:
    uri = "file:///burst/Dockerfile"
    # Long enough that an analysis is not free: bursts must then be coalesced.
    filler = "".join(f"RUN echo step {n} \\\n    && true\n" for n in range(1500))
    raw.open(uri, "FROM python:3.12-slim\n" + filler)
    await raw.wait_diagnostics(uri, 1)
    for version in range(2, 1002):
        raw.notify(
            "textDocument/didChange",
            {"textDocument": {"uri": uri, "version": version},
             "contentChanges": [{"range": {"start": {"line": 1, "character": 0},
                                           "end": {"line": 1, "character": 0}},
                                 "text": f"RUN echo {version}\n"}]},
        )
    published = await raw.wait_diagnostics(uri, 1001)
    assert [d["code"] for d in published["diagnostics"]] == ["DP003"]
    # Coalesced: far fewer analyses published than changes sent.
    count = sum(1 for n in raw.notifications
                if n.get("method") == "textDocument/publishDiagnostics"
                and n["params"]["uri"] == uri)
    print("publishes during the burst:", count)
    assert count < 200
    await raw.alive_and_correct("burst")


@pytest.mark.skipif(not CORPUS.is_dir(), reason=f"corpus not found at {CORPUS}")
async def test_the_whole_corpus_through_the_server(raw: RawClient) -> None:
    manifest = (CORPUS / "MANIFEST.tsv").read_text().splitlines()[1:]
    paths = [line.split("\t")[0] for line in manifest]
    files = [p for p in paths if not p.endswith("__result")]
    assert len(files) >= 1400
    for index, relative in enumerate(files):
        text = (CORPUS / relative).read_bytes().decode("utf-8", "replace")
        uri = f"file:///corpus/{index}/Dockerfile"
        raw.open(uri, text)
        if index % 50 == 49:
            await raw.wait_diagnostics(uri, 1)
    last = f"file:///corpus/{len(files) - 1}/Dockerfile"
    await raw.wait_diagnostics(last, 1)
    for index, relative in enumerate(files):
        uri = f"file:///corpus/{index}/Dockerfile"
        assert uri in raw.diagnostics, relative
        lines = (CORPUS / relative).read_bytes().decode("utf-8", "replace").split("\n")
        for diagnostic in raw.diagnostics[uri]["diagnostics"]:
            start = diagnostic["range"]["start"]
            end = diagnostic["range"]["end"]
            assert 0 <= start["line"] <= end["line"] < len(lines) + 1, relative
    # Requests against corpus documents get answers, not errors.
    for index in range(0, len(files), 97):
        uri = f"file:///corpus/{index}/Dockerfile"
        for method, params in (
            ("textDocument/codeAction",
             {"textDocument": {"uri": uri},
              "range": {"start": {"line": 0, "character": 0},
                        "end": {"line": 0, "character": 0}},
              "context": {"diagnostics": raw.diagnostics[uri]["diagnostics"][:3]}}),
            ("textDocument/hover",
             {"textDocument": {"uri": uri}, "position": {"line": 0, "character": 6}}),
            ("textDocument/codeLens", {"textDocument": {"uri": uri}}),
            ("textDocument/completion",
             {"textDocument": {"uri": uri}, "position": {"line": 1, "character": 5}}),
        ):
            answer = await raw.request(method, params)
            assert "error" not in answer, (files[index], method, answer)
    assert raw.process.returncode is None
    assert not [n for n in raw.notifications if n.get("method") == "window/showMessage"
                and n["params"]["type"] == 1]

