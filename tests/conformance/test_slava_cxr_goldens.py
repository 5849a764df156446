"""`radzoo import slava-cxr` -> generate (fp32, CPU) against goldens from the official SLaVA-CXR (LLaVA-Phi) code.

goldens/slava_cxr_{linear,mlp2x_gelu}.json were written by tools/slava_cxr_goldens.py, which ran knowlab/SLaVA-CXR's
own ``eval_model`` (``--conv-mode phi-2_v0``, greedy, ``no_repeat_ngram_size=3``; transformers 4.36.2) on the
replicas published_replicas.write_slava_cxr builds, one per projector key form. The replica's Phi attention is the
fused ``query_key_value`` that transformers 4.36.2 saves (and the only form that version loads).
"""

from __future__ import annotations

import published_replicas as replicas
import pytest
import torch
from imported_goldens import agreement, assert_pixels_match, golden, import_and_run
from release_replicas import hub_calls_fail  # noqa: F401 (autouse: hub downloads raise)

PROJECTORS = ("linear", "mlp2x_gelu")


@pytest.fixture(scope="module", params=PROJECTORS)
def outputs(request, tmp_path_factory):
    gold = golden(f"slava_cxr_{request.param}.json")
    # the folder has no "phi" in its name, which the official builder needs: radzoo accepts it all the same
    return (gold, *import_and_run("slava-cxr", lambda d: replicas.write_slava_cxr(d, request.param),
                                  tmp_path_factory.mktemp(f"slava_{request.param}"), "SLaVA-CXR", gold))


@pytest.mark.parametrize("projector", PROJECTORS)
def test_goldens_came_from_the_official_code_at_its_pinned_versions(projector):
    gold = golden(f"slava_cxr_{projector}.json")
    assert gold["versions"]["transformers"] == "4.36.2" and gold["upstream"]["commit"].startswith("81e4b09")
    assert "phi-2_v0" in gold["upstream"]["entry"] and gold["projector"] == projector
    assert all(s["generate_kwargs"]["no_repeat_ngram_size"] == 3 for s in gold["studies"])
    assert gold["min_margin_over_std"] > 0


@pytest.mark.slow
def test_prompt_ids_pixels_and_first_step_logits_match(outputs):
    gold, generator, ours = outputs
    assert generator.gen_kwargs["no_repeat_ngram_size"] == 3
    for o, g in zip(ours, gold["studies"], strict=True):
        assert o.prompt_ids == g["prompt_ids"]
        assert_pixels_match(o.pixels, g["pixels"])
        torch.testing.assert_close(o.first_logits, torch.tensor(g["first_logits"]), atol=2e-4, rtol=1e-4)


@pytest.mark.slow
def test_greedy_reports_equal_the_official_ones_on_every_study(outputs):
    gold, _, ours = outputs
    assert agreement(ours, gold["studies"]) == replicas.STUDIES
