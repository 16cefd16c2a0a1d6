"""`dockpin pin` is safe on disk: the CLI as a subprocess against a real
docker-registry on loopback, writing into real files.

A pin changes exactly the inserted digests: permissions, owner, line endings,
BOM and every other byte stay; symlinks are not followed out of the folders
given; read-only and non-UTF-8 files are reported and left alone; a run
killed at any moment leaves every file either as it was or fully pinned, and
the next run cleans up what the killed one left behind.
"""

from __future__ import annotations

import os
import random
import signal
import stat
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from dockpin.syntax import parse
from support.env import isolated_env
from support.oci import build_image
from support.proxy import Fault, FaultProxy
from support.registry import RegistryServer

PIN_TIMEOUT = 120


@dataclass
class Project:
    root: Path
    env: dict[str, str]

    def write(self, name: str, data: bytes) -> Path:
        path = self.root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        return path

    def command(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "dockpin.cli", *args]

    def run(self, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            self.command(*args),
            cwd=cwd or self.root,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=PIN_TIMEOUT,
        )

    def mirror(self, url: str, folder: Path | None = None) -> None:
        (folder or self.root).joinpath(".dockpin.toml").write_text(
            f'[registry]\nmirrors = {{ "docker.io" = "{url}" }}\ntimeout = 10.0\n'
        )


@pytest.fixture
def project(tmp_path: Path) -> Project:
    root = tmp_path / "project"
    root.mkdir()
    home = tmp_path / "home"
    home.mkdir()
    env = isolated_env(tmp_path)
    return Project(root, env)


@pytest.fixture
def python_digest(registry: RegistryServer, project: Project) -> str:
    digest = registry.push("library/python", "3.12", build_image("python"))
    project.mirror(registry.url)
    return digest


def temp_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob(".*.dockpin"))


# -- what a pin keeps ------------------------------------------------------------------------


@pytest.mark.parametrize("mode", [0o600, 0o755, 0o640])
def test_permissions_are_kept(project: Project, python_digest: str, mode: int) -> None:
    path = project.write("Dockerfile", b"FROM python:3.12\n")
    path.chmod(mode)

    result = project.run("pin")

    assert result.returncode == 0, result.stderr
    assert path.read_bytes() == f"FROM python:3.12@{python_digest}\n".encode()
    assert stat.S_IMODE(path.stat().st_mode) == mode


@pytest.mark.skipif(os.geteuid() != 0, reason="changing a file's owner needs root")
def test_owner_is_kept_when_root_pins_someone_elses_file(
    project: Project, python_digest: str
) -> None:
    """``sudo dockpin pin`` must not hand the user's files to root."""
    path = project.write("Dockerfile", b"FROM python:3.12\n")
    os.chown(path, 4321, 4322)

    assert project.run("pin").returncode == 0

    info = path.stat()
    assert (info.st_uid, info.st_gid) == (4321, 4322)
    assert path.read_bytes() == f"FROM python:3.12@{python_digest}\n".encode()


@pytest.mark.parametrize(
    ("original", "pinned"),
    [
        (b"FROM python:3.12\r\nRUN echo \xc3\xa9t\xc3\xa9\r\n", b"FROM python:3.12@{d}\r\nRUN echo \xc3\xa9t\xc3\xa9\r\n"),  # noqa: E501
        (b"\xef\xbb\xbfFROM python:3.12\nLABEL x=\xe2\x98\x83\n", b"\xef\xbb\xbfFROM python:3.12@{d}\nLABEL x=\xe2\x98\x83\n"),  # noqa: E501
        (b"# \xf0\x9f\x90\x8d\r\nFROM \\\r\n\tpython:3.12 AS b\r\n\r\n", b"# \xf0\x9f\x90\x8d\r\nFROM \\\r\n\tpython:3.12@{d} AS b\r\n\r\n"),  # noqa: E501
        (b"FROM python:3.12\rRUN true\r", b"FROM python:3.12@{d}\rRUN true\r"),
        (b"FROM python:3.12", b"FROM python:3.12@{d}"),
        (b"ARG B=python:3.12\n\n\nFROM ${B}\n  \t\n", b"ARG B=python:3.12@{d}\n\n\nFROM ${B}\n  \t\n"),  # noqa: E501
    ],
    ids=["crlf-utf8", "bom", "non-bmp-continuation", "lone-cr", "no-final-newline", "arg"],
)
def test_every_byte_but_the_digest_is_kept(
    project: Project, python_digest: str, original: bytes, pinned: bytes
) -> None:
    path = project.write("Dockerfile", original)

    result = project.run("pin")

    assert result.returncode == 0, result.stderr
    assert path.read_bytes() == pinned.replace(b"{d}", python_digest.encode())


# -- what a pin refuses ----------------------------------------------------------------------


