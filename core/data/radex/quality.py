"""Quality filters of synthesised records: labeler contradictions, near-duplicates and length limits."""

from __future__ import annotations

import re

from radzoo.plugins.evaluators.chexpert_labeler import OBSERVATIONS, label_reports


def contradictions(case_text: str, findings: str) -> list[str]:
    """Observations the labeler reads as present in one text and absent in the other (uncertain never counts)."""
    case, written = label_reports([case_text, findings])
    return [name for name, a, b in zip(OBSERVATIONS, case, written) if name != "No Finding" and {a, b} == {0.0, 1.0}]


def shingles(text: str, n: int = 3) -> set[tuple[str, ...]]:
    """The word n-grams of ``text`` (lower case, punctuation dropped)."""
    words = re.findall(r"[a-z0-9]+", text.lower())
    return {tuple(words[i:i + n]) for i in range(max(1, len(words) - n + 1))}


class NearDuplicates:
    """Remembers kept texts; ``seen(text)`` is True when one of them shares ``threshold`` of its 3-grams."""

    def __init__(self, threshold: float = 0.9) -> None:
        self.threshold, self.kept = threshold, []

    def seen(self, text: str) -> bool:
        grams = shingles(text)
        for other in self.kept:
            if len(grams & other) / max(1, len(grams | other)) >= self.threshold:
                return True
        self.kept.append(grams)
        return False


def length_problem(findings: str, min_words: int, max_words: int) -> str | None:
    """``too_short`` / ``too_long`` for a findings text outside the word limits, else None."""
    words = len(findings.split())
    return "too_short" if words < min_words else "too_long" if words > max_words else None
