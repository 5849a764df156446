"""MAIRA-2's grounded output, ``<obj>phrase<box><xA><yB><xC><yD></box></obj>``, as phrases with pixel boxes.

A coordinate token ``k`` stands for the centre of bin ``k`` of ``bins`` (``(k + 0.5) / bins``) across the
centre-cropped square the encoder saw; a box is mapped back to the original image by undoing that crop (the
square's side is the shorter side, centred; offsets rounded down), as the release's processor does.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from radzoo.errors import InputError

OBJ = re.compile(r"<obj>(.*?)</obj>", re.DOTALL)
BOX = re.compile(r"<box>\s*<x(\d+)>\s*<y(\d+)>\s*<x(\d+)>\s*<y(\d+)>\s*</box>")
MARKUP = ("<obj>", "</obj>", "<box>", "</box>")


@dataclass
class GroundedPhrase:
    """One finding: its sentence and its boxes, each (x_min, y_min, x_max, y_max) as fractions of the crop."""

    phrase: str
    boxes: list[tuple[float, float, float, float]] = field(default_factory=list)


def is_grounded(text: str) -> bool:
    """True when the text holds any grounding markup."""
    return any(token in text for token in MARKUP)


def parse_grounded(text: str, bins: int = 100) -> list[GroundedPhrase]:
    """The phrases of a grounded output; text outside ``<obj>`` spans is dropped, as the release does."""
    phrases = []
    for span in OBJ.findall(text):
        first_box = span.find("<box>")
        phrase = (span if first_box < 0 else span[:first_box]).strip()
        boxes = []
        for match in BOX.finditer(span if first_box >= 0 else ""):
            coords = tuple((int(k) + 0.5) / bins for k in match.groups())
            if not all(0.0 <= c <= 1.0 for c in coords):
                raise InputError(f"grounded output: box {match.group(0)!r} has a coordinate beyond {bins} bins")
            boxes.append(coords)
        phrases.append(GroundedPhrase(phrase, boxes))
    return phrases


def box_in_pixels(box: tuple[float, float, float, float], width: int, height: int) -> list[int]:
    """A crop-relative box as original-image pixels [x_min, y_min, x_max, y_max]."""
    side = min(width, height)
    x_offset, y_offset = (width - side) // 2, (height - side) // 2
    x0, y0, x1, y1 = box
    return [int(x0 * side + x_offset), int(y0 * side + y_offset), int(x1 * side + x_offset),
            int(y1 * side + y_offset)]


def grounding_record(text: str, width: int, height: int, bins: int = 100) -> dict:
    """JSONL fields for a grounded output: the plain report, and each phrase with its boxes in pixels."""
    phrases = parse_grounded(text, bins) if is_grounded(text) else [GroundedPhrase(text.strip())]
    return {"prediction": " ".join(p.phrase for p in phrases if p.phrase), "raw_prediction": text,
            "grounding": [{"phrase": p.phrase, "boxes": [box_in_pixels(b, width, height) for b in p.boxes]}
                          for p in phrases], "image_size": [width, height]}


def grounded_texts(tokenizer: Any, new_ids: Any) -> list[str]:
    """Each row's text with the grounding markup kept (a tokenizer may mark ``<obj>``/``<box>`` special): the ids
    of padding, BOS and EOS are dropped, every other token is decoded."""
    drop = {t for t in (tokenizer.pad_token_id, tokenizer.eos_token_id, tokenizer.bos_token_id) if t is not None}
    return [tokenizer.decode([t for t in row.tolist() if t not in drop], skip_special_tokens=False)
            for row in new_ids]
