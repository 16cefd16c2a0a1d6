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
    image reference with the same value as ``reference``, ending with that
    ARG's value: then one edit of the default pins them all to the same
    digest. (``FROM ${V}`` and ``FROM python:${V}`` share ``V`` but name
    different images; a heredoc body that echoes ``$V`` is a use too.)"""
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
        + sum(len(pattern.findall(doc.body)) for doc in instruction.heredocs)
        for instruction in dockerfile.instructions
        if instruction is not arg_instruction
    )
    ending = 0
    for other in dockerfile.references:
        if other.ref is None or other.value != reference.value:
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


def replace_image_edits(
    dockerfile: Dockerfile, reference: ImageReference, new_reference: str
) -> list[TextEdit]:
    """Edits that make ``reference`` name ``new_reference`` (a swap to a slim
    or distroless base). A digest pinned for the old image is dropped: it
    names other content; pin the new reference afterwards."""
    ref = reference.ref
    if ref is None:
        raise FixError(f"{reference.raw} is not a resolvable image reference")
    whole = reference.value_range(0, len(reference.value))
    if whole is not None and not _shared_arg(dockerfile, reference):
        return [TextEdit(whole, new_reference)]
    # Keep the user's name and variables; replace only what differs.
    old_name = reference.value[: ref.name_span.end]
    new_name, _, new_tag = new_reference.partition("@")[0].rpartition(":")
    if not new_name or new_name != old_name or ref.tag_span is None:
        raise FixError(f"cannot rewrite {reference.raw}: it is built from variables")
    tag_range = reference.value_range(ref.tag_span.start, ref.tag_span.end)
    if tag_range is None:
        raise FixError(f"cannot rewrite the tag of {reference.raw}: it is built from variables")
    edits = [TextEdit(tag_range, new_tag)]
    if ref.digest_span is not None:
        digest_range = reference.value_range(ref.digest_span.start - 1, ref.digest_span.end)
        if digest_range is None:
            raise FixError(f"cannot drop the digest of {reference.raw}")
        edits.append(TextEdit(digest_range, ""))
    return edits


def _shared_arg(dockerfile: Dockerfile, reference: ImageReference) -> bool:
    """True when the reference's text lives in an ARG default that something
    else uses too, so rewriting that default would change other lines."""
    located = reference.location(0)
    if located is None or located[0] is reference.instruction:
        return False
    return not _arg_only_ends_references(dockerfile, located[0], reference)


_SHELL_SYNTAX_RE = re.compile(r"[|&;<>()$`\\*?~{}\[\]!#]|^\s*\w+=")


def exec_form_edit(instruction: Instruction) -> TextEdit:
    """Rewrite a shell-form CMD/ENTRYPOINT/RUN as the JSON exec form. Refused
    when the command uses shell syntax (pipes, variables, globs...), since
    without a shell those would stop working silently."""
    import json
    import shlex

    if instruction.exec_form() is not None:
        raise FixError(f"{instruction.keyword} is already in exec form")
    command = instruction.args
    if not command:
        raise FixError(f"{instruction.keyword} has no command")
    if _SHELL_SYNTAX_RE.search(command):
        raise FixError(
            f"{instruction.keyword} uses shell syntax; it needs a shell and cannot become exec form"
        )
    try:
        words = shlex.split(command, posix=True)
    except ValueError as error:
        raise FixError(f"cannot split {instruction.keyword}: {error}") from error
    args_start = instruction.logical.index(command, instruction.rest_start)
    range_ = instruction.range_of(args_start, args_start + len(command))
    return TextEdit(range_, json.dumps(words))


def _pragma_codes(comment_text: str) -> list[str] | None:
    match = re.match(r"^dockpin\s+ignore\s*=\s*([A-Za-z0-9_,\s-]+?)\s*$", comment_text)
    if match is None:
        return None
    return [code.strip() for code in re.split(r"[,\s]+", match.group(1)) if code.strip()]


def ignore_line_edit(dockerfile: Dockerfile, instruction: Instruction, code: str) -> TextEdit:
    """``# dockpin ignore=CODE`` above ``instruction``, joining a pragma that
    is already there."""
    line = instruction.start_line
    above = next((c for c in dockerfile.comments if c.line == line - 1), None)
    if above is not None:
        codes = _pragma_codes(above.text)
        if codes is not None:
            if code in codes:
                raise FixError(f"{code} is already ignored on this line")
            return TextEdit(above.range, f"# dockpin ignore={','.join([*codes, code])}")
    indent = instruction.range.start.character
    text = dockerfile.lines[line][:indent] if line < len(dockerfile.lines) else ""
    newline = _newline_of(dockerfile.text)
    position = Position(line, 0)
    return TextEdit(Range(position, position), f"{text}# dockpin ignore={code}{newline}")


def ignore_file_edit(dockerfile: Dockerfile, code: str) -> TextEdit:
    """``# dockpin global ignore=CODE`` after any parser directives (a
    comment above them would turn the directives into plain comments)."""
    for comment in dockerfile.comments:
        match = re.match(r"^dockpin\s+global\s+ignore\s*=\s*(.+?)\s*$", comment.text)
        if match:
            codes = [c.strip() for c in re.split(r"[,\s]+", match.group(1)) if c.strip()]
            if code in codes:
                raise FixError(f"{code} is already ignored in this file")
            return TextEdit(comment.range, f"# dockpin global ignore={','.join([*codes, code])}")
    line = dockerfile.directive_lines
    newline = _newline_of(dockerfile.text)
    pragma = f"# dockpin global ignore={code}"
    if line >= len(dockerfile.lines):
        end = dockerfile.line_end(len(dockerfile.lines) - 1)
        return TextEdit(Range(end, end), f"{newline}{pragma}")
    position = Position(line, 0)
    return TextEdit(Range(position, position), f"{pragma}{newline}")


def _newline_of(text: str) -> str:
    match = _LINE_BREAK_RE.search(text)
    return match.group(0) if match else "\n"
