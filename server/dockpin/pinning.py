"""Between the syntax model and the registry: resolve every reference once,
turn answers into registry facts (DP004/DP005) and into pin edits.

Shared by ``dockpin pin``, ``dockpin check`` (online) and the language
server. All lookups for one run go through one :class:`Resolver`, which
asks the registry at most once per distinct question, concurrently.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar, cast

from dockpin.config import Config
from dockpin.facts import ReferenceFacts, RegistryFacts
from dockpin.fixes import FixError, TextEdit, pin_edit
from dockpin.references import ImageRef
from dockpin.registry import (
    ErrorKind,
    ManifestFacts,
    Platform,
    RegistryClient,
    RegistryConfig,
    RegistryError,
    Resolution,
)
from dockpin.syntax import Dockerfile, ImageReference

T = TypeVar("T")


def registry_config(
    config: Config, *, offline: bool = False, cache_dir: Path | None = None
) -> RegistryConfig:
    return RegistryConfig(
        mirrors=dict(config.mirrors),
        insecure=tuple(config.insecure),
        timeout=config.timeout,
        offline=offline or config.offline,
        cache_dir=cache_dir,
    )


class Resolver:
    """Memoises registry questions for one run so that twenty FROM lines
    naming ``python:3.12`` make one request."""

    def __init__(self, client: RegistryClient, *, fresh: bool = False) -> None:
        self.client = client
        self.fresh = fresh  # ask the registry even when a cached tag answer is young
        self._tasks: dict[tuple[str, ...], asyncio.Future[Any]] = {}

    async def _once(self, key: tuple[str, ...], make: Callable[[], Awaitable[T]]) -> T:
        future = self._tasks.get(key)
        if future is None:
            future = asyncio.ensure_future(make())
            self._tasks[key] = future
        return cast(T, await future)

    async def resolve(self, ref: ImageRef) -> Resolution:
        tag = ref.effective_tag or "latest"
        return await self._once(
            ("tag", ref.repository, tag), lambda: self.client.resolve(ref, fresh=self.fresh)
        )

    async def children(self, ref: ImageRef, digest: str) -> tuple[Platform, ...] | None:
        return await self._once(
            ("children", ref.repository, digest), lambda: self.client.children(ref, digest)
        )

    async def manifest(self, ref: ImageRef, digest: str) -> ManifestFacts:
        return await self._once(
            ("manifest", ref.repository, digest), lambda: self.client.manifest(ref, digest)
        )

    async def digest_exists(self, ref: ImageRef, digest: str) -> bool:
        return await self._once(
            ("exists", ref.repository, digest), lambda: self.client.digest_exists(ref, digest)
        )


@dataclass(frozen=True, slots=True)
class Target:
    """What a reference should be pinned to, or why it cannot be."""

    digest: str | None
    stale: bool  # a digest is pinned and the tag has moved on
    problem: str | None = None
    missing: str | None = None  # the image does not exist (DP005)
    unreachable: bool = False  # the registry could not be asked


async def _current_target(resolver: Resolver, ref: ImageRef) -> Target:
    """The digest ``ref`` should carry now. A single-platform pin stays
    single-platform: it moves to the new index's child for its platform."""
    try:
        current = await resolver.resolve(ref)
    except RegistryError as error:
        return _failure(error)
    pinned = ref.digest
    if pinned is None or pinned == current.digest:
        return Target(current.digest, stale=False)
    try:
        children = await resolver.children(ref, current.digest) if current.is_index else None
    except RegistryError as error:
        return _failure(error)
    if children is None:
        return Target(current.digest, stale=True)
    if any(child.digest == pinned for child in children):
        return Target(pinned, stale=False)  # a platform child of the current index
    try:
        pinned_facts = await resolver.manifest(ref, pinned)
    except RegistryError as error:
        if error.kind is ErrorKind.DIGEST_NOT_FOUND:
            return Target(current.digest, stale=True)
        return _failure(error)
    if pinned_facts.is_index or pinned_facts.platform is None:
        return Target(current.digest, stale=True)
    platform = pinned_facts.platform
    for child in children:
        if (child.os, child.architecture, child.variant or "") == (
            platform.os,
            platform.architecture,
            platform.variant or "",
        ):
            return Target(child.digest, stale=True)
    return Target(
        None,
        stale=True,
        problem=f"{ref.familiar}: the pinned {platform.label} image has no counterpart in what "
        f"the tag points to now",
    )


