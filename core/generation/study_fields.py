"""What a multi-image prediction row adds: the images read with their roles, the prior, and grounded boxes."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from radzoo.data.study import Study
from radzoo.generation.grounding import grounding_record
from radzoo.model.prompting import PromptBuilder
from radzoo.model.study_prompt import inputs_record


def study_fields(prompt: PromptBuilder, study: Study, question: str | None, prediction: str,
                 load_image: Callable[[str], Any]) -> dict[str, Any]:
    """The row's ``images``/``prior`` fields; a grounded prompt's ``grounding`` (boxes in the frontal image's own
    pixels), plain ``prediction`` and ``raw_prediction`` too."""
    fields = inputs_record(study, prompt.render_study(study, question)[1])
    if prompt.grounded and Path(study.image).is_file():
        width, height = load_image(study.image).size
        fields.update(grounding_record(prediction, width, height))
    return fields
