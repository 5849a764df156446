"""`radzoo import slava-cxr`: what the recipe keeps and the attention forms it reads. Conformance with the official
LLaVA-Phi code is checked against goldens from running it, in tests/conformance/test_slava_cxr_goldens.py (the
hand-written reference forward that used to live here shared the importer's reading; no upstream code ran in it)."""

from __future__ import annotations

import pytest
import torch
from published_replicas import write_slava_cxr
from release_replicas import hub_calls_fail, import_and_load  # noqa: F401 (autouse: hub downloads raise)

from radzoo.runs.importers.slava_cxr import split_fused_qkv


@pytest.mark.parametrize("projector", ["linear", "mlp2x_gelu"])
def test_slava_cxr_recipe_keeps_the_release_choices(tmp_path, projector):
    write_slava_cxr(tmp_path / "SLaVA-CXR", projector)  # no "phi" in the name: accepted all the same
    _, model, recipe = import_and_load("slava-cxr", tmp_path / "SLaVA-CXR", tmp_path / "run")
    assert recipe.adapter.name == projector and recipe.generation.no_repeat_ngram_size == 3
    assert recipe.encoder.args.crop_rounding == "floor"
    assert model.prompt.render().endswith("USER: <image>\nWrite a findings report of this image: ASSISTANT:")


def test_a_fused_qkv_splits_head_by_head():
    """transformers 4.36's rows run (head, q|k|v, head_dim): head 1's query rows follow head 0's value rows."""
    heads, head_dim = 2, 3
    rows = torch.arange(3 * heads * head_dim).float()[:, None]
    parts = split_fused_qkv(heads)("model.layers.0.self_attn.query_key_value.weight", rows)
    assert parts["model.layers.0.self_attn.q_proj.weight"].flatten().tolist() == [0, 1, 2, 9, 10, 11]
    assert parts["model.layers.0.self_attn.v_proj.weight"].flatten().tolist() == [6, 7, 8, 15, 16, 17]
    assert split_fused_qkv(heads)("model.layers.0.mlp.fc1.weight", rows) == {"model.layers.0.mlp.fc1.weight": rows}
