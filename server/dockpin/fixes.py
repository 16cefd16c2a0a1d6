"""Minimal text edits that pin image references, shared by ``dockpin pin``
and the language server's code actions.

An edit keeps the user's spelling, flags and formatting: ``python:3.12``
becomes ``python:3.12@sha256:...``; a stale digest is replaced in place; a
reference whose text comes from an ``ARG`` default is pinned on the ARG line
when every use of that ARG is such a reference, and after the variable on the
referencing line otherwise (so ``RUN echo $PY`` never sees a digest).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from dockpin.references import SHA256_DIGEST_RE
from dockpin.syntax import Dockerfile, ImageReference, Instruction, Position, Range

_LINE_BREAK_RE = re.compile(r"\r\n|\r|\n")


@dataclass(frozen=True, slots=True)
class TextEdit:
    range: Range
    new_text: str


class FixError(ValueError):
    """No safe edit exists; the message says why."""


def pin_edit(dockerfile: Dockerfile, reference: ImageReference, digest: str) -> TextEdit:
    """The edit that makes ``reference`` pull exactly ``digest``.

    Inserts ``@digest`` after the tag (``ubuntu`` gets an explicit
    ``:latest``), or replaces the digest already written.
    """
    if not SHA256_DIGEST_RE.match(digest):
        raise FixError(f"refusing to write {digest!r}: not a sha256 digest")
    ref = reference.ref
    if ref is None or not reference.is_resolved:
        raise FixError(f"{reference.raw} is not a resolvable image reference")
    if ref.digest_span is not None:
        if ref.digest == digest:
            raise FixError(f"{reference.value} is already pinned to {digest}")
        found = reference.location(ref.digest_span.start)
        last = reference.location(ref.digest_span.end, prefer_end=True)
        if found is None or last is None or found[0] is not last[0]:
            raise FixError(f"the digest of {reference.raw} is not written in one place")
        instruction, start = found
        return TextEdit(instruction.range_of(start, last[1]), digest)

    end = len(reference.value)
    insertion = f":latest@{digest}" if ref.tag is None else f"@{digest}"
    location = reference.location(end, prefer_end=True)
    if location is not None and (
        location[0] is reference.instruction
        or _arg_only_ends_references(dockerfile, location[0], reference)
    ):
        instruction, offset = location
    else:
        # The value ends inside an ARG that is used elsewhere too (or is not
        # literal text): pin on the referencing line, right after the
        # variable expression that ends the written reference.
        instruction = reference.instruction
        offset = reference.raw_offset + len(reference.raw)
    position = instruction.source_map.position(offset, prefer_end=True)
    return TextEdit(Range(position, position), insertion)


def _arg_only_ends_references(
    dockerfile: Dockerfile, arg_instruction: Instruction, reference: ImageReference
) -> bool:
    """True when every use of the ARGs defined by ``arg_instruction`` is an
    image reference whose value ends with that ARG's value."""
    names = [a.name for a in reference.args_used if a.instruction is arg_instruction]
    if not names:
        return False
    pattern = re.compile(
        r"\$(?:\{(?:"
        + "|".join(map(re.escape, names))
        + r")\b|(?:"
        + "|".join(map(re.escape, names))
        + r")\b)"
    )
    uses = sum(
        len(pattern.findall(instruction.logical))
        for instruction in dockerfile.instructions
        if instruction is not arg_instruction
    )
    ending = 0
    for other in dockerfile.references:
        if other.ref is None:
            continue
        located = other.location(len(other.value), prefer_end=True)
        if located is not None and located[0] is arg_instruction:
            ending += len(pattern.findall(other.raw))
    return uses == ending


def dedupe(edits: Iterable[TextEdit]) -> list[TextEdit]:
    """Drop identical edits (two FROM lines sharing one ARG default) and
    order them from the end of the document to the start."""
    unique = {
        (
            e.range.start.line,
            e.range.start.character,
            e.range.end.line,
            e.range.end.character,
            e.new_text,
        ): e
        for e in edits
    }
    return sorted(
        unique.values(), key=lambda e: (e.range.start.line, e.range.start.character), reverse=True
    )


def apply_edits(text: str, edits: Sequence[TextEdit]) -> str:
    """Apply non-overlapping edits to ``text``, keeping its line endings."""
    starts = [0]
    for match in _LINE_BREAK_RE.finditer(text):
        starts.append(match.end())

    def offset(position: Position) -> int:
        line = min(position.line, len(starts) - 1)
        line_start = starts[line]
        line_end = starts[line + 1] if line + 1 < len(starts) else len(text)
        content_end = line_end
        while content_end > line_start and text[content_end - 1] in "\r\n":
            content_end -= 1
        return min(line_start + position.character, content_end)

    ordered = sorted(
        edits, key=lambda e: (offset(e.range.start), offset(e.range.end)), reverse=True
    )
    previous_start: int | None = None
    result = text
    for edit in ordered:
        start, end = offset(edit.range.start), offset(edit.range.end)
        if previous_start is not None and end > previous_start:
            raise FixError("overlapping edits")
        result = result[:start] + edit.new_text + result[end:]
        previous_start = start
    return result
