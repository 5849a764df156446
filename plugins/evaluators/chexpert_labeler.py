"""radzoo's rule-based CheXpert labeler: 14 observations as 1 (positive), 0 (negative), -1 (uncertain) or
None (not mentioned), from report text alone (pure Python + ``re``; thousands of reports/s per core).

Per sentence, mentions are found with one leftmost-longest regex over the phrase lists
(chexpert_phrases.py). Each mention is then classified by the nearest trigger in its scope:
- before it: from the last clause break (``but``, ``however``, ``which``, ``;`` ...) to the mention, at most
  5 words between trigger and mention (other mentions and list words like ``or`` do not count, so
  "no edema or pneumonia" negates both); ``normal``/``clear`` only 0-2 words before ("normal heart size");
- after it: up to the next ``,``/``and``/``with``/``but`` ("heart size is normal", "pneumonia cannot be
  excluded", "atelectasis versus pneumonia").
An uncertain trigger gives -1, a negation 0, none 1. As CheXpert's own rules: a mention joined to another by
"or" ("atelectasis or pneumonia") and a hedged mention ("vascular congestion") give -1 unless negated, and
an infection called old/healed/prior ("sequela of prior infection") is not a pneumonia (0). A mention may
name two observations ("hydropneumothorax"). Anatomical mentions ("heart size", "cardiac silhouette",
"mediastinum") count only when called normal (0) or enlarged/widened (1).
Aggregation per report as the original labeler: any 1 -> 1, else any -1 -> -1, else 0; "heart failure"/
"chf" positive or uncertain adds an uncertain Cardiomegaly; "No Finding" is 1 when no observation other
than Support Devices (nor another abnormality such as emphysema) is positive or uncertain, else blank.
Like the original, it does not propagate Lung Opacity from its children (the published samples show it).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Sequence

from radzoo.plugins.evaluators import chexpert_phrases as P
from radzoo.plugins.evaluators.regex_start import first_chars

Label = float | None


def _alternation(patterns: Iterable[str]) -> str:
    return "|".join(f"(?:{p})" for p in patterns)


def _build_mention_regex() -> tuple[re.Pattern[str], list[tuple[re.Pattern[str], str, str]]]:
    """One leftmost-longest regex over every phrase, branching on the first character: Python's ``re`` tries
    alternatives one by one, so bucketing them by first character makes the scan ~30x faster."""
    entries: list[tuple[str, str, str]] = []  # (pattern, observation, kind)
    for kind, table in (("strong", P.STRONG), ("hedged", P.HEDGED), ("neutral", P.NEUTRAL)):
        entries += [(p, obs, kind) for obs, patterns in table.items() for p in patterns]
    entries += [(p, P.OTHER_FINDING, "strong") for p in P.OTHER_FINDINGS]
    entries += [(p, P.EXCLUDED, "excluded") for p in P.EXCLUSIONS]
    entries.sort(key=lambda e: -len(e[0]))  # longer phrases first, so they win where they start
    buckets: dict[str, list[str]] = {}
    anywhere: list[str] = []
    for pattern, _, _ in entries:
        chars, empty = first_chars(pattern)
        for char in sorted(chars) if chars and not empty else ():
            buckets.setdefault(char, []).append(pattern)
        if not chars or empty:
            anywhere.append(pattern)
    branches = [f"(?={re.escape(c)})(?:{'|'.join(f'(?:{p})' for p in ps)})" for c, ps in sorted(buckets.items())]
    branches += [f"(?:{p})" for p in anywhere]
    lookup = [(re.compile(p), obs, kind) for p, obs, kind in entries]
    return re.compile(r"(?<!\w)(?:" + "|".join(branches) + r")\b"), lookup


@functools.lru_cache(maxsize=4096)
def _classify(text: str) -> tuple[tuple[str, ...], str]:
    """(observations, kind) of a matched mention: the first phrase, in match order, that spans it, and every
    other phrase of that kind spanning it too ("hydropneumothorax" is a pneumothorax and an effusion)."""
    found: list[str] = []
    first_kind = ""
    for pattern, observation, kind in _LOOKUP:
        if (not first_kind or kind == first_kind) and observation not in found and pattern.fullmatch(text):
            found.append(observation)
            first_kind = first_kind or kind
    return (tuple(found), first_kind) if found else ((P.EXCLUDED,), "excluded")


def _trigger_regex(uncertain: Sequence[str], negative: Sequence[str], near: Sequence[str] = ()) -> re.Pattern[str]:
    """One regex over the triggers, a named group each (its kind), longest first; triggers that start with one
    known character are bucketed by it (as the mention regex) so most positions try only a few."""
    named = [("unc", p) for p in uncertain] + [("neg", p) for p in negative] + [("near", p) for p in near]
    named.sort(key=lambda e: -len(e[1]))
    buckets: dict[str, list[str]] = {}
    anywhere: list[str] = []
    for i, (kind, pattern) in enumerate(named):
        group = f"(?P<{kind}{i}>{pattern})"
        chars, empty = first_chars(pattern)
        if chars and len(chars) == 1 and not empty:
            buckets.setdefault(next(iter(chars)), []).append(group)
        else:
            anywhere.append(group)
    branches = [f"(?={re.escape(c)})(?:{'|'.join(gs)})" for c, gs in sorted(buckets.items())] + anywhere
    return re.compile(r"\b(?:" + "|".join(branches) + r")(?![\w-])")


_MENTIONS, _LOOKUP = _build_mention_regex()
_PRE = _trigger_regex(P.PRE_UNCERTAINTY, P.PRE_NEGATION, P.PRE_NEGATION_NEAR)
_POST = _trigger_regex(P.POST_UNCERTAINTY, P.POST_NEGATION)
_PRE_STOP = re.compile(P.PRE_TERMINATORS)
_POST_STOP = re.compile(P.POST_TERMINATORS)
_CLAUSE_BREAK = re.compile(P.CLAUSE_BREAK)
_ENLARGED = re.compile(P.ENLARGEMENT)
_HISTORICAL = re.compile(P.HISTORICAL)
_ALTERNATIVE = re.compile(P.ALTERNATIVE)
_SENTENCES = re.compile(r"(?<!\d)\.(?!\d)|\.(?=\s)|[\n?!;]|\s\d+[.)]\s")
_WORD = re.compile(r"[\w'/-]+")
_FILLER = frozenset({  # list words and modifiers that do not end a negation's reach
    "or", "and", "nor", "of", "the", "a", "an", "any", "evidence", "signs", "sign", "definite",
    "definitive", "focal", "acute", "new", "significant", "obvious", "overt", "frank", "residual", "large",
    "small", "mild", "moderate", "severe", "other", "additional", "appreciable", "visible", "convincing",
    "gross", "to", "suggest",
})
MAX_GAP, NEAR_GAP, POST_WORDS, HISTORICAL_GAP = 5, 2, 6, 3


def _gap_words(text: str) -> int:
    return sum(1 for w in _WORD.findall(text) if w not in _FILLER)


def _pre_trigger(sentence: str, start: int, masked: str) -> str | None:
    """'unc' / 'neg' for the nearest trigger before a mention in its scope, else None."""
    scope_start = 0
    for stop in _PRE_STOP.finditer(sentence):  # whole sentence: terminators may look ahead
        if stop.end() > start:
            break
        scope_start = stop.end()
    best = None
    for match in _PRE.finditer(sentence, scope_start, start):
        best = match
    if best is None:
        return None
    between = masked[best.end():start]
    if _CLAUSE_BREAK.search(between):
        return None
    kind = best.lastgroup.rstrip("0123456789")
    if kind == "near" and "," in between:  # "heart size normal, mild edema": the verdict is the heart's
        return None
    limit = NEAR_GAP if kind == "near" else MAX_GAP
    if _gap_words(between) > limit:
        return None
    return "neg" if kind == "near" else kind


def _historical(sentence: str, start: int, masked: str) -> bool:
    """An "old", "healed", "prior", "sequela of" ... at most HISTORICAL_GAP words before the mention, same clause."""
    best = None
    for match in _HISTORICAL.finditer(sentence, max(0, start - 80), start):
        best = match
    if best is None:
        return False
    between = masked[best.end():start]  # "compared to prior, pneumonia ...": the comma ends what "prior" qualifies
    return ("," not in between and ":" not in between and not _CLAUSE_BREAK.search(between)
            and not _PRE_STOP.search(between) and _gap_words(between) <= HISTORICAL_GAP)


def _alternatives(sentence: str, mentions: list[re.Match[str]]) -> set[int]:
    """Indices of mentions joined to a neighbour by "or" ("atelectasis or pneumonia"): CheXpert's conj:or."""
    joined: set[int] = set()
    for i in range(len(mentions) - 1):
        if _ALTERNATIVE.fullmatch(sentence, mentions[i].end(), mentions[i + 1].start()):
            joined.update((i, i + 1))
    return joined


