"""Registry facts handed to the registry-backed rules (DP004, DP005).

Plain data, filled by the registry layer and read by pure rules, so rules never
talk to the network.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class ReferenceFacts:
    """What the registry said about one image reference."""

    current_digest: str | None = None  # the digest the tag points to now
    stale: bool = False  # a digest is pinned and the tag has moved on from it
    missing: str | None = None  # why a build would fail: repository, tag or digest gone
    error: str | None = None  # the registry could not be asked (unreachable, auth)


@dataclass(frozen=True, slots=True)
class RegistryFacts:
    """Facts keyed by the expanded reference text (``ImageReference.value``)."""

    by_reference: Mapping[str, ReferenceFacts] = field(default_factory=dict)

    def get(self, value: str) -> ReferenceFacts | None:
        return self.by_reference.get(value)
