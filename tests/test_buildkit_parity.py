"""dockpin's instruction list against BuildKit's own parser tests.

BuildKit (``frontend/dockerfile/parser``) keeps pairs of ``Dockerfile`` and
``result`` files: the result is the parse tree dumped as one
``(keyword ["flags"] "arg" ...)`` line per instruction. The corpus next to the
repository (``../shared/corpus/moby__buildkit``) holds them verbatim. Each
instruction dockpin reads is rendered the way BuildKit's dispatch table
renders it (exec-form JSON or the whole shell text, whitespace-split lists,
name/value pairs) and must equal the expected line: the keyword sequence, the
flags, and the continuation-joined argument text.

The rendering below is a thin adapter over dockpin's model (``keyword``,
``flags``, ``args``, ``words()``, ``exec_form()``); it adds no parsing of its
own beyond BuildKit's per-keyword split of that text. ``ONBUILD``'s argument
is read back through dockpin's parser, as BuildKit does (dockpin does not
model what runs in a downstream build).

After the corpus, the same comparison for cases from BuildKit's Go unit tests
(line numbers, ``parseWords``, heredoc extraction), and the few places where
dockpin deliberately reads a file differently, each with its reason.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from dockpin.syntax import Instruction, json_string_array, parse, split_words

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "moby__buildkit"
PREFIX = "frontend__dockerfile__parser__testfiles__"
# BuildKit's reWhitespace: how FROM, EXPOSE, COPY, ADD and VOLUME split.
GO_WHITESPACE = re.compile(r"[\t\v\f\r ]+")
_NAMED_ESCAPES = {
    '"': '\\"',
    "\\": "\\\\",
    "\a": "\\a",
    "\b": "\\b",
    "\f": "\\f",
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
    "\v": "\\v",
}


def go_quote(text: str) -> str:
    """Go's ``strconv.Quote``, which BuildKit's ``Node.Dump`` uses."""
    out = []
    for ch in text:
        if ch in _NAMED_ESCAPES:
            out.append(_NAMED_ESCAPES[ch])
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\x{ord(ch):02x}")
        elif not ch.isprintable():
            out.append(f"\\u{ord(ch):04x}" if ord(ch) <= 0xFFFF else f"\\U{ord(ch):08x}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def buildkit_args(instruction: Instruction) -> list[str] | None:
    """An instruction's arguments as BuildKit's dispatch table splits them;
    None for a keyword BuildKit ignores (it keeps no arguments)."""
    keyword, text = instruction.keyword, instruction.args
    exec_form = instruction.exec_form()
    if keyword in ("RUN", "CMD", "ENTRYPOINT", "SHELL"):  # parseMaybeJSON
        return exec_form if exec_form is not None else ([text] if text else [])
    if keyword in ("ADD", "COPY", "VOLUME"):  # parseMaybeJSONToList
        return exec_form if exec_form is not None else (GO_WHITESPACE.split(text) if text else [])
    if keyword in ("FROM", "EXPOSE"):  # parseStringsWhitespaceDelimited
        return GO_WHITESPACE.split(text) if text else []
    if keyword in ("MAINTAINER", "STOPSIGNAL", "USER", "WORKDIR"):  # parseString
        return [text] if text else []
    if keyword == "ARG":  # parseNameOrNameVal
        return [word.text for word in instruction.words()]
    if keyword in ("ENV", "LABEL"):  # parseNameVal: `KEY value` or `k=v ...` with "="
        words = [word.text for word in instruction.words()]
        if not words:
            return []
        if "=" not in words[0]:
            key, *value = GO_WHITESPACE.split(text, maxsplit=1)
            return [key, *value, ""]
        pairs: list[str] = []
        for word in words:
            name, _, value = word.partition("=")
            pairs += [name, value, "="]
        return pairs
    if keyword == "HEALTHCHECK":  # parseHealthConfig: a type, then parseMaybeJSON
        if not text:
            return []
        kind, *rest = GO_WHITESPACE.split(text, maxsplit=1)
        command = rest[0] if rest else ""
        body = json_string_array(command)
        return [kind, *(body if body is not None else ([command] if command else []))]
    return None


def dump(instruction: Instruction) -> str:
    """One line of BuildKit's ``Node.Dump`` for a dockpin instruction."""
    out = instruction.keyword.lower()
    if instruction.flags:
        out += " [" + " ".join(go_quote(flag.word.text) for flag in instruction.flags) + "]"
    if instruction.keyword == "ONBUILD":
        inner = parse(instruction.args).instructions
        return f"({out}" + "".join(f" {dump(i)}" for i in inner) + ")"
    for arg in buildkit_args(instruction) or []:
        out += " " + go_quote(arg)
    return f"({out})"


