"""Real Neovim (Debian 12's 0.7.2, headless) as the LSP client of `dockpin lsp`.

Neovim runs tests/e2e/nvim/pin_test.lua, which starts the server with the
0.7 API (`vim.lsp.start_client` + `vim.lsp.buf_attach_client`), waits for the
diagnostics and drives the code action the way `vim.lsp.buf.code_action()`
does, edits the buffer, or runs the code lens. One more run uses the Neovim 0.7
snippet of docs/editors.md, verbatim, as init.lua. The registry is the real
docker-registry on loopback, reached through the `.dockpin.toml` mirror;
skopeo is the digest oracle.

nvim is required, not optional: a missing binary fails with the install
command (scripts/test.sh installs it).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from support.oci import build_image
from support.registry import RegistryServer, skopeo_digest

ROOT = Path(__file__).resolve().parents[2]
LUA = Path(__file__).resolve().parent / "nvim" / "pin_test.lua"
DOCS = ROOT / "docs" / "editors.md"
SERVER = [sys.executable, "-m", "dockpin.cli", "lsp"]
INSTALL_HINT = "apt-get install -y neovim   (Debian 12 ships 0.7.2; scripts/test.sh installs it)"
WAIT_MS = 20_000  # each wait inside Neovim
RUN_TIMEOUT = 90.0  # the whole Neovim run
DOCS_MARKER = "<!-- tested by tests/e2e/test_neovim.py -->"
DIAGNOSTIC_SEVERITY = {"error": 1, "warning": 2, "information": 3, "hint": 4}


def nvim_binary() -> str:
    found = shutil.which("nvim")
    if found is None:
        pytest.fail(f"nvim not found on PATH. Install it with: {INSTALL_HINT}", pytrace=False)
    return found


@dataclass
class NvimRun:
    returncode: int
    stdout: str
    stderr: str
    log: str

    @property
    def status(self) -> dict[str, Any]:
        for line in reversed(self.stdout.splitlines()):
            if line.startswith("{"):
                value = json.loads(line)
                assert isinstance(value, dict)
                return value
        raise AssertionError(f"no JSON status line from nvim\n{self.report()}")

    def report(self) -> str:
        return (
            f"nvim exit code {self.returncode}\n--- stdout\n{self.stdout}\n"
            f"--- stderr\n{self.stderr}\n--- lsp.log (end)\n{self.log[-30_000:]}"
        )


@dataclass
class Editor:
    """A sandbox for one Neovim run: its own HOME, XDG folders and dockpin cache."""

    root: Path
    workspace: Path

    @classmethod
    def make(cls, tmp_path: Path) -> Editor:
        workspace = tmp_path / "ws"
        workspace.mkdir()
        return cls(tmp_path, workspace)

    def env(self, **extra: str) -> dict[str, str]:
        home = self.root / "home"
        xdg = {
            name: home / sub
            for name, sub in (
                ("XDG_CONFIG_HOME", ".config"),
                ("XDG_DATA_HOME", ".local/share"),
                ("XDG_STATE_HOME", ".local/state"),
                ("XDG_CACHE_HOME", ".cache"),
                ("XDG_RUNTIME_DIR", "run"),
            )
        }
        for path in xdg.values():
            path.mkdir(parents=True, exist_ok=True)
        env = {
            "PATH": os.environ["PATH"],
            "HOME": str(home),
            "DOCKER_CONFIG": str(home / ".docker"),
            "DOCKPIN_CACHE_DIR": str(self.root / "dockpin-cache"),
            "PYTHONPATH": os.environ.get("PYTHONPATH", ""),
            "LANG": "C.UTF-8",
            "TERM": "dumb",
            "DOCKPIN_CMD": json.dumps(SERVER),
            "DOCKPIN_NVIM_TIMEOUT": str(WAIT_MS),
            **{name: str(path) for name, path in xdg.items()},
        }
        env.update(extra)
        return env

    @property
    def lsp_log(self) -> Path | None:
        """stdpath('log') .. '/lsp.log': under XDG_CACHE_HOME up to 0.7, XDG_STATE_HOME after."""
        home = self.root / "home"
        found = [
            p
            for p in (home / ".cache/nvim/lsp.log", home / ".local/state/nvim/lsp.log")
            if p.exists()
        ]
        return found[0] if found else None

    def run(self, file: Path, *, init: Path | None = None, **env: str) -> NvimRun:
        """``nvim --headless -u NONE -c 'luafile pin_test.lua' FILE`` in the workspace."""
        command = [
            nvim_binary(),
            "--headless",
            "-u",
            str(init) if init else "NONE",
            "-i",
            "NONE",
            "-n",
            "-c",
            f"luafile {LUA}",
            str(file),
        ]
        proc = subprocess.Popen(
            command,
            cwd=self.workspace,
            env=self.env(**env),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,  # nvim and the server it starts: one group to stop
        )
        try:
            stdout, stderr = proc.communicate(timeout=RUN_TIMEOUT)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            stdout, stderr = proc.communicate()
            stderr += f"\n[test] nvim killed after {RUN_TIMEOUT} s"
        finally:
            with contextlib.suppress(ProcessLookupError):  # a server that outlived nvim
                os.killpg(proc.pid, signal.SIGKILL)
        log_file = self.lsp_log
        log = log_file.read_text(errors="replace") if log_file else "(no lsp.log)"
        return NvimRun(proc.returncode, stdout, stderr, log)


@pytest.fixture
def editor(tmp_path: Path) -> Editor:
    return Editor.make(tmp_path)  # Editor.run fails the test when nvim is missing


def mirror_to(workspace: Path, registry: RegistryServer) -> None:
    (workspace / ".dockpin.toml").write_text(
        f'[registry]\nmirrors = {{ "docker.io" = "{registry.url}" }}\ntimeout = 3.0\n'
    )


def codes(rows: list[dict[str, Any]]) -> list[tuple[str, int]]:
    return [(row["code"], row["lnum"]) for row in rows]


def test_neovim_pins_python_to_the_digest_skopeo_sees(
    registry: RegistryServer, editor: Editor
) -> None:
    registry.push("library/python", "3.12", build_image("python"))
    expected = skopeo_digest(registry.host, "library/python", "3.12")
    mirror_to(editor.workspace, registry)
    dockerfile = editor.workspace / "Dockerfile"
    dockerfile.write_text('FROM python:3.12\nRUN pip install flask\nCMD ["python"]\n')

    run = editor.run(dockerfile)

    assert run.returncode == 0, run.report()
    status = run.status
    assert status["ok"] is True, run.report()
    assert ("DP003", 0) in codes(status["before"]), run.report()
    assert status["title"].startswith("Pin python:3.12 to "), run.report()
    # Neovim 0.7 lists `edit` in codeAction.resolveSupport, so the edit comes lazily.
    assert status["via"] == "codeAction/resolve", run.report()
    assert status["line"] == f"FROM python:3.12@{expected}", run.report()
    assert "DP003" not in [code for code, _ in codes(status["after"])], run.report()
    assert dockerfile.read_text() == (
        f'FROM python:3.12@{expected}\nRUN pip install flask\nCMD ["python"]\n'
    )


def test_neovim_buffer_edits_reach_the_server_incrementally(
    registry: RegistryServer, editor: Editor
) -> None:
    registry.push("library/python", "3.12", build_image("python"))
    digest = skopeo_digest(registry.host, "library/python", "3.12")
    mirror_to(editor.workspace, registry)
    dockerfile = editor.workspace / "Dockerfile"
    dockerfile.write_text("FROM python:3.12\nRUN true\n")

    run = editor.run(dockerfile, DOCKPIN_NVIM_SCENARIO="sync", DOCKPIN_NVIM_DIGEST=digest)

    assert run.returncode == 0, run.report()
    status = run.status
    assert status["ok"] is True, run.report()
    assert status["sync_kind"] == 2, run.report()  # TextDocumentSyncKind.Incremental
    inserted = next(row for row in status["inserted"] if row["code"] == "DP003")
    # "FROM  python:3.12 AS second": the reference's exact columns on the new line.
    assert (inserted["lnum"], inserted["col"], inserted["end_col"]) == (1, 6, 17), run.report()
    assert status["lines"] == ["FROM python:3.12", "FROM  python:3.12 AS second", "RUN true"]
    assert dockerfile.read_text() == "FROM python:3.12\nFROM  python:3.12 AS second\nRUN true\n"


def test_neovim_code_lens_pins_every_image_through_apply_edit(
    registry: RegistryServer, editor: Editor
) -> None:
    """The lens runs `dockpin.pinAll` with workspace/executeCommand; the server
    sends the edit back with workspace/applyEdit, which Neovim applies."""
    registry.push("library/python", "3.12", build_image("python"))
    expected = skopeo_digest(registry.host, "library/python", "3.12")
    mirror_to(editor.workspace, registry)
    dockerfile = editor.workspace / "Dockerfile"
    dockerfile.write_text("FROM python:3.12 AS build\nRUN true\nFROM python:3.12\n")

    run = editor.run(dockerfile, DOCKPIN_NVIM_SCENARIO="lens")

    assert run.returncode == 0, run.report()
    assert run.status["title"] == "2 images unpinned - Pin all", run.report()
    assert dockerfile.read_text() == (
        f"FROM python:3.12@{expected} AS build\nRUN true\nFROM python:3.12@{expected}\n"
    )


def docs_snippet() -> str:
    """The Neovim 0.7 set-up from docs/editors.md (the Lua block after the marker)."""
    text = DOCS.read_text()
    assert DOCS_MARKER in text, f"{DOCS} lost its {DOCS_MARKER!r} marker"
    after = text.split(DOCS_MARKER, 1)[1]
    match = re.search(r"```lua\n(.*?)```", after, re.S)
    assert match, "no ```lua block after the marker"
    return match.group(1)


def test_the_documented_neovim_07_setup_works(registry: RegistryServer, editor: Editor) -> None:
    """docs/editors.md's 0.7 snippet, verbatim as init.lua, with `dockpin` on PATH:
    it starts the server for a dockerfile buffer and its init_options reach it."""
    registry.push("library/python", "3.12", build_image("python"))
    init = editor.root / "init.lua"
    init.write_text(docs_snippet())
    dockerfile = editor.workspace / "Dockerfile"
    # No .dockpin.toml, so the editor's settings apply; a loopback image keeps
    # any background lookup off the internet.
    dockerfile.write_text(f"FROM {registry.host}/library/python:3.12\nRUN true\n")
    bin_dir = str(Path(sys.executable).parent)
    assert Path(bin_dir, "dockpin").exists(), "the dockpin script is not installed in the venv"

    run = editor.run(
        dockerfile,
        init=init,
        DOCKPIN_NVIM_SCENARIO="attached",
        DOCKPIN_NVIM_SEVERITY=str(DIAGNOSTIC_SEVERITY["error"]),
        PATH=f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
    )

    assert run.returncode == 0, run.report()
    status = run.status
    assert status["ok"] is True, run.report()
    assert status["cmd"] == ["dockpin", "lsp"], run.report()
    dp003 = next(row for row in status["before"] if row["code"] == "DP003")
    # The snippet raises DP003 to an error through init_options.
    assert dp003["severity"] == DIAGNOSTIC_SEVERITY["error"], run.report()
