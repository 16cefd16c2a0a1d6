"""Pure edits: pin, swap, exec form and pragmas, applied to real text."""

from __future__ import annotations

import pytest

from dockpin.actions import plans_for, unpinned
from dockpin.analysis import analyze
from dockpin.facts import ReferenceFacts, RegistryFacts
from dockpin.fixes import (
    FixError,
    apply_edits,
    dedupe,
    exec_form_edit,
    ignore_file_edit,
    ignore_line_edit,
    pin_edit,
    replace_image_edits,
)
from dockpin.syntax import parse

DIGEST = "sha256:" + "a" * 64
OTHER = "sha256:" + "b" * 64


def pin_all(text: str, digest: str = DIGEST) -> str:
    model = parse(text)
    return apply_edits(text, dedupe(pin_edit(model, r, digest) for r in unpinned(model)))


@pytest.mark.parametrize(
    ("before", "after"),
    [
        ("FROM python:3.12\n", f"FROM python:3.12@{DIGEST}\n"),
        ("from Ubuntu_not_valid\n", "from Ubuntu_not_valid\n"),
        ("FROM ubuntu AS b\n", f"FROM ubuntu:latest@{DIGEST} AS b\n"),
        (
            "FROM --platform=$BUILDPLATFORM golang:1.22 AS b\n",
            f"FROM --platform=$BUILDPLATFORM golang:1.22@{DIGEST} AS b\n",
        ),
        ("FROM localhost:5000/app\n", f"FROM localhost:5000/app:latest@{DIGEST}\n"),
        ("FROM \\\n  node:22 \\\n  AS x\n", f"FROM \\\n  node:22@{DIGEST} \\\n  AS x\n"),
        (
            "FROM a:1\r\nCOPY --from=nginx:1.27 /a /b\r\n",
            f"FROM a:1@{DIGEST}\r\nCOPY --from=nginx:1.27@{DIGEST} /a /b\r\n",
        ),
        (
            "FROM a:1@" + OTHER + "\nRUN --mount=type=cache,from=busybox:1.36,target=/c true\n",
            "FROM a:1@" + OTHER + f"\nRUN --mount=type=cache,from=busybox:1.36@{DIGEST},"
            "target=/c true\n",
        ),
        (
            'ARG BASE="python:3.12"\nFROM ${BASE}\n',
            f'ARG BASE="python:3.12@{DIGEST}"\nFROM ${{BASE}}\n',
        ),
        (
            "ARG V=3.12\nFROM python:${V}\nFROM python:${V}-slim\n",
            f"ARG V=3.12\nFROM python:${{V}}@{DIGEST}\nFROM python:${{V}}-slim@{DIGEST}\n",
        ),
        (
            "ARG B=python:3.12\nFROM ${B} AS one\nFROM ${B} AS two\n",
            f"ARG B=python:3.12@{DIGEST}\nFROM ${{B}} AS one\nFROM ${{B}} AS two\n",
        ),
        (
            "# escape=`\nFROM mcr.microsoft.com/windows/nanoserver:ltsc2022 `\n  AS w\n",
            f"# escape=`\nFROM mcr.microsoft.com/windows/nanoserver:ltsc2022@{DIGEST} `\n  AS w\n",
        ),
    ],
)
def test_pin_keeps_spelling_flags_and_formatting(before: str, after: str) -> None:
    assert pin_all(before) == after


def test_pin_replaces_a_stale_digest_in_place() -> None:
    text = f"FROM python:3.12@{OTHER} AS x\n"
    model = parse(text)
    edit = pin_edit(model, model.references[0], DIGEST)
    assert apply_edits(text, [edit]) == f"FROM python:3.12@{DIGEST} AS x\n"
    with pytest.raises(FixError, match="already pinned"):
        pin_edit(
            parse(apply_edits(text, [edit])), parse(apply_edits(text, [edit])).references[0], DIGEST
        )


def test_pin_refuses_a_malformed_digest() -> None:
    model = parse("FROM python:3.12\n")
    with pytest.raises(FixError, match="not a sha256 digest"):
        pin_edit(model, model.references[0], "sha256:abc")


def test_swap_to_slim_keeps_the_rest_of_the_line() -> None:
    text = "FROM --platform=linux/amd64 python:3.12-alpine AS app\n"
    model = parse(text)
    edits = replace_image_edits(model, model.references[0], "python:3.12-slim")
    assert apply_edits(text, edits) == "FROM --platform=linux/amd64 python:3.12-slim AS app\n"


