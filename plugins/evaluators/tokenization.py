"""Report tokenisation for the n-gram metrics (BLEU, ROUGE-L, CIDEr), in the pycocoevalcap convention.

``simple`` (default, pure Python): lowercase, newlines as spaces, split into words, numbers (``3.5``),
hyphen/apostrophe compounds (``x-ray``, ``patient's``) and single punctuation marks, then drop the
marks pycocoevalcap's PTBTokenizer drops (``. , ? ! : ; - -- ... ' '' ` `` ( ) [ ] { }``).
``ptb``: pycocoevalcap's own PTBTokenizer (Stanford CoreNLP 3.4.1, needs ``java`` on PATH).
``none``: the text as given, whitespace-split (for strings already tokenised, as R2Gen does).
Every scorer then sees tokens joined by single spaces, exactly as pycocoevalcap's scorers expect.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Sequence

TOKENIZERS = ("simple", "ptb", "none")

# pycocoevalcap.tokenizer.ptbtokenizer.PUNCTUATIONS, plus the raw brackets PTB rewrites to -LRB- etc.
DROPPED = frozenset(
    ["''", "'", "``", "`", "-LRB-", "-RRB-", "-LCB-", "-RCB-", ".", "?", "!", ",", ":", "-", "--", "...", ";",
     "(", ")", "[", "]", "{", "}", '"']
)
_TOKEN = re.compile(r"\d+(?:[.,]\d+)*|\w+(?:[-'/]\w+)*|\.\.\.|--|[^\w\s]")


def simple_tokenize(text: str) -> str:
    """One report as lowercase tokens joined by single spaces, punctuation dropped (see module doc)."""
    return " ".join(t for t in _TOKEN.findall(text.lower()) if t not in DROPPED)


def tokenize(texts: Sequence[str], method: str = "simple") -> list[str]:
    """Tokenise every text with ``method`` (one of ``TOKENIZERS``)."""
    if method == "simple":
        return [simple_tokenize(t) for t in texts]
    if method == "none":
        return [" ".join(t.split()) for t in texts]
    if method == "ptb":
        if shutil.which("java") is None:
            raise FileNotFoundError(
                "tokenizer 'ptb' runs pycocoevalcap's Stanford PTBTokenizer, which needs `java` on PATH; "
                "install a Java runtime or use the option tokenizer=simple"
            )
        from pycocoevalcap.tokenizer.ptbtokenizer import PTBTokenizer

        captions = {i: [{"caption": t}] for i, t in enumerate(texts)}
        out = PTBTokenizer().tokenize(captions)
        return [out[i][0] for i in range(len(texts))]
    raise ValueError(f"unknown tokenizer {method!r}; choose one of {', '.join(TOKENIZERS)}")
