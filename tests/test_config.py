""".dockpin.toml: every key, valid and invalid, error locations and discovery."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from dockpin.analysis import analyze
from dockpin.config import (
    CONFIG_FILE_NAME,
    Config,
    ConfigError,
    find_config,
    load_config,
)
from dockpin.rules import RULES_BY_CODE
from dockpin.rules.base import Severity
from dockpin.syntax import parse


def write(folder: Path, text: str, name: str = CONFIG_FILE_NAME) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def load_error(tmp_path: Path, text: str) -> ConfigError:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert caught.value.path == path
    return caught.value


# ---------------------------------------------------------------------------
# Valid files
# ---------------------------------------------------------------------------


def test_empty_file_is_the_default_config(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, ""))
    assert config == Config(path=tmp_path / CONFIG_FILE_NAME)
    assert config.rules == {}
    assert config.trusted_registries == ()
    assert config.mirrors == {}
    assert config.insecure == ()
    assert config.timeout == 5.0
    assert config.offline is False


def test_every_key(tmp_path: Path) -> None:
    config = load_config(
        write(
            tmp_path,
            "# dockpin settings\n"
            "[rules]\n"
            'DP001 = "off"\n'
            'DP002 = "error"\n'
            'DP003 = "warning"\n'
            'DP040 = "info"\n'
            'DP050 = "hint"\n'
            "\n"
            "[registry]\n"
            'trusted-registries = ["docker.io", "ghcr.io"]\n'
            'mirrors = { "docker.io" = "http://127.0.0.1:5000/", '
            '"ghcr.io" = "https://m.example" }\n'
            'insecure = ["127.0.0.1:5000", "registry.internal"]\n'
            "timeout = 2.5\n"
            "offline = true\n",
        )
    )
    assert config.rules == {
        "DP001": None,
        "DP002": Severity.ERROR,
        "DP003": Severity.WARNING,
        "DP040": Severity.INFO,
        "DP050": Severity.HINT,
    }
    assert config.trusted_registries == ("docker.io", "ghcr.io")
    # A trailing slash on a mirror is dropped so URLs join cleanly.
    assert config.mirrors == {
        "docker.io": "http://127.0.0.1:5000",
        "ghcr.io": "https://m.example",
    }
    assert config.insecure == ("127.0.0.1:5000", "registry.internal")
    assert config.timeout == 2.5
    assert isinstance(config.timeout, float)
    assert config.offline is True


@pytest.mark.parametrize(
    ("level", "expected"),
    [
        ("off", None),
        ("error", Severity.ERROR),
        ("warning", Severity.WARNING),
        ("info", Severity.INFO),
        ("hint", Severity.HINT),
        ("ERROR", Severity.ERROR),
        ("Off", None),
        ("Warning", Severity.WARNING),
    ],
)
def test_rule_levels(level: str, expected: Severity | None) -> None:
    config = Config.from_mapping({"rules": {"DP003": level}})
    assert config.rules == {"DP003": expected}
    assert config.severity_for("DP003", Severity.WARNING) == expected


def test_severity_for_unconfigured_rule_is_its_default() -> None:
    config = Config.from_mapping({"rules": {"DP003": "off"}})
    assert config.severity_for("DP001", Severity.WARNING) is Severity.WARNING
    assert config.severity_for("DP040", Severity.ERROR) is Severity.ERROR
    assert config.severity_for("DP003", Severity.WARNING) is None


def test_every_known_rule_code_is_configurable() -> None:
    config = Config.from_mapping({"rules": dict.fromkeys(RULES_BY_CODE, "off")})
    assert set(config.rules) == set(RULES_BY_CODE)
    assert all(value is None for value in config.rules.values())


def test_lowercase_rule_code_is_accepted_and_normalised() -> None:
    assert Config.from_mapping({"rules": {"dp003": "error"}}).rules == {"DP003": Severity.ERROR}


@pytest.mark.parametrize("timeout", [0.001, 1, 5.0, 600])
def test_timeout_bounds_accepted(timeout: float) -> None:
    config = Config.from_mapping({"registry": {"timeout": timeout}})
    assert config.timeout == float(timeout)


@pytest.mark.parametrize(
    "mirror", ["http://127.0.0.1:5000", "https://mirror.example.com", "https://[::1]:8443/"]
)
def test_mirror_urls_accepted(mirror: str) -> None:
    config = Config.from_mapping({"registry": {"mirrors": {"docker.io": mirror}}})
    assert config.mirrors == {"docker.io": mirror.rstrip("/")}


def test_empty_lists_and_tables_are_valid() -> None:
    config = Config.from_mapping(
        {"rules": {}, "registry": {"trusted-registries": [], "mirrors": {}, "insecure": []}}
    )
    assert config == Config()


def test_dotted_keys_and_inline_tables(tmp_path: Path) -> None:
    config = load_config(
        write(
            tmp_path,
            'rules.DP003 = "error"\n'
            'registry = { timeout = 1.5, "trusted-registries" = ["ghcr.io"] }\n',
        )
    )
    assert config.rules == {"DP003": Severity.ERROR}
    assert config.timeout == 1.5
    assert config.trusted_registries == ("ghcr.io",)


def test_registry_mirrors_as_a_sub_table(tmp_path: Path) -> None:
    config = load_config(
        write(tmp_path, '[registry.mirrors]\n"docker.io" = "http://127.0.0.1:5000"\n')
    )
    assert config.mirrors == {"docker.io": "http://127.0.0.1:5000"}


def test_crlf_and_bom_free_utf8(tmp_path: Path) -> None:
    path = tmp_path / CONFIG_FILE_NAME
    path.write_bytes(b'[rules]\r\nDP003 = "error" # caf\xc3\xa9\r\n')
    assert load_config(path).rules == {"DP003": Severity.ERROR}


# ---------------------------------------------------------------------------
# Invalid values: one error naming file, line and key
# ---------------------------------------------------------------------------

# (file text, line, key, fragment of the message)
INVALID: list[tuple[str, int | None, str | None, str]] = [
    ('[rules]\nDP003 = "loud"\n', 2, "rules.DP003", "must be one of off, error, warning"),
    ('[rules]\nDP001 = "off"\n\nDP003 = "information"\n', 4, "rules.DP003", "got 'information'"),
    ("[rules]\nDP003 = 1\n", 2, "rules.DP003", "got 1"),
    ("[rules]\nDP003 = true\n", 2, "rules.DP003", "got True"),
    ('[rules]\nDP003 = ["off"]\n', 2, "rules.DP003", "must be one of"),
    ('[rules]\nDP3 = "off"\n', 2, "rules.DP3", "unknown rule code 'DP3' (expected DPnnn)"),
    ('[rules]\nunpinned-tag = "off"\n', 2, "rules.unpinned-tag", "unknown rule code"),
    ('[rules]\nDL3006 = "off"\n', 2, "rules.DL3006", "unknown rule code"),
    ('[rules]\nDP999 = "off"\n', 2, "rules.DP999", "no such rule (known: DP001, DP002"),
    ('rules = "off"\n', 1, "rules", "must be a table of rule codes"),
    ('[[rules]]\nDP003 = "off"\n', 1, "rules", "must be a table of rule codes"),
    ('[rule]\nDP003 = "off"\n', 1, "rule", "unknown section (expected [rules] or [registry])"),
    ('[rules]\nDP003 = "off"\n\n[Registry]\ntimeout = 1\n', 4, "Registry", "unknown section"),
    ("top = 1\n", 1, "top", "unknown section"),
    ("registry = 5\n", 1, "registry", "must be a table"),
    (
        "[registry]\ntrusted_registries = []\n",
        2,
        "registry.trusted_registries",
        "unknown key (expected one of trusted-registries, mirrors, insecure, timeout, offline)",
    ),
    ("[registry]\ntimeout = 1\nmirror = {}\n", 3, "registry.mirror", "unknown key"),
    (
        '[registry]\ntrusted-registries = "docker.io"\n',
        2,
        "registry.trusted-registries",
        "must be a list of registry hosts",
    ),
    (
        '[registry]\ntrusted-registries = ["docker.io", ""]\n',
        2,
        "registry.trusted-registries",
        "must be a list of registry hosts",
    ),
    (
        '[registry]\ntrusted-registries = ["docker.io", 5]\n',
        2,
        "registry.trusted-registries",
        "must be a list",
    ),
    ('[registry]\nmirrors = "http://x"\n', 2, "registry.mirrors", "must be a table such as"),
    ('[registry]\nmirrors = ["http://x"]\n', 2, "registry.mirrors", "must be a table"),
    (
        '[registry]\nmirrors = { "docker.io" = "127.0.0.1:5000" }\n',
        2,
        "registry.mirrors",
        "mirror for 'docker.io' must be a URL like https://host[:port], got '127.0.0.1:5000'",
    ),
    ('[registry]\nmirrors = { "docker.io" = "ftp://m" }\n', 2, "registry.mirrors", "ftp://m"),
    (
        '[registry]\nmirrors = { "docker.io" = "https://m/v2/" }\n',
        2,
        "registry.mirrors",
        "https://m/v2/",
    ),
    ('[registry]\nmirrors = { "docker.io" = 5000 }\n', 2, "registry.mirrors", "got 5000"),
    (
        '[registry.mirrors]\n"ghcr.io" = "https://ok"\n"docker.io" = "nope"\n',
        3,
        "registry.mirrors",
        "got 'nope'",
    ),
    (
        '[registry]\ninsecure = "127.0.0.1:5000"\n',
        2,
        "registry.insecure",
        "must be a list of host[:port] strings",
    ),
    ("[registry]\ninsecure = [1]\n", 2, "registry.insecure", "must be a list"),
    (
        "[registry]\ntimeout = 0\n",
        2,
        "registry.timeout",
        "must be a number of seconds between 0 and 600, got 0",
    ),
    ("[registry]\ntimeout = -1.5\n", 2, "registry.timeout", "got -1.5"),
    ("[registry]\ntimeout = 601\n", 2, "registry.timeout", "got 601"),
    ("[registry]\ntimeout = nan\n", 2, "registry.timeout", "got nan"),
    ("[registry]\ntimeout = inf\n", 2, "registry.timeout", "got inf"),
    ('[registry]\ntimeout = "5"\n', 2, "registry.timeout", "got '5'"),
    ("[registry]\ntimeout = true\n", 2, "registry.timeout", "got True"),
    (
        '[registry]\noffline = "false"\n',
        2,
        "registry.offline",
        "must be true or false, got 'false'",
    ),
    ("[registry]\noffline = 0\n", 2, "registry.offline", "got 0"),
    (
        '[rules]\nDP003 = "off"\n[registry]\n\n# comment\ntimeout = 0\n',
        6,
        "registry.timeout",
        "got 0",
    ),
    ('registry.timeout = "x"\n', 1, "registry.timeout", "got 'x'"),
    ('rules = { DP001 = "off", DP003 = "loud" }\n', 1, "rules.DP003", "got 'loud'"),
    ('[rules]\r\n\r\nDP003 = "loud"\r\n', 3, "rules.DP003", "got 'loud'"),
]


@pytest.mark.parametrize(("text", "line", "key", "message"), INVALID, ids=lambda v: repr(v)[:50])
def test_invalid_values(
    tmp_path: Path, text: str, line: int | None, key: str | None, message: str
) -> None:
    error = load_error(tmp_path, text)
    assert (error.line, error.key) == (line, key)
    assert message in error.detail
    path = tmp_path / CONFIG_FILE_NAME
    assert str(error) == f"{path}:{line}: {key}: {error.detail}"


# (file text, line, key or None, tomllib's message)
MALFORMED: list[tuple[str, int, str | None, str]] = [
    ("[rules]\nDP003 = error\n", 2, "rules.DP003", "Invalid value"),
    ('[rules]\nDP001 = "off"\nDP003 = "error\n', 3, "rules.DP003", "Illegal character"),
    ('[rules]\nDP003 = "error"\nDP003 = "off"\n', 3, "rules.DP003", "Cannot overwrite a value"),
    ('[rules\nDP003 = "off"\n', 1, None, "Expected ']' at the end of a table declaration"),
    ("[registry]\ntimeout = 5.0.1\n", 2, "registry.timeout", "Expected newline"),
    ("\n\n[registry]\noffline = True\n", 4, "registry.offline", "Invalid value"),
    (
        '[registry]\ntrusted-registries = ["a",\n  "b"\n',
        2,
        "registry.trusted-registries",
        "Unclosed array",
    ),
    (
        '[registry]\ntrusted-registries = [\n  "a",\n  b,\n]\n',
        4,
        "registry.trusted-registries",
        "Invalid value",
    ),
    (
        '\n\n[registry]\nmirrors = { "docker.io" = "http://x", }\n',
        4,
        "registry.mirrors",
        "Invalid initial character for a key part",
    ),
    ("[rules]\nDP003\n", 2, "rules.DP003", "Expected '=' after a key"),
    ('x = 1\n[rules]\nDP003 = "off" junk\n', 3, "rules.DP003", "Expected newline"),
    ('# a comment\n[registry]\n"timeout" = 5 5\n', 3, "registry.timeout", "Expected newline"),
    ('[rules]\nDP003 = "off"\n[rules]\n', 3, None, "Cannot declare"),
]


@pytest.mark.parametrize(("text", "line", "key", "message"), MALFORMED, ids=lambda v: repr(v)[:50])
def test_malformed_toml(
    tmp_path: Path, text: str, line: int, key: str | None, message: str
) -> None:
    error = load_error(tmp_path, text)
    assert (error.line, error.key) == (line, key)
    assert error.detail.startswith("invalid TOML: " + message)
    assert "(at line" not in error.detail and "(at end of document)" not in error.detail
    path = tmp_path / CONFIG_FILE_NAME
    prefix = f"{path}:{line}: " + (f"{key}: " if key else "")
    assert str(error) == prefix + error.detail


def test_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / CONFIG_FILE_NAME
    path.write_bytes(b'[rules]\nDP003 = "caf\xe9"\n')
    with pytest.raises(ConfigError, match="is not UTF-8 text") as caught:
        load_config(path)
    assert str(caught.value).startswith(f"{path}: ")


def test_unreadable_config_is_a_config_error(tmp_path: Path) -> None:
    folder = tmp_path / CONFIG_FILE_NAME
    folder.mkdir()  # a folder where the file should be
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(folder)
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "missing.toml")


def test_settings_mapping_errors_name_settings_and_key() -> None:
    with pytest.raises(ConfigError) as caught:
        Config.from_mapping({"registry": {"timeout": "soon"}})
    assert caught.value.path is None and caught.value.line is None
    assert str(caught.value) == (
        "settings: registry.timeout: must be a number of seconds between 0 and 600, got 'soon'"
    )


def test_config_error_is_a_value_error() -> None:
    with pytest.raises(ValueError):
        Config.from_mapping({"rules": {"DP003": "loud"}})


# ---------------------------------------------------------------------------
# Discovery
# ---------------------------------------------------------------------------


def test_found_in_the_files_folder(tmp_path: Path) -> None:
    config = write(tmp_path / "app", "")
    dockerfile = tmp_path / "app" / "Dockerfile"
    dockerfile.write_text("FROM scratch\n")
    assert find_config(dockerfile) == config.resolve()
    assert find_config(tmp_path / "app") == config.resolve()


def test_found_in_a_parent_and_the_nearest_wins(tmp_path: Path) -> None:
    root = write(tmp_path, "")
    deep = tmp_path / "a" / "b" / "c"
    deep.mkdir(parents=True)
    (deep / "Dockerfile").write_text("FROM scratch\n")
    assert find_config(deep / "Dockerfile") == root.resolve()
    middle = write(tmp_path / "a", "")
    assert find_config(deep / "Dockerfile") == middle.resolve()
    assert find_config(tmp_path / "Dockerfile") == root.resolve()


def test_relative_start_and_a_file_that_does_not_exist_yet(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = write(tmp_path, "")
    (tmp_path / "sub").mkdir()
    monkeypatch.chdir(tmp_path / "sub")
    assert find_config(Path("Dockerfile")) == config.resolve()


def test_a_folder_named_like_the_config_is_not_a_config(tmp_path: Path) -> None:
    root = write(tmp_path, "")
    (tmp_path / "a" / CONFIG_FILE_NAME).mkdir(parents=True)
    assert find_config(tmp_path / "a" / "Dockerfile") == root.resolve()


def test_none_found(tmp_path: Path) -> None:
    # Only meaningful when no folder above tmp_path has a config of its own.
    if any((parent / CONFIG_FILE_NAME).exists() for parent in tmp_path.resolve().parents):
        pytest.skip("a .dockpin.toml exists above the temporary folder")
    assert find_config(tmp_path / "Dockerfile") is None


# ---------------------------------------------------------------------------
# Effect on analysis
# ---------------------------------------------------------------------------

DOCKERFILE = "FROM example.com/app:1.0\nFROM example.com/tool\nFROM example.com/x:latest\n"


def codes(config: Config | None, text: str = DOCKERFILE) -> list[tuple[str, Severity]]:
    wanted = {"DP001", "DP002", "DP003", "DP040", "DP050"}
    return [(f.code, f.severity) for f in analyze(parse(text), config) if f.code in wanted]


def test_defaults_without_config() -> None:
    assert codes(None) == [
        ("DP003", Severity.WARNING),
        ("DP001", Severity.WARNING),
        ("DP002", Severity.WARNING),
    ]


def test_rule_off_and_severity_override() -> None:
    config = Config.from_mapping({"rules": {"DP003": "off", "DP001": "error", "DP002": "hint"}})
    assert codes(config) == [("DP001", Severity.ERROR), ("DP002", Severity.HINT)]


def test_trusted_registries_turn_on_dp050() -> None:
    text = "FROM example.com/app:1.0\nFROM ghcr.io/o/a:1\nFROM python:3.12\n"
    assert [c for c, _ in codes(Config(), text)] == ["DP003", "DP003", "DP003"]
    config = Config.from_mapping({"registry": {"trusted-registries": ["ghcr.io", "docker.io"]}})
    assert codes(config, text) == [
        ("DP003", Severity.WARNING),
        ("DP050", Severity.WARNING),
        ("DP003", Severity.WARNING),
        ("DP003", Severity.WARNING),
    ]
    off = Config.from_mapping(
        {"rules": {"DP050": "off"}, "registry": {"trusted-registries": ["ghcr.io"]}}
    )
    assert [c for c, _ in codes(off, text)] == ["DP003", "DP003", "DP003"]


def test_config_file_round_trip_through_analysis(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, '[rules]\nDP003 = "info"\nDP001 = "off"\n'))
    assert codes(config) == [("DP003", Severity.INFO), ("DP002", Severity.WARNING)]


def _mapping(text: str) -> dict[str, Any]:
    import tomllib

    return tomllib.loads(text)


def test_from_mapping_matches_load_config(tmp_path: Path) -> None:
    text = '[rules]\nDP002 = "off"\n[registry]\ninsecure = ["h:1"]\ntimeout = 3\n'
    loaded = load_config(write(tmp_path, text))
    mapped = Config.from_mapping(_mapping(text), path=loaded.path)
    assert loaded == mapped
