"""What a study puts in a multi-image prompt: its images in the recipe's order, and the user text placing them.

A recipe lists the images its model reads (``prompt.images``: ``frontal``, ``lateral``, ``prior_frontal``) and,
with ``prompt.prior_report``, the prior study's report. The ``template`` layout fills the instruction's
``{frontal}``, ``{lateral}``, ``{prior_frontal}`` (``<image>`` when the study has it, else
``prompt.missing_image``), ``{prior_report}``, ``{indication}``, ``{technique}`` and ``{comparison}`` (the text,
else ``prompt.missing_section``). The ``maira2`` layout writes MAIRA-2's reporting prompt, whose wording itself
changes with the images present (published_checkpoints.md §4.3).
"""

from __future__ import annotations

import string
from dataclasses import dataclass

from radzoo.data.study import Study, images_of_view
from radzoo.errors import InputError
from radzoo.model.chat_formats import placeholder_problem

IMAGE_SLOTS = ("frontal", "lateral", "prior_frontal")
TEXT_SLOTS = ("prior_report", "indication", "technique", "comparison")
LAYOUTS = ("template", "maira2")
IMAGE_TOKEN = "<image>"


@dataclass(frozen=True)
class StudyParts:
    """A study's inputs by role: image paths (None when absent) and section texts (None when absent)."""

    frontal: str
    lateral: str | None = None
    prior_frontal: str | None = None
    prior_report: str | None = None
    indication: str | None = None
    technique: str | None = None
    comparison: str | None = None


def study_parts(study: Study) -> StudyParts:
    """The study's representative frontal, first lateral, its prior's frontal and report, and its sections."""
    lateral = images_of_view(study, "lateral")
    prior = study.prior
    prior_frontal = (prior.image or None) if prior is not None else None
    section = study.sections.get
    return StudyParts(study.image, lateral[0].path if lateral else None, prior_frontal,
                      ((prior.report or "").strip() or None) if prior is not None else None,
                      study.indication or section("indication"), section("technique"), section("comparison"))


def template_problem(template: str, images: tuple[str, ...]) -> str | None:
    """Why a multi-image ``template`` cannot place ``images`` (each once, no bare ``<image>``), else None."""
    unknown = [s for s in images if s not in IMAGE_SLOTS]
    if unknown:
        return f"lists unknown image(s) {', '.join(unknown)}; choose from {', '.join(IMAGE_SLOTS)}"
    try:
        fields = [name for _, name, _, _ in string.Formatter().parse(template) if name is not None]
    except ValueError as exc:
        return f"is not a valid template ({exc}): {template!r}"
    strange = sorted(set(fields) - set(IMAGE_SLOTS) - set(TEXT_SLOTS))
    if strange:
        return f"has unknown placeholder(s) {', '.join('{' + f + '}' for f in strange)}; use " \
               f"{', '.join('{' + f + '}' for f in IMAGE_SLOTS + TEXT_SLOTS)}"
    for slot in images:
        if fields.count(slot) != 1:
            return f"must place {{{slot}}} exactly once (prompt.images lists it), found {fields.count(slot)}"
    if IMAGE_TOKEN in template:
        return f"must place images with {{frontal}}, {{lateral}}, {{prior_frontal}}, not a bare {IMAGE_TOKEN}"
    return None


def fill_template(template: str, parts: StudyParts, images: tuple[str, ...], missing_image: str,
                  missing_section: str) -> tuple[str, list[str]]:
    """The user text and the image paths in the order their ``<image>`` tokens appear."""
    values: dict[str, str] = {}
    present: dict[str, str] = {}
    for slot in IMAGE_SLOTS:
        path = getattr(parts, slot) if slot in images else None
        values[slot] = IMAGE_TOKEN if path else missing_image
        if path:
            present[slot] = path
    for slot in TEXT_SLOTS:
        values[slot] = (getattr(parts, slot) or "").strip() or missing_section
    order = [name for _, name, _, _ in string.Formatter().parse(template) if name in present]
    return template.format(**values), [present[slot] for slot in order]


def maira2_user_text(parts: StudyParts, images: tuple[str, ...], grounded: bool) -> tuple[str, list[str]]:
    """MAIRA-2's reporting user text (findings, or grounded findings) and its images: frontal, lateral, prior."""
    lateral = parts.lateral if "lateral" in images else None
    prior = parts.prior_frontal if "prior_frontal" in images else None
    paths = [parts.frontal]
    if not lateral and not prior:
        text = f"Given the current frontal image only{IMAGE_TOKEN}"
    else:
        text = f"Given the current frontal image{IMAGE_TOKEN}"
        if lateral:
            text += f"{' the' if prior else ' and the'} current lateral image{IMAGE_TOKEN}"
            paths.append(lateral)
        if prior:
            text += f" and the prior frontal image{IMAGE_TOKEN}"
            paths.append(prior)
    if prior:
        text += f" PRIOR_REPORT: {parts.prior_report or 'N/A'}"
    text += " Provide a structured description of the findings in the radiology study in comparison to the prior " \
            "frontal image."
    if grounded:
        text += (" Each finding should be described as a self-contained plain-text sentence. If the finding is "
                 "groundable, locate the finding in the current frontal chest X-ray image, with bounding boxes "
                 "indicating all locations where it can be seen in the current frontal image. Otherwise, generate "
                 "just the ungrounded finding without bounding boxes.")
    text += f" INDICATION: {parts.indication or 'N/A'} TECHNIQUE: {parts.technique or 'N/A'} " \
            f"COMPARISON: {parts.comparison or 'N/A'}"
    return text, paths


def instruction_problem(text: str | None, images: tuple[str, ...], layout: str) -> str | None:
    """Why an instruction cannot serve a recipe reading ``images`` (one ``<image>`` for a frontal-only template
    recipe; each listed image's placeholder once for a multi-image one), or None."""
    if tuple(images) == ("frontal",) or layout != "template":
        problem = placeholder_problem(text) if layout == "template" else None
        return f"{problem}. Put '<image>' where the image goes (LLaVA's prompts start with '<image>\\n')" \
            if problem else None
    return template_problem(text, images) if text is not None else None


def inputs_record(study: Study, paths: list[str]) -> dict:
    """What a multi-image prediction row records of its inputs: each image read with its role, and the prior."""
    parts = study_parts(study)
    roles = {path: slot for slot in reversed(IMAGE_SLOTS) if (path := getattr(parts, slot))}
    record: dict = {"images": [{"path": path, "role": roles.get(path, "frontal")} for path in paths]}
    if study.prior is not None:
        record["prior"] = {"id": study.prior.id, "report": study.prior.report, "image": study.prior.image or None}
    return record


def check_layout(layout: str) -> None:
    if layout not in LAYOUTS:
        raise InputError(f"prompt.layout {layout!r}: choose one of {', '.join(LAYOUTS)}")
