"""`dockpin pin` and online `dockpin check` as a user runs them: the CLI as a
subprocess against a real docker-registry on loopback, reached through
`mirrors` the way a pull-through cache is used. skopeo is the oracle."""

from __future__ import annotations

import json
import stat
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from support.env import isolated_env
from support.oci import build_image
from support.proxy import Fault, FaultProxy
from support.registry import RegistryServer, skopeo_digest

SHA = "sha256:"


@dataclass
class Project:
    root: Path
    env: dict[str, str]

    def write(self, text: str, name: str = "Dockerfile", *, newline: str = "\n") -> Path:
        path = self.root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(text.replace("\n", newline).encode())
        return path

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "dockpin.cli", *args],
            cwd=self.root,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
        )

    def mirror(self, url: str, *, extra: str = "") -> None:
        (self.root / ".dockpin.toml").write_text(
            f'[registry]\nmirrors = {{ "docker.io" = "{url}" }}\ntimeout = 3.0\n{extra}'
        )


def pin_rows(stdout: str) -> list[dict[str, object]]:
    """The pinning findings (DP001-DP005) of a JSON report; other rules judge
    image choice, which these tests do not care about."""
    return [row for row in json.loads(stdout) if str(row["rule"]).startswith("DP00")]


@pytest.fixture
def project(tmp_path: Path) -> Project:
    root = tmp_path / "project"
    root.mkdir()
    home = tmp_path / "home"
    home.mkdir()
    env = isolated_env(tmp_path)
    return Project(root, env)


def test_pins_every_kind_of_image_to_the_digest_skopeo_sees(
    registry: RegistryServer, project: Project
) -> None:
    registry.push("library/python", "3.12", build_image("python"))
    registry.push("library/golang", "1.22", build_image("golang", fmt="docker"))
    registry.push(
        "library/ubuntu", "latest", build_image("ubuntu", platforms=[("linux", "amd64", None)])
    )
    registry.push("library/node", "22", build_image("node", attestation=True))
    project.mirror(registry.url)
    path = project.write(
        "FROM python:3.12 AS base\n"
        "FROM golang:1.22 AS build\n"
        "FROM ubuntu\n"
        "COPY --from=node:22 /usr/local/bin/node /usr/local/bin/node\n"
        "RUN --mount=type=bind,from=docker.io/library/golang:1.22,target=/go true\n"
    )

    result = project.run("pin")

    assert result.returncode == 0, result.stderr
    expected = {
        name: skopeo_digest(registry.host, f"library/{name}", tag)
        for name, tag in [("python", "3.12"), ("golang", "1.22"), ("ubuntu", "latest"),
                          ("node", "22")]
    }
    assert path.read_text() == (
        f"FROM python:3.12@{expected['python']} AS base\n"
        f"FROM golang:1.22@{expected['golang']} AS build\n"
        f"FROM ubuntu:latest@{expected['ubuntu']}\n"
        f"COPY --from=node:22@{expected['node']} /usr/local/bin/node /usr/local/bin/node\n"
        f"RUN --mount=type=bind,from=docker.io/library/golang:1.22@{expected['golang']},"
        "target=/go true\n"
    )
    # Idempotent: a second run changes nothing and says so.
    again = project.run("pin")
    assert again.returncode == 0
    assert "every image is pinned" in again.stderr
    assert project.run("check", "--fail-on", "info").returncode == 0


def test_arg_default_is_pinned_on_the_arg_line_and_crlf_kept(
    registry: RegistryServer, project: Project
) -> None:
    digest = registry.push("library/python", "3.12-slim", build_image("python-slim"))
    project.mirror(registry.url)
    path = project.write("ARG BASE=python:3.12-slim\nFROM ${BASE}\nCMD [\"python\"]\n",
                         newline="\r\n")

    assert project.run("pin").returncode == 0

    assert path.read_bytes() == (
        f"ARG BASE=python:3.12-slim@{digest}\r\nFROM ${{BASE}}\r\nCMD [\"python\"]\r\n"
    ).encode()


