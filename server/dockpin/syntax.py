"""The Dockerfile syntax model: instructions, stages and image references with
exact source ranges.

This module owns everything position-related. It follows BuildKit's parser
(``frontend/dockerfile/parser``) for what counts as an instruction: parser
directives at the top (``# escape=`` with a backslash or backtick), line
continuations that skip comment and blank lines, heredocs whose bodies are
never instructions, and case-insensitive keywords. dockerfile-parse has no
columns and treats heredoc bodies as instructions, so the split is done here;
its key/value parser is still used for ``ENV``/``ARG`` values (see
:func:`key_values`).

Positions are 0-based lines and code-point columns; :func:`utf16_column`
converts a column for LSP clients.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Literal, NamedTuple

from dockpin.references import ImageRef, ReferenceError, parse_reference

KNOWN_INSTRUCTIONS = frozenset(
    {
        "ADD",
        "ARG",
        "CMD",
        "COPY",
        "ENTRYPOINT",
        "ENV",
        "EXPOSE",
        "FROM",
        "HEALTHCHECK",
        "LABEL",
        "MAINTAINER",
        "ONBUILD",
        "RUN",
        "SHELL",
        "STOPSIGNAL",
        "USER",
        "VOLUME",
        "WORKDIR",
    }
)
HEREDOC_INSTRUCTIONS = frozenset({"ADD", "COPY", "RUN"})

# Go's unicode.IsSpace, with which BuildKit trims lines and splits words
# (Python's str.isspace also counts the separators \x1c-\x1f).
_SPACE = (
    "\t\n\v\f\r \x85\xa0\u1680"
    + "".join(map(chr, range(0x2000, 0x200B)))
    + ("\u2028\u2029\u202f\u205f\u3000")
)
_PLAIN_WORD_RE = re.compile(f"[^{re.escape(_SPACE)}]+")
# BuildKit's tokenWhitespace: what separates a keyword from its arguments.
_KEYWORD_SPACE = "\t\v\f\r "
_LINE_BREAK_RE = re.compile(r"\r\n|\r|\n")
# RE2's \s (what BuildKit's directive pattern uses) is ASCII only.
_DIRECTIVE_RE = re.compile(rf"^#[{_SPACE}]*([a-zA-Z][a-zA-Z0-9]*)[\t\f ]*=[\t\f ]*(.+?)[\t\f ]*$")
_KNOWN_DIRECTIVES = frozenset({"escape", "syntax", "check"})
_HEREDOC_WORD_RE = re.compile(r"^\d*<<(-?)([^<]+)$")
# Shell operators: BuildKit would make them part of the delimiter (``<<EOF>f``
# names "EOF>f" and then fails as unterminated); dockpin reads no heredoc there.
_HEREDOC_OPERATORS = frozenset("<>|&;()")
_VAR_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


# Positions and ranges are made by the thousand per keystroke: named tuples
# build several times faster than frozen dataclasses and compare in order.
class Position(NamedTuple):
    line: int
    character: int


class Range(NamedTuple):
    start: Position
    end: Position

    def contains(self, position: Position) -> bool:
        return self.start <= position <= self.end


def json_string_array(text: str) -> list[str] | None:
    """``text`` as a JSON array of strings (exec form), else None. Deep
    nesting (``[[[[...``) is not an array of strings, never a RecursionError."""
    if not text.startswith("["):
        return None
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):
        return None
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return value
    return None


def utf16_column(line_text: str, column: int) -> int:
    """Convert a code-point column to the UTF-16 column LSP clients count in."""
    prefix = line_text[:column]
    return column + sum(1 for ch in prefix if ord(ch) > 0xFFFF)


def column_from_utf16(line_text: str, utf16_col: int) -> int:
    """Convert a UTF-16 column from an LSP client to a code-point column."""
    units = 0
    for index, ch in enumerate(line_text):
        if units >= utf16_col:
            return index
        units += 2 if ord(ch) > 0xFFFF else 1
    return len(line_text)


class _Segment(NamedTuple):
    """A piece of a logical line: ``length`` characters starting at
    ``logical_offset`` in the joined text come from ``line``:``column``."""

    logical_offset: int
    line: int
    column: int
    length: int


class SourceMap:
    """Maps offsets in a logical (continuation-joined) line back to the document."""

    __slots__ = ("_segments",)

    def __init__(self, segments: Sequence[_Segment]) -> None:
        self._segments = tuple(segments)

    def position(self, offset: int, *, prefer_end: bool = False) -> Position:
        """Document position of the logical ``offset``. At a boundary between
        two physical lines, ``prefer_end`` picks the end of the earlier line
        (right for the end of a range), otherwise the start of the next."""
        segments = self._segments
        chosen = segments[0]
        for segment in segments:
            end = segment.logical_offset + segment.length
            if offset < segment.logical_offset:
                break
            chosen = segment
            if offset < end or (prefer_end and offset == end):
                break
        delta = max(0, min(offset - chosen.logical_offset, chosen.length))
        return Position(chosen.line, chosen.column + delta)

    def range(self, start: int, end: int) -> Range:
        first = self.position(start)
        # An empty range at a line boundary is one position: the start picks
        # the next line, the end would pick the previous one.
        return Range(first, self.position(end, prefer_end=True) if end > start else first)


class Word(NamedTuple):
    """A whitespace-delimited word of an instruction's arguments."""

    text: str
    start: int  # offset in the instruction's logical text
    end: int


@dataclass(frozen=True, slots=True)
class Flag:
    """``--name=value`` before an instruction's arguments."""

    name: str
    value: str | None
    word: Word
    value_start: int  # logical offset of the value (after '=' and any quote)


@dataclass(frozen=True, slots=True)
class Heredoc:
    name: str
    chomp: bool  # ``<<-``: leading tabs stripped
    quoted: bool  # ``<<"EOF"``: no expansion in the body
    body: str
    body_range: Range | None  # None for an empty body
    terminated: bool


@dataclass(slots=True)
class Instruction:
    keyword: str  # upper-case as BuildKit normalises it
    keyword_range: Range
    range: Range  # from the keyword to the end of the last argument line
    logical: str  # continuation-joined text of the instruction, keyword included
    args_start: int  # offset in ``logical`` where the arguments begin
    source_map: SourceMap = field(repr=False)
    flags: tuple[Flag, ...] = ()
    rest_start: int = 0  # offset in ``logical`` after the flags
    heredocs: tuple[Heredoc, ...] = ()
    stage_index: int = -1  # -1 before the first FROM
    escape: str = "\\"  # the file's escape character, for splitting words

    @property
    def args(self) -> str:
        return self.logical[self.rest_start :].strip(_SPACE)

    @property
    def start_line(self) -> int:
        return self.range.start.line

    @property
    def end_line(self) -> int:
        return self.range.end.line

    def flag(self, name: str) -> Flag | None:
        for flag in self.flags:
            if flag.name == name:
                return flag
        return None

    def words(self) -> list[Word]:
        return split_words(self.logical, self.rest_start, self.escape)

    def exec_form(self) -> list[str] | None:
        """The JSON array of an exec-form RUN/CMD/ENTRYPOINT, else None."""
        return json_string_array(self.args)

    def range_of(self, start: int, end: int) -> Range:
        return self.source_map.range(start, end)

    def script(self) -> str:
        """What a RUN executes: its shell text and any heredoc bodies."""
        parts = [self.args]
        parts.extend(doc.body for doc in self.heredocs)
        return "\n".join(parts)


@dataclass(frozen=True, slots=True)
class Comment:
    line: int
    text: str  # without the leading '#', stripped
    range: Range


@dataclass(frozen=True, slots=True)
class ArgDefault:
    """Where an ``ARG NAME=default`` definition writes its default value."""

    name: str
    value: str
    instruction: Instruction
    value_range: Range  # the default as written, without quotes
    value_start: int  # logical offset in the instruction
    literal: bool  # value written without quotes/escapes, so offsets map 1:1


@dataclass(frozen=True, slots=True)
class _Piece:
    """Expanded characters [start, end) came from ``source``: a logical offset
    in the referencing instruction, or an ARG default."""

    start: int
    end: int
    instruction: Instruction
    source_offset: int | None  # None: not editable character by character


RefKind = Literal["from", "copy-from", "mount-from"]


@dataclass(slots=True)
class ImageReference:
    """An image named by FROM, COPY --from or RUN --mount=from."""

    kind: RefKind
    instruction: Instruction
    raw: str  # as written, variables unexpanded
    raw_range: Range
    raw_offset: int  # logical offset of ``raw`` in the instruction
    value: str  # after ARG substitution
    unresolved: tuple[str, ...]  # variables without a value
    args_used: tuple[ArgDefault, ...]
    ref: ImageRef | None
    error: str | None  # why ``value`` is not a valid reference
    _pieces: tuple[_Piece, ...] = ()

    @property
    def is_resolved(self) -> bool:
        return not self.unresolved

    def location(self, offset: int, *, prefer_end: bool = False) -> tuple[Instruction, int] | None:
        """Where character ``offset`` of ``value`` lives: the instruction and
        logical offset to edit, or None when it is not editable text."""
        for piece in self._pieces:
            inside = piece.start <= offset < piece.end or (
                prefer_end and offset == piece.end and piece.end > piece.start
            )
            if inside and piece.source_offset is not None:
                return piece.instruction, piece.source_offset + (offset - piece.start)
        return None

    def value_range(self, start: int, end: int) -> Range | None:
        """Document range of ``value[start:end]`` when it is written literally
        in one place; None when it comes from several places."""
        first = self.location(start)
        last = self.location(end, prefer_end=True) if end > start else first
        if first is None or last is None or first[0] is not last[0]:
            return None
        if not self._written_in_one_run(start, end, first[0], first[1]):
            # `registry/${LINE}/ubi`: both ends are on the FROM line, the
            # middle comes from an ARG.
            return None
        return first[0].range_of(first[1], last[1])

    def _written_in_one_run(
        self, start: int, end: int, instruction: Instruction, offset: int
    ) -> bool:
        """Whether ``value[start:end]`` is one stretch of ``instruction``'s
        text starting at logical ``offset``, with nothing substituted."""
        expected = offset
        for piece in self._pieces:
            low, high = max(piece.start, start), min(piece.end, end)
            if low >= high:
                continue
            if piece.instruction is not instruction or piece.source_offset is None:
                return False
            if piece.source_offset + (low - piece.start) != expected:
                return False
            expected += high - low
        return expected - offset == end - start

    @property
    def name_range(self) -> Range | None:
        if self.ref is None:
            return None
        return self.value_range(self.ref.name_span.start, self.ref.name_span.end)

    @property
    def tag_range(self) -> Range | None:
        if self.ref is None or self.ref.tag_span is None:
            return None
        return self.value_range(self.ref.tag_span.start, self.ref.tag_span.end)

    @property
    def digest_range(self) -> Range | None:
        if self.ref is None or self.ref.digest_span is None:
            return None
        return self.value_range(self.ref.digest_span.start, self.ref.digest_span.end)


BaseKind = Literal["image", "stage", "scratch", "unresolved"]


@dataclass(slots=True)
class Stage:
    index: int
    from_instruction: Instruction
    name: str | None  # as written after AS
    name_range: Range | None
    base_kind: BaseKind
    base: ImageReference | None  # for "image" (and "unresolved" bases)
    base_stage: Stage | None  # for "stage"
    base_text: str  # the FROM argument after substitution
    platform: str | None
    instructions: list[Instruction] = field(default_factory=list)
    args: dict[str, ArgDefault | None] = field(default_factory=dict)

    def root_image(self) -> tuple[BaseKind, ImageReference | None]:
        """Follow ``FROM <stage>`` chains to the image this stage starts from."""
        stage: Stage = self
        seen = 0
        while stage.base_kind == "stage" and stage.base_stage is not None and seen < 128:
            stage = stage.base_stage
            seen += 1
        return stage.base_kind, stage.base


@dataclass(slots=True)
class Dockerfile:
    text: str
    lines: list[str]
    escape: str
    instructions: list[Instruction]
    comments: list[Comment]
    stages: list[Stage]
    references: list[ImageReference]
    global_args: dict[str, ArgDefault | None]
    directives: dict[str, str]
    problems: list[tuple[Range, str]]  # syntax problems worth telling the user
    directive_lines: int = 0  # lines at the top taken by parser directives

    @property
    def final_stage(self) -> Stage | None:
        return self.stages[-1] if self.stages else None

    def stage_by_name(self, name: str) -> Stage | None:
        lowered = name.lower()
        for stage in self.stages:
            if stage.name is not None and stage.name.lower() == lowered:
                return stage
        return None

    def line_end(self, line: int) -> Position:
        return Position(line, len(self.lines[line]) if 0 <= line < len(self.lines) else 0)


# --------------------------------------------------------------------------
# Words, flags and substitution
# --------------------------------------------------------------------------


def split_words(text: str, start: int = 0, escape: str = "\\") -> list[Word]:
    """Split ``text[start:]`` at unquoted, unescaped whitespace, keeping quotes
    and escapes, as BuildKit's ``parseWords`` does (``a\\ b`` is one word)."""
    return list(iter_words(text, start, escape))


def iter_words(text: str, start: int = 0, escape: str = "\\") -> Iterator[Word]:
    """:func:`split_words`, one word at a time (flags need only the first few)."""
    if '"' not in text and "'" not in text and escape not in text:
        # The common case, without quotes or escapes: a regex is many times
        # faster than the character loop below and splits identically.
        for match in _PLAIN_WORD_RE.finditer(text, start):
            yield Word(match.group(0), match.start(), match.end())
        return
    index = start
    length = len(text)
    while index < length:
        while index < length and text[index] in _SPACE:
            index += 1
        if index >= length:
            break
        word_start = index
        quote: str | None = None
        while index < length:
            ch = text[index]
            if quote is not None:
                if ch == quote:
                    quote = None
                elif ch == escape and quote == '"' and index + 1 < length:
                    index += 1
            elif ch in "\"'":
                quote = ch
            elif ch == escape and index + 1 < length:
                index += 1
            elif ch in _SPACE:
                break
            index += 1
        yield Word(text[word_start:index], word_start, index)


def _parse_flags(logical: str, args_start: int) -> tuple[tuple[Flag, ...], int]:
    flags: list[Flag] = []
    rest = args_start
    if not logical[args_start : args_start + 64].lstrip().startswith("--"):
        return (), rest
    for word in iter_words(logical, args_start):
        if word.text == "--":
            # An explicit end of flags, consumed as BuildKit does.
            rest = word.end
            break
        if not word.text.startswith("--"):
            break
        body = word.text[2:]
        name, eq, value = body.partition("=")
        value_start = word.start + 2 + len(name) + len(eq)
        flag_value: str | None = value if eq else None
        if (
            flag_value is not None
            and len(flag_value) >= 2
            and flag_value[0] == flag_value[-1]
            and (flag_value[0] in "\"'")
        ):
            flag_value = flag_value[1:-1]
            value_start += 1
        flags.append(Flag(name.lower(), flag_value, word, value_start))
        rest = word.end
    return tuple(flags), rest


@dataclass(slots=True)
class _Expansion:
    value: str
    unresolved: list[str]
    args_used: list[ArgDefault]
    pieces: list[_Piece]


def _expand(
    text: str,
    text_offset: int,
    instruction: Instruction,
    scope: dict[str, ArgDefault | None],
    escape: str,
    depth: int = 0,
) -> _Expansion:
    """Substitute ``$VAR``, ``${VAR}`` and ``${VAR:-default}``-style forms in
    ``text`` (which starts at logical offset ``text_offset`` of
    ``instruction``), recording where each expanded character came from."""
    out: list[str] = []
    pieces: list[_Piece] = []
    unresolved: list[str] = []
    used: list[ArgDefault] = []
    position = 0  # length of the expanded text so far

    def literal(chunk_start: int, chunk_end: int) -> None:
        nonlocal position
        if chunk_end <= chunk_start:
            return
        chunk = text[chunk_start:chunk_end]
        out.append(chunk)
        pieces.append(
            _Piece(position, position + len(chunk), instruction, text_offset + chunk_start)
        )
        position += len(chunk)

    def substituted(name: str) -> bool:
        """Append the value of ``name``; False when it has none."""
        nonlocal position
        if name not in scope:
            return False
        definition = scope[name]
        if definition is None:
            return False
        used.append(definition)
        if depth < 8 and "$" in definition.value:
            inner = _expand(
                definition.value,
                definition.value_start,
                definition.instruction,
                {},
                escape,
                depth + 1,
            )
            value = inner.value
            unresolved.extend(inner.unresolved)
            source: int | None = None
        else:
            value = definition.value
            source = definition.value_start if definition.literal else None
        if value:
            out.append(value)
            pieces.append(_Piece(position, position + len(value), definition.instruction, source))
            position += len(value)
        return True

    def nested(word: str, word_start: int) -> None:
        """Append the expansion of a ``${VAR:-word}`` word."""
        nonlocal position
        inner = _expand(word, word_start, instruction, scope, escape, depth + 1)
        for piece in inner.pieces:
            pieces.append(
                _Piece(
                    position + piece.start,
                    position + piece.end,
                    piece.instruction,
                    piece.source_offset,
                )
            )
        out.append(inner.value)
        position += len(inner.value)
        unresolved.extend(inner.unresolved)
        used.extend(inner.args_used)

    index = 0
    chunk_start = 0
    length = len(text)
    quote: str | None = None  # shell-style quotes are removed, as BuildKit does
    while index < length:
        ch = text[index]
        if (ch == "'" and quote != '"') or (ch == '"' and quote != "'"):
            literal(chunk_start, index)
            quote = None if quote == ch else ch
            index += 1
            chunk_start = index
            continue
        if quote == "'":
            index += 1
            continue
        if ch == escape and index + 1 < length and text[index + 1] in ("$", '"', escape):
            literal(chunk_start, index)
            chunk_start = index + 1
            index += 2
            continue
        if ch != "$" or index + 1 >= length:
            index += 1
            continue
        following = text[index + 1]
        if following == "{":
            close = _closing_brace(text, index + 2)
            if close == -1:
                index += 1
                continue
            inner_text = text[index + 2 : close]
            match = _VAR_NAME_RE.match(inner_text)
            if match is None:
                index += 1
                continue
            name = match.group(0)
            modifier = inner_text[match.end() :]
            literal(chunk_start, index)
            if not modifier:
                if not substituted(name):
                    unresolved.append(name)
            elif modifier[:2] in (":-", ":+", ":?") or modifier[:1] in ("-", "+", "?"):
                colon = modifier.startswith(":")
                operator = modifier[1 if colon else 0]
                word_offset = match.end() + (2 if colon else 1)
                word = inner_text[word_offset:]
                definition = scope.get(name)
                has_value = definition is not None and (not colon or definition.value != "")
                is_set = name in scope and definition is not None
                word_start = text_offset + index + 2 + word_offset
                if operator == "-":
                    if has_value:
                        substituted(name)
                    else:
                        nested(word, word_start)
                elif operator == "+":
                    if has_value if colon else is_set:
                        nested(word, word_start)
                elif not (has_value and substituted(name)):
                    unresolved.append(name)
            else:
                # Other shell forms (${VAR#pattern}, ${VAR%...}) are not
                # evaluated: treat the reference as unresolved.
                unresolved.append(name)
            index = close + 1
            chunk_start = index
            continue
        match = _VAR_NAME_RE.match(text, index + 1)
        if match is None:
            index += 1
            continue
        literal(chunk_start, index)
        name = match.group(0)
        if not substituted(name):
            unresolved.append(name)
        index = match.end()
        chunk_start = index
    literal(chunk_start, length)
    return _Expansion("".join(out), unresolved, used, pieces)


def _closing_brace(text: str, start: int) -> int:
    """Index of the ``}`` closing a ``${`` whose body starts at ``start``."""
    depth = 1
    index = start
    while index < len(text):
        ch = text[index]
        if ch == "$" and index + 1 < len(text) and text[index + 1] == "{":
            depth += 1
            index += 2
            continue
        if ch == "}":
            depth -= 1
            if depth == 0:
                return index
        index += 1
    return -1


def key_values(text: str) -> list[tuple[str, str]]:
    """``ENV``/``LABEL``-style key/value pairs (``A=1 B="x y"`` or legacy
    ``KEY value``), parsed with dockerfile-parse's quoting rules."""
    from dockerfile_parse.util import extract_key_values

    if not text.strip():
        return []
    try:
        pairs = extract_key_values(False, {}, {}, text)
    except (ValueError, IndexError):
        return []
    return [(str(key), str(value)) for key, value in pairs]


def _arg_definitions(instruction: Instruction) -> list[tuple[str, ArgDefault | None]]:
    """Each ``NAME`` or ``NAME=default`` of an ARG instruction, with the exact
    range of the default so a fix can rewrite it."""
    definitions: list[tuple[str, ArgDefault | None]] = []
    for word in instruction.words():
        name, eq, raw_value = word.text.partition("=")
        if not _VAR_NAME_RE.fullmatch(name):
            continue
        if not eq:
            definitions.append((name, None))
            continue
        value_start = word.start + len(name) + 1
        value = raw_value
        literal = True
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1]
            value_start += 1
        if any(ch in value for ch in "\"'\\`"):
            literal = False
            try:
                pairs = key_values(word.text)
                value = pairs[0][1] if pairs else value
            except IndexError:
                pass
        definitions.append(
            (
                name,
                ArgDefault(
                    name=name,
                    value=value,
                    instruction=instruction,
                    value_range=instruction.range_of(value_start, value_start + len(value)),
                    value_start=value_start,
                    literal=literal,
                ),
            )
        )
    return definitions


# --------------------------------------------------------------------------
# Scanning
# --------------------------------------------------------------------------


def _heredoc_words(logical: str, args_start: int) -> list[tuple[str, bool, bool]]:
    """Heredoc openers (``<<EOF``, ``<<-EOF``, ``<<"EOF"``, ``2<<EOF``,
    ``<<eo'f'``) among the words of an instruction, as (name, chomp, quoted).

    As BuildKit's ``heredocsFromLine``: words split shell-style with
    backslash escapes, the delimiter is the word after ``<<`` with quotes
    removed, and any quoting means the body is not expanded."""
    found: list[tuple[str, bool, bool]] = []
    for word in split_words(logical, args_start):
        if "<<" not in word.text:
            continue
        match = _HEREDOC_WORD_RE.match(word.text)
        if match is None or _HEREDOC_OPERATORS.intersection(match.group(2)):
            continue
        delimiter = _heredoc_delimiter(match.group(2))
        if delimiter is not None:
            found.append((delimiter[0], match.group(1) == "-", delimiter[1]))
    return found


def _heredoc_delimiter(word: str) -> tuple[str, bool] | None:
    """Shell quote removal on a heredoc word: (delimiter, whether any part was
    quoted), or None for an unterminated quote or an empty delimiter (BuildKit
    refuses the file then; dockpin reads no heredoc)."""
    out: list[str] = []
    quoted = False
    index = 0
    length = len(word)
    while index < length:
        ch = word[index]
        if ch == "'":
            close = word.find("'", index + 1)
            if close == -1:
                return None
            out.append(word[index + 1 : close])
            quoted = True
            index = close + 1
        elif ch == '"':
            index += 1
            while index < length and word[index] != '"':
                if word[index] == "\\" and index + 1 < length and word[index + 1] in '"$\\':
                    index += 1
                out.append(word[index])
                index += 1
            if index >= length:
                return None
            quoted = True
            index += 1
        elif ch == "\\":
            out.append(word[index + 1 : index + 2])
            index += 2
        else:
            out.append(ch)
            index += 1
    name = "".join(out)
    return (name, quoted) if name else None


def _can_contain_heredoc(instruction: Instruction) -> bool:
    """RUN, COPY and ADD in shell form (``ONBUILD RUN`` too), as BuildKit's
    ``canContainHeredoc``: an exec-form JSON array has no heredocs."""
    keyword = instruction.keyword
    logical = instruction.logical
    rest_start = instruction.rest_start
    if keyword == "ONBUILD":
        sub_start = len(logical) - len(logical[rest_start:].lstrip(_SPACE))
        sub_end = sub_start
        while sub_end < len(logical) and logical[sub_end] not in _KEYWORD_SPACE:
            sub_end += 1
        keyword = logical[sub_start:sub_end].upper()
        rest_start = _parse_flags(logical, sub_end)[1]
    if keyword not in HEREDOC_INSTRUCTIONS:
        return False
    return json_string_array(logical[rest_start:].strip(_SPACE)) is None


def _split_lines(text: str) -> list[str]:
    return _LINE_BREAK_RE.split(text)


def parse(text: str) -> Dockerfile:
    """Parse Dockerfile ``text`` into the model. Never raises on any input."""
    lines = _split_lines(text)
    escape = "\\"
    directives: dict[str, str] = {}
    comments: list[Comment] = []
    instructions: list[Instruction] = []
    problems: list[tuple[Range, str]] = []

    line_count = len(lines)
    index = 0
    directive_lines = 0
    looking_for_directives = True
    while index < line_count:
        raw_line = lines[index]
        line = raw_line[1:] if index == 0 and raw_line.startswith("\ufeff") else raw_line
        offset = len(raw_line) - len(line)
        stripped = line.lstrip(_SPACE)
        indent = offset + len(line) - len(stripped)
        if looking_for_directives:
            match = _DIRECTIVE_RE.match(stripped)
            if match is not None and match.group(1).lower() in _KNOWN_DIRECTIVES:
                key = match.group(1).lower()
                if key not in directives:
                    directives[key] = match.group(2)
                    if key == "escape":
                        if match.group(2) in ("\\", "`"):
                            escape = match.group(2)
                        else:
                            problems.append(
                                (
                                    Range(Position(index, indent), Position(index, len(raw_line))),
                                    f"invalid escape directive {match.group(2)!r}: use \\ or `",
                                )
                            )
                comments.append(_comment(index, raw_line, indent))
                index += 1
                directive_lines = index
                continue
            looking_for_directives = False
        if not stripped:
            index += 1
            continue
        if stripped.startswith("#"):
            comments.append(_comment(index, raw_line, indent))
            index += 1
            continue
        index = _scan_instruction(lines, index, indent, escape, instructions, comments)

    model = _build_model(text, lines, escape, instructions, comments, directives, problems)
    model.directive_lines = directive_lines
    return model


def _comment(line_number: int, line: str, lead: int) -> Comment:
    """The comment on ``line``, whose ``#`` is at column ``lead``."""
    return Comment(
        line_number,
        line[lead + 1 :].strip(),
        Range(Position(line_number, lead), Position(line_number, len(line))),
    )


def _continues(line: str, escape: str) -> tuple[bool, int]:
    """Whether ``line`` ends with the escape character (ignoring trailing
    blanks), and the length of the line without it. An escaped escape
    (``C:\\\\``) does not continue the line, as in BuildKit."""
    end = len(line)
    while end > 0 and line[end - 1] in " \t":
        end -= 1
    if end > 0 and line[end - 1] == escape and (end < 2 or line[end - 2] != escape):
        return True, end - 1
    return False, len(line)


def _scan_instruction(
    lines: list[str],
    first: int,
    indent: int,
    escape: str,
    instructions: list[Instruction],
    comments: list[Comment],
) -> int:
    segments: list[_Segment] = []
    parts: list[str] = []
    logical_length = 0
    index = first
    column = indent
    last_line = first
    last_end = len(lines[first])
    while index < len(lines):
        line = lines[index]
        if index != first:
            stripped = line.lstrip(_SPACE)
            if not stripped:
                index += 1
                continue
            if stripped.startswith("#"):
                lead = len(line) - len(stripped)
                comments.append(_comment(index, line, lead))
                index += 1
                continue
            column = 0
        continued, content_end = _continues(line, escape)
        piece = line[column:content_end]
        segments.append(_Segment(logical_length, index, column, len(piece)))
        parts.append(piece)
        logical_length += len(piece)
        last_line = index
        last_end = content_end if continued else len(line.rstrip(" \t")) if line.strip() else column
        index += 1
        if not continued:
            break
    logical = "".join(parts)
    if not segments:
        segments.append(_Segment(0, first, indent, 0))
    source_map = SourceMap(segments)
    # Leading blanks reach the logical line when the first line holds only
    # the escape character; BuildKit trims them before the keyword.
    keyword_start = len(logical) - len(logical.lstrip(_SPACE))
    keyword_end = keyword_start
    while keyword_end < len(logical) and logical[keyword_end] not in _KEYWORD_SPACE:
        keyword_end += 1
    keyword = logical[keyword_start:keyword_end].upper()
    args_start = keyword_end
    flags, rest_start = _parse_flags(logical, args_start)
    instruction = Instruction(
        keyword=keyword,
        keyword_range=source_map.range(keyword_start, keyword_end),
        range=Range(Position(first, indent), Position(last_line, max(last_end, 0))),
        logical=logical,
        args_start=args_start,
        source_map=source_map,
        flags=flags,
        rest_start=rest_start,
        escape=escape,
    )
    if "<<" in logical and _can_contain_heredoc(instruction):
        openers = _heredoc_words(logical, rest_start)
        heredocs: list[Heredoc] = []
        for name, chomp, quoted in openers:
            body_lines: list[str] = []
            body_first = index
            terminated = False
            while index < len(lines):
                candidate = lines[index]
                index += 1
                check = candidate.lstrip("\t") if chomp else candidate
                if check == name:
                    terminated = True
                    last_line = index - 1
                    last_end = len(candidate)
                    break
                body_lines.append(candidate)
                last_line = index - 1
                last_end = len(candidate)
            body_range = None
            if body_lines:
                body_last = body_first + len(body_lines) - 1
                body_range = Range(
                    Position(body_first, 0), Position(body_last, len(lines[body_last]))
                )
            heredocs.append(
                Heredoc(
                    name=name,
                    chomp=chomp,
                    quoted=quoted,
                    body="\n".join(body_lines),
                    body_range=body_range,
                    terminated=terminated,
                )
            )
        if heredocs:
            instruction.heredocs = tuple(heredocs)
            instruction.range = Range(instruction.range.start, Position(last_line, last_end))
    instructions.append(instruction)
    return index


# --------------------------------------------------------------------------
# Stages and references
# --------------------------------------------------------------------------


def _reference(
    kind: RefKind,
    instruction: Instruction,
    raw: str,
    raw_start: int,
    scope: dict[str, ArgDefault | None],
    escape: str,
) -> ImageReference:
    expansion = _expand(raw, raw_start, instruction, scope, escape)
    value = expansion.value
    ref: ImageRef | None = None
    error: str | None = None
    if not expansion.unresolved:
        try:
            ref = parse_reference(value)
        except ReferenceError as exc:
            error = exc.reason
    # Deduplicate while keeping order: the same ARG may be used twice.
    seen: set[int] = set()
    args_used: list[ArgDefault] = []
    for definition in expansion.args_used:
        if id(definition) not in seen:
            seen.add(id(definition))
            args_used.append(definition)
    return ImageReference(
        kind=kind,
        instruction=instruction,
        raw=raw,
        raw_range=instruction.range_of(raw_start, raw_start + len(raw)),
        raw_offset=raw_start,
        value=value,
        unresolved=tuple(dict.fromkeys(expansion.unresolved)),
        args_used=tuple(args_used),
        ref=ref,
        error=error,
        _pieces=tuple(expansion.pieces),
    )


def _mount_from(flag: Flag) -> tuple[str, int] | None:
    """The ``from=`` field of a ``--mount`` flag value and its logical offset."""
    if flag.value is None:
        return None
    offset = flag.value_start
    for field_text in flag.value.split(","):
        key, eq, value = field_text.partition("=")
        if eq and key.strip().lower() == "from":
            value_offset = offset + len(key) + 1
            if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
                return value[1:-1], value_offset + 1
            return value, value_offset
        offset += len(field_text) + 1
    return None


def _build_model(
    text: str,
    lines: list[str],
    escape: str,
    instructions: list[Instruction],
    comments: list[Comment],
    directives: dict[str, str],
    problems: list[tuple[Range, str]],
) -> Dockerfile:
    global_args: dict[str, ArgDefault | None] = {}
    stages: list[Stage] = []
    references: list[ImageReference] = []
    current: Stage | None = None
    names: dict[str, Stage] = {}  # lowercased stage name -> stage

    for instruction in instructions:
        keyword = instruction.keyword
        if keyword == "FROM":
            current = _new_stage(instruction, stages, names, global_args, escape, references)
            stages.append(current)
            if current.name is not None:
                # The first stage of a name wins, as in BuildKit's lookup.
                names.setdefault(current.name.lower(), current)
            continue
        if current is None:
            if keyword == "ARG":
                for name, definition in _arg_definitions(instruction):
                    global_args[name] = definition
            continue
        instruction.stage_index = current.index
        current.instructions.append(instruction)
        if keyword == "ARG":
            for name, definition in _arg_definitions(instruction):
                # A bare `ARG NAME` in a stage brings the global default in.
                current.args[name] = definition if definition is not None else global_args.get(name)
            continue
        scope = {**global_args, **current.args}
        if keyword in ("COPY", "ADD"):
            flag = instruction.flag("from")
            if keyword == "COPY" and flag is not None and flag.value:
                reference = _source_reference(
                    "copy-from", instruction, flag.value, flag.value_start, scope, escape, names
                )
                if reference is not None:
                    references.append(reference)
        elif keyword == "RUN":
            for flag in instruction.flags:
                if flag.name != "mount":
                    continue
                found = _mount_from(flag)
                if found is None or not found[0]:
                    continue
                reference = _source_reference(
                    "mount-from", instruction, found[0], found[1], scope, escape, names
                )
                if reference is not None:
                    references.append(reference)

    return Dockerfile(
        text=text,
        lines=lines,
        escape=escape,
        instructions=instructions,
        comments=comments,
        stages=stages,
        references=references,
        global_args=global_args,
        directives=directives,
        problems=problems,
    )


def _source_reference(
    kind: RefKind,
    instruction: Instruction,
    raw: str,
    raw_start: int,
    scope: dict[str, ArgDefault | None],
    escape: str,
    names: dict[str, Stage],
) -> ImageReference | None:
    """COPY --from / RUN --mount from: a stage name, a stage index, or an image."""
    expansion = _expand(raw, raw_start, instruction, scope, escape)
    value = expansion.value
    if value.isdigit():
        return None
    lowered = value.lower()
    if lowered in names:
        return None
    if lowered == "scratch":
        return None
    return _reference(kind, instruction, raw, raw_start, scope, escape)


def _new_stage(
    instruction: Instruction,
    stages: list[Stage],
    names: dict[str, Stage],
    global_args: dict[str, ArgDefault | None],
    escape: str,
    references: list[ImageReference],
) -> Stage:
    index = len(stages)
    instruction.stage_index = index
    words = instruction.words()
    platform_flag = instruction.flag("platform")
    name: str | None = None
    name_range: Range | None = None
    if len(words) >= 3 and words[1].text.lower() == "as":
        name = words[2].text
        name_range = instruction.range_of(words[2].start, words[2].end)
    stage = Stage(
        index=index,
        from_instruction=instruction,
        name=name,
        name_range=name_range,
        base_kind="unresolved",
        base=None,
        base_stage=None,
        base_text="",
        platform=platform_flag.value if platform_flag else None,
    )
    if not words:
        return stage
    image_word = words[0]
    expansion = _expand(image_word.text, image_word.start, instruction, global_args, escape)
    stage.base_text = expansion.value
    lowered = expansion.value.lower()
    if not expansion.unresolved:
        previous = names.get(lowered)
        if previous is not None:
            stage.base_kind = "stage"
            stage.base_stage = previous
            return stage
        if lowered == "scratch":
            stage.base_kind = "scratch"
            return stage
    reference = _reference(
        "from", instruction, image_word.text, image_word.start, global_args, escape
    )
    stage.base = reference
    stage.base_kind = "image" if reference.is_resolved else "unresolved"
    references.append(reference)
    return stage
