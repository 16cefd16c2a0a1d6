"""A real registry (CNCF distribution, Debian's ``docker-registry``) on loopback, plus helpers.

``RegistryServer`` runs ``docker-registry serve CONFIG`` as a child process on a free port,
optionally behind htpasswd (Basic) or token (Bearer) auth. ``RegistryClient`` pushes
``support.oci`` images through the HTTP API. ``skopeo_digest`` is the independent oracle.
"""

from __future__ import annotations

import atexit
import base64
import hashlib
import json
import os
import re
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Self
from urllib.parse import urljoin

import httpx

from support.oci import ACCEPT_ALL, DOCKER_LIST, OCI_INDEX, ImageSet
from support.token_server import KeyMode, TokenServer

REGISTRY_BIN = "docker-registry"
SKOPEO_BIN = "skopeo"
HTPASSWD_BIN = "htpasswd"
INSTALL_HINT = "apt-get install -y --no-install-recommends docker-registry skopeo apache2-utils"

_CHALLENGE_PARAM = re.compile(r'(\w+)="([^"]*)"')


# Safety net: registries still running when the interpreter exits (a fixture's finally did not
# run, e.g. KeyboardInterrupt during set-up) are stopped by PID.
_LIVE: set[RegistryServer] = set()


@atexit.register
def _stop_leftovers() -> None:
    for server in list(_LIVE):
        server.stop()


def missing_binaries(*names: str) -> list[str]:
    """Names (default: registry, skopeo, htpasswd) that are not on PATH."""
    return [n for n in (names or (REGISTRY_BIN, SKOPEO_BIN, HTPASSWD_BIN)) if not shutil.which(n)]


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def parse_challenge(header: str) -> tuple[str, dict[str, str]]:
    """``Bearer realm="..",scope="repository:x:pull,push"`` -> ("bearer", {...}).

    Parameters are matched with a ``key="value"`` regex: scopes contain commas.
    """
    scheme, _, rest = header.strip().partition(" ")
    return scheme.lower(), dict(_CHALLENGE_PARAM.findall(rest))


# -- auth configurations ----------------------------------------------------------------------


@dataclass
class HtpasswdAuth:
    """Basic auth with a bcrypt htpasswd file (``htpasswd -Bbn``)."""

    username: str = "alice"
    password: str = "s3cret"
    extra_users: Mapping[str, str] = field(default_factory=dict)
    realm: str = "basic-realm"

    @property
    def credentials(self) -> tuple[str, str]:
        return self.username, self.password

    def setup(self, work_dir: Path) -> dict[str, Any]:
        """Write the htpasswd file; return the registry ``auth`` config section."""
        path = work_dir / "htpasswd"
        lines = []
        for user, password in {self.username: self.password, **self.extra_users}.items():
            out = subprocess.run(
                [HTPASSWD_BIN, "-Bbn", user, password],
                check=True,
                capture_output=True,
                text=True,
                timeout=30,
            ).stdout.strip()
            lines.append(out)
        path.write_text("\n".join(lines) + "\n")
        return {"htpasswd": {"realm": self.realm, "path": str(path)}}

    def teardown(self) -> None:
        pass


@dataclass
class TokenAuth:
    """Bearer token auth via ``support.token_server.TokenServer`` (started with the registry).

    The first user in ``users`` is the default identity for ``RegistryServer.push``.
    After start, ``.server`` is the running ``TokenServer`` (inspect ``.server.requests``).
    """

    users: Mapping[str, str] = field(default_factory=lambda: {"alice": "s3cret"})
    anonymous_pull: bool = False
    deny_anonymous: bool = False
    access_token_only: bool = False
    expires_in: int | None = 300
    service: str = "test-registry"
    issuer: str = "test-issuer"
    host: str = "127.0.0.1"
    key_mode: KeyMode = "x5c"
    server: TokenServer | None = field(default=None, init=False)

    @property
    def credentials(self) -> tuple[str, str] | None:
        return next(iter(self.users.items()), None)

    def setup(self, work_dir: Path) -> dict[str, Any]:
        self.server = TokenServer(
            work_dir / "token",
            users=self.users,
            anonymous_pull=self.anonymous_pull,
            deny_anonymous=self.deny_anonymous,
            access_token_only=self.access_token_only,
            expires_in=self.expires_in,
            service=self.service,
            issuer=self.issuer,
            host=self.host,
            key_mode=self.key_mode,
        ).start()
        return self.server.registry_auth_config()

    def teardown(self) -> None:
        if self.server is not None:
            self.server.stop()


