"""Deterministic OCI / Docker v2 images built in memory, without Docker.

``build_image("python")`` gives the same bytes (and so the same digests) on every call.
Change ``salt`` to simulate a tag that moved to a new image.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Literal

# Media types -----------------------------------------------------------------------------------

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"

DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar.gzip"

IN_TOTO = "application/vnd.in-toto+json"

#: Accept header value listing the four manifest types a resolver must send.
ALL_MANIFEST_TYPES: tuple[str, ...] = (OCI_INDEX, DOCKER_LIST, OCI_MANIFEST, DOCKER_MANIFEST)
ACCEPT_ALL = ", ".join(ALL_MANIFEST_TYPES)

ATTESTATION_TYPE_KEY = "vnd.docker.reference.type"
ATTESTATION_DIGEST_KEY = "vnd.docker.reference.digest"
ATTESTATION_TYPE = "attestation-manifest"

Platform = tuple[str, str, str | None]
"""(os, architecture, variant)"""

DEFAULT_PLATFORMS: tuple[Platform, ...] = (("linux", "amd64", None), ("linux", "arm64", "v8"))

_FIXED_MTIME = 1_700_000_000  # any constant works; fixed so layers are reproducible


def sha256_digest(data: bytes) -> str:
    """``sha256:<hex>`` of ``data``."""
    return "sha256:" + hashlib.sha256(data).hexdigest()


def canonical_json(obj: Any) -> bytes:
    """Stable JSON bytes (sorted keys, no whitespace) so digests never drift."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


@dataclass(frozen=True)
class Blob:
    """Content-addressed bytes: a layer, a config, a manifest or an index."""

    media_type: str
    data: bytes = field(repr=False)

    @cached_property
    def digest(self) -> str:
        return sha256_digest(self.data)

    @property
    def size(self) -> int:
        return len(self.data)

    def descriptor(self, **extra: Any) -> dict[str, Any]:
        """OCI descriptor ``{mediaType, digest, size, **extra}``."""
        return {"mediaType": self.media_type, "digest": self.digest, "size": self.size, **extra}

    def json(self) -> Any:
        return json.loads(self.data)


@dataclass(frozen=True)
class ImageSet:
    """Everything needed to push one tag.

    ``blobs``: layers and configs (push first). ``manifests``: per-platform and attestation
    manifests, then the top-level one last (push in order). ``top``: what the tag points to.
    ``children``: (os, arch, variant) -> platform manifest digest (attestations excluded).
    ``attestations``: platform manifest digest -> its attestation manifest digest.
    """

    name: str
    fmt: Literal["oci", "docker"]
    blobs: list[Blob]
    manifests: list[Blob]
    top: Blob
    children: dict[Platform, str]
    attestations: dict[str, str] = field(default_factory=dict)

    @property
    def digest(self) -> str:
        return self.top.digest

    @property
    def is_index(self) -> bool:
        return self.top.media_type in (OCI_INDEX, DOCKER_LIST)

    def all(self) -> list[Blob]:
        """Blobs then manifests, in push order."""
        return [*self.blobs, *self.manifests]

    def by_digest(self, digest: str) -> Blob:
        for blob in self.all():
            if blob.digest == digest:
                return blob
        raise KeyError(digest)


def _platform_label(platform: Platform) -> str:
    os_, arch, variant = platform
    return f"{os_}/{arch}" + (f"/{variant}" if variant else "")