def _post_trigger(sentence: str, end: int) -> str | None:
    stop = _POST_STOP.search(sentence, end)
    scope = sentence[end: stop.start() if stop else len(sentence)]
    words = _WORD.findall(scope)
    scope = " ".join(words[:POST_WORDS])
    match = _POST.search(" " + scope)
    return match.lastgroup.rstrip("0123456789") if match else None


def _mask(sentence: str, spans: list[tuple[int, int]]) -> str:
    """The sentence with every mention blanked, so mentions do not count as words between trigger and target."""
    chars = list(sentence)
    for s, e in spans:
        chars[s:e] = " " * (e - s)
    return "".join(chars)


def label_report(text: str) -> dict[str, Label]:
    """The 14 labels of one report, by observation name (see module doc)."""
    found: dict[str, list[int]] = {}
    for sentence in _SENTENCES.split(text.lower()):
        mentions = [m for m in _MENTIONS.finditer(sentence) if _classify(m.group(0))[1] != "excluded"]
        if not mentions:
            continue
        masked = _mask(sentence, [m.span() for m in mentions])
        alternatives = _alternatives(sentence, mentions)
        for i, m in enumerate(mentions):
            observations, kind = _classify(m.group(0))
            pre, post = _pre_trigger(sentence, m.start(), masked), _post_trigger(sentence, m.end())
            if "unc" in (pre, post):
                label = -1
            elif "neg" in (pre, post):
                label = 0
            else:
                label = -1 if kind == "hedged" or i in alternatives else 1
            if kind == "neutral" and label != 0 and not _enlarged_near(sentence, m):
                continue  # "the heart" without a verdict says nothing
            for observation in observations:
                historical = observation in P.HISTORICAL_OBSERVATIONS and _historical(sentence, m.start(), masked)
                found.setdefault(observation, []).append(0 if historical else label)
            if label != 0 and m.group(0) in ("chf", "heart failure", "congestive heart failure"):
                found.setdefault("Cardiomegaly", []).append(-1)
    labels: dict[str, Label] = {obs: _combine(found.get(obs)) for obs in P.OBSERVATIONS}
    finding = any(label in (1.0, -1.0) for obs, label in labels.items() if obs != P.SUPPORT_DEVICES)
    finding = finding or _combine(found.get(P.OTHER_FINDING)) in (1.0, -1.0)
    labels[P.NO_FINDING] = None if finding else 1.0
    return labels


def _enlarged_near(sentence: str, mention: re.Match[str]) -> bool:
    """An enlargement word in the mention's clause (between the surrounding terminators)."""
    start = 0
    for stop in _POST_STOP.finditer(sentence, 0, mention.start()):
        start = stop.end()
    stop = _POST_STOP.search(sentence, mention.end())
    return bool(_ENLARGED.search(sentence, start, stop.start() if stop else len(sentence)))


def _combine(labels: list[int] | None) -> Label:
    """Several mentions of one observation: 1 wins, then -1, then 0 (the original labeler's rule)."""
    if not labels:
        return None
    if 1 in labels:
        return 1.0
    return -1.0 if -1 in labels else 0.0


def label_reports(texts: Iterable[str]) -> list[list[Label]]:
    """Labels of every report as rows in ``OBSERVATIONS`` order (1.0 / 0.0 / -1.0 / None)."""
    rows = []
    for text in texts:
        labels = label_report(text)
        rows.append([labels[obs] for obs in P.OBSERVATIONS])
    return rows


OBSERVATIONS = P.OBSERVATIONS
