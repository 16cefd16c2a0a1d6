"""Properties of the syntax model, the rules, the pin edit and the reference
grammar over generated input (hypothesis).

What a user relies on, on every keystroke and every ``dockpin pin``: no text
makes the parser or a rule raise; every finding points inside the document;
a reference's range covers what the user wrote; pinning inserts exactly the
digest, keeps the file's instructions and is idempotent; the reference
grammar only ever fails with ``ReferenceError``.

The default run stays fast (a few hundred examples per property);
``tests/fuzz/fuzz_parse.py`` runs the same properties for much longer.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from dockpin.analysis import analyze
from dockpin.facts import ReferenceFacts, RegistryFacts
from dockpin.fixes import FixError, TextEdit, apply_edits, dedupe, pin_edit
from dockpin.references import ReferenceError, parse_reference
from dockpin.syntax import (
    Dockerfile,
    ImageReference,
    Range,
    column_from_utf16,
    parse,
    utf16_column,
)

EXAMPLES = settings(
    max_examples=250,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
LINE_BREAK = re.compile(r"\r\n|\r|\n")

# -- strategies: arbitrary text --------------------------------------------------------------

# Fragments that steer random text into the parser's corners: keywords,
# flags, continuations with every line ending, directives, heredoc openers,
# variable syntax, digests, BOM, NUL, non-BMP characters, backticks.
HEX64 = "0123456789abcdef" * 4
FRAGMENTS = [
    "FROM ", "from ", "ARG ", "RUN ", "COPY ", "ADD ", "ONBUILD ", "CMD ", "ENV ",
    "HEALTHCHECK CMD ", "SHELL ", " AS ", " as ", "--from=", "--platform=linux/amd64 ",
    "--mount=type=bind,from=", "--mount=type=cache,target=/x ", "-- ",
    "\\\n", "\\\r\n", "\\\r", "\\ \n", "\\\\\n", "`\n", "`\r\n", "\n", "\r\n", "\r",
    "\t", " ", "  ", "\ufeff", "\x00", "\U0001f600", "\U00010348", "é", "\u2028", "\xa0",
    "\x0b", "\x0c", "\x1c", "# escape=`\n", "# escape=\\\n", "#escape=x\n", "# syntax=a\n",
    "# dockpin ignore=DP003\n", "# dockpin global ignore=DP001\n", "#", "`",
    "<<EOF", "<<-EOF", "<<'EOF'", '<<"EOF"', "<<eo'f'", "2<<EOF", "EOF", "\tEOF",
    "${", "}", "$", "${BASE}", "$BASE", "${BASE:-python:3.12}", "${TAG:+x}", "${X#y}",
    ":-", "BASE=", "TAG=", "python", "python:3.12", "alpine:3.20", "ubuntu",
    "ghcr.io/org/app:1.0", "localhost:5000/app", "[::1]:5000/x", "scratch",
    "@sha256:" + HEX64, "@sha256:", "@sha512:" + HEX64 * 2, ":", "/", "@", "=", ",",
    '"', "'", "[", "]", '["a", "b"]', "[[[[", "{", "0", "stage", "\\", "\\$", "\\\\",
]
fragment_text = st.lists(
    st.one_of(st.sampled_from(FRAGMENTS), st.text(max_size=4)), max_size=40
).map("".join)
any_text = st.one_of(st.text(max_size=300), fragment_text)


# -- strategies: plausible Dockerfiles ------------------------------------------------------

digests = st.binary(min_size=8, max_size=8).map(
    lambda b: "sha256:" + hashlib.sha256(b).hexdigest()
)
hosts = st.sampled_from(
    ["", "", "docker.io/", "index.docker.io/", "ghcr.io/", "localhost:5000/",
     "127.0.0.1:5000/", "registry.example.com:443/", "[::1]:5000/"]
)
namespaces = st.sampled_from(["", "", "library/", "org/", "my-org/sub_team/", "a.b/c-d/"])
names = st.sampled_from(["python", "alpine", "node", "ubuntu", "golang", "busy-box", "a__b"])
tags = st.one_of(
    st.none(),
    st.sampled_from(["3.12", "latest", "1.22-alpine", "v1.0.0", "22-bookworm-slim", "_x"]),
    st.from_regex(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,15}", fullmatch=True),
)


@st.composite
def image_texts(draw: st.DrawFn, *, allow_digest: bool = True) -> str:
    text = draw(hosts) + draw(namespaces) + draw(names)
    tag = draw(tags)
    if tag is not None:
        text += f":{tag}"
    if allow_digest and draw(st.integers(0, 4)) == 0:
        text += "@" + draw(digests)
    return text


@st.composite
def dockerfiles(draw: st.DrawFn) -> str:
    """A plausible Dockerfile: global ARGs, stages, COPY --from and RUN
    --mount naming images or stages, variables in every form, heredocs whose
    bodies look like instructions, comments, continuations (with ``\\`` or a
    backtick under ``# escape=```), CRLF or LF, sometimes a BOM."""
    escape = draw(st.sampled_from(["\\", "\\", "`"]))
    newline = draw(st.sampled_from(["\n", "\r\n"]))
    instructions: list[list[str]] = []
    bodies: dict[int, list[str]] = {}
    arg_names: list[str] = []
    for index in range(draw(st.integers(0, 3))):
        name = f"A{index}"
        arg_names.append(name)
        value = draw(
            st.one_of(image_texts(), st.sampled_from(["3.12", "ghcr.io", "python", "org"]))
        )
        quote = draw(st.sampled_from(["", "", '"']))
        instructions.append(["ARG", f"{name}={quote}{value}{quote}"])
        if draw(st.booleans()):
            instructions.append(["RUN", "echo", f"${name}"])
    if draw(st.booleans()):
        instructions.append(["ARG", "UNSET"])
    stage_names: list[str] = []

    def image_word() -> str:
        form = draw(st.integers(0, 7))
        if form == 0 and arg_names:
            return "${" + draw(st.sampled_from(arg_names)) + "}"
        if form == 1 and arg_names:
            return "$" + draw(st.sampled_from(arg_names))
        if form == 2:
            default = draw(image_texts(allow_digest=False))
            var = draw(st.sampled_from([*arg_names, "UNSET", "NEVER"]))
            return "${" + var + ":-" + default + "}"
        if form == 3 and arg_names:
            return draw(image_texts(allow_digest=False)).split(":")[0] + ":${" + arg_names[0] + "}"
        if form == 4:
            return '"' + draw(image_texts()) + '"'
        if form == 5 and arg_names:
            # A variable in the middle: `ghcr.io/${ORG}/app:1`.
            middle = "${" + draw(st.sampled_from(arg_names)) + "}"
            return f"ghcr.io/{middle}/{draw(names)}:{draw(tags) or '1'}"
        return draw(image_texts())

    for stage in range(draw(st.integers(1, 4))):
        from_words = ["FROM"]
        if draw(st.booleans()):
            from_words.append("--platform=$BUILDPLATFORM")
        if stage_names and draw(st.integers(0, 3)) == 0:
            from_words.append(draw(st.sampled_from(stage_names)))
        elif draw(st.integers(0, 8)) == 0:
            from_words.append("scratch")
        else:
            from_words.append(image_word())
        if draw(st.booleans()):
            stage_name = f"stage{stage}"
            stage_names.append(stage_name)
            from_words += [draw(st.sampled_from(["AS", "as"])), stage_name]
        instructions.append(from_words)
        for _ in range(draw(st.integers(0, 4))):
            kind = draw(st.integers(0, 6))
            if kind == 0:
                source = (
                    draw(st.sampled_from(stage_names))
                    if stage_names and draw(st.booleans())
                    else image_word()
                )
                instructions.append(["COPY", f"--from={source}", "/src", "/dst/"])
            elif kind == 1:
                instructions.append(
                    ["RUN", f"--mount=type=bind,from={image_word()},target=/x", "true"]
                )
            elif kind == 2:
                instructions.append(["ARG", draw(st.sampled_from(["A0", "A1", "TAG=1"]))])
            elif kind == 3:
                bodies[len(instructions)] = ["FROM notanimage:1", "\tEOX", "COPY --from=x a b"]
                instructions.append(["RUN", "<<-EOX", "sh"])
            elif kind == 4:
                instructions.append(["# a comment with FROM python:3.12"])
            elif kind == 5:
                instructions.append(["ENV", "PATH=/x:$PATH"])
            else:
                instructions.append(["CMD", '["python", "-m", "app"]'])

    out: list[str] = []
    if draw(st.integers(0, 5)) == 0:
        out.append("\ufeff")
    if escape == "`":
        out.append("# escape=`" + newline)
    for index, words in enumerate(instructions):
        if draw(st.integers(0, 6)) == 0:
            out.append(newline)
        if draw(st.integers(0, 8)) == 0:
            out.append("  ")
        pieces = [words[0]]
        for word in words[1:]:
            if draw(st.integers(0, 5)) == 0:
                # A continuation, sometimes with a comment or blank line inside it.
                gap = draw(st.sampled_from(["", " ", "\t"]))
                inner = draw(st.sampled_from(["", "", "# note" + newline, newline]))
                pieces.append(f"{gap}{escape}{newline}{inner}    {word}")
            else:
                pieces.append(" " + word)
        out.append("".join(pieces) + newline)
        for body_line in bodies.get(index, []):
            out.append(body_line + newline)
    return "".join(out)


# -- helpers -----------------------------------------------------------------------------------


def document_lines(text: str) -> list[str]:
    """Lines as an LSP client counts them: ``\\r\\n``, ``\\r`` and ``\\n`` end a line."""
    return LINE_BREAK.split(text)


def assert_in_document(lines: list[str], range_: Range, what: object) -> None:
    for position in (range_.start, range_.end):
        assert 0 <= position.line < len(lines), (what, range_, len(lines))
        assert 0 <= position.character <= len(lines[position.line]), (what, range_)
    assert (range_.start.line, range_.start.character) <= (
        range_.end.line,
        range_.end.character,
    ), (what, range_)


def model_ranges(model: Dockerfile) -> Iterator[tuple[object, Range]]:
    for instruction in model.instructions:
        yield instruction.keyword, instruction.range
        yield instruction.keyword, instruction.keyword_range
        for heredoc in instruction.heredocs:
            if heredoc.body_range is not None:
                yield heredoc.name, heredoc.body_range
    for comment in model.comments:
        yield comment.text, comment.range
    for stage in model.stages:
        if stage.name_range is not None:
            yield stage.name, stage.name_range
    for reference in model.references:
        for range_ in (
            reference.raw_range,
            reference.name_range,
            reference.tag_range,
            reference.digest_range,
        ):
            if range_ is not None:
                yield reference.raw, range_
    for definition in model.global_args.values():
        if definition is not None:
            yield definition.name, definition.value_range
    for range_, message in model.problems:
        yield message, range_


def facts_for(model: Dockerfile, digest: str) -> RegistryFacts:
    """Registry facts that make DP004 and DP005 fire wherever they can."""
    facts = {}
    for number, reference in enumerate(model.references):
        facts[reference.value] = ReferenceFacts(
            current_digest=digest,
            stale=number % 2 == 0,
            missing="gone" if number % 3 == 0 else None,
            error="unreachable" if number % 5 == 4 else None,
        )
    return RegistryFacts(facts)


def text_of(lines: list[str], range_: Range) -> str:
    if range_.start.line == range_.end.line:
        return lines[range_.start.line][range_.start.character : range_.end.character]
    parts = [lines[range_.start.line][range_.start.character :]]
    parts += lines[range_.start.line + 1 : range_.end.line]
    parts.append(lines[range_.end.line][: range_.end.character])
    return "\n".join(parts)


def offset_of(text: str, line: int, character: int) -> int:
    """Offset in ``text`` of a position, computed independently of fixes.py."""
    starts = [0] + [m.end() for m in LINE_BREAK.finditer(text)]
    return starts[line] + character


def pinned_value(reference: ImageReference, digest: str) -> str:
    ref = reference.ref
    assert ref is not None
    if ref.digest is not None:
        return ref.with_digest(digest)
    return f"{ref.text}{'' if ref.tag is not None else ':latest'}@{digest}"


def digest_for(value: str) -> str:
    return "sha256:" + hashlib.sha256(value.encode()).hexdigest()


def pinnable(model: Dockerfile) -> list[ImageReference]:
    return [r for r in model.references if r.ref is not None and r.is_resolved]


# -- the checks (shared with tests/fuzz/fuzz_parse.py, which runs them for longer) ------------


def check_ranges(text: str, digest: str) -> None:
    """Parsing and every rule (with registry facts too) never raise, and every
    range lies in the document."""
    model = parse(text)
    lines = document_lines(text)
    assert model.lines == lines
    for what, range_ in model_ranges(model):
        assert_in_document(lines, range_, what)
    for facts in (None, facts_for(model, digest)):
        for finding in analyze(model, facts=facts):
            assert_in_document(lines, finding.range, finding.code)


def check_reference_ranges(text: str) -> None:
    """A reference's range covers exactly what was written, and every
    character of its expanded value maps back to that character."""
    model = parse(text)
    lines = document_lines(text)
    for reference in model.references:
        range_ = reference.raw_range
        if range_.start.line == range_.end.line:
            assert text_of(lines, range_) == reference.raw
        # Every character of the expanded value that maps back to the text
        # is that character: edits computed from these offsets hit the
        # characters the user wrote.
        for index, char in enumerate(reference.value):
            located = reference.location(index)
            if located is not None:
                instruction, offset = located
                assert instruction.logical[offset] == char, (reference.raw, index)
        ref = reference.ref
        if ref is not None:
            for span, part in (
                (ref.name_span, ref.name),
                (ref.tag_span, ref.tag),
                (ref.digest_span, ref.digest),
            ):
                if span is None:
                    continue
                assert reference.value[span.start : span.end] == part
                part_range = reference.value_range(span.start, span.end)
                if part_range is not None and part_range.start.line == part_range.end.line:
                    assert text_of(lines, part_range) == part


# -- the pin edit ------------------------------------------------------------------------------


def check_pin_edit(text: str, digest: str, choice: int) -> None:
    """Pinning one reference inserts the digest and nothing else, keeps the
    instructions, and a second pin with the same digest is refused."""
    model = parse(text)
    candidates = pinnable(model)
    if not candidates:
        return
    reference = candidates[choice % len(candidates)]
    index = model.references.index(reference)
    if reference.ref is None or reference.ref.digest == digest:
        return

    edit = pin_edit(model, reference, digest)
    new_text = apply_edits(text, [edit])

    # The text changed only where the edit says, by exactly its new text.
    start = offset_of(text, edit.range.start.line, edit.range.start.character)
    end = offset_of(text, edit.range.end.line, edit.range.end.character)
    assert new_text == text[:start] + edit.new_text + text[end:]
    if reference.ref is not None and reference.ref.digest is None:
        assert start == end and edit.new_text in (f"@{digest}", f":latest@{digest}")
    else:
        assert edit.new_text == digest
    # Same instructions, and the reference now pulls exactly that digest.
    again = parse(new_text)
    assert [i.keyword for i in again.instructions] == [i.keyword for i in model.instructions]
    assert len(again.references) == len(model.references)
    pinned = again.references[index]
    assert pinned.value == pinned_value(reference, digest)
    assert pinned.ref is not None and pinned.ref.digest == digest
    # Other references are unchanged, except those sharing the ARG default
    # that was edited: an insertion there is only allowed when they name the
    # same image (one digest fits all); a digest replaced where it is written
    # changes it for everyone who wrote it through that ARG.
    old_digest = reference.ref.digest if reference.ref is not None else None
    for before, after in zip(model.references, again.references, strict=True):
        if before is reference or after.value == before.value:
            continue
        if old_digest is None:
            assert before.value == reference.value, (before.value, after.value)
            assert after.value == pinned.value
        else:
            assert after.value == before.value.replace(old_digest, digest)
    # Applied twice equals once: the pinned reference refuses a second pin.
    with pytest.raises(FixError, match="already pinned"):
        pin_edit(again, pinned, digest)


def check_pin_file(text: str) -> None:
    """What ``dockpin pin`` does: every unpinned reference at once, deduplicated
    (two FROM lines sharing one ARG default give one edit); twice equals once."""
    model = parse(text)
    references = [r for r in pinnable(model) if r.ref is not None and r.ref.digest is None]
    edits: list[TextEdit] = []
    for reference in references:
        try:
            edits.append(pin_edit(model, reference, digest_for(reference.value)))
        except FixError:
            pytest.fail(f"no pin edit for {reference.raw!r} in {text!r}")
    once = apply_edits(text, dedupe(edits))

    again = parse(once)
    assert [i.keyword for i in again.instructions] == [i.keyword for i in model.instructions]
    by_index = {model.references.index(r): r for r in references}
    for index, reference in by_index.items():
        assert again.references[index].value == pinned_value(
            reference, digest_for(reference.value)
        )
    second: list[TextEdit] = []
    for index, reference in by_index.items():
        pinned = again.references[index]
        with pytest.raises(FixError, match="already pinned"):
            second.append(pin_edit(again, pinned, digest_for(reference.value)))
    assert apply_edits(once, dedupe(second)) == once
    # Line endings and everything else survive: removing what was inserted
    # gives the original back.
    stripped = once
    for reference in references:
        assert reference.ref is not None
        inserted = "" if reference.ref.tag is not None else ":latest"
        stripped = stripped.replace(f"{inserted}@{digest_for(reference.value)}", "")
    assert stripped == text


# -- the reference grammar ----------------------------------------------------------------------

reference_fragments = st.lists(
    st.one_of(
        st.sampled_from(
            ["docker.io/", "library/", "localhost:5000/", "[::1]:5000/", "ghcr.io/", "a", "A",
             ":", "@", "/", ".", "_", "__", "-", "sha256:", HEX64, "sha512:", HEX64 * 2, "latest",
             "3.12", "x" * 130, "a/" * 130, " ", "\t", "\x00", "é"]
        ),
        st.text(max_size=3),
    ),
    max_size=12,
).map("".join)


def check_parse_reference(text: str) -> None:
    """Only ReferenceError, and a parsed reference is exactly its parts."""
    try:
        ref = parse_reference(text)
    except ReferenceError as error:
        assert error.reason
        return
    assert ref.text == text
    rebuilt = ref.name
    if ref.tag is not None:
        rebuilt += f":{ref.tag}"
    if ref.digest is not None:
        rebuilt += f"@{ref.digest}"
    assert rebuilt == text


def check_with_digest(text: str, digest: str) -> None:
    """``with_digest`` keeps the user's spelling and the image it names."""
    ref = parse_reference(text)
    pinned = parse_reference(ref.with_digest(digest))
    assert (pinned.domain, pinned.path, pinned.tag, pinned.digest) == (
        ref.domain,
        ref.path,
        ref.tag,
        digest,
    )
    assert pinned.name == ref.name  # the user's spelling is kept
    assert pinned.text[pinned.digest_span.start :] == digest  # type: ignore[union-attr]
    # The familiar short form names the same image, except for a Docker Hub
    # path whose first part looks like a host (``docker.io/a.b/c``): Docker's
    # FamiliarName shortens that ambiguously too, and Hub namespaces cannot
    # contain dots.
    first = ref.path.split("/", 1)[0]
    if ref.is_docker_hub and ("." in first or ":" in first or first == "localhost"):
        return
    familiar = parse_reference(ref.familiar)
    assert (familiar.repository, familiar.tag, familiar.digest) == (
        ref.repository,
        ref.tag,
        ref.digest,
    )


# -- the properties, at CI size ------------------------------------------------------------------


@EXAMPLES
@given(text=st.one_of(any_text, dockerfiles()), digest=digests)
# Found by tests/fuzz/fuzz_parse.py: an empty instruction across two lines.
@example(text="\\\n\\", digest=digest_for(""))
def test_any_text_parses_and_analyses_with_every_range_inside_the_document(
    text: str, digest: str
) -> None:
    check_ranges(text, digest)


@EXAMPLES
@given(text=st.one_of(any_text, dockerfiles()))
# From the corpus (jenkinsci/docker): a variable in the middle of the name.
@example(text="ARG L=ubi9\nFROM registry.access.redhat.com/${L}/ubi:9\n")
def test_a_reference_range_covers_exactly_what_was_written(text: str) -> None:
    check_reference_ranges(text)


@EXAMPLES
@given(text=dockerfiles(), digest=digests, choice=st.integers(0, 50))
def test_a_pin_edit_inserts_the_digest_and_nothing_else(
    text: str, digest: str, choice: int
) -> None:
    check_pin_edit(text, digest, choice)


@EXAMPLES
@given(text=dockerfiles())
def test_pinning_a_whole_file_twice_equals_once(text: str) -> None:
    check_pin_file(text)


@EXAMPLES
@given(text=st.one_of(st.text(max_size=80), reference_fragments))
def test_parse_reference_only_ever_raises_reference_error(text: str) -> None:
    check_parse_reference(text)


@EXAMPLES
@given(text=image_texts(), digest=digests)
def test_with_digest_round_trips(text: str, digest: str) -> None:
    check_with_digest(text, digest)


@EXAMPLES
@given(line=st.text(max_size=40), data=st.data())
def test_utf16_columns_round_trip(line: str, data: st.DataObject) -> None:
    column = data.draw(st.integers(0, len(line)))
    assert column_from_utf16(line, utf16_column(line, column)) == column
    assert utf16_column(line, len(line)) == len(line.encode("utf-16-le")) // 2


def test_deep_json_nesting_in_exec_form_is_not_a_crash() -> None:
    """``json.loads`` raises RecursionError, not ValueError, on ``[[[[...``."""
    deep = "[" * 100_000
    model = parse(f"FROM python:3.12\nRUN {deep} <<EOF\nbody\nEOF\nCMD {deep}\n")
    assert [i.keyword for i in model.instructions] == ["FROM", "RUN", "CMD"]
    assert model.instructions[2].exec_form() is None
    analyze(model)


def test_deep_json_nesting_in_a_distroless_healthcheck_is_not_a_crash() -> None:
    """DP030 reads HEALTHCHECK CMD's exec form itself; the same RecursionError."""
    analyze(parse("FROM gcr.io/distroless/static\nHEALTHCHECK CMD " + "[" * 100_000 + "\n"))
