"""The CheXprompt judge prompt (radzoo's wording, in the design of microsoft/chexprompt, MIT) and its parser.

Design, as in CheXprompt (LLaVA-Rad paper, Zambrano Chaves et al., Nature Communications 2025): a system
instruction casting the model as a radiologist who counts errors, the six error types each split into
clinically significant / insignificant, a few worked examples, then the (reference, candidate) pair. The
answer format, which the parser accepts exactly (round or square outer brackets, as CheXprompt's own
examples and format line differ), is:

    Number of clinically significant errors by type: ((A, n), (B, n), (C, n), (D, n), (E, n), (F, n))
    Number of clinically insignificant errors by type: ((A, n), (B, n), (C, n), (D, n), (E, n), (F, n))

Bump ``PROMPT_VERSION`` whenever the text below changes: it is part of every cache key.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

PROMPT_VERSION = "radzoo-chexprompt-1"
ERROR_TYPES = (
    ("A", "false_finding", "a finding in the candidate that the reference does not contain"),
    ("B", "omitted_finding", "a finding of the reference that the candidate leaves out"),
    ("C", "wrong_location", "a finding placed at the wrong location or position"),
    ("D", "wrong_severity", "a finding given the wrong severity"),
    ("E", "extra_comparison", "a comparison with a prior study that the reference does not make"),
    ("F", "omitted_comparison", "an omitted comparison describing a change from a prior study that the "
                                "reference describes"),
)
LETTERS = tuple(letter for letter, _, _ in ERROR_TYPES)
KINDS = tuple(kind for _, kind, _ in ERROR_TYPES)
SEVERITIES = ("significant", "insignificant")
MATCHED_LINE = "Number of matched findings:"

SYSTEM_INSTRUCTION = (
    "You are an experienced chest radiologist grading machine-written chest X-ray findings against the "
    "findings a radiologist wrote for the same study (the reference). Count the errors in the candidate "
    "findings, for each of six error types, separately for clinically significant and clinically "
    "insignificant errors. Use the worked examples as a guide, re-read both texts before you count, and "
    "answer with the two count lines in exactly the format you are shown."
)

_TYPE_LINES = "\n".join(f"{letter}) {text[0].upper()}{text[1:]}" for letter, _, text in ERROR_TYPES)
_FORMAT = ("Number of clinically significant errors by type: ((A, n), (B, n), (C, n), (D, n), (E, n), (F, n))\n"
           "Number of clinically insignificant errors by type: ((A, n), (B, n), (C, n), (D, n), (E, n), (F, n))")


def _answer(significant: tuple[int, ...], insignificant: tuple[int, ...]) -> str:
    def line(counts: tuple[int, ...]) -> str:
        return "(" + ", ".join(f"({letter}, {n})" for letter, n in zip(LETTERS, counts)) + ")"

    return (f"Number of clinically significant errors by type: {line(significant)}\n"
            f"Number of clinically insignificant errors by type: {line(insignificant)}")


# Worked examples written for radzoo (synthetic reports, no patient data).
EXAMPLES = (
    ("Moderate right pleural effusion, larger than on the prior radiograph. No pneumothorax. "
     "Heart size is normal.",
     "Small left pleural effusion. No pneumothorax. Heart size is normal.",
     (0, 0, 1, 1, 0, 1), (0, 0, 0, 0, 0, 0)),
    ("Endotracheal tube tip 4 cm above the carina. Lungs are clear. No effusion.",
     "Endotracheal tube in standard position. Mild bibasilar atelectasis. Unchanged from the prior study. "
     "No effusion.",
     (0, 0, 0, 0, 0, 0), (1, 0, 0, 0, 1, 0)),
    ("New consolidation in the left lower lobe concerning for pneumonia. Mild cardiomegaly, stable.",
     "Mild cardiomegaly. Lungs are clear.",
     (0, 1, 0, 0, 0, 1), (0, 0, 0, 0, 0, 1)),
)


def _pair(reference: str, candidate: str) -> str:
    return f'Reference findings: """{reference}"""\n\nCandidate findings: """{candidate}"""\n\nErrors:'


def user_message(reference: str, candidate: str, matched: Sequence[int] | None = None) -> str:
    """The user turn: definitions, answer format, worked examples, then the pair to judge. With ``matched``
    (one count per worked example) the answer also reports matched findings (the GREEN-style variant)."""
    answers = [_answer(sig, insig) for _, _, sig, insig in EXAMPLES]
    answer_format, matched_note = _FORMAT, ""
    if matched is not None:
        answers = [f"{a}\n{MATCHED_LINE} {n}" for a, n in zip(answers, matched)]
        answer_format = f"{_FORMAT}\n{MATCHED_LINE} n"
        matched_note = (" A matched finding is a finding (or normal statement) that both reports describe "
                        "alike; count those too.")
    examples = "\n##\n".join(f"{_pair(ref, cand)} {a}" for (ref, cand, _, _), a in zip(EXAMPLES, answers))
    return (
        "A clinically significant error is one likely to change treatment, management or outcome; any other "
        f"error is clinically insignificant. The six error types are:\n{_TYPE_LINES}\n{matched_note}\n"
        f"Answer format:\n{answer_format}\n##\n{examples}\n##\n{_pair(reference, candidate)}"
    )


def judge_messages(reference: str, candidate: str) -> list[dict[str, str]]:
    """Chat messages for one judge call."""
    return [{"role": "system", "content": SYSTEM_INSTRUCTION},
            {"role": "user", "content": user_message(reference, candidate)}]


_TUPLES = r",\s*".join(rf"\(\s*{letter}\s*,\s*(\d+)\s*\)" for letter in LETTERS)
_LINE = {severity: re.compile(rf"Number of clinically {severity} errors by type:\s*[\[(]\s*{_TUPLES}\s*[\])]")
         for severity in SEVERITIES}


def parse_answer(text: str) -> dict[str, tuple[int, ...]] | None:
    """``{"significant": (A..F), "insignificant": (A..F)}`` from a judge answer, or None when either line is
    missing or malformed (the caller retries, then counts it as unparsed)."""
    parsed = {}
    for severity, pattern in _LINE.items():
        match = pattern.search(text or "")
        if match is None:
            return None
        parsed[severity] = tuple(int(n) for n in match.groups())
    return parsed