Auth = HtpasswdAuth | TokenAuth


# -- HTTP client used to push / delete ---------------------------------------------------------


class RegistryError(RuntimeError):
    pass


class RegistryClient:
    """Minimal registry API client (push, manifests, delete) that answers Basic/Bearer challenges.

    Credentials go only to the registry (Basic) or to the token realm (Bearer dance).
    """

    def __init__(
        self,
        base_url: str,
        *,
        username: str | None = None,
        password: str | None = None,
        timeout: float = 10.0,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.username = username
        self.password = password
        self._http = httpx.Client(timeout=timeout, follow_redirects=False, trust_env=False)
        self._authorization: str | None = None

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # auth ---------------------------------------------------------------------------------------

    def _basic(self) -> str | None:
        if self.username is None:
            return None
        raw = f"{self.username}:{self.password or ''}".encode()
        return "Basic " + base64.b64encode(raw).decode()

    def _answer_challenge(self, header: str) -> str:
        scheme, params = parse_challenge(header)
        if scheme == "basic":
            basic = self._basic()
            if basic is None:
                raise RegistryError("registry wants Basic auth but no credentials were given")
            return basic
        if scheme != "bearer":
            raise RegistryError(f"unsupported auth challenge: {header!r}")
        query: dict[str, str] = {}
        if "service" in params:
            query["service"] = params["service"]
        if "scope" in params:
            query["scope"] = params["scope"]
        headers = {}
        basic = self._basic()
        if basic is not None:
            headers["Authorization"] = basic
        resp = self._http.get(params["realm"], params=query, headers=headers)
        if resp.status_code != 200:
            raise RegistryError(f"token request failed: {resp.status_code} {resp.text}")
        body = resp.json()
        token = body.get("token") or body.get("access_token")
        if not token:
            raise RegistryError(f"token response without token: {body}")
        return f"Bearer {token}"

    def request(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        content: bytes | None = None,
    ) -> httpx.Response:
        """Send with the cached Authorization; on 401 answer the challenge once and retry."""
        full = urljoin(self.base_url + "/", url)
        hdrs = dict(headers or {})
        if self._authorization:
            hdrs["Authorization"] = self._authorization
        resp = self._http.request(method, full, headers=hdrs, content=content)
        challenge = resp.headers.get("WWW-Authenticate")
        if resp.status_code == 401 and challenge:
            self._authorization = self._answer_challenge(challenge)
            hdrs["Authorization"] = self._authorization
            resp = self._http.request(method, full, headers=hdrs, content=content)
        return resp

    # API ----------------------------------------------------------------------------------------

    def upload_blob(self, repo: str, data: bytes, digest: str) -> None:
        resp = self.request("POST", f"/v2/{repo}/blobs/uploads/")
        if resp.status_code != 202 or "Location" not in resp.headers:
            raise RegistryError(f"blob upload start: {resp.status_code} {resp.text}")
        location = urljoin(self.base_url + "/", resp.headers["Location"])
        sep = "&" if "?" in location else "?"
        resp = self.request(
            "PUT",
            f"{location}{sep}digest={digest}",
            headers={"Content-Type": "application/octet-stream"},
            content=data,
        )
        if resp.status_code != 201:
            raise RegistryError(f"blob upload {digest}: {resp.status_code} {resp.text}")

    def put_manifest(self, repo: str, reference: str, media_type: str, data: bytes) -> str:
        resp = self.request(
            "PUT",
            f"/v2/{repo}/manifests/{reference}",
            headers={"Content-Type": media_type},
            content=data,
        )
        if resp.status_code != 201:
            raise RegistryError(f"manifest PUT {repo}:{reference}: {resp.status_code} {resp.text}")
        expected = "sha256:" + hashlib.sha256(data).hexdigest()
        got = resp.headers.get("Docker-Content-Digest")
        if got != expected:
            raise RegistryError(f"registry stored {got}, expected {expected}")
        return expected

    def push(self, repo: str, tag: str | None, image: ImageSet) -> str:
        """Blobs, then child manifests by digest, then the top by tag (or digest). -> top digest."""
        for blob in image.blobs:
            self.upload_blob(repo, blob.data, blob.digest)
        for manifest in image.manifests:
            is_top = manifest is image.top
            ref = tag if (is_top and tag is not None) else manifest.digest
            self.put_manifest(repo, ref, manifest.media_type, manifest.data)
        return image.top.digest

    def manifest(
        self, repo: str, reference: str, *, method: str = "GET", accept: str = ACCEPT_ALL
    ) -> httpx.Response:
        return self.request(method, f"/v2/{repo}/manifests/{reference}", headers={"Accept": accept})

    def delete_manifest(self, repo: str, digest: str) -> None:
        resp = self.request("DELETE", f"/v2/{repo}/manifests/{digest}")
        if resp.status_code != 202:
            raise RegistryError(f"manifest DELETE {repo}@{digest}: {resp.status_code} {resp.text}")


# -- the registry process -------------------------------------------------------------------


class RegistryServer:
    """``docker-registry serve`` on ``127.0.0.1:<free port>``, storage and config under tmp_dir.

    Use as a context manager or call ``start()``/``stop()``. ``log_path`` holds its output.
    """

    def __init__(
        self,
        tmp_dir: Path,
        *,
        auth: Auth | None = None,
        startup_timeout: float = 15.0,
    ) -> None:
        self.tmp_dir = Path(tmp_dir)
        self.auth = auth
        self.startup_timeout = startup_timeout
        self.port: int | None = None
        self.proc: subprocess.Popen[bytes] | None = None
        self.config_path = self.tmp_dir / "config.yml"
        self.log_path = self.tmp_dir / "registry.log"
        self.storage_dir = self.tmp_dir / "storage"

    # properties --------------------------------------------------------------------------------

    @property
    def host(self) -> str:
        if self.port is None:
            raise RuntimeError("registry not started")
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"http://{self.host}"

    @property
    def token_server(self) -> TokenServer:
        if not isinstance(self.auth, TokenAuth) or self.auth.server is None:
            raise RuntimeError("registry has no running token server")
        return self.auth.server

    @property
    def credentials(self) -> tuple[str, str] | None:
        """The default identity (htpasswd user, or first token user); None when anonymous."""
        return None if self.auth is None else self.auth.credentials

    # lifecycle ---------------------------------------------------------------------------------

    def _config(self, port: int, auth_section: dict[str, Any] | None) -> dict[str, Any]:
        config: dict[str, Any] = {
            "version": "0.1",
            "log": {"level": "error", "accesslog": {"disabled": True}},
            "storage": {
                "filesystem": {"rootdirectory": str(self.storage_dir)},
                "delete": {"enabled": True},
                "maintenance": {"uploadpurging": {"enabled": False}},
            },
            "http": {"addr": f"127.0.0.1:{port}", "secret": "dockpin-test-secret"},
        }
        if auth_section is not None:
            config["auth"] = auth_section
        return config

    def start(self) -> Self:
        if self.proc is not None:
            return self
        missing = missing_binaries(REGISTRY_BIN)
        if missing:
            raise RuntimeError(f"{REGISTRY_BIN} not found on PATH; install with: {INSTALL_HINT}")
        self.tmp_dir.mkdir(parents=True, exist_ok=True)
        self.storage_dir.mkdir(exist_ok=True)
        try:
            auth_section = self.auth.setup(self.tmp_dir) if self.auth is not None else None
            # A free port can be taken between probe and bind: retry a few times.
            last_error = ""
            for _ in range(5):
                port = free_port()
                # JSON is valid YAML; the registry's yaml.v2 parser reads it fine.
                self.config_path.write_text(json.dumps(self._config(port, auth_section), indent=2))
                ok, last_error = self._launch(port)
                if ok:
                    return self
                if "address already in use" not in last_error:
                    break
            raise RuntimeError(f"docker-registry did not start:\n{last_error}")
        except BaseException:
            self.stop()
            raise

    def _environment(self) -> dict[str, str]:
        # Drop REGISTRY_* overrides from the caller's environment: they would beat our config.
        env = {k: v for k, v in os.environ.items() if not k.startswith("REGISTRY_")}
        env["HOME"] = str(self.tmp_dir)
        for proxy_var in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"):
            env.pop(proxy_var, None)
        return env

    def _launch(self, port: int) -> tuple[bool, str]:
        with self.log_path.open("ab") as log:
            proc = subprocess.Popen(
                [REGISTRY_BIN, "serve", str(self.config_path)],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=self._environment(),
                cwd=self.tmp_dir,
            )
        self.proc, self.port = proc, port
        _LIVE.add(self)
        deadline = time.monotonic() + self.startup_timeout
        with httpx.Client(timeout=1.0, trust_env=False) as client:
            while time.monotonic() < deadline:
                if proc.poll() is not None:
                    break
                try:
                    resp = client.get(f"http://127.0.0.1:{port}/v2/")
                except httpx.TransportError:
                    time.sleep(0.01)
                    continue
                # Must be *our* registry: answering, API header present, process alive.
                if (
                    resp.status_code in (200, 401)
                    and resp.headers.get("Docker-Distribution-Api-Version") == "registry/2.0"
                    and proc.poll() is None
                ):
                    return True, ""
                time.sleep(0.01)
        self._kill()
        log_text = self.log_path.read_text(errors="replace")[-4000:]
        return False, f"exit code {proc.returncode}; log:\n{log_text}"

    def _kill(self) -> None:
        proc, self.proc = self.proc, None
        _LIVE.discard(self)
        if proc is None:
            return
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)

    def stop(self) -> None:
        self._kill()
        if self.auth is not None:
            self.auth.teardown()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # API helpers ---------------------------------------------------------------------------------

    def client(
        self, *, username: str | None = None, password: str | None = None, anonymous: bool = False
    ) -> RegistryClient:
        """A ``RegistryClient`` for this registry; default identity unless ``anonymous``."""
        if username is None and not anonymous and self.credentials is not None:
            username, password = self.credentials
        return RegistryClient(self.url, username=username, password=password)

    def push(
        self,
        repo: str,
        tag: str | None,
        image: ImageSet,
        *,
        username: str | None = None,
        password: str | None = None,
    ) -> str:
        """Push through the HTTP API; returns the top digest. Uses the default identity."""
        with self.client(username=username, password=password) as client:
            return client.push(repo, tag, image)

    def delete_manifest(
        self, repo: str, digest: str, *, username: str | None = None, password: str | None = None
    ) -> None:
        with self.client(username=username, password=password) as client:
            client.delete_manifest(repo, digest)