def corpus_pairs() -> list[str]:
    if not CORPUS.is_dir():
        return []
    return sorted(
        path.name[len(PREFIX) : -len("__Dockerfile")]
        for path in CORPUS.glob(f"{PREFIX}*__Dockerfile")
        if path.with_name(path.name.removesuffix("Dockerfile") + "result").exists()
    )


PAIRS = corpus_pairs()
corpus = pytest.mark.skipif(
    not CORPUS.is_dir(), reason=f"BuildKit corpus not found at {CORPUS} (../shared/corpus)"
)


@corpus
def test_the_corpus_holds_the_buildkit_parser_tests() -> None:
    # The corpus README promises 33 pairs; a missing one would silently shrink this file.
    assert len(PAIRS) == 33, PAIRS


@corpus
@pytest.mark.parametrize("name", PAIRS)
def test_instruction_list_matches_buildkit_result(name: str) -> None:
    source = (CORPUS / f"{PREFIX}{name}__Dockerfile").read_bytes().decode("utf-8")
    expected = (CORPUS / f"{PREFIX}{name}__result").read_text(encoding="utf-8").splitlines()

    got = [dump(instruction) for instruction in parse(source).instructions]

    assert got == expected


@corpus
@pytest.mark.parametrize(
    "name", ["empty_dockerfile", "env_no_value", "only_comments", "shykes-nested-json"]
)
def test_files_buildkit_rejects_are_read_without_raising(name: str) -> None:
    """BuildKit refuses these (no instructions, ``ENV`` without a value, a
    nested JSON array); an editor still has to show them, so dockpin reads
    what is there and leaves the complaint to the build."""
    path = CORPUS / f"frontend__dockerfile__parser__testfiles-negative__{name}__Dockerfile"
    model = parse(path.read_bytes().decode("utf-8"))
    keywords = [i.keyword for i in model.instructions]
    assert keywords == {
        "empty_dockerfile": [],
        "only_comments": [],
        "env_no_value": ["FROM", "ENV"],
        "shykes-nested-json": ["CMD"],
    }[name]
    if name == "shykes-nested-json":
        assert model.instructions[0].exec_form() is None  # not an array of strings


@corpus
def test_instruction_line_numbers_match_buildkit() -> None:
    """BuildKit's TestParseIncludesLineNumbers (1-based lines 5, 11-12, 17-31)."""
    path = CORPUS / "frontend__dockerfile__parser__testfile-line__Dockerfile"
    model = parse(path.read_bytes().decode("utf-8"))
    lines = [(i.start_line + 1, i.end_line + 1) for i in model.instructions]
    assert lines == [(5, 5), (11, 12), (17, 31)]


# -- BuildKit's unit-test cases, without the corpus ------------------------------------------


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("foo", ["foo"]),
        ("foo bar", ["foo", "bar"]),
        ("foo\\ bar", ["foo\\ bar"]),
        ("foo=bar", ["foo=bar"]),
        ("foo bar 'abc xyz'", ["foo", "bar", "'abc xyz'"]),
        ('foo bar "abc xyz"', ["foo", "bar", '"abc xyz"']),
        ("àöû", ["àöû"]),
        ('föo bàr "âbc xÿz"', ["föo", "bàr", '"âbc xÿz"']),
    ],
)
def test_words_split_like_buildkit_parse_words(text: str, words: list[str]) -> None:
    assert [word.text for word in split_words(text)] == words


def test_empty_continuation_lines_and_comments_inside_continuations() -> None:
    """BuildKit's TestParseWarnsOnEmptyContinutationLine: blank and comment
    lines inside a continuation are skipped, nothing else is."""
    source = (
        "\nFROM alpine:3.6\n\nRUN valid \\\n    continuation\n\n"
        "RUN something \\\n\n    following \\\n\n    more\n\n"
        "RUN another \\\n\n    thing\n\n"
        "RUN non-indented \\\n# this is a comment\n   after-comment\n\n"
        "RUN indented \\\n    # this is an indented comment\n    comment\n\t"
    )
    logical = [i.logical for i in parse(source).instructions]
    assert logical == [
        "FROM alpine:3.6",
        "RUN valid     continuation",
        "RUN something     following     more",
        "RUN another     thing",
        "RUN non-indented    after-comment",
        "RUN indented     comment",
    ]


HEREDOCS = """\
FROM alpine:3.6
USER <<INVALID
INVALID
RUN 3<<EMPTY2
EMPTY2
RUN "<<NOHEREDOC"
RUN <<-UNINDENT2
\tbaz
\tUNINDENT2
RUN <<-'NOEXPAND'
\tdon't expand $NAME
NOEXPAND
COPY <<X <<Y /dest
Y
X
X
Y
RUN <<eo'f'
echo foo
eof
RUN <<eo\\'f
echo foo
eo'f
RUN <<'e'o\\'f
echo foo
eo'f
RUN <<'one two'
echo bar
one two
RUN <<$EOF
$EOF
RUN ["<<EOF"]
ONBUILD RUN <<EOF
FROM not-a-stage
EOF
"""


