"""Hover text and completion candidates, computed from the model, the known
registry facts and (when online) the registry client. No LSP types here
beyond the completion kind numbers, so the logic is testable on its own."""

from __future__ import annotations

import asyncio
import re
from typing import Any

from lsprotocol import types

from dockpin import knowledge
from dockpin.config import Config
from dockpin.facts import RegistryFacts
from dockpin.references import ReferenceError, parse_reference
from dockpin.syntax import Dockerfile, ImageReference, Position

_NUMBER_RE = re.compile(r"\d+")


def _size(num_bytes: int) -> str:
    value = float(num_bytes)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:.1f} {unit}" if unit != "B" else f"{int(value)} B"
        value /= 1024
    return f"{value:.1f} GB"


async def hover_markdown(
    reference: ImageReference,
    facts: RegistryFacts | None,
    client: Any,
    config: Config,
) -> str:
    """What a user wants to know about an image under the cursor."""
    from dockpin.registry import RegistryError

    ref = reference.ref
    assert ref is not None
    lines = [f"**{reference.value}**", ""]
    lines.append(f"- repository: `{ref.repository}`")
    if ref.tag is not None:
        lines.append(f"- tag: `{ref.tag}`")
    if ref.digest is not None:
        lines.append(f"- pinned: `{ref.digest}`")
    known = facts.get(reference.value) if facts is not None else None
    current = known.current_digest if known is not None else None
    manifest = None
    note = None
    if client is None:
        note = "offline: showing what is known locally"
    else:
        try:
            if current is None and ref.effective_tag is not None:
                resolution = await asyncio.wait_for(client.resolve(ref), config.timeout + 1)
                current = resolution.digest
            digest = current or ref.digest
            if digest is not None:
                manifest = await asyncio.wait_for(client.manifest(ref, digest), config.timeout + 1)
        except RegistryError as error:
            note = error.message
        except TimeoutError:
            note = f"registry did not answer within {config.timeout:.0f}s"
    if current is not None and ref.effective_tag is not None:
        lines.append(f"- `{ref.effective_tag}` points to `{current}` now")
        if ref.digest is not None:
            state = (
                "current"
                if (known is None or not known.stale)
                and (
                    ref.digest == current
                    or (
                        manifest is not None
                        and any(p.digest == ref.digest for p in manifest.platforms)
                    )
                )
                else "stale: the tag has moved"
            )
            lines.append(f"- pin is {state}")
    if manifest is not None:
        platforms = ", ".join(p.label for p in manifest.platforms) or "unknown"
        lines.append(f"- platforms: {platforms}")
        if manifest.created:
            lines.append(f"- created: {manifest.created}")
        if manifest.compressed_size is not None:
            which = f" ({manifest.platform.label})" if manifest.platform else ""
            lines.append(f"- compressed size: {_size(manifest.compressed_size)}{which}")
    libc = knowledge.libc_family(ref)
    if libc is not None:
        lines.append(f"- libc: {libc}")
    advice = _advice(reference)
    if advice:
        lines.extend(["", advice])
    if note:
        lines.extend(["", f"_{note}_"])
    return "\n".join(lines)


def _advice(reference: ImageReference) -> str | None:
    ref = reference.ref
    assert ref is not None
    if knowledge.is_alpine(ref):
        alternative = knowledge.glibc_alternative(ref)
        runtime = knowledge.runtime_of(ref)
        if runtime in ("python", "node", "java"):
            return (
                f"musl-based: native modules, DNS and threading behave differently; "
                f"prefer `{alternative}`"
                if alternative
                else "musl-based image"
            )
        return "musl-based: fine for static Go/Rust binaries and simple services"
    lighter = knowledge.lighter_tag(ref)
    if lighter is not None:
        return (
            f"full image: a final stage is smaller on `{reference.value.split(':')[0]}:{lighter}`"
        )
    if knowledge.is_distroless(ref) and not knowledge.is_debug_tag(ref):
        return "distroless: no shell; use exec-form CMD/ENTRYPOINT"
    return None


def version_key(tag: str) -> tuple[Any, ...]:
    """Newest-looking first: numbers compare as numbers; ``latest`` and
    words sort after versions."""
    numbers = [int(n) for n in _NUMBER_RE.findall(tag)[:4]]
    starts_with_digit = bool(tag) and tag[0].isdigit()
    return (0 if starts_with_digit else 1, [-n for n in numbers], len(tag), tag)


CompletionCandidate = tuple[str, types.CompletionItemKind, int, str | None]


async def completion_items(
    model: Dockerfile, line_text: str, position: Position, client: Any
) -> list[CompletionCandidate] | None:
    """Candidates at ``position``: tags after ``FROM name:``, stage names
    after ``--from=`` and as the FROM image. Each is (label, kind, start
    column of the text it replaces, detail)."""
    prefix = line_text[: position.character]
    from_flag = re.search(r"(?:--from=|[\s,]from=)([A-Za-z0-9_.-]*)$", prefix)
    stages_before = [
        s
        for s in model.stages
        if s.name is not None and s.from_instruction.start_line < position.line
    ]
    if from_flag is not None:
        start = position.character - len(from_flag.group(1))
        return [
            (s.name or "", types.CompletionItemKind.Reference, start, f"stage {s.index}")
            for s in stages_before
        ]
    match = re.match(r"^\s*FROM\s+(?:--\S+\s+)*(\S*)$", prefix, re.IGNORECASE)
    if match is None:
        return None
    word = match.group(1)
    start = position.character - len(word)
    if ":" not in word or "@" in word or "$" in word:
        return [
            (s.name or "", types.CompletionItemKind.Reference, start, f"stage {s.index}")
            for s in stages_before
        ]
    name, _, partial = word.rpartition(":")
    if "/" in partial or client is None:
        return None  # a port, not a tag; or offline
    try:
        ref = parse_reference(name)
    except ReferenceError:
        return None
    from dockpin.registry import RegistryError

    try:
        tags = await asyncio.wait_for(client.tags(ref), 10)
    except (RegistryError, TimeoutError):
        return None
    chosen = sorted((t for t in tags if t.startswith(partial)), key=version_key)[:200]
    tag_start = position.character - len(partial)
    return [(tag, types.CompletionItemKind.Value, tag_start, ref.familiar) for tag in chosen]
