"""De-identification of case text before it leaves the machine, and of what comes back.

``scrub`` replaces, in this order (so a longer form is taken before a shorter one inside it): e-mail
addresses, SSNs, labelled ID numbers (MRN, accession, patient/case/record ID), phone numbers, dates in the
common written and numeric formats, street addresses, institution names, names after a title (Dr., Mr.,
Mrs., Ms., Prof.) or a label (Patient:, Name:, signed by, referred by ...), remaining long digit runs, and
ages over 89 (-> "over 89"). ``identifiers_left`` then looks again with wider patterns; a text they still
match is withheld (radzoo.data.radex.synthesis). Rule-based: names without a title or a label are not
found, which is why the second look exists and why the README asks for already de-identified sources.
"""

from __future__ import annotations

import re
from collections import Counter

MONTHS = (r"(?:Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?|Sep(?:t(?:ember)?)?|"
          r"Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)\.?")
NAME = r"[A-Z][a-zA-Z'\-]+(?:\s+[A-Z]\.)?(?:\s+[A-Z][a-zA-Z'\-]+){0,2}"
STREET = (r"(?:Street|St|Avenue|Ave|Road|Rd|Boulevard|Blvd|Lane|Ln|Drive|Dr|Court|Ct|Way|Place|Pl|Terrace|"
          r"Parkway|Pkwy|Highway|Hwy)\b\.?")
INSTITUTION = (r"(?:Hospital|Medical Cent(?:er|re)|Clinic|University|Institute|Infirmary|Health(?:care)? System|"
               r"Medical School|College|Cancer Cent(?:er|re))")
LABELS = (r"(?:[Pp]atient(?: name)?|[Nn]ame|[Pp]t|[Ss]igned by|[Dd]ictated by|[Rr]eferred by|[Rr]eferring physician|"
          r"[Aa]ttending|[Rr]adiologist|[Pp]hysician|[Rr]eported by|[Cc]ontact)")

# (kind, pattern, replacement); order matters: see the module doc
RULES: list[tuple[str, re.Pattern[str], str]] = [
    ("email", re.compile(r"[\w.+\-]+@[\w\-]+(?:\.[\w\-]+)+"), "[EMAIL]"),
    ("ssn", re.compile(r"\b\d{3}-\d{2}-\d{4}\b"), "[SSN]"),
    ("id", re.compile(r"\b(?:MRN|[Mm]edical record(?: number)?|[Aa]ccession(?: number| no\.?| #)?|[Aa]cc(?:\.|#)|"
                      r"[Pp]atient ID|[Cc]ase (?:number|no\.?|#)|[Rr]ecord (?:number|no\.?|#)|ID|SSN)\s*[:#]?\s*"
                      r"[A-Z]*\d[\w\-]{2,}"), "[ID]"),
    ("phone", re.compile(r"(?:\+?\d{1,3}[\s.\-]?)?(?:\(\d{3}\)|\b\d{3})[\s.\-]?\d{3}[\s.\-]\d{4}\b"), "[PHONE]"),
    ("date", re.compile(rf"\b{MONTHS}\s+\d{{1,2}}(?:st|nd|rd|th)?,?\s+\d{{4}}\b|"
                        rf"\b\d{{1,2}}(?:st|nd|rd|th)?\s+(?:of\s+)?{MONTHS}\s*,?\s+\d{{4}}\b|"
                        rf"\b{MONTHS}\s+\d{{4}}\b|\b\d{{4}}[\-/.]\d{{1,2}}[\-/.]\d{{1,2}}\b|"
                        r"\b\d{1,2}[\-/.]\d{1,2}[\-/.]\d{2,4}\b"), "[DATE]"),
    ("address", re.compile(rf"\b\d{{1,6}}\s+(?:[A-Z][a-zA-Z]+\s+){{1,4}}{STREET}(?:,?\s+(?:Apt|Suite|Unit)\.?\s*\w+)?"),
     "[ADDRESS]"),
    ("institution", re.compile(rf"\b(?:(?:St\.|Saint)\s+)?(?:[A-Z][a-zA-Z'&\-]+\s+){{1,5}}{INSTITUTION}\b"
                               rf"(?:\s+of\s+[A-Z][a-zA-Z]+(?:\s+[A-Z][a-zA-Z]+)?)?|"
                               rf"\b{INSTITUTION}\s+of\s+(?:[A-Z][a-zA-Z]+\s*){{1,4}}"), "[INSTITUTION]"),
    ("name", re.compile(rf"\b(?:Dr|Mr|Mrs|Ms|Miss|Prof|Doctor)\.?\s+{NAME}"), "[NAME]"),
    ("name", re.compile(rf"\b({LABELS}:?\s+){NAME}"), r"\1[NAME]"),
    ("id", re.compile(r"\b[A-Z]{0,3}\d{6,}\b"), "[ID]"),
    ("age", re.compile(r"\b(?:9\d|1[0-4]\d)(?=\s*-?\s*(?:years?|yrs?|y/?o\b|y\.o\.|year-old|-year-old))"), "over 89"),
    ("age", re.compile(r"\b([Aa]ged?:?\s+)(?:9\d|1[0-4]\d)\b"), r"\1over 89"),
]

# the second look: wider than the rules, so what they missed is caught here and the case is withheld
LEFTOVERS: list[tuple[str, re.Pattern[str]]] = [
    ("email", re.compile(r"@\w")),
    ("number", re.compile(r"\d(?:[\s.\-/]?\d){6,}")),
    ("date", re.compile(rf"\b{MONTHS}\s+\d{{1,2}}\b|\b\d{{1,2}}/\d{{1,2}}\b|\b(?:19|20)\d{{2}}\b")),
    ("title", re.compile(r"\b(?:Dr|Mr|Mrs|Ms|Prof)\.?\s+[A-Z]")),
    ("institution", re.compile(rf"\b[A-Z][a-z]+\s+{INSTITUTION}\b")),
    ("age", re.compile(r"\b(?:9\d|1\d\d)\s*-?\s*(?:years?|yrs?|yo|y/o|year-old)")),
]


def scrub(text: str) -> tuple[str, Counter[str]]:
    """``text`` with every identifier the rules find replaced, and how many of each kind were replaced."""
    counts: Counter[str] = Counter()
    for kind, pattern, replacement in RULES:
        text, n = pattern.subn(replacement, text)
        if n:
            counts[kind] += n
    return text, counts


def identifiers_left(text: str) -> list[str]:
    """The kinds of identifier-like text still in ``text`` (empty: nothing found)."""
    return [kind for kind, pattern in LEFTOVERS if pattern.search(text)]


def age_text(age: object) -> str | None:
    """An age field as sent: "over 89" above 89, the number otherwise, None when not given or not a number."""
    try:
        years = int(float(str(age)))
    except (TypeError, ValueError):
        return None
    return "over 89" if years > 89 else str(years)
