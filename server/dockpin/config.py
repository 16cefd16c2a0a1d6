"""``.dockpin.toml``: discovery, parsing and validation.

The same keys arrive from editors as LSP settings, so validation works on a
plain mapping (:meth:`Config.from_mapping`) and the TOML reader only adds the
file name and line numbers to its errors.
"""

from __future__ import annotations

import re
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

        def fail(
            message: str, section: str | None, key: str | None, *, item: str | None = None
        ) -> ConfigError:
            line: int | None = None
            if text is not None:
                # The entry itself (``"docker.io" = ...`` under ``[registry.mirrors]``)
                # when it has a line of its own, else the key or the section.
                if item is not None and section is not None and key is not None:
                    line = _line_of_path(text, [section, key, item])
                if line is None:
                    line = _line_of(text, section, key)
            dotted = ".".join(part for part in (section, key) if part)
            return ConfigError(message, path=path, line=line, key=dotted or None)

        unknown = sorted(set(data) - {"rules", "registry"})
        if unknown:
            raise fail("unknown section (expected [rules] or [registry])", unknown[0], None)

        rules: dict[str, Severity | None] = {}
        rules_table = data.get("rules", {})
        if not isinstance(rules_table, Mapping):
            raise fail("must be a table of rule codes", "rules", None)
        from dockpin.rules import RULES_BY_CODE  # here: the rules import this module's users

        for code, level in rules_table.items():
            if not _RULE_CODE_RE.match(str(code).upper()):
                raise fail(f"unknown rule code {code!r} (expected DPnnn)", "rules", str(code))
            if str(code).upper() not in RULES_BY_CODE:
                raise fail(
                    f"no such rule (known: {', '.join(sorted(RULES_BY_CODE))})", "rules", str(code)
                )
            if not isinstance(level, str) or level.lower() not in RULE_LEVELS:
                raise fail(
                    f"must be one of {', '.join(RULE_LEVELS)}, got {level!r}", "rules", str(code)
                )
            rules[str(code).upper()] = None if level.lower() == "off" else Severity.parse(level)

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
                    item=str(source),
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


_HEADER_RE = re.compile(r"^\[\[?([^\]]*)\]\]?\s*(?:#.*)?$")
_KEY_PART = r"""(?:"(?:[^"\\]|\\.)*"|'[^']*'|[A-Za-z0-9_-]+)"""
_KEY_RE = re.compile(rf"^\s*({_KEY_PART}(?:\s*\.\s*{_KEY_PART})*)\s*=")
_BARE_KEY_RE = re.compile(rf"^\s*({_KEY_PART}(?:\s*\.\s*{_KEY_PART})*)\s*(?:#.*)?$")


def _lines(text: str) -> list[str]:
    """Lines as TOML numbers them: only LF ends a line (CRLF's CR is stripped)."""
    return [line.removesuffix("\r") for line in text.split("\n")]


def _key_parts(dotted: str) -> list[str]:
    """``registry."trusted-registries"`` -> ``["registry", "trusted-registries"]``."""
    return [m.strip().strip("\"'") for m in re.findall(_KEY_PART, dotted)]


def _scan(text: str) -> list[tuple[int, str, list[str]]]:
    """(1-based line, kind, key path) for every table header ("table") and
    key/value line ("key") of a TOML text, key paths including the table."""
    found: list[tuple[int, str, list[str]]] = []
    table: list[str] = []
    for number, line in enumerate(_lines(text), start=1):
        stripped = line.strip()
        header = _HEADER_RE.match(stripped)
        if header:
            table = _key_parts(header.group(1))
            found.append((number, "table", table))
            continue
        assignment = _KEY_RE.match(stripped)
        if assignment:
            found.append((number, "key", table + _key_parts(assignment.group(1))))
    return found


def _line_of_path(text: str, target: list[str]) -> int | None:
    """1-based line of the header or key/value line whose key path starts with ``target``."""
    for number, _, path in _scan(text):
        if path[: len(target)] == target:
            return number
    return None


