"""Split a free-text radiology report (MIMIC-CXR, OpenI style) into its named sections."""

from __future__ import annotations

import re

# "FINDINGS:", "IMPRESSION:", "CLINICAL HISTORY:" ... at the start of a line (upper case, as MIMIC writes them)
HEADER = re.compile(r"^[ \t]*([A-Z][A-Z &/()-]{2,40}?)[ \t]*:", re.MULTILINE)
# section aliases -> canonical name
ALIASES = {
    "FINDING": "findings", "FINDINGS": "findings", "IMPRESSION": "impression", "IMPRESSIONS": "impression",
    "CONCLUSION": "impression", "INDICATION": "indication", "INDICATIONS": "indication",
    "HISTORY": "indication", "CLINICAL HISTORY": "indication", "REASON FOR EXAM": "indication",
    "REASON FOR EXAMINATION": "indication", "CLINICAL INFORMATION": "indication",
    "COMPARISON": "comparison", "COMPARISONS": "comparison", "TECHNIQUE": "technique",
    "EXAMINATION": "examination", "EXAM": "examination",
}


# the sections a Study keeps (Study.sections)
STUDY_SECTIONS = ("indication", "technique", "comparison", "findings", "impression")


def study_sections(sections: dict[str, str | None]) -> dict[str, str]:
    """The non-empty ``STUDY_SECTIONS`` of a split report (or of a table's section columns)."""
    return {name: " ".join(str(sections[name]).split()) for name in STUDY_SECTIONS
            if (sections.get(name) or "").strip()}


def split_sections(text: str) -> dict[str, str]:
    """Canonical section name -> whitespace-normalised text; text before the first header is "preamble"."""
    sections: dict[str, str] = {}
    matches = list(HEADER.finditer(text))
    starts = [(m.start(), m.end(), m.group(1).strip()) for m in matches]
    preamble = text[: starts[0][0]] if starts else text
    if preamble.strip():
        sections["preamble"] = _clean(preamble)
    for i, (_, end, header) in enumerate(starts):
        stop = starts[i + 1][0] if i + 1 < len(starts) else len(text)
        name = ALIASES.get(header, header.lower())
        body = _clean(text[end:stop])
        if body:
            sections[name] = f"{sections[name]} {body}" if name in sections else body
    return sections


def _clean(text: str) -> str:
    return " ".join(text.split())
