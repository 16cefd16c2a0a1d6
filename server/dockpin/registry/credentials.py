"""Registry credentials, found where docker, crane and podman keep them.

Order (crane's): ``$DOCKER_CONFIG/config.json`` (default
``~/.docker/config.json``), then ``$REGISTRY_AUTH_FILE``, then
``$XDG_RUNTIME_DIR/containers/auth.json``, then
``~/.config/containers/auth.json``. Within one file: a ``credHelpers`` entry
for the host, else the ``credsStore`` default helper, else the ``auths``
entry. A helper that is missing, fails or times out is noted and skipped, so
that a broken helper never stands in the way of anonymous access.

Secrets stay in memory: never logged, never in reprs or messages, never on
disk.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import json
import logging
import os
import shutil
import signal
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..references import DOCKER_HUB, DOCKER_HUB_CREDENTIAL_KEY
from .endpoints import normalise_registry_key

log = logging.getLogger(__name__)

#: docker-credential helpers print this (exit 1) when they hold nothing for a
#: server: not an error.
_HELPER_NOT_FOUND = "credentials not found"
#: Username a helper or config uses to mean "the secret is an identity token".
IDENTITY_TOKEN_USERNAME = "<token>"


@dataclass(frozen=True)
class Credential:
    """A username and secret for one registry host.

    ``identity_token`` is an OAuth2 refresh token (config.json
    ``identitytoken``, or a helper answering with username ``<token>``).
    ``source`` says where it came from, for messages.
    """

    username: str
    password: str = field(repr=False)
    source: str
    identity_token: str | None = field(default=None, repr=False)

    def __repr__(self) -> str:
        return f"Credential(username={self.username!r}, source={self.source!r}, secret=<hidden>)"


@dataclass(frozen=True, slots=True)
class _AuthFile:
    """The parts of a config.json / auth.json that matter, keys normalised."""

    path: Path
    auths: Mapping[str, Mapping[str, Any]]
    #: host -> (helper name, key as written, passed to the helper on stdin).
    helpers: Mapping[str, tuple[str, str]]
    default_helper: str | None
    #: Original spelling of each auths key, passed to the default helper.
    written_keys: Mapping[str, str]


class CredentialStore:
    """Looks up credentials per registry host.

    ``env`` and ``home`` default to the process environment and the user's
    home; tests pass their own so that the real ``~/.docker`` is never read.
    Results (including "none") are memoised per host for the store's
    lifetime: helpers are slow and may prompt.
    """

    def __init__(
        self,
        env: Mapping[str, str] | None = None,
        home: Path | None = None,
        *,
        helper_timeout: float = 5.0,
    ) -> None:
        self._env: Mapping[str, str] = dict(os.environ) if env is None else dict(env)
        self._inherit_env = env is None
        self._home = home if home is not None else Path.home()
        self._helper_timeout = helper_timeout
        self._memo: dict[tuple[str, str], Credential | None] = {}
        self._locks: dict[tuple[str, str], asyncio.Lock] = {}
        #: Problems met while looking (failed helpers, unreadable files),
        #: per host; the client adds them to an "unauthorized" message.
        self.notes: dict[str, list[str]] = {}

    def __repr__(self) -> str:
        return f"CredentialStore(home={str(self._home)!r})"

    # -- where to look -------------------------------------------------------

    def _files(self) -> list[tuple[Path, bool]]:
        """(path, is_docker_config) in lookup order."""
        env = self._env
        docker_dir = Path(env["DOCKER_CONFIG"]) if env.get("DOCKER_CONFIG") else None
        files: list[tuple[Path, bool]] = [
            ((docker_dir or self._home / ".docker") / "config.json", True)
        ]
        if env.get("REGISTRY_AUTH_FILE"):
            files.append((Path(env["REGISTRY_AUTH_FILE"]), False))
        if env.get("XDG_RUNTIME_DIR"):
            files.append((Path(env["XDG_RUNTIME_DIR"]) / "containers" / "auth.json", False))
        files.append((self._home / ".config" / "containers" / "auth.json", False))
        return files

    def _load(self, path: Path, host: str, is_docker: bool) -> _AuthFile | None:
        try:
            raw = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        except OSError as exc:
            self._note(host, f"cannot read {path}: {exc.strerror or exc}")
            return None
        try:
            data = json.loads(raw)
        except ValueError:
            self._note(host, f"{path} is not valid JSON")
            return None
        if not isinstance(data, dict):
            self._note(host, f"{path} is not a JSON object")
            return None
        auths: dict[str, Mapping[str, Any]] = {}
        written: dict[str, str] = {}
        raw_auths = data.get("auths")
        if isinstance(raw_auths, dict):
            for key, entry in raw_auths.items():
                if isinstance(key, str) and isinstance(entry, dict):
                    norm = self._file_key(key, is_docker)
                    # The first spelling wins, as in docker's own lookup.
                    auths.setdefault(norm, entry)
                    written.setdefault(norm, key)
        helpers: dict[str, tuple[str, str]] = {}
        raw_helpers = data.get("credHelpers")
        if isinstance(raw_helpers, dict):
            for key, name in raw_helpers.items():
                if isinstance(key, str) and isinstance(name, str) and name:
                    helpers.setdefault(self._file_key(key, is_docker), (name, key))
        default = data.get("credsStore") if is_docker else None
        return _AuthFile(
            path=path,
            auths=auths,
            helpers=helpers,
            default_helper=default if isinstance(default, str) and default else None,
            written_keys=written,
        )

    @staticmethod
    def _file_key(key: str, is_docker: bool) -> str:
        """Normalise a key. containers' auth.json may scope an entry to a
        namespace (``quay.io/org``); docker's config.json may not (its paths
        are ``/v1/`` noise)."""
        if is_docker:
            return normalise_registry_key(key)
        text = key.split("://", 1)[1] if "://" in key else key
        host, _, path = text.partition("/")
        path = path.strip("/")
        if path in ("", "v1", "v2"):
            return normalise_registry_key(host)
        return f"{normalise_registry_key(host)}/{path}"

    def _note(self, host: str, message: str) -> None:
        log.warning("credentials for %s: %s", host, message)
        self.notes.setdefault(host, []).append(message)

    # -- lookup --------------------------------------------------------------

    async def lookup(self, host: str, repository: str = "") -> Credential | None:
        """Credentials for ``host`` (``docker.io``, ``ghcr.io``,
        ``127.0.0.1:5000``), or None for anonymous access.

        ``repository`` (a path such as ``org/app``) lets namespaced entries in
        containers auth files match.
        """
        host = normalise_registry_key(host)
        memo_key = (host, repository)
        lock = self._locks.setdefault(memo_key, asyncio.Lock())
        async with lock:
            if memo_key not in self._memo:
                self._memo[memo_key] = await self._lookup(host, repository)
            return self._memo[memo_key]

    async def _lookup(self, host: str, repository: str) -> Credential | None:
        for path, is_docker in self._files():
            auth_file = self._load(path, host, is_docker)
            if auth_file is None:
                continue
            found = await self._from_file(auth_file, host, repository)
            if found is not None:
                return found
        return None

    async def _from_file(
        self, auth_file: _AuthFile, host: str, repository: str
    ) -> Credential | None:
        keys = [host]
        if repository:
            # Most specific namespace first: quay.io/org/app, quay.io/org.
            parts = repository.split("/")
            keys = [f"{host}/{'/'.join(parts[:n])}" for n in range(len(parts), 0, -1)] + keys
        for key in keys:
            helper = auth_file.helpers.get(key)
            if helper is not None:
                found = await self._from_helper(helper[0], helper[1], host)
                if found is not None:
                    return found
            elif auth_file.default_helper is not None and key == host:
                server = auth_file.written_keys.get(host) or (
                    DOCKER_HUB_CREDENTIAL_KEY if host == DOCKER_HUB else host
                )
                found = await self._from_helper(auth_file.default_helper, server, host)
                if found is not None:
                    return found
            entry = auth_file.auths.get(key)
            if entry is not None:
                found = self._from_entry(entry, host, auth_file.path)
                if found is not None:
                    return found
        return None

    def _from_entry(self, entry: Mapping[str, Any], host: str, path: Path) -> Credential | None:
        source = str(path)
        identity = entry.get("identitytoken")
        username = entry.get("username")
        password = entry.get("password")
        encoded = entry.get("auth")
        if isinstance(encoded, str) and encoded:
            try:
                decoded = base64.b64decode(encoded, validate=False).decode("utf-8")
            except (binascii.Error, UnicodeDecodeError):
                self._note(host, f"the auth entry in {path} is not valid base64")
                decoded = ""
            if ":" in decoded:
                username, password = decoded.split(":", 1)
        if isinstance(identity, str) and identity:
            return Credential(
                username=username if isinstance(username, str) and username else "<token>",
                password=password if isinstance(password, str) else "",
                source=source,
                identity_token=identity,
            )
        if isinstance(username, str) and username and isinstance(password, str):
            return Credential(username=username, password=password, source=source)
        return None

    async def _from_helper(self, name: str, server: str, host: str) -> Credential | None:
        program = f"docker-credential-{name}"
        search_path = self._env.get("PATH", os.defpath)
        executable = shutil.which(program, path=search_path)
        if executable is None:
            self._note(host, f"credential helper {program} not found on PATH")
            return None
        try:
            proc = await asyncio.create_subprocess_exec(
                executable,
                "get",
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                env=None if self._inherit_env else dict(self._env),
                # Its own process group, so a timeout can kill whatever the
                # helper started too (a child holding our pipes open would
                # otherwise keep us waiting).
                start_new_session=True,
            )
        except OSError as exc:
            self._note(host, f"credential helper {program} could not start: {exc.strerror}")
            return None
        try:
            stdout, stderr = await asyncio.wait_for(
                proc.communicate(server.encode("utf-8")), self._helper_timeout
            )
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                if sys.platform == "win32":
                    proc.kill()
                else:
                    os.killpg(proc.pid, signal.SIGKILL)
            await proc.wait()
            self._note(host, f"credential helper {program} timed out after {self._helper_timeout}s")
            return None
        out = stdout.decode("utf-8", "replace").strip()
        if proc.returncode != 0:
            if (
                _HELPER_NOT_FOUND in out.lower()
                or _HELPER_NOT_FOUND in stderr.decode("utf-8", "replace").lower()
            ):
                return None
            # stderr, not stdout: a helper's stdout could echo a secret.
            detail = stderr.decode("utf-8", "replace").strip().splitlines()
            reason = detail[-1][:200] if detail else f"exit status {proc.returncode}"
            self._note(host, f"credential helper {program} failed: {reason}")
            return None
        try:
            data = json.loads(out)
        except ValueError:
            self._note(host, f"credential helper {program} printed something other than JSON")
            return None
        if not isinstance(data, dict):
            self._note(host, f"credential helper {program} printed something other than JSON")
            return None
        username, secret = data.get("Username"), data.get("Secret")
        if not isinstance(username, str) or not isinstance(secret, str) or not secret:
            return None
        source = f"credential helper {program}"
        if username == IDENTITY_TOKEN_USERNAME:
            return Credential(username=username, password="", source=source, identity_token=secret)
        return Credential(username=username, password=secret, source=source)
