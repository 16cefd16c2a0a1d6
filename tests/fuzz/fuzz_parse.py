"""A long fuzz run of the syntax model, the rules, the pin edit and the
reference grammar. Run by hand; pytest does not collect it.

    .venv/bin/python tests/fuzz/fuzz_parse.py --minutes 10

The properties are the ones ``tests/test_properties.py`` checks in CI (its
``check_*`` functions), fed here for much longer by hypothesis, plus:

- every file of the real-world corpus (``../shared/corpus``) once, as is,
  through the range and pin checks;
- corpus files mutated at random (fragments inserted, spans deleted, lines
  duplicated or swapped, line endings changed).

Targets run round-robin in batches with fresh seeds until the time is up. A
failing target prints hypothesis' shrunk example (saved under ``--save DIR``
when given) and is dropped from the rotation; the run goes on with the
others. Exit status 1 when anything failed.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # tests/, for test_properties

import test_properties as props  # noqa: E402

CORPUS = HERE.parents[2] / "shared" / "corpus"


def corpus_texts() -> list[str]:
    if not CORPUS.is_dir():
        return []
    texts = []
    for path in sorted(CORPUS.rglob("*")):
        if path.is_file() and path.name not in ("MANIFEST.tsv", "README.md"):
            data = path.read_bytes()
            encoding = "utf-8-sig" if data.startswith(b"\xef\xbb\xbf") else "utf-8"
            texts.append(data.decode(encoding, errors="replace"))
    return texts


CORPUS_TEXTS = corpus_texts()


@st.composite
def mutated_corpus(draw: st.DrawFn) -> str:
    text = draw(st.sampled_from(CORPUS_TEXTS))
    for _ in range(draw(st.integers(1, 6))):
        operation = draw(st.integers(0, 5))
        at = draw(st.integers(0, len(text)))
        if operation == 0:
            text = text[:at] + draw(props.fragment_text) + text[at:]
        elif operation == 1:
            text = text[:at] + text[at + draw(st.integers(0, 40)) :]
        elif operation == 2:
            text = text.replace("\n", draw(st.sampled_from(["\r\n", "\r", "\n\n", " \\\n"])))
        else:
            lines = text.split("\n")
            i = draw(st.integers(0, len(lines) - 1))
            j = draw(st.integers(0, len(lines) - 1))
            if operation == 3:
                lines.insert(j, lines[i])
            elif operation == 4:
                lines[i], lines[j] = lines[j], lines[i]
            else:
                lines[i] = lines[i][: draw(st.integers(0, len(lines[i])))]
            text = "\n".join(lines)
    return text


@dataclass
class Target:
    name: str
    strategy: st.SearchStrategy[tuple[Any, ...]]
    check: Callable[..., None]
    examples: int = 0
    batches: int = 0
    seconds: float = 0.0
    failure: str | None = None

    def runner(self, config: settings) -> Callable[[], None]:
        @config
        @given(self.strategy)
        def run(args: tuple[Any, ...]) -> None:
            self.examples += 1
            self.check(*args)

        return run


def build_targets() -> list[Target]:
    texts = st.one_of(props.any_text, props.dockerfiles())
    if CORPUS_TEXTS:
        texts = st.one_of(texts, mutated_corpus())
        files = st.one_of(props.dockerfiles(), mutated_corpus())
    else:
        files = props.dockerfiles()
    return [
        Target("ranges", st.tuples(texts, props.digests), props.check_ranges),
        Target("reference-ranges", st.tuples(texts), props.check_reference_ranges),
        Target(
            "pin-edit",
            st.tuples(files, props.digests, st.integers(0, 200)),
            props.check_pin_edit,
        ),
        Target("pin-file", st.tuples(files), props.check_pin_file),
        Target(
            "parse-reference",
            st.tuples(st.one_of(st.text(max_size=120), props.reference_fragments)),
            props.check_parse_reference,
        ),
        Target(
            "with-digest", st.tuples(props.image_texts(), props.digests), props.check_with_digest
        ),
    ]


def corpus_pass() -> tuple[int, list[str]]:
    """Every corpus file once, unchanged: the checks a user's real file meets."""
    failures = []
    for number, text in enumerate(CORPUS_TEXTS):
        for name, check in (
            ("ranges", lambda t: props.check_ranges(t, props.digest_for(t))),
            ("reference-ranges", props.check_reference_ranges),
            ("pin-file", props.check_pin_file),
        ):
            try:
                check(text)
            except Exception:
                failures.append(f"corpus file {number} ({name}):\n{traceback.format_exc()}")
    return len(CORPUS_TEXTS), failures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--batch", type=int, default=300, help="examples per batch")
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--save", type=Path, default=None, help="write failures into DIR")
    args = parser.parse_args()
    rng = random.Random(args.seed)
    started = time.monotonic()
    deadline = started + args.minutes * 60

    files, corpus_failures = corpus_pass()
    print(f"corpus: {files} files, {len(corpus_failures)} failures", flush=True)
    for failure in corpus_failures:
        print(failure, flush=True)

    config = settings(
        max_examples=args.batch,
        deadline=None,
        database=None,
        phases=[Phase.generate, Phase.shrink],
        suppress_health_check=list(HealthCheck),
        print_blob=True,
    )
    targets = build_targets()
    while time.monotonic() < deadline:
        live = [t for t in targets if t.failure is None]
        if not live:
            break
        for target in live:
            if time.monotonic() >= deadline:
                break
            batch_seed = rng.getrandbits(64)
            run = seed(batch_seed)(target.runner(config))
            began = time.monotonic()
            try:
                run()
            except Exception:
                target.failure = traceback.format_exc()
                if args.save is not None:
                    args.save.mkdir(parents=True, exist_ok=True)
                    (args.save / f"{target.name}-{batch_seed}.txt").write_text(target.failure)
                print(f"FAILED {target.name} (seed {batch_seed}):\n{target.failure}", flush=True)
            target.seconds += time.monotonic() - began
            target.batches += 1
        elapsed = time.monotonic() - started
        total = sum(t.examples for t in targets)
        print(f"[{elapsed / 60:5.1f} min] {total} examples", flush=True)

    elapsed = time.monotonic() - started
    print(f"\nran {elapsed / 60:.1f} min")
    print(f"{'target':18} {'examples':>9} {'batches':>8} {'seconds':>8}  result")
    for target in targets:
        result = "ok" if target.failure is None else "FAILED"
        print(
            f"{target.name:18} {target.examples:9} {target.batches:8} "
            f"{target.seconds:8.0f}  {result}"
        )
    print(f"{'total':18} {sum(t.examples for t in targets):9}")
    failed = bool(corpus_failures) or any(t.failure for t in targets)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
