"""Report pairs that radzoo makes itself, for the ReXrank fidelity tests: synthetic findings paragraphs (the
demo's report generator) paired with one another, plus hand-written edge cases. Real report pairs are checked
by bench/rexrank_fidelity.py, which reads them from a fetched repository and commits figures only."""

from __future__ import annotations

import numpy as np

from radzoo.data.synthetic.findings import sample_truth
from radzoo.data.synthetic.reports import write_report

# empty, single words, punctuation runs, repeated spaces, newlines, repeats, no shared bigram
EDGE = ["", "Heart.", "heart", "lungs", "No effusion.", "a  b .", "Normal\nheart size. Normal heart.", "x x x x",
        " . . ", "...!!?,,", "Effusion   right    base .", "No pleural effusion or pneumothorax. No pleural effusion.",
        "Clear lungs; no focal consolidation, effusion, or pneumothorax."]


def synthetic_reports(n: int, seed: int = 0) -> list[str]:
    """``n`` synthetic findings paragraphs (deterministic in ``seed``)."""
    rng = np.random.default_rng(seed)
    return [write_report(sample_truth(rng), rng) for _ in range(n)]


def synthetic_pairs(n: int, seed: int = 0) -> tuple[list[str], list[str]]:
    """``n`` (prediction, reference) pairs: each report against the next one, so most pairs differ."""
    texts = synthetic_reports(n + 1, seed)
    return texts[1:], texts[:-1]


def edge_pairs() -> tuple[list[str], list[str]]:
    """Every edge case against every edge case."""
    return [a for a in EDGE for _ in EDGE], EDGE * len(EDGE)
