"""The registry cache: in memory, backed by small JSON files on disk.

Two kinds of entry:

- *timed* entries (tag -> digest, "this digest exists in this repository",
  tag lists) expire after the tag TTL, because tags move and manifests get
  deleted. Offline, expired entries are still returned, marked stale.
- *content-addressed* entries (digest -> manifest facts) never expire: the
  digest names the bytes the facts were read from.

One file per entry, written to a temp file and ``os.replace``d, so that
concurrent dockpin processes (language server and CLI) never see a torn file
and never lose each other's updates. A file that cannot be read or parsed is
a miss, never a crash. Only digests and facts are stored: no credentials, no
tokens, no response headers.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .models import ManifestFacts

log = logging.getLogger(__name__)

_FORMAT = 1


def now() -> float:
    """Wall-clock seconds; a module function so tests can move time."""
    return time.time()


@dataclass(frozen=True, slots=True)
class TimedValue:
    value: Any
    stored_at: float
    expired: bool


class RegistryCache:
    """Memory + disk cache. ``directory`` None keeps everything in memory."""

    def __init__(self, directory: Path | None, ttl: float) -> None:
        self._dir = directory
        self._ttl = ttl
        self._timed: dict[str, tuple[Any, float]] = {}
        self._forever: dict[str, Any] = {}

    # -- files ---------------------------------------------------------------

    def _path(self, namespace: str, key: str) -> Path | None:
        if self._dir is None:
            return None
        # Hash the key: it holds '/', ':' and '@' and may be long.
        name = hashlib.sha256(key.encode("utf-8")).hexdigest()
        return self._dir / namespace / f"{name}.json"

    def _read(self, namespace: str, key: str) -> dict[str, Any] | None:
        path = self._path(namespace, key)
        if path is None:
            return None
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError, UnicodeDecodeError):
            return None
        # The stored key guards against a hash collision and against files
        # from another format version.
        if not isinstance(data, dict) or data.get("format") != _FORMAT or data.get("key") != key:
            return None
        return data

    def _write(self, namespace: str, key: str, payload: dict[str, Any]) -> None:
        path = self._path(namespace, key)
        if path is None:
            return
        document = {"format": _FORMAT, "key": key, **payload}
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".json")
            try:
                with os.fdopen(fd, "w", encoding="utf-8") as handle:
                    json.dump(document, handle)
                os.replace(tmp, path)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
        except OSError as exc:
            # A read-only or full disk costs speed, not correctness.
            log.debug("cannot write registry cache %s: %s", path, exc)

    # -- timed entries -------------------------------------------------------

    def get_timed(self, namespace: str, key: str, *, allow_expired: bool) -> TimedValue | None:
        full_key = f"{namespace}\0{key}"
        entry = self._timed.get(full_key)
        if entry is None:
            data = self._read(namespace, key)
            stored_at = data.get("stored_at") if data else None
            if data is None or not isinstance(stored_at, (int, float)) or "value" not in data:
                return None
            entry = (data["value"], float(stored_at))
            self._timed[full_key] = entry
        value, stored_at = entry
        expired = now() - stored_at >= self._ttl
        if expired and not allow_expired:
            return None
        return TimedValue(value=value, stored_at=stored_at, expired=expired)

    def put_timed(self, namespace: str, key: str, value: Any) -> None:
        stored_at = now()
        self._timed[f"{namespace}\0{key}"] = (value, stored_at)
        self._write(namespace, key, {"stored_at": stored_at, "value": value})

    # -- content-addressed entries ---------------------------------------------

    def get_forever(self, namespace: str, key: str) -> Any:
        """A content-addressed value (``key`` is a digest), or None."""
        full_key = f"{namespace}\0{key}"
        if full_key in self._forever:
            return self._forever[full_key]
        data = self._read(namespace, key)
        if data is None or "value" not in data:
            return None
        self._forever[full_key] = data["value"]
        return data["value"]

    def put_forever(self, namespace: str, key: str, value: Any) -> None:
        self._forever[f"{namespace}\0{key}"] = value
        self._write(namespace, key, {"value": value})

    def get_facts(self, digest: str) -> ManifestFacts | None:
        data = self.get_forever("manifests", digest)
        if data is None:
            return None
        try:
            facts = ManifestFacts.from_json(data)
        except ValueError:
            return None
        return facts if facts.digest == digest else None

    def put_facts(self, facts: ManifestFacts) -> None:
        self.put_forever("manifests", facts.digest, facts.to_json())