# -- skopeo oracle -------------------------------------------------------------------------------


def _skopeo_env(home: Path) -> dict[str, str]:
    """Environment that keeps skopeo away from the user's real config and auth files."""
    for sub in ("run", "config", "cache", "data"):
        (home / sub).mkdir(exist_ok=True)
    auth_file = home / "auth.json"
    auth_file.write_text('{"auths": {}}')
    registries_conf = home / "registries.conf"
    registries_conf.write_text("unqualified-search-registries = []\n")
    keep = ("PATH", "LANG", "LC_ALL", "TMPDIR")
    env = {k: os.environ[k] for k in keep if k in os.environ}
    env.update(
        HOME=str(home),
        XDG_RUNTIME_DIR=str(home / "run"),
        XDG_CONFIG_HOME=str(home / "config"),
        XDG_CACHE_HOME=str(home / "cache"),
        XDG_DATA_HOME=str(home / "data"),
        REGISTRY_AUTH_FILE=str(auth_file),
        DOCKER_CONFIG=str(home / "docker"),
        CONTAINERS_REGISTRIES_CONF=str(registries_conf),
        CONTAINERS_CONF=str(home / "containers.conf"),
    )
    return env


def _run_skopeo(args: list[str], env: dict[str, str], timeout: float) -> bytes:
    proc = subprocess.run(
        [SKOPEO_BIN, *args],
        capture_output=True,
        env=env,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )
    if proc.returncode != 0:
        raise RegistryError(
            f"skopeo {' '.join(args)} failed ({proc.returncode}): "
            f"{proc.stderr.decode(errors='replace')}"
        )
    return proc.stdout


