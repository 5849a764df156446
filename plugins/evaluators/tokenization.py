"""Report tokenisation for the n-gram metrics (BLEU, ROUGE-L, CIDEr), in the pycocoevalcap convention.

``simple`` (default, pure Python, equal to pycocoevalcap's PTB step): the tokens of Stanford's PTBTokenizer
as ptb_lexer.py reproduces them (ordinals ``8th``, ``4xxxx``, ``enlargement.prominence``, sentence-final
abbreviations such as ``ct.``, clitics ``patient 's`` ``do n't`` ``can not``, brackets as ``-lrb-`` ...),
lower-cased, then pycocoevalcap's punctuation list dropped (``-lrb- -rrb- -lsb- ...`` are KEPT, as
pycocoevalcap compares them after lower-casing). tests/test_tokenizer_conformance.py checks it against the
Java tokenizer on 2,000+ radiology sentences.
``ptb``: pycocoevalcap's own PTBTokenizer (Stanford CoreNLP 3.4.1, needs ``java`` on PATH).
``none``: the text as given, whitespace-split (for strings already tokenised, as R2Gen does).
Every scorer then sees tokens joined by single spaces, exactly as pycocoevalcap's scorers expect.
"""

from __future__ import annotations

import functools
import shutil
from collections.abc import Sequence

from radzoo.errors import InputError, MissingFileError
from radzoo.plugins.evaluators.ptb_lexer import ptb_tokens

TOKENIZERS = ("simple", "ptb", "none")

# pycocoevalcap.tokenizer.ptbtokenizer.PUNCTUATIONS, matched after lower-casing as pycocoevalcap does (so its
# upper-case -LRB- etc. never match and brackets are KEPT as -lrb- ...)
DROPPED = frozenset(["''", "'", "``", "`", "-LRB-", "-RRB-", "-LCB-", "-RCB-", ".", "?", "!", ",", ":", "-", "--",
                     "...", ";"])


@functools.lru_cache(maxsize=65536)
def simple_tokenize(text: str) -> str:
    """One report as PTB tokens, lowercased, joined by single spaces, punctuation dropped (see module doc)."""
    tokens = (t.lower() for t in ptb_tokens(text.replace("\n", " ")))
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