def test_check_flag_writes_nothing_and_diff_shows_the_change(
    registry: RegistryServer, project: Project
) -> None:
    digest = registry.push("library/debian", "13", build_image("debian"))
    project.mirror(registry.url)
    path = project.write("FROM debian:13\n")
    path.chmod(0o640)

    result = project.run("pin", "--check", "--diff")

    assert result.returncode == 1
    assert path.read_text() == "FROM debian:13\n"
    assert "-FROM debian:13\n" in result.stdout
    assert f"+FROM debian:13@{digest}\n" in result.stdout
    # A real run keeps the file's permissions.
    assert project.run("pin").returncode == 0
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    assert project.run("pin", "--check").returncode == 0


def test_moved_tag_gives_dp004_and_update_fixes_it(
    registry: RegistryServer, project: Project
) -> None:
    old = registry.push("library/python", "3.12", build_image("python"))
    project.mirror(registry.url)
    path = project.write(f"FROM python:3.12@{old}\n")
    new = registry.push("library/python", "3.12", build_image("python", salt="rebuilt"))
    assert new != old

    check = project.run("check", "--format", "json", "--fail-on", "info")
    rows = pin_rows(check.stdout)
    assert [r["rule"] for r in rows] == ["DP004"]
    assert rows[0]["severity"] == "info"
    assert check.returncode == 1
    # A plain pin leaves a pinned reference alone; --update refreshes it.
    assert project.run("pin").returncode == 0
    assert path.read_text() == f"FROM python:3.12@{old}\n"
    assert project.run("pin", "--update").returncode == 0
    assert path.read_text() == f"FROM python:3.12@{new}\n"
    assert pin_rows(project.run("check", "--format", "json").stdout) == []


def test_single_platform_pin_stays_single_platform_on_update(
    registry: RegistryServer, project: Project
) -> None:
    first = build_image("python")
    registry.push("library/python", "3.12", first)
    arm_child = first.children[("linux", "arm64", "v8")]
    project.mirror(registry.url)
    path = project.write(f"FROM python:3.12@{arm_child}\n")
    # A child of the current index is current, not stale.
    assert pin_rows(project.run("check", "--format", "json").stdout) == []

    second = build_image("python", salt="rebuilt")
    registry.push("library/python", "3.12", second)
    assert project.run("pin", "--update").returncode == 0

    assert path.read_text() == f"FROM python:3.12@{second.children[('linux', 'arm64', 'v8')]}\n"


def test_deleted_manifest_gives_dp005(registry: RegistryServer, project: Project) -> None:
    old = registry.push("library/redis", "7", build_image("redis"))
    registry.push("library/redis", "7", build_image("redis", salt="new"))
    registry.delete_manifest("library/redis", old)
    project.mirror(registry.url)
    project.write(f"FROM redis:7@{old}\nFROM redis:8\n")

    rows = pin_rows(project.run("check", "--format", "json").stdout)

    assert [(r["rule"], r["line"]) for r in rows] == [("DP005", 1), ("DP004", 1), ("DP003", 2),
                                                     ("DP005", 2)]
    assert "pinned digest no longer exists" in str(rows[0]["message"])
    assert "tag '8' not found" in str(rows[3]["message"])


def test_missing_tag_is_reported_and_nothing_else_is_lost(
    registry: RegistryServer, project: Project
) -> None:
    digest = registry.push("library/alpine", "3.20", build_image("alpine"))
    project.mirror(registry.url)
    path = project.write("FROM alpine:3.20\nFROM alpine:9.99\n")

    result = project.run("pin")

    assert result.returncode == 1
    assert "cannot pin alpine:9.99" in result.stderr
    assert "tag '9.99' not found" in result.stderr
    assert path.read_text() == f"FROM alpine:3.20@{digest}\nFROM alpine:9.99\n"


def test_offline_answers_from_the_cache_and_says_so(
    registry: RegistryServer, project: Project
) -> None:
    digest = registry.push("library/nginx", "1.27", build_image("nginx"))
    project.mirror(registry.url)
    project.write("FROM nginx:1.27\n", "warm/Dockerfile")
    assert project.run("pin", "warm").returncode == 0
    registry.stop()

    path = project.write("FROM nginx:1.27\nFROM nginx:1.28\n", "cold/Dockerfile")
    result = project.run("pin", "--offline", "cold")

    assert "offline" in result.stderr
    assert result.returncode == 1  # nginx:1.28 was never cached
    assert "nginx:1.28" in result.stderr
    assert path.read_text() == f"FROM nginx:1.27@{digest}\nFROM nginx:1.28\n"


