"""`radzoo import cxr-llava` -> generate (fp32, CPU) against goldens from the official CXR-LLaVA code.

goldens/cxr_llava.json was written by tools/cxr_llava_goldens.py, which ran ECOFRI/CXR_LLaVA's own
``CXRLLAVAModel`` (transformers 4.36.2) on the replica that published_replicas.write_cxr_llava builds.
"""

from __future__ import annotations

import published_replicas as replicas
import pytest
import torch
from imported_goldens import agreement, assert_pixels_match, golden, import_and_run
from release_replicas import hub_calls_fail  # noqa: F401 (autouse: hub downloads raise)

GOLDEN = golden("cxr_llava.json")


@pytest.fixture(scope="module")
def outputs(tmp_path_factory):
    return import_and_run("cxr-llava", replicas.write_cxr_llava, tmp_path_factory.mktemp("cxr_llava_golden"),
                          "CXR-LLAVA-v2", GOLDEN)


def test_golden_came_from_the_official_code_at_its_pinned_versions():
    assert GOLDEN["versions"]["transformers"] == "4.36.2" and GOLDEN["tokenizer_class"] == "LlamaTokenizer"
    assert GOLDEN["upstream"]["commit"].startswith("b7403b7")
    assert GOLDEN["studies"][0]["prompt_ids"][:2] == [1, 1]  # the tokenizer's BOS and the template's literal <s>
    assert GOLDEN["min_margin_over_std"] > 0


@pytest.mark.slow
def test_prompt_ids_are_the_official_ones(outputs):
    generator, ours = outputs
    assert generator.model.prompt.render() == GOLDEN["prompt_text"]
    for o, g in zip(ours, GOLDEN["studies"], strict=True):
        assert o.prompt_ids == g["prompt_ids"]


@pytest.mark.slow
def test_pixels_and_first_step_logits_match(outputs):
    _, ours = outputs
    for o, g in zip(ours, GOLDEN["studies"], strict=True):
        assert_pixels_match(o.pixels, g["pixels"])
        torch.testing.assert_close(o.first_logits, torch.tensor(g["first_logits"]), atol=2e-4, rtol=1e-4)


@pytest.mark.slow
def test_greedy_reports_equal_the_official_ones_on_every_study(outputs):
    _, ours = outputs
    assert agreement(ours, GOLDEN["studies"]) == replicas.STUDIES
