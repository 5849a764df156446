"""`radzoo import maira-2` -> generate (fp32, CPU) against goldens from MAIRA-2's own remote code.

goldens/maira2.json was written by tools/maira2_goldens.py, which ran Microsoft's ``Maira2Processor`` and
``Maira2ForConditionalGeneration`` (public copies; transformers 4.48.3) on published_replicas.write_maira2's replica:
the frontal-only reporting prompt with the template's double spaces, ``format_and_preprocess_reporting_input``
and ``generate``. Not verified against upstream: the chat template text itself (MAIRA-2's chat_template.json was
not found in public text; the replica carries radzoo's reading of it). goldens/maira2_multi_image.json records
the upstream processor's multi-image prompt ids and pixels; test_maira2_multi_image_goldens.py checks radzoo's.
"""

from __future__ import annotations

import published_replicas as replicas
import pytest
import torch
from imported_goldens import agreement, assert_pixels_match, golden, import_and_run
from release_replicas import hub_calls_fail  # noqa: F401 (autouse: hub downloads raise)

from radzoo.model.prompting import IMAGE_TOKEN_INDEX

GOLDEN = golden("maira2.json")


def collapsed(ids: list[int], image_token: int, length: int) -> list[int]:
    """The processor's ids with each run of ``length`` image tokens as radzoo's one image sentinel."""
    out, i = [], 0
    while i < len(ids):
        if ids[i] == image_token:
            assert ids[i:i + length] == [image_token] * length, "an image token run of the wrong length"
            out.append(IMAGE_TOKEN_INDEX)
            i += length
        else:
            out.append(ids[i])
            i += 1
    return out


@pytest.fixture(scope="module")
def outputs(tmp_path_factory):
    return import_and_run("maira-2", replicas.write_maira2, tmp_path_factory.mktemp("maira2_golden"), "maira-2",
                          GOLDEN)


def test_goldens_came_from_maira2s_remote_code():
    assert GOLDEN["versions"]["transformers"] == "4.48.3"
    assert "chat template" in GOLDEN["upstream"]["not_upstream"]
    assert "  USER:  Given the current frontal image only<image> " in GOLDEN["prompt_text"]
    assert GOLDEN["min_margin_over_std"] > 0
    multi = golden("maira2_multi_image.json")
    assert sum(i == multi["image_token_index"] for i in multi["prompt_ids"]) == 3 * GOLDEN["image_seq_length"]


@pytest.mark.slow
def test_prompt_ids_pixels_and_first_step_logits_match(outputs):
    generator, ours = outputs
    assert generator.model.prompt.render() == GOLDEN["prompt_text"]
    for o, g in zip(ours, GOLDEN["studies"], strict=True):
        assert o.prompt_ids == collapsed(g["prompt_ids"], GOLDEN["image_token_index"], GOLDEN["image_seq_length"])
        assert_pixels_match(o.pixels, g["pixels"])
        torch.testing.assert_close(o.first_logits, torch.tensor(g["first_logits"]), atol=2e-4, rtol=1e-4)


@pytest.mark.slow
def test_greedy_reports_equal_the_official_ones_on_every_study(outputs):
    _, ours = outputs
    assert agreement(ours, GOLDEN["studies"]) == replicas.STUDIES