def _line_of(text: str, section: str | None, key: str | None) -> int | None:
    """1-based line where ``key`` is set in ``[section]`` (or the section itself)."""
    if section is None:
        return None
    target = [section, key] if key is not None else [section]
    fallback: int | None = None
    for number, kind, path in _scan(text):
        if path[: len(target)] == target:
            return number
        if key is not None and fallback is None and path == [section] and kind == "key":
            # An inline table: ``rules = { DP003 = "loud" }``.
            line = _lines(text)[number - 1]
            if re.search(rf"""[{{,]\s*["']?{re.escape(key)}["']?\s*=""", line):
                return number
        if key is not None and path[:1] == [section] and fallback is None:
            fallback = number
    return fallback


def _opens_value(line: str) -> bool:
    """Whether a ``key = value`` line leaves an array, inline table or
    multi-line string open (a rough count: enough to name the key)."""
    value = line.split("=", 1)[1] if "=" in line else ""
    if value.count('"""') % 2 or value.count("'''") % 2:
        return True
    return value.count("[") > value.count("]") or value.count("{") > value.count("}")


def _toml_error_place(text: str, line: int | None) -> tuple[int | None, str | None]:
    """The line to report for a TOML syntax error and the dotted key it is in."""
    lines = _lines(text)
    scanned = _scan(text)
    if line is None:  # "at end of document": an unclosed value, or the last line
        for number, kind, path in reversed(scanned):
            if kind == "key" and _opens_value(lines[number - 1]):
                return number, ".".join(path)
            break
        last = max((n for n, line in enumerate(lines, start=1) if line.strip()), default=1)
        return last, None
    table: list[str] = []
    for number, kind, path in scanned:
        if number > line:
            break
        if kind == "table":
            table = path
        if number == line:
            return line, (".".join(path) if kind == "key" else None)
    if 0 < line <= len(lines):
        bare = _BARE_KEY_RE.match(lines[line - 1].strip())
        if bare and not lines[line - 1].strip().startswith("#"):
            return line, ".".join(table + _key_parts(bare.group(1)))
    # Inside a value that spans lines (an array, an inline table): its key.
    for number, kind, path in reversed(scanned):
        if number < line:
            if kind == "key" and _opens_value(lines[number - 1]):
                return line, ".".join(path)
            break
    return line, None


def load_config(path: Path, settings: Mapping[str, Any] | None = None) -> Config:
    """Read and validate ``path``; raise :class:`ConfigError` naming the problem.

    ``settings`` (an editor's ``dockpin.*`` settings, same keys) fill in what
    the file does not set: the project's file wins over a user's editor.
    """
    data, text = read_config_data(path)
    if settings:
        data = merge_settings(settings, data)
    return Config.from_mapping(data, path=path, text=text)


def merge_settings(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """``base`` with ``override`` on top, table by table."""
    merged: dict[str, Any] = {key: value for key, value in base.items() if value is not None}
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = merge_settings(merged[key], value)
        else:
            merged[key] = value
    return merged


def read_config_data(path: Path) -> tuple[dict[str, Any], str]:
    """The parsed TOML of ``path`` and its text (for line numbers)."""
    import tomllib  # only when there is a file: most checks run without one

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
        message = re.sub(r"\s*\(at (?:line \d+, column \d+|end of document)\)", "", str(exc))
        line, key = _toml_error_place(text, int(match.group(1)) if match else None)
        raise ConfigError(f"invalid TOML: {message}", path=path, line=line, key=key) from exc
    return data, text


def find_config(start: Path) -> Path | None:
    """The nearest ``.dockpin.toml`` in ``start``'s folder or its parents."""
    folder = start if start.is_dir() else start.parent
    folder = folder.resolve()
    for candidate_dir in (folder, *folder.parents):
        candidate = candidate_dir / CONFIG_FILE_NAME
        if candidate.is_file():
            return candidate
    return None
