"""``.dockpin.toml``: discovery, parsing and validation.

The same keys arrive from editors as LSP settings, so validation works on a
plain mapping (:meth:`Config.from_mapping`) and the TOML reader only adds the
file name and line numbers to its errors.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dockpin.rules.base import Severity

CONFIG_FILE_NAME = ".dockpin.toml"
RULE_LEVELS = ("off", "error", "warning", "info", "hint")
_RULE_CODE_RE = re.compile(r"^DP\d{3}$")
_REGISTRY_KEYS = ("trusted-registries", "mirrors", "insecure", "timeout", "offline")


class ConfigError(ValueError):
    """A configuration problem, naming where it is and which key."""

    def __init__(
        self,
        message: str,
        *,
        path: Path | None = None,
        line: int | None = None,
        key: str | None = None,
    ) -> None:
        where = str(path) if path is not None else "settings"
        if line is not None:
            where += f":{line}"
        prefix = f"{where}: " + (f"{key}: " if key else "")
        super().__init__(prefix + message)
        self.path = path
        self.line = line
        self.key = key
        self.detail = message


@dataclass(frozen=True, slots=True)
class Config:
    path: Path | None = None
    rules: Mapping[str, Severity | None] = field(default_factory=dict)  # None: off
    trusted_registries: tuple[str, ...] = ()
    mirrors: Mapping[str, str] = field(default_factory=dict)
    insecure: tuple[str, ...] = ()
    timeout: float = 5.0
    offline: bool = False

    def severity_for(self, code: str, default: Severity) -> Severity | None:
        """The configured severity of rule ``code``; None when it is off."""
        if code in self.rules:
            return self.rules[code]
        return default

    @classmethod
    def from_mapping(
        cls, data: Mapping[str, Any], *, path: Path | None = None, text: str | None = None
    ) -> Config:
        """Validate ``data`` (a parsed ``.dockpin.toml`` or LSP settings)."""

        def fail(message: str, section: str | None, key: str | None) -> ConfigError:
            line = _line_of(text, section, key) if text is not None else None
            dotted = ".".join(part for part in (section, key) if part)
            return ConfigError(message, path=path, line=line, key=dotted or None)

        unknown = sorted(set(data) - {"rules", "registry"})
        if unknown:
            raise fail("unknown section (expected [rules] or [registry])", unknown[0], None)

        rules: dict[str, Severity | None] = {}
        rules_table = data.get("rules", {})
        if not isinstance(rules_table, Mapping):
            raise fail("must be a table of rule codes", "rules", None)
        for code, level in rules_table.items():
            if not _RULE_CODE_RE.match(str(code)):
                raise fail(f"unknown rule code {code!r} (expected DPnnn)", "rules", str(code))
            if not isinstance(level, str) or level.lower() not in RULE_LEVELS:
                raise fail(
                    f"must be one of {', '.join(RULE_LEVELS)}, got {level!r}", "rules", str(code)
                )
            rules[str(code)] = None if level.lower() == "off" else Severity.parse(level)

        registry = data.get("registry", {})
        if not isinstance(registry, Mapping):
            raise fail("must be a table", "registry", None)
        for key in registry:
            if key not in _REGISTRY_KEYS:
                raise fail(
                    f"unknown key (expected one of {', '.join(_REGISTRY_KEYS)})",
                    "registry",
                    str(key),
                )

        trusted = registry.get("trusted-registries", [])
        if not isinstance(trusted, list) or not all(isinstance(x, str) and x for x in trusted):
            raise fail("must be a list of registry hosts", "registry", "trusted-registries")

        mirrors = registry.get("mirrors", {})
        if not isinstance(mirrors, Mapping):
            raise fail(
                'must be a table such as { "docker.io" = "http://127.0.0.1:5000" }',
                "registry",
                "mirrors",
            )
        for source, target in mirrors.items():
            if not isinstance(target, str) or not re.match(r"^https?://[^/\s]+/?$", target):
                raise fail(
                    f"mirror for {source!r} must be a URL like https://host[:port], got {target!r}",
                    "registry",
                    "mirrors",
                )

        insecure = registry.get("insecure", [])
        if not isinstance(insecure, list) or not all(isinstance(x, str) and x for x in insecure):
            raise fail("must be a list of host[:port] strings", "registry", "insecure")

        timeout = registry.get("timeout", 5.0)
        if (
            isinstance(timeout, bool)
            or not isinstance(timeout, int | float)
            or not (0 < float(timeout) <= 600)
        ):
            raise fail(
                f"must be a number of seconds between 0 and 600, got {timeout!r}",
                "registry",
                "timeout",
            )

        offline = registry.get("offline", False)
        if not isinstance(offline, bool):
            raise fail(f"must be true or false, got {offline!r}", "registry", "offline")

        return cls(
            path=path,
            rules=rules,
            trusted_registries=tuple(trusted),
            mirrors={str(k): str(v).rstrip("/") for k, v in mirrors.items()},
            insecure=tuple(insecure),
            timeout=float(timeout),
            offline=offline,
        )


def _line_of(text: str, section: str | None, key: str | None) -> int | None:
    """1-based line where ``key`` is set in ``[section]`` (or the section header)."""
    current: str | None = None
    header_line: int | None = None
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        header = re.match(r"^\[\s*([^\]]+?)\s*\]", stripped)
        if header:
            current = header.group(1).strip().strip('"')
            if current == section and header_line is None:
                header_line = number
            continue
        if key is None:
            continue
        assignment = re.match(r'^"?([^"=]+?)"?\s*=', stripped)
        if not assignment:
            continue
        name = assignment.group(1).strip()
        if (current == section and name == key) or (
            current is None and name in (f"{section}.{key}", key)
        ):
            return number
    return header_line


def load_config(path: Path) -> Config:
    """Read and validate ``path``; raise :class:`ConfigError` naming the problem."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read: {exc.strerror or exc}", path=path) from exc
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError("is not UTF-8 text", path=path) from exc
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        match = re.search(r"\(at line (\d+), column \d+\)", str(exc))
        line = int(match.group(1)) if match else None
        message = re.sub(r"\s*\(at line \d+, column \d+\)", "", str(exc))
        raise ConfigError(f"invalid TOML: {message}", path=path, line=line) from exc
    return Config.from_mapping(data, path=path, text=text)


def find_config(start: Path) -> Path | None:
    """The nearest ``.dockpin.toml`` in ``start``'s folder or its parents."""
    folder = start if start.is_dir() else start.parent
    folder = folder.resolve()
    for candidate_dir in (folder, *folder.parents):
        candidate = candidate_dir / CONFIG_FILE_NAME
        if candidate.is_file():
            return candidate
    return None
