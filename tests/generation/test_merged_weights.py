"""The radzoo engine's CPU step with LoRA merged and q/k/v stacked: transformers' greedy tokens on trained-like
LoRA weights, copies rebuilt when weights change, the memory budget, and a prompt prefill that matches."""

from __future__ import annotations

import pytest
import torch
from peft.tuners.lora import Linear as LoraLinear
from test_decode_engine import engines, ids
from test_generate import make_studies
from transformers import StaticCache

from radzoo.generation import decode_engine
from radzoo.generation.decode_engine import causal_lm
from radzoo.generation.lean_decode_step import lean_step
from radzoo.generation.merged_weights import WeightMerger
from radzoo.generation.pipeline import prepare_model


@pytest.fixture(scope="module")
def studies(tmp_path_factory):
    return make_studies(tmp_path_factory.mktemp("img"), 6)


def lora_layers(model) -> list[LoraLinear]:
    return [m for m in causal_lm(model.language_model).modules() if isinstance(m, LoraLinear)]


def train_lora(model, seed: int = 0, std: float = 0.05) -> None:
    """Give every LoRA pair a non-zero B, as training does (a fresh adapter's B is zero: merging it is exact)."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for layer in lora_layers(model):
            for b in layer.lora_B.values():
                b.weight.copy_(torch.randn(b.weight.shape, generator=gen) * std)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["demo/llava-rad", "demo/cxr-llava"])
def test_greedy_tokens_equal_transformers_with_trained_lora(name, studies):
    hf, radzoo = engines(name)
    untrained = ids(hf, studies)
    train_lora(hf.model)
    expected = ids(hf, studies)
    assert not torch.equal(expected, untrained), "the LoRA weights must change what the model says"
    assert torch.equal(ids(radzoo, studies), expected)
    assert torch.equal(ids(radzoo, studies[1:2]), ids(hf, studies[1:2]))  # batch 1


def test_merged_weight_is_peft_merge(studies):
    hf, _ = engines("demo/llava-rad")
    train_lora(hf.model)
    layer = lora_layers(hf.model)[0]
    step = lean_step(causal_lm(hf.model.language_model), 64)
    q = step.layers[0].qkv.parts[0]  # q, k, v stacked; q's rows first
    merged = layer.base_layer.weight + layer.get_delta_weight("default")  # what peft's merge_adapter writes
    assert torch.equal(q.weight[:merged.shape[0]], merged)


def test_weights_changed_in_place_are_merged_again(studies):
    hf, radzoo = engines("demo/llava-rad")
    train_lora(hf.model, seed=1)
    before = ids(radzoo, studies)
    assert torch.equal(before, ids(hf, studies))
    train_lora(hf.model, seed=2)  # as an optimizer step does: in place, same tensors
    after = ids(radzoo, studies)
    assert not torch.equal(after, before)
    assert torch.equal(after, ids(hf, studies))


def test_past_the_memory_budget_projections_stay_apart_with_the_same_tokens(studies):
    hf, radzoo = engines("demo/cxr-llava")
    train_lora(hf.model)
    lm = causal_lm(hf.model.language_model)
    step = lean_step(lm, 64, WeightMerger(budget_bytes=0))
    assert len(step.layers[0].qkv.parts) == 3 and step.layers[0].qkv.parts[0].loras  # unmerged, LoRA pairs kept
    merged = lean_step(lm, 64, WeightMerger())
    assert len(merged.layers[0].qkv.parts) == 1 and not merged.layers[0].qkv.parts[0].loras
    radzoo._engine = None
    expected = ids(hf, studies)
    radzoo.generate(radzoo.inputs(studies[:1]))  # makes the engine
    radzoo._engine._weights = WeightMerger(budget_bytes=0)
    assert torch.equal(ids(radzoo, studies), expected)


@pytest.mark.parametrize("name", ["demo/llava-rad", "demo/slava-cxr"])
def test_prefill_matches_the_models_forward_on_left_padded_prompts(name, studies):
    hf, _ = engines(name)
    train_lora(hf.model)
    model, lm = hf.model, causal_lm(hf.model.language_model)
    inputs = hf.inputs(studies)
    with torch.inference_mode():
        images = model.encode_images(inputs["pixel_values"], None)
        embeds, mask, _ = model.splice(inputs["input_ids"], inputs["attention_mask"], images, left_pad=True)
        assert bool((mask == 0).any()), "some prompts are left-padded"
        positions = (mask.cumsum(-1) - 1).masked_fill(mask == 0, 1)
        theirs_cache = StaticCache(config=lm.config, max_cache_len=mask.shape[1] + 4)
        theirs = lm(inputs_embeds=embeds, attention_mask=mask, position_ids=positions, cache=theirs_cache,
                    use_cache=True, logits_to_keep=1).logits[:, -1]
        ours_cache = StaticCache(config=lm.config, max_cache_len=mask.shape[1] + 4)
        ours = lean_step(lm, mask.shape[1] + 4).prefill(embeds, mask, positions, ours_cache)[:, -1]
    torch.testing.assert_close(ours, theirs, rtol=1e-4, atol=1e-5)
    assert torch.equal(ours.argmax(-1), theirs.argmax(-1))
    real = mask.bool()
    for layer_ours, layer_theirs in zip(ours_cache.layers, theirs_cache.layers, strict=True):
        keys = layer_ours.keys[:, :, :mask.shape[1]]
        assert bool(keys.isfinite().all()), "a left pad's keys stay finite (a NaN there would reach every step)"
        torch.testing.assert_close(keys.transpose(1, 2)[real], layer_theirs.keys[:, :, :mask.shape[1]]
                                   .transpose(1, 2)[real], rtol=1e-4, atol=1e-5)


def test_in_bf16_the_lean_step_stands_down_for_the_models_own_forward(studies, monkeypatch):
    # merging and reordering round at ~1e-2 in bf16, enough to change greedy tokens: there the engine calls the
    # model (as it did before merging; its bf16 tokens are not always transformers' generate's, a separate matter)
    hf, radzoo = engines("demo/llava-rad")
    train_lora(hf.model)
    assert lean_step(causal_lm(hf.model.language_model), 64) is not None  # float32: the lean step
    model = prepare_model(hf.model, "cpu", "bf16")
    assert lean_step(causal_lm(model.language_model), 64) is None
    got = ids(radzoo, studies)
    monkeypatch.setattr(decode_engine, "lean_step", lambda *args: None)
    radzoo._engine = None
    assert torch.equal(ids(radzoo, studies), got)