def test_unreachable_registry_is_a_note_not_a_finding(project: Project, tmp_path: Path) -> None:
    project.mirror("http://127.0.0.1:9")  # discard port: connection refused
    path = project.write("FROM python:3.12\n")

    check = project.run("check", "--format", "json")
    pin = project.run("pin")

    assert [r["rule"] for r in pin_rows(check.stdout)] == ["DP003"]
    assert "note: registry checks skipped" in check.stderr
    assert "refused" in check.stderr
    assert pin.returncode == 1
    assert "refused" in pin.stderr
    assert path.read_text() == "FROM python:3.12\n"


def test_basic_auth_with_a_credential_helper(
    basic_registry: RegistryServer, project: Project, tmp_path: Path
) -> None:
    digest = basic_registry.push("library/python", "3.12", build_image("python"))
    project.mirror(basic_registry.url)
    helper_dir = tmp_path / "bin"
    helper_dir.mkdir()
    helper = helper_dir / "docker-credential-dockpintest"
    helper.write_text(
        "#!/bin/sh\nread server\n"
        'printf \'{"ServerURL":"%s","Username":"alice","Secret":"s3cret"}\' "$server"\n'
    )
    helper.chmod(0o755)
    docker_config = Path(project.env["DOCKER_CONFIG"])
    docker_config.mkdir(parents=True)
    (docker_config / "config.json").write_text(
        json.dumps({"credHelpers": {basic_registry.host: "dockpintest"}})
    )
    project.env["PATH"] = f"{helper_dir}:{project.env['PATH']}"
    path = project.write("FROM python:3.12\n")

    result = project.run("pin")

    assert result.returncode == 0, result.stderr
    assert path.read_text() == f"FROM python:3.12@{digest}\n"
    assert "s3cret" not in result.stderr + result.stdout


def test_basic_auth_without_credentials_says_unauthorized(
    basic_registry: RegistryServer, project: Project
) -> None:
    basic_registry.push("library/python", "3.12", build_image("python"))
    project.mirror(basic_registry.url)
    path = project.write("FROM python:3.12\n")

    result = project.run("pin")

    assert result.returncode == 1
    assert "requires a login and no credentials were found" in result.stderr
    assert path.read_text() == "FROM python:3.12\n"


def test_token_auth_with_config_json_auth(token_registry: RegistryServer,
                                          project: Project) -> None:
    digest = token_registry.push("library/python", "3.12", build_image("python"))
    project.mirror(token_registry.url)
    docker_config = Path(project.env["DOCKER_CONFIG"])
    docker_config.mkdir(parents=True)
    import base64

    token = base64.b64encode(b"alice:s3cret").decode()
    (docker_config / "config.json").write_text(
        json.dumps({"auths": {token_registry.host: {"auth": token}}})
    )
    path = project.write("FROM python:3.12\n")

    result = project.run("pin")

    assert result.returncode == 0, result.stderr
    assert path.read_text() == f"FROM python:3.12@{digest}\n"
    assert any(r.path.endswith("/token") for r in token_registry.token_server.requests)


@pytest.mark.parametrize(
    ("fault", "message"),
    [
        (Fault.error(401, "UNAUTHORIZED", path="/manifests/"), "auth"),
        (Fault.error(403, "DENIED", path="/manifests/"), "denied"),
        (Fault.rate_limited("86400", path="/manifests/"), "rate limit"),
        (Fault.wrong_digest(path="/manifests/"), "does not serve that manifest"),
        (Fault.delay(30, path="/manifests/"), "timed out"),
        (Fault.respond(500, b"oops", path="/manifests/"), "500"),
    ],
    ids=["401", "403", "429", "wrong-digest", "timeout", "500"],
)
def test_registry_faults_give_a_message_and_write_nothing(
    registry: RegistryServer,
    project: Project,
    fault_proxy: object,
    fault: Fault,
    message: str,
) -> None:
    registry.push("library/python", "3.12", build_image("python"))
    proxy: FaultProxy = fault_proxy(registry)  # type: ignore[operator]
    proxy.add_fault(fault)
    project.mirror(proxy.url)
    path = project.write("FROM python:3.12\n")

    result = project.run("pin")

    assert result.returncode == 1
    assert message in result.stderr.lower(), result.stderr
    assert "Traceback" not in result.stderr
    assert path.read_text() == "FROM python:3.12\n"
