"""Open documents as the client sees them.

pygls' workspace splits lines with ``str.splitlines`` (which also breaks at
U+2028, form feeds and other characters LSP clients do not treat as line
ends) and drops edits whose range lies past the end of the document. A
Dockerfile server must agree with its client on every line and column, so
documents are kept here: lines end only at ``\\r\\n``, ``\\n`` or ``\\r``,
columns are converted with the negotiated position encoding, and
out-of-range edits are clamped to the document instead of lost.
"""

from __future__ import annotations

import re
from array import array
from dataclasses import dataclass, field

_LINE_BREAK_RE = re.compile(r"\r\n|\r|\n")

Encoding = str  # "utf-16" (the LSP default), "utf-8" or "utf-32"


def _units(text: str, encoding: Encoding) -> int:
    if encoding == "utf-32":
        return len(text)
    if encoding == "utf-8":
        return len(text.encode("utf-8", errors="surrogatepass"))
    return len(text) + sum(1 for ch in text if ord(ch) > 0xFFFF)


def column_to_client(line: str, column: int, encoding: Encoding) -> int:
    """Code-point ``column`` of ``line`` in the client's units."""
    if encoding == "utf-32":
        return column
    return _units(line[:column], encoding)


def column_from_client(line: str, units: int, encoding: Encoding) -> int:
    """The code-point column at ``units`` client units into ``line``
    (clamped to the line; a position inside a surrogate pair rounds down)."""
    if units <= 0:
        return 0
    if encoding == "utf-32":
        return min(units, len(line))
    count = 0
    for index, ch in enumerate(line):
        width = (
            len(ch.encode("utf-8", errors="surrogatepass"))
            if encoding == "utf-8"
            else (2 if ord(ch) > 0xFFFF else 1)
        )
        if count + width > units:
            return index
        count += width
    return len(line)


@dataclass(slots=True)
class TextBuffer:
    uri: str
    text: str
    version: int
    language_id: str = "dockerfile"
    # An int array, not a list: a few bytes a line for hundreds of open files.
    _line_starts: array[int] = field(default_factory=lambda: array("q"), repr=False)

    def __post_init__(self) -> None:
        self._index()

    def _index(self) -> None:
        starts = array("q", [0])
        starts.extend(match.end() for match in _LINE_BREAK_RE.finditer(self.text))
        self._line_starts = starts

    @property
    def line_count(self) -> int:
        return len(self._line_starts)

    def line(self, number: int) -> str:
        """Line ``number`` without its line break ('' past the end)."""
        if number < 0 or number >= len(self._line_starts):
            return ""
        start = self._line_starts[number]
        end = (
            self._line_starts[number + 1] if number + 1 < len(self._line_starts) else len(self.text)
        )
        content = self.text[start:end]
        if content.endswith("\r\n"):
            return content[:-2]
        if content.endswith(("\n", "\r")):
            return content[:-1]
        return content

    def offset(self, line: int, units: int, encoding: Encoding) -> int:
        """Offset in ``text`` of a client position, clamped into the document."""
        if line < 0:
            return 0
        if line >= len(self._line_starts):
            return len(self.text)
        content = self.line(line)
        return self._line_starts[line] + column_from_client(content, units, encoding)

    def apply_change(
        self,
        text: str,
        start: tuple[int, int] | None,
        end: tuple[int, int] | None,
        encoding: Encoding,
    ) -> None:
        """Apply one ``contentChanges`` entry: a full replacement when
        ``start`` is None, else replace the range (in client units)."""
        if start is None or end is None:
            self.text = text
        else:
            first = self.offset(start[0], start[1], encoding)
            last = self.offset(end[0], end[1], encoding)
            if last < first:
                first, last = last, first
            self.text = self.text[:first] + text + self.text[last:]
        self._index()