def _tar_gz(files: Mapping[str, bytes]) -> tuple[bytes, bytes]:
    """(uncompressed tar, gzip of it) with fixed metadata everywhere."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for path, content in sorted(files.items()):
            info = tarfile.TarInfo(path)
            info.size = len(content)
            info.mtime = _FIXED_MTIME
            info.mode = 0o644
            info.uid = info.gid = 0
            info.uname = info.gname = "root"
            tar.addfile(info, io.BytesIO(content))
    tar_bytes = raw.getvalue()
    gz = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=gz, mtime=0, compresslevel=6) as f:
        f.write(tar_bytes)
    return tar_bytes, gz.getvalue()


def _platform_dict(platform: Platform) -> dict[str, str]:
    os_, arch, variant = platform
    out = {"architecture": arch, "os": os_}
    if variant:
        out["variant"] = variant
    return out


def _build_platform(
    name: str, platform: Platform, fmt: Literal["oci", "docker"], created: str, salt: str
) -> tuple[Blob, Blob, Blob]:
    """(layer, config, manifest) for one platform."""
    label = _platform_label(platform)
    content = f"image={name}\nplatform={label}\nsalt={salt}\n".encode()
    tar_bytes, gz_bytes = _tar_gz({"etc/dockpin-test-image": content})
    layer = Blob(OCI_LAYER if fmt == "oci" else DOCKER_LAYER, gz_bytes)
    config_obj: dict[str, Any] = {
        **_platform_dict(platform),
        "created": created,
        "config": {"Env": ["PATH=/usr/local/bin:/usr/bin:/bin"], "Cmd": ["/bin/sh"]},
        "rootfs": {"type": "layers", "diff_ids": [sha256_digest(tar_bytes)]},
        "history": [{"created": created, "created_by": f"dockpin-test {name} {label}"}],
    }
    config = Blob(OCI_CONFIG if fmt == "oci" else DOCKER_CONFIG, canonical_json(config_obj))
    manifest_type = OCI_MANIFEST if fmt == "oci" else DOCKER_MANIFEST
    manifest = Blob(
        manifest_type,
        canonical_json(
            {
                "schemaVersion": 2,
                "mediaType": manifest_type,
                "config": config.descriptor(),
                "layers": [layer.descriptor()],
            }
        ),
    )
    return layer, config, manifest


def _build_attestation(name: str, subject: Blob, created: str) -> tuple[list[Blob], Blob]:
    """BuildKit-style attestation manifest (in-toto layer) for ``subject``."""
    statement = Blob(
        IN_TOTO,
        canonical_json(
            {
                "_type": "https://in-toto.io/Statement/v0.1",
                "predicateType": "https://spdx.dev/Document",
                "subject": [{"name": name, "digest": {"sha256": subject.digest.split(":", 1)[1]}}],
                "predicate": {"spdxVersion": "SPDX-2.3", "created": created},
            }
        ),
    )
    config = Blob(
        OCI_CONFIG,
        canonical_json(
            {
                "architecture": "unknown",
                "os": "unknown",
                "config": {},
                "rootfs": {"type": "layers", "diff_ids": [statement.digest]},
            }
        ),
    )
    manifest = Blob(
        OCI_MANIFEST,
        canonical_json(
            {
                "schemaVersion": 2,
                "mediaType": OCI_MANIFEST,
                "config": config.descriptor(),
                "layers": [
                    statement.descriptor(
                        annotations={"in-toto.io/predicate-type": "https://spdx.dev/Document"}
                    )
                ],
            }
        ),
    )
    return [statement, config], manifest


def build_image(
    name: str,
    *,
    platforms: Iterable[Platform] = DEFAULT_PLATFORMS,
    fmt: Literal["oci", "docker"] = "oci",
    attestation: bool = False,
    created: str = "2026-01-01T00:00:00Z",
    salt: str = "",
) -> ImageSet:
    """Build a deterministic image.

    One platform and no attestation: the top is that platform's manifest. Otherwise the top is
    an OCI index (``fmt="oci"``) or a Docker manifest list (``fmt="docker"``). ``attestation``
    (OCI only) adds one ``unknown/unknown`` attestation manifest per platform, as BuildKit does,
    and always produces an index.
    """
    plats = tuple(platforms)
    if not plats:
        raise ValueError("at least one platform is required")
    if len(set(plats)) != len(plats):
        raise ValueError(f"duplicate platforms: {plats}")
    if fmt not in ("oci", "docker"):
        raise ValueError(f"fmt must be 'oci' or 'docker', not {fmt!r}")
    if attestation and fmt != "oci":
        raise ValueError("attestation manifests exist only in OCI indexes")

    blobs: list[Blob] = []
    manifests: list[Blob] = []
    children: dict[Platform, str] = {}
    attestations: dict[str, str] = {}
    entries: list[dict[str, Any]] = []
    attestation_entries: list[dict[str, Any]] = []

    for platform in plats:
        layer, config, manifest = _build_platform(name, platform, fmt, created, salt)
        blobs += [layer, config]
        manifests.append(manifest)
        children[platform] = manifest.digest
        entries.append(manifest.descriptor(platform=_platform_dict(platform)))
        if attestation:
            att_blobs, att_manifest = _build_attestation(name, manifest, created)
            blobs += att_blobs
            manifests.append(att_manifest)
            attestations[manifest.digest] = att_manifest.digest
            attestation_entries.append(
                att_manifest.descriptor(
                    annotations={
                        ATTESTATION_DIGEST_KEY: manifest.digest,
                        ATTESTATION_TYPE_KEY: ATTESTATION_TYPE,
                    },
                    platform={"architecture": "unknown", "os": "unknown"},
                )
            )

    if len(plats) == 1 and not attestation:
        top = manifests[0]
    else:
        index_type = OCI_INDEX if fmt == "oci" else DOCKER_LIST
        top = Blob(
            index_type,
            canonical_json(
                {
                    "schemaVersion": 2,
                    "mediaType": index_type,
                    "manifests": entries + attestation_entries,
                }
            ),
        )
        manifests.append(top)

    return ImageSet(
        name=name,
        fmt=fmt,
        blobs=blobs,
        manifests=manifests,
        top=top,
        children=children,
        attestations=attestations,
    )
