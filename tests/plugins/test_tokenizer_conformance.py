"""The default ``simple`` tokenizer equals pycocoevalcap's Stanford PTBTokenizer on the conformance corpus.

tests/plugins/data/tokenizer_corpus.txt (built by bench/tokenizer_corpus.py): synthetic reports, hand-written edge
cases for every PTB rule a report can hit, and template combinations of them. The PTB side runs as one Java
process for the whole corpus. Without java the test skips locally, and fails under CI=true (CI installs it).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from radzoo.plugins.evaluators.ptb_lexer import ptb_tokens
from radzoo.plugins.evaluators.tokenization import simple_tokenize, tokenize

CORPUS = Path(__file__).parent / "data" / "tokenizer_corpus.txt"


@pytest.fixture(scope="module")
def corpus() -> list[str]:
    return CORPUS.read_text(encoding="utf-8").splitlines()


@pytest.fixture(scope="module")
def java() -> None:
    if shutil.which("java") is None:
        message = "pycocoevalcap's PTBTokenizer needs java (apt-get install -y default-jre-headless)"
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI must run the tokenizer conformance test: {message}")
        pytest.skip(message)


def test_corpus_is_large_and_covers_the_ptb_rules(corpus):
    assert len(corpus) >= 2000 and len(set(corpus)) == len(corpus)
    text = "\n".join(corpus)
    for needle in ("8th", "2nd", "4xxxx", "enlargement.prominence", "chest ct.", "3.5 x 2 cm", "10:30", "01/02/2019",
                   "and/or", "x-ray", "(", "[", '"', "patient's", "n't", "...", "XXXX", "e.g.", "Dr."):
        assert needle in text, needle


@pytest.mark.slow
def test_simple_equals_pycocoevalcap_ptb_on_the_corpus(corpus, java):
    ptb = tokenize(corpus, "ptb")  # pycocoevalcap's PTBTokenizer: one java process for all lines
    differing = [(line, theirs, simple_tokenize(line)) for line, theirs in zip(corpus, ptb)
                 if simple_tokenize(line) != theirs]
    assert not differing, f"{len(differing)} of {len(corpus)} lines differ, e.g. {differing[:3]}"


@pytest.mark.parametrize(("text", "tokens"), [
    ("Compared to the 8th and 2nd ribs", "compared to the 8th and 2nd ribs"),
    ("ID 4xxxx, mild enlargement.prominence; recommend chest ct.", "id 4xxxx mild enlargement.prominence recommend "
                                                                    "chest ct."),
    ("A 3.5 x 2 cm nodule, 1.5cm and 10mm.", "a 3.5 x 2 cm nodule 1.5 cm and 10mm"),
    ("The patient's heart isn't enlarged (stable).", "the patient 's heart is n't enlarged -lrb- stable -rrb-"),
    ("Atelectasis vs. pneumonia... cannot exclude!?", "atelectasis vs. pneumonia can not exclude !?"),
])
def test_simple_without_java(text, tokens):
    assert simple_tokenize(text) == tokens


def test_lexer_keeps_original_case_and_survives_any_input():
    assert ptb_tokens("Dr. Smith's CT.") == ["Dr.", "Smith", "'s", "CT.", "."]
    for text in ("", " ", "\x00\u200b", "((((", "'''", "....", "@#$%^&*", "x" * 5000, "é ü ß 3½ ×2"):
        assert isinstance(simple_tokenize(text), str)