def test_heredocs_are_extracted_as_buildkit_does() -> None:
    """After BuildKit's TestParseExtractsHeredoc / TestParseJSONHeredoc: the
    delimiter is the shell word after ``<<`` with quotes removed (partly
    quoted and escaped ones too), any quoting turns expansion off, an
    exec-form JSON array has none, and ``ONBUILD RUN`` has them."""
    model = parse(HEREDOCS)
    found = [
        (i.keyword, [(h.name, h.chomp, h.quoted, h.body) for h in i.heredocs])
        for i in model.instructions
    ]
    assert found == [
        ("FROM", []),
        ("USER", []),
        ("INVALID", []),
        ("RUN", [("EMPTY2", False, False, "")]),
        ("RUN", []),
        ("RUN", [("UNINDENT2", True, False, "\tbaz")]),
        ("RUN", [("NOEXPAND", True, True, "\tdon't expand $NAME")]),
        ("COPY", [("X", False, False, "Y"), ("Y", False, False, "X")]),
        ("RUN", [("eof", False, True, "echo foo")]),
        ("RUN", [("eo'f", False, False, "echo foo")]),
        ("RUN", [("eo'f", False, True, "echo foo")]),
        ("RUN", [("one two", False, True, "echo bar")]),
        ("RUN", [("$EOF", False, False, "")]),
        ("RUN", []),
        ("ONBUILD", [("EOF", False, False, "FROM not-a-stage")]),
    ]
    assert len(model.stages) == 1  # the ONBUILD body is no stage


def test_an_escaped_escape_character_does_not_continue_the_line() -> None:
    """BuildKit's continuation pattern ``([^\\\\])\\\\[ \\t]*$|^\\\\[ \\t]*$``:
    a trailing ``\\\\`` is an escaped backslash (a Windows path), not a
    continuation; a line that is only ``\\`` continues."""
    model = parse("FROM a\nENV C c:\\\\\nENV D d\nENV E e\\\n\\\nf\n")
    assert [i.logical for i in model.instructions] == [
        "FROM a",
        "ENV C c:\\\\",
        "ENV D d",
        "ENV E ef",
    ]


def test_keyword_after_a_lone_escape_line_is_found() -> None:
    """A first line holding only the escape character: BuildKit trims the
    joined line before splitting off the keyword."""
    model = parse("\\\n   FROM python:3.12\n")
    assert [i.keyword for i in model.instructions] == ["FROM"]
    assert [r.value for r in model.references] == ["python:3.12"]


def test_double_dash_ends_the_flags() -> None:
    model = parse("FROM a\nCOPY --chown=1 -- --from=x /d\n")
    copy = model.instructions[1]
    assert [f.word.text for f in copy.flags] == ["--chown=1"]
    assert copy.args == "--from=x /d"
    assert model.references[1:] == []  # `--from=x` here is a file name, not a flag


# -- deliberate differences ----------------------------------------------------------------------


def test_difference_a_lone_carriage_return_ends_a_line() -> None:
    """BuildKit splits lines at ``\\n`` only (a lone ``\\r`` stays inside the
    line and separates words); dockpin ends a line at ``\\r`` too, because
    LSP clients count lines that way and every position dockpin reports must
    be where the editor shows it. Files with a lone CR do not build the same
    anyway (docker's classic builder disagreed with BuildKit here)."""
    model = parse("FROM a\rRUN b\r\n")
    assert [i.keyword for i in model.instructions] == ["FROM", "RUN"]


def test_difference_a_heredoc_word_with_a_shell_operator_is_no_heredoc() -> None:
    """``<<EOF>file`` makes BuildKit look for a line ``EOF>file`` and fail as
    unterminated; dockpin reads no heredoc there, so the rest of the file
    (its stages and images) is still checked."""
    model = parse("FROM a\nRUN cat <<EOF>/etc/x\nhello\nEOF\nFROM python:3.12\n")
    assert model.instructions[1].heredocs == ()
    assert [r.value for r in model.references] == ["a", "python:3.12"]


def test_difference_unterminated_quote_in_a_heredoc_word_is_no_heredoc() -> None:
    """BuildKit rejects ``<<'EOF`` outright; dockpin reads on."""
    model = parse("FROM a\nRUN <<'EOF\nFROM b\n")
    assert [r.value for r in model.references] == ["a", "b"]