def test_a_symlink_out_of_the_folder_is_not_followed(
    project: Project, python_digest: str, tmp_path: Path
) -> None:
    outside = tmp_path / "elsewhere" / "Dockerfile"
    outside.parent.mkdir()
    outside.write_bytes(b"FROM python:3.12\n")
    (project.root / "Dockerfile").symlink_to(outside)
    (project.root / "sub").mkdir()
    (project.root / "sub" / "Dockerfile").symlink_to(Path("../../elsewhere/Dockerfile"))
    inside = project.write("app/Dockerfile", b"FROM python:3.12\n")

    result = project.run("pin", ".")

    assert result.returncode != 0
    assert "Dockerfile: symlink to" in result.stderr
    assert result.stderr.count("outside the given folders; not followed") == 2
    assert outside.read_bytes() == b"FROM python:3.12\n"
    assert (project.root / "Dockerfile").is_symlink()
    # The rest of the folder is still pinned.
    assert inside.read_bytes() == f"FROM python:3.12@{python_digest}\n".encode()


def test_a_symlink_inside_the_folder_is_edited_through_and_stays_a_link(
    project: Project, python_digest: str
) -> None:
    target = project.write("images/base.txt", b"FROM python:3.12\r\n")
    target.chmod(0o640)
    link = project.root / "Dockerfile"
    link.symlink_to(Path("images/base.txt"))

    result = project.run("pin")

    assert result.returncode == 0, result.stderr
    assert link.is_symlink()
    assert os.readlink(link) == "images/base.txt"
    assert target.read_bytes() == f"FROM python:3.12@{python_digest}\r\n".encode()
    assert stat.S_IMODE(target.stat().st_mode) == 0o640


def test_a_file_reached_twice_through_a_link_is_pinned_once(
    project: Project, python_digest: str
) -> None:
    target = project.write("Dockerfile.base", b"FROM python:3.12\n")
    (project.root / "Dockerfile").symlink_to("Dockerfile.base")

    result = project.run("pin")

    assert result.returncode == 0, result.stderr
    assert target.read_bytes() == f"FROM python:3.12@{python_digest}\n".encode()
    assert result.stderr.count("pinned 1 reference(s)") == 1, result.stderr


def test_a_read_only_file_is_reported_and_unchanged(
    project: Project, python_digest: str
) -> None:
    path = project.write("Dockerfile", b"FROM python:3.12\n")
    path.chmod(0o444)
    writable = project.write("other/Dockerfile", b"FROM python:3.12\n")

    result = project.run("pin", ".")

    assert result.returncode == 1
    assert "Dockerfile: read-only file; not changed" in result.stderr
    assert path.read_bytes() == b"FROM python:3.12\n"
    assert stat.S_IMODE(path.stat().st_mode) == 0o444
    assert writable.read_bytes() == f"FROM python:3.12@{python_digest}\n".encode()


@pytest.mark.parametrize(
    "data",
    [b"FROM python:3.12\nLABEL a=\xff\xfe\n", b"\xef\xbb\xbfFROM python:3.12\n# \xc3(\n"],
    ids=["latin-bytes", "bom-then-invalid"],
)
def test_a_file_that_is_not_utf8_is_reported_and_byte_identical(
    project: Project, python_digest: str, data: bytes
) -> None:
    path = project.write("Dockerfile", data)
    before = path.stat()

    result = project.run("pin")

    assert result.returncode != 0
    assert "not valid UTF-8; not rewritten" in result.stderr
    assert path.read_bytes() == data
    assert path.stat().st_ino == before.st_ino  # not even replaced by a copy
    assert temp_files(project.root) == []


def test_check_writes_nothing_at_all(project: Project, python_digest: str) -> None:
    path = project.write("Dockerfile", b"FROM python:3.12\n")
    before = path.stat()

    result = project.run("pin", "--check")

    assert result.returncode == 1
    after = path.stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
    assert sorted(p.name for p in project.root.iterdir()) == [".dockpin.toml", "Dockerfile"]


def test_a_file_saved_while_pinning_is_not_overwritten(
    registry: RegistryServer, project: Project, fault_proxy: Callable[..., FaultProxy]
) -> None:
    """Resolving takes time; what the user saved meanwhile wins."""
    registry.push("library/python", "3.12", build_image("python"))
    proxy = fault_proxy(registry)
    proxy.add_fault(Fault.delay(1.5, path="/manifests/"))
    project.mirror(proxy.url)
    path = project.write("Dockerfile", b"FROM python:3.12\n")
    process = subprocess.Popen(
        project.command("pin"), cwd=project.root, env=project.env, stderr=subprocess.PIPE
    )
    deadline = time.monotonic() + 30
    while not proxy.requests_matching("/manifests/") and time.monotonic() < deadline:
        time.sleep(0.01)
    path.write_bytes(b"FROM python:3.12\nRUN echo saved by the user\n")
    _, stderr = process.communicate(timeout=PIN_TIMEOUT)

    assert process.returncode == 1
    assert b"changed while pinning; not rewritten" in stderr
    assert path.read_bytes() == b"FROM python:3.12\nRUN echo saved by the user\n"