def _failure(error: RegistryError) -> Target:
    if error.kind.is_not_found:
        return Target(None, stale=False, problem=error.message, missing=error.message)
    return Target(None, stale=False, problem=error.message, unreachable=error.kind.is_connectivity)


async def reference_facts(resolver: Resolver, ref: ImageRef) -> ReferenceFacts:
    """What the registry says about one image: its current digest, whether a
    pinned digest is stale or gone, or why it could not be asked."""
    if ref.tag is None and ref.digest is not None:
        try:
            exists = await resolver.digest_exists(ref, ref.digest)
        except RegistryError as error:
            return _facts_from_failure(error)
        missing = None if exists else f"{ref.familiar}: pinned digest not found in the registry"
        return ReferenceFacts(missing=missing)
    target = await _current_target(resolver, ref)
    if target.problem is not None and target.digest is None:
        if target.missing is not None:
            return ReferenceFacts(missing=target.missing)
        return ReferenceFacts(error=target.problem)
    if ref.digest is not None and target.stale:
        try:
            exists = await resolver.digest_exists(ref, ref.digest)
        except RegistryError as error:
            return _facts_from_failure(error)
        if not exists:
            return ReferenceFacts(
                current_digest=target.digest,
                stale=True,
                missing=f"{ref.familiar}: pinned digest no longer exists in the registry",
            )
    return ReferenceFacts(current_digest=target.digest, stale=target.stale)


def _facts_from_failure(error: RegistryError) -> ReferenceFacts:
    if error.kind.is_not_found:
        return ReferenceFacts(missing=error.message)
    return ReferenceFacts(error=error.message)


def pinnable(dockerfile: Dockerfile) -> list[ImageReference]:
    return [r for r in dockerfile.references if r.ref is not None and r.is_resolved]


async def gather(awaitables: Iterable[Awaitable[T]]) -> list[T]:
    return list(await asyncio.gather(*awaitables))


async def registry_facts(resolver: Resolver, dockerfile: Dockerfile) -> RegistryFacts:
    references = pinnable(dockerfile)
    answers = await gather(reference_facts(resolver, r.ref) for r in references if r.ref)
    return RegistryFacts({r.value: a for r, a in zip(references, answers, strict=True)})


@dataclass(frozen=True, slots=True)
class PinResult:
    reference: ImageReference
    edit: TextEdit | None
    digest: str | None
    problem: str | None = None
    unreachable: bool = False


async def plan_pins(
    resolver: Resolver,
    dockerfile: Dockerfile,
    *,
    update: bool,
    only: Sequence[ImageReference] | None = None,
) -> list[PinResult]:
    """The edit for each pinnable reference: unpinned ones always, stale
    ones when ``update``. A reference already current gets no edit."""
    references = list(only) if only is not None else pinnable(dockerfile)

    async def plan(reference: ImageReference) -> PinResult:
        ref = reference.ref
        assert ref is not None
        if ref.digest is not None and (not update or ref.tag is None):
            return PinResult(reference, None, ref.digest)
        target = await _current_target(resolver, ref)
        if target.digest is None:
            return PinResult(reference, None, None, target.problem, target.unreachable)
        if target.digest == ref.digest:
            return PinResult(reference, None, target.digest)
        try:
            edit = pin_edit(dockerfile, reference, target.digest)
        except FixError as error:
            return PinResult(reference, None, target.digest, str(error))
        return PinResult(reference, edit, target.digest)

    return await gather(plan(r) for r in references)