def test_swap_refuses_a_tag_written_partly_in_a_shared_arg() -> None:
    text = f"ARG V=3.12\nFROM python:${{V}}-alpine@{OTHER}\nRUN echo $V\n"
    model = parse(text)
    # Rewriting V would change `RUN echo $V` too: refused, never mangled.
    with pytest.raises(FixError, match="built from variables"):
        replace_image_edits(model, model.references[0], "python:3.12-slim")


def test_swap_of_a_literal_tag_after_an_arg_name_drops_the_old_digest() -> None:
    text = f"ARG REG=docker.io\nFROM ${{REG}}/library/python:3.12-alpine@{OTHER}\nRUN x $REG\n"
    model = parse(text)
    edits = replace_image_edits(model, model.references[0], "docker.io/library/python:3.12-slim")
    assert apply_edits(text, edits) == (
        "ARG REG=docker.io\nFROM ${REG}/library/python:3.12-slim\nRUN x $REG\n"
    )


def test_exec_form_conversion() -> None:
    model = parse("FROM scratch\nCMD /app --port 8080 'a b'\nENTRYPOINT /bin/x && y\n")
    cmd, entrypoint = model.instructions[1:]
    edit = exec_form_edit(cmd)
    assert apply_edits(model.text, [edit]).split("\n")[1] == (
        'CMD ["/app", "--port", "8080", "a b"]'
    )
    with pytest.raises(FixError, match="shell syntax"):
        exec_form_edit(entrypoint)


def test_ignore_line_and_file_pragmas_silence_the_finding() -> None:
    text = "# syntax=docker/dockerfile:1\nFROM python:3.12\n  RUN true\n"
    model = parse(text)
    finding = next(f for f in analyze(model) if f.code == "DP003")
    instruction = finding.reference.instruction  # type: ignore[union-attr]
    line_fixed = apply_edits(text, [ignore_line_edit(model, instruction, "DP003")])
    assert line_fixed == (
        "# syntax=docker/dockerfile:1\n# dockpin ignore=DP003\nFROM python:3.12\n  RUN true\n"
    )
    assert "DP003" not in [f.code for f in analyze(parse(line_fixed))]
    # A second code joins the same pragma line.
    again = parse(line_fixed)
    joined = apply_edits(line_fixed, [ignore_line_edit(again, again.instructions[0], "DP020")])
    assert "# dockpin ignore=DP003,DP020\n" in joined

    file_fixed = apply_edits(text, [ignore_file_edit(model, "DP003")])
    # After the parser directive, so the directive stays a directive.
    assert file_fixed.startswith("# syntax=docker/dockerfile:1\n# dockpin global ignore=DP003\n")
    assert parse(file_fixed).directives == {"syntax": "docker/dockerfile:1"}
    assert "DP003" not in [f.code for f in analyze(parse(file_fixed))]


def test_plans_for_each_finding() -> None:
    text = "FROM python:3.12\nCOPY app.py /\nCMD python /app.py\n"
    model = parse(text)
    findings = {f.code: f for f in analyze(model)}
    facts = RegistryFacts({"python:3.12": ReferenceFacts(current_digest=DIGEST)})

    pin = plans_for(model, findings["DP003"], facts)
    assert pin[0].title == f"Pin python:3.12 to {DIGEST[:15]}..."
    assert apply_edits(text, list(pin[0].edits)).startswith(f"FROM python:3.12@{DIGEST}\n")
    lazy = plans_for(model, findings["DP003"], None)[0]
    assert lazy.title == "Pin python:3.12 to its current digest"
    assert lazy.edits == () and lazy.pin == (model.references[0],)

    swaps = [p for p in plans_for(model, findings["DP020"], facts) if p.verify]
    assert [p.title for p in swaps] == [
        "Switch to python:3.12-slim",
        "Switch to gcr.io/distroless/python3-debian13 (Python 3.12 -> 3.13) and use exec form",
    ]
    assert apply_edits(text, list(swaps[1].edits)) == (
        'FROM gcr.io/distroless/python3-debian13\nCOPY app.py /\nCMD ["python", "/app.py"]\n'
    )


def test_no_distroless_swap_for_a_stage_that_still_runs_commands() -> None:
    model = parse('FROM python:3.12\nRUN pip install flask\nCMD ["python"]\n')
    finding = next(f for f in analyze(model) if f.code == "DP020")
    titles = [p.title for p in plans_for(model, finding, None)]
    assert "Switch to python:3.12-slim" in titles
    assert not any("distroless" in t for t in titles)