# -- interrupted runs ------------------------------------------------------------------------


def dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_temp_files_of_a_killed_run_are_removed_by_the_next_one(
    project: Project, python_digest: str
) -> None:
    """A temporary file names the process that wrote it; the next run removes
    those of processes that are gone, and leaves a live one's alone (another
    dockpin may be writing right now) and anything it did not create."""
    path = project.write("Dockerfile", b"FROM python:3.12\n")
    stale = project.write(f".Dockerfile.{dead_pid()}.k2j4_x.dockpin", b"FROM pyth")
    live = project.write(f".Dockerfile.{os.getpid()}.a8fj3q.dockpin", b"FROM")
    foreign = project.write(".Dockerfile.notes.dockpin", b"mine")
    other_file = project.write(f".Dockerfile.prod.{dead_pid()}.x.dockpin", b"other")

    result = project.run("pin")

    assert result.returncode == 0, result.stderr
    assert path.read_bytes() == f"FROM python:3.12@{python_digest}\n".encode()
    assert not stale.exists()
    assert live.exists() and foreign.exists() and other_file.exists()


def test_a_killed_run_leaves_every_file_old_or_new(
    registry: RegistryServer, project: Project, fault_proxy: Callable[..., FaultProxy]
) -> None:
    """30 files through a proxy that delays every request by 0.2 s; `dockpin
    pin` is SIGKILLed at random moments (and once right after it starts
    writing). After every kill each file parses and is byte-identical to its
    original or to its fully pinned version; a last, complete run finishes the
    job and leaves no temporary file behind."""
    tags = [f"3.{n}" for n in range(10)]
    for tag in tags:
        registry.push("library/python", tag, build_image("python", salt=tag))
    proxy = fault_proxy(registry)
    proxy.add_fault(Fault.delay(0.2))
    originals: dict[Path, bytes] = {}
    rng = random.Random(7)
    for number in range(30):
        first, second = rng.sample(tags, 2)
        newline = b"\r\n" if number % 3 == 0 else b"\n"
        data = newline.join(
            [
                f"# file {number}".encode(),
                f"FROM python:{first} AS build".encode(),
                b"RUN make",
                f"FROM python:{second}".encode(),
                b"COPY --from=build /out /app",
                b"",
            ]
        )
        originals[project.write(f"svc{number:02}/Dockerfile", data)] = data

    # The pinned version of every file, from a clean run on a copy through
    # the same slow proxy: it also measures how long a whole run takes.
    reference_root = project.root.parent / "reference"
    for path, data in originals.items():
        copy = reference_root / path.relative_to(project.root)
        copy.parent.mkdir(parents=True, exist_ok=True)
        copy.write_bytes(data)
    project.mirror(proxy.url, reference_root)
    started = time.monotonic()
    done = project.run("pin", ".", cwd=reference_root)
    whole_run = time.monotonic() - started
    assert done.returncode == 0, done.stderr
    pinned = {
        path: (reference_root / path.relative_to(project.root)).read_bytes()
        for path in originals
    }
    assert all(pinned[p] != originals[p] for p in originals)
    project.mirror(proxy.url)

    def check_files() -> int:
        new = 0
        for path, data in originals.items():
            now = path.read_bytes()
            assert now in (data, pinned[path]), f"{path} is neither old nor new:\n{now!r}"
            new += now == pinned[path]
            assert [i.keyword for i in parse(now.decode()).instructions] == [
                "FROM", "RUN", "FROM", "COPY"
            ]
        return new

    def restore() -> None:
        for path, data in originals.items():
            path.write_bytes(data)

    def kill_run(when: Callable[[subprocess.Popen[bytes]], None], cache: str) -> None:
        # A cold cache, so that every killed run has to ask the slow registry.
        env = dict(project.env, DOCKPIN_CACHE_DIR=str(project.root.parent / cache))
        process = subprocess.Popen(
            project.command("pin", "."),
            cwd=project.root,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            when(process)
        finally:
            if process.poll() is None:
                process.send_signal(signal.SIGKILL)
            process.wait(timeout=30)

    def after(seconds: float) -> Callable[[subprocess.Popen[bytes]], None]:
        def wait(process: subprocess.Popen[bytes]) -> None:
            time.sleep(seconds)

        return wait

    def once_writing(process: subprocess.Popen[bytes]) -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and process.poll() is None:
            if any(p.read_bytes() != d for p, d in originals.items()):
                return
            time.sleep(0.0005)

    # Killed at moments spread over a whole run (starting up, resolving,
    # writing), each time from the original files.
    for attempt in range(6):
        restore()
        kill_run(after(rng.uniform(0.05, 1.0) * whole_run), f"cache-{attempt}")
        check_files()
    restore()
    kill_run(once_writing, "cache-writing")
    assert check_files() > 0  # killed once writing had begun

    final = project.run("pin", ".")

    assert final.returncode == 0, final.stderr
    assert check_files() == len(originals)
    assert temp_files(project.root) == []
