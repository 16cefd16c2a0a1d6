"""The registry client's single exception type and its kinds.

Every failure the client can meet (network, auth, registry answers, cache
misses while offline) is reported as a :class:`RegistryError` whose ``kind``
callers can branch on and whose ``message`` is fit to show a user as is. A
message never carries credentials or tokens.
"""

from __future__ import annotations

from enum import StrEnum


class ErrorKind(StrEnum):
    """Why a registry operation failed.

    A ``StrEnum`` so that ``error.kind == "tag_not_found"`` works for callers
    that prefer plain strings (LSP settings, JSON reports).
    """

    UNAUTHORIZED = "unauthorized"
    FORBIDDEN = "forbidden"
    REPOSITORY_NOT_FOUND = "repository_not_found"
    TAG_NOT_FOUND = "tag_not_found"
    DIGEST_NOT_FOUND = "digest_not_found"
    RATE_LIMITED = "rate_limited"
    TIMEOUT = "timeout"
    UNREACHABLE = "unreachable"
    BAD_RESPONSE = "bad_response"
    DIGEST_MISMATCH = "digest_mismatch"
    TOO_LARGE = "too_large"
    OFFLINE_CACHE_MISS = "offline_cache_miss"
    INSECURE_REFUSED = "insecure_refused"

    @property
    def is_not_found(self) -> bool:
        """The image does not exist: a build using it would fail."""
        return self in (
            ErrorKind.REPOSITORY_NOT_FOUND,
            ErrorKind.TAG_NOT_FOUND,
            ErrorKind.DIGEST_NOT_FOUND,
        )

    @property
    def is_connectivity(self) -> bool:
        """The registry could not be asked: say so and skip, do not report
        the image as broken."""
        return self in (
            ErrorKind.TIMEOUT,
            ErrorKind.UNREACHABLE,
            ErrorKind.RATE_LIMITED,
            ErrorKind.OFFLINE_CACHE_MISS,
        )


class RegistryError(Exception):
    """A registry operation failed; ``message`` is user-facing."""

    def __init__(self, kind: ErrorKind, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
        # Only set for rate limits, so a caller can schedule a later attempt.
        self.retry_after = retry_after

    def __repr__(self) -> str:
        return f"RegistryError({self.kind.value!r}, {self.message!r})"
