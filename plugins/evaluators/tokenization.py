"""Report tokenisation for the n-gram metrics (BLEU, ROUGE-L, CIDEr), in the pycocoevalcap convention.

``simple`` (default, pure Python, a close equivalent of pycocoevalcap's PTB step): lowercase, split into
words, numbers (``3.5``, ``2019-01-02``), hyphen/slash compounds (``x-ray``, ``and/or``), clitics as PTB
splits them (``patient 's``, ``do n't``, ``can not``) and single punctuation marks; brackets become
``-lrb- -rrb- -lsb- -rsb- -lcb- -rcb-`` and are KEPT, as pycocoevalcap does (it filters the upper-case
forms after lower-casing); then drop ``. , ? ! : ; - -- ... ' '' ` ``  "``. Known difference: PTB's abbreviation
heuristics (e.g. ``view: PA. Next`` keeps ``pa.``) are approximated by a fixed list (``vs. p.m.``); use
``ptb`` to reproduce them exactly.
``ptb``: pycocoevalcap's own PTBTokenizer (Stanford CoreNLP 3.4.1, needs ``java`` on PATH).
``none``: the text as given, whitespace-split (for strings already tokenised, as R2Gen does).
Every scorer then sees tokens joined by single spaces, exactly as pycocoevalcap's scorers expect.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Sequence

from radzoo.errors import InputError, MissingFileError

TOKENIZERS = ("simple", "ptb", "none")

# pycocoevalcap.tokenizer.ptbtokenizer.PUNCTUATIONS (its -LRB- etc. never match lower-cased output)
DROPPED = frozenset(["''", "'", "``", "`", ".", "?", "!", ",", ":", "-", "--", "...", ";", '"'])
BRACKETS = {"(": "-lrb-", ")": "-rrb-", "[": "-lsb-", "]": "-rsb-", "{": "-lcb-", "}": "-rcb-"}
_TOKEN = re.compile(
    r"\d+(?:[-.,/:]\d+)*"  # numbers, dates, times
    r"|can(?=not\b)|\w+(?=n't\b)|n't|'(?:s|re|ve|ll|d|m)\b"  # clitics split as PTB does
    r"|(?:[a-z]\.){2,}|(?:vs|dr|mr|mrs|no|approx|cf|etc)\.(?=\s+(?-i:[a-z0-9]))"  # abbreviations PTB keeps
    r"|\w+(?:[-/]\w+)*|\.\.\.|--|[?!]+|[^\w\s]",
    re.IGNORECASE,
)


def simple_tokenize(text: str) -> str:
    """One report as lowercase tokens joined by single spaces, punctuation dropped (see module doc)."""
    tokens = (BRACKETS.get(t, t) for t in (m.lower() for m in _TOKEN.findall(text)))
    return " ".join(t for t in tokens if t not in DROPPED)


def tokenize(texts: Sequence[str], method: str = "simple") -> list[str]:
    """Tokenise every text with ``method`` (one of ``TOKENIZERS``)."""
    if method == "simple":
        return [simple_tokenize(t) for t in texts]
    if method == "none":
        return [" ".join(t.split()) for t in texts]
    if method == "ptb":
        if shutil.which("java") is None:
            raise MissingFileError(
                "tokenizer 'ptb' runs pycocoevalcap's Stanford PTBTokenizer, which needs `java` on PATH; "
                "install a Java runtime or use the option tokenizer=simple"
            )
        from pycocoevalcap.tokenizer.ptbtokenizer import PTBTokenizer

        captions = {i: [{"caption": t}] for i, t in enumerate(texts)}
        out = PTBTokenizer().tokenize(captions)
        return [out[i][0] for i in range(len(texts))]
    raise InputError(f"unknown tokenizer {method!r}; choose one of {', '.join(TOKENIZERS)}")
