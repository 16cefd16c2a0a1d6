"""The only part of dockpin that talks to the network.

Resolves image tags to verified digests, reads manifest facts (platforms,
creation time, size), checks that pinned digests still exist and lists tags,
with auth, credential lookup, retries, limits and a cache. Importing this
package imports httpx; nothing on dockpin's offline path imports it.
"""

from .client import RegistryClient
from .credentials import Credential, CredentialStore
from .errors import ErrorKind, RegistryError
from .models import (
    MANIFEST_MEDIA_TYPES,
    ManifestFacts,
    Platform,
    RegistryConfig,
    RequestStats,
    Resolution,
)

__all__ = [
    "MANIFEST_MEDIA_TYPES",
    "Credential",
    "CredentialStore",
    "ErrorKind",
    "ManifestFacts",
    "Platform",
    "RegistryClient",
    "RegistryConfig",
    "RegistryError",
    "RequestStats",
    "Resolution",
]