def skopeo_inspect_raw(
    registry_host: str,
    repo: str,
    ref: str,
    *,
    creds: tuple[str, str] | None = None,
    timeout: float = 30.0,
) -> bytes:
    """Raw manifest bytes as skopeo fetches them. ``ref`` is a tag or ``sha256:...``."""
    with tempfile.TemporaryDirectory(prefix="skopeo-") as tmp:
        env = _skopeo_env(Path(tmp))
        return _run_skopeo(
            ["inspect", "--raw", *_skopeo_common(creds, env), _image_ref(registry_host, repo, ref)],
            env,
            timeout,
        )


def _image_ref(registry_host: str, repo: str, ref: str) -> str:
    sep = "@" if ref.startswith("sha256:") else ":"
    return f"docker://{registry_host}/{repo}{sep}{ref}"


def _skopeo_common(creds: tuple[str, str] | None, env: Mapping[str, str]) -> list[str]:
    args = ["--tls-verify=false", "--retry-times=0", f"--authfile={env['REGISTRY_AUTH_FILE']}"]
    args += [f"--creds={creds[0]}:{creds[1]}"] if creds else ["--no-creds"]
    return args


def skopeo_digest(
    registry_host: str,
    repo: str,
    tag: str,
    *,
    creds: tuple[str, str] | None = None,
    timeout: float = 30.0,
) -> str:
    """The digest ``repo:tag`` resolves to, per skopeo (independent of the code under test).

    The sha256 of the ``skopeo inspect --raw`` bytes, cross-checked against
    ``skopeo inspect --format '{{.Digest}}'``. For an index, non-raw inspect must pick one
    platform; skopeo 1.9.3 still reports the *index* digest, so the check pins
    ``--override-os/arch/variant`` to the index's first real platform to stay machine-independent.
    """
    with tempfile.TemporaryDirectory(prefix="skopeo-") as tmp:
        env = _skopeo_env(Path(tmp))
        common = _skopeo_common(creds, env)
        image_ref = _image_ref(registry_host, repo, tag)
        raw = _run_skopeo(["inspect", "--raw", *common, image_ref], env, timeout)
        digest = "sha256:" + hashlib.sha256(raw).hexdigest()
        overrides: list[str] = []
        parsed = json.loads(raw)
        if parsed.get("mediaType") in (OCI_INDEX, DOCKER_LIST) or "manifests" in parsed:
            platforms = [
                m.get("platform") or {}
                for m in parsed.get("manifests", [])
                if (m.get("platform") or {}).get("os") not in (None, "unknown")
            ]
            if not platforms:
                return digest  # nothing non-raw inspect could choose
            first = platforms[0]
            overrides = [f"--override-os={first['os']}", f"--override-arch={first['architecture']}"]
            if first.get("variant"):
                overrides.append(f"--override-variant={first['variant']}")
        reported = (
            _run_skopeo(
                [*overrides, "inspect", "--format", "{{.Digest}}", *common, image_ref], env, timeout
            )
            .decode()
            .strip()
        )
        if reported != digest:
            raise RegistryError(
                f"skopeo disagrees with itself for {image_ref}: raw bytes hash to {digest}, "
                f"inspect reports {reported}"
            )
        return digest
