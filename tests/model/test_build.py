"""build_model: the reference designs with tiny components, LoRA counts, freezing, splicing, the masked loss."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from PIL import Image

from radzoo import build_model, load_recipe
from radzoo.model.prompting import IGNORE_INDEX, IMAGE_TOKEN_INDEX, encode_example, tokenize_prompt
from radzoo.model.smoke import collate_examples, smoke_step
from radzoo.recipe.load import RecipeError

# the tiny components' default sizes (plugins/llms/tiny.py, plugins/encoders/timm_encoder.py)
HIDDEN, INTERMEDIATE, LAYERS = 64, 128, 2
VIT_WIDTH, VIT_TOKENS = 64, 64  # 64 px images, 8 px patches


def lora_params(family: str, r: int) -> int:
    """LoRA adds r * (in + out) per target Linear: A is [r, in], B is [out, r]."""
    h, i = HIDDEN, INTERMEDIATE
    per_layer = {
        "phi": 4 * (h + h) + (h + i) + (i + h),  # q_proj, k_proj, v_proj, dense (h->h), fc1 (h->i), fc2 (i->h)
        "llama": 4 * (h + h) + 2 * (h + i) + (i + h),  # q, k, v, o (h->h), gate, up (h->i), down (i->h)
    }
    per_layer["mistral"] = per_layer["llama"]
    return LAYERS * r * per_layer[family]


def linear_params(n_in: int, n_out: int) -> int:
    return n_in * n_out + n_out


MLP2X = linear_params(VIT_WIDTH, HIDDEN) + linear_params(HIDDEN, HIDDEN)
TINY = ["encoder.name=tiny-vit"]

# recipe, overrides (CLI-style only), LLM family, prompt format, LoRA r, adapter parameters
REFERENCE_CASES = {
    "llava-rad": ([*TINY, "llm.name=tiny-llama"], "llama", "vicuna_v1", 64, MLP2X),
    "cxr-llava": ([*TINY, "llm.name=tiny-llama"], "llama", "llama_2", 64, linear_params(VIT_WIDTH, HIDDEN)),
    "slava-cxr": ([*TINY, "llm.name=tiny-phi"], "phi", "phi", None, MLP2X),
    "maira-1": ([*TINY, "llm.name=tiny-llama"], "llama", "vicuna_v1", 64,
                linear_params(VIT_WIDTH, HIDDEN) + 3 * linear_params(HIDDEN, HIDDEN)),
    "llava-rad-mistral": ([*TINY, "llm.name=tiny-mistral"], "mistral", "mistral_instruct", 64, MLP2X),
}


@pytest.fixture(scope="module")
def reference_models():
    """Each reference recipe built once with its components swapped to tiny ones."""
    cache: dict[str, object] = {}

    def get(name: str):
        if name not in cache:
            cache[name] = build_model(load_recipe(name, REFERENCE_CASES[name][0]))
        return cache[name]

    return get


@pytest.mark.parametrize("name", list(REFERENCE_CASES))
def test_reference_recipe_with_tiny_components_builds_and_trains_one_step(reference_models, name):
    _, family, prompt_format, _, _ = REFERENCE_CASES[name]
    model = reference_models(name)
    assert model.name == name
    assert type(model.language_model.get_base_model() if hasattr(model.language_model, "get_base_model")
                else model.language_model).__name__.lower().startswith(family)
    assert model.prompt.format.name == prompt_format
    assert model.image_tokens() == VIT_TOKENS
    loss = smoke_step(model)
    assert math.isfinite(loss) and loss > 0
    assert all(p.grad is None for p in model.encoder.parameters())  # frozen encoder
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in model.adapter.parameters())


@pytest.mark.parametrize("name", list(REFERENCE_CASES))
def test_trainable_parameter_counts_are_exact(reference_models, name):
    _, family, _, r, adapter_params = REFERENCE_CASES[name]
    counts = reference_models(name).parameter_counts()
    expected_lora = lora_params(family, r) if r else 0
    assert counts["lora"] == {"total": expected_lora, "trainable": expected_lora}
    assert counts["adapter"] == {"total": adapter_params, "trainable": adapter_params}
    assert counts["encoder"]["trainable"] == 0 and counts["encoder"]["total"] > 0
    assert counts["llm"]["trainable"] == expected_lora  # only LoRA weights of the LLM train
    assert counts["all"]["trainable"] == adapter_params + expected_lora
    assert counts["all"]["total"] == counts["encoder"]["total"] + counts["adapter"]["total"] + counts["llm"]["total"]


def test_lora_rank_from_the_command_line_changes_the_count_exactly():
    model = build_model(load_recipe("demo/llava-rad", ["llm.lora.r=2", "llm.lora.target_modules=[q_proj, v_proj]"]))
    assert model.parameter_counts()["lora"]["trainable"] == LAYERS * 2 * 2 * (HIDDEN + HIDDEN)


def test_mixed_recipe_works_without_code_changes(tmp_path):
    recipe = tmp_path / "mixed.yaml"
    recipe.write_text(
        "name: mixed\n"
        "encoder: {name: tiny-vit, args: {in_chans: 3, image_size: 32, patch_size: 8}}\n"
        "adapter: {name: linear}\n"
        "llm: {name: tiny-phi, lora: {r: 4, alpha: 8, dropout: 0.0}}\n"
        "prompt: {format: vicuna_v1}\n"
        "stages: [{name: finetune, trainable: [adapter, lora]}]\n", encoding="utf-8")
    model = build_model(load_recipe(recipe))
    assert model.image_tokens() == 16 and model.encoder.in_chans == 3
    assert model.prompt.format.name == "vicuna_v1"
    assert model.parameter_counts()["lora"]["trainable"] == lora_params("phi", 4)
    assert math.isfinite(smoke_step(model))


def test_freeze_flags_decide_what_trains():
    model = build_model(load_recipe("demo/slava-cxr", ["encoder.freeze=false", "llm.freeze=false",
                                                       "adapter.freeze=true"]))
    assert model.trainable_parts() == ["encoder", "llm"]
    counts = model.parameter_counts()
    assert counts["all"]["trainable"] == counts["encoder"]["total"] + counts["llm"]["total"]


def test_lora_on_a_module_that_does_not_exist_is_a_recipe_error():
    cfg = load_recipe("demo/llava-rad", ["llm.lora.target_modules=[q_proj, qkv_proj]"])
    with pytest.raises(RecipeError) as info:
        build_model(cfg)
    message = str(info.value)
    assert "recipe key 'llm.lora.target_modules': ['qkv_proj'] not found in tiny-llama" in message
    assert "its linear layers are: down_proj, gate_proj, k_proj, o_proj, q_proj, up_proj, v_proj" in message


def test_component_rejecting_its_args_is_a_recipe_error():
    with pytest.raises(RecipeError, match=r"recipe key 'encoder.args': encoder 'tiny-vit': no option 'bogus'"):
        build_model(load_recipe("demo/llava-rad", ["encoder.args.bogus=1"]))


# ------------------------------------------------------------------------- splicing and the loss
REPORTS = ("No acute cardiopulmonary process.", "Small left pleural effusion with adjacent atelectasis.")


def _batch(model, indications=(None, "Cough."), answers=REPORTS):
    examples = [encode_example(model.tokenizer, model.prompt, a, indication=i) for a, i in zip(answers, indications)]
    batch = collate_examples(examples, model.tokenizer.pad_token_id)
    transform = model.encoder.image_transform(False)
    rng = np.random.default_rng(0)
    images = [Image.fromarray((rng.random((72, 72)) * 255).astype("uint8")) for _ in examples]
    batch["pixel_values"] = torch.stack([transform(img) for img in images])
    return examples, batch


def test_labels_mask_the_prompt_and_keep_the_answer_and_eos(tiny_llava_rad):
    model = tiny_llava_rad
    example = encode_example(model.tokenizer, model.prompt, REPORTS[1])
    n_prompt = len(tokenize_prompt(model.tokenizer, model.prompt.render()))
    assert example["input_ids"].count(IMAGE_TOKEN_INDEX) == 1
    assert example["labels"][:n_prompt] == [IGNORE_INDEX] * n_prompt
    assert example["labels"][n_prompt:] == example["input_ids"][n_prompt:]
    assert example["labels"][-1] == model.tokenizer.eos_token_id
    answer = model.tokenizer.decode(example["input_ids"][n_prompt:-1])
    assert answer.strip() == REPORTS[1]


@torch.no_grad()
def test_image_tokens_are_spliced_at_the_placeholder(tiny_llava_rad):
    model = tiny_llava_rad
    examples, batch = _batch(model)
    image_embeds = model.encode_images(batch["pixel_values"])
    m = image_embeds.shape[1]
    assert m == model.image_tokens()
    embed = model.language_model.get_input_embeddings()
    for left_pad in (False, True):
        embeds, mask, labels = model.splice(batch["input_ids"], batch["attention_mask"], image_embeds,
                                            batch["labels"], left_pad=left_pad)
        for i, example in enumerate(examples):
            ids = torch.tensor(example["input_ids"])
            p = example["input_ids"].index(IMAGE_TOKEN_INDEX)
            n = len(ids) - 1 + m
            start = embeds.shape[1] - n if left_pad else 0
            row, row_labels = embeds[i, start:start + n], labels[i, start:start + n]
            assert mask[i].sum() == n and mask[i, start:start + n].all()
            assert torch.equal(row[:p], embed(ids[:p]))
            assert torch.equal(row[p:p + m], image_embeds[i])
            assert torch.equal(row[p + m:], embed(ids[p + 1:]))
            assert (row_labels[:p + m] == IGNORE_INDEX).all()
            assert row_labels[p + m:].tolist() == example["labels"][p + 1:]


@torch.no_grad()
def test_loss_is_the_cross_entropy_of_the_report_tokens_only(tiny_llava_rad):
    model = tiny_llava_rad
    _, batch = _batch(model)
    out = model(**batch)
    embeds, mask, labels = model.splice(batch["input_ids"], batch["attention_mask"],
                                        model.encode_images(batch["pixel_values"]), batch["labels"])
    logits, targets = out.logits[:, :-1], labels[:, 1:]
    expected = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]).float(), targets.reshape(-1),
                                                 ignore_index=IGNORE_INDEX)
    assert torch.allclose(out.loss, expected, atol=1e-5)
    answer_tokens = sum(len([t for t in r if t != IGNORE_INDEX]) for r in batch["labels"].tolist())
    assert (targets != IGNORE_INDEX).sum() == answer_tokens


@torch.no_grad()
def test_targets_at_prompt_and_image_positions_do_not_enter_the_loss(tiny_llava_rad):
    model = tiny_llava_rad
    _, batch = _batch(model)
    loss = model(**batch).loss
    # a label at the placeholder position is dropped by the splice (image positions are always masked)
    at_image = batch["labels"].clone()
    at_image[batch["input_ids"] == IMAGE_TOKEN_INDEX] = 5
    assert torch.equal(model(**{**batch, "labels": at_image}).loss, loss)
    # what the report says changes the loss ...
    other = batch["labels"].clone()
    answer = (other != IGNORE_INDEX) & (other != model.tokenizer.eos_token_id)
    other[answer] = 7
    assert not torch.allclose(model(**{**batch, "labels": other}).loss, loss)
    # ... and so would scoring the prompt tokens, which the masked labels avoid
    unmasked = torch.where(batch["input_ids"] >= 0, batch["input_ids"], IGNORE_INDEX)
    unmasked[batch["attention_mask"] == 0] = IGNORE_INDEX
    assert not torch.allclose(model(**{**batch, "labels": unmasked}).loss, loss)


@torch.no_grad()
def test_a_prompt_without_the_placeholder_is_rejected_at_forward(tiny_llava_rad):
    model = tiny_llava_rad
    _, batch = _batch(model)
    ids = batch["input_ids"].clone()
    ids[ids == IMAGE_TOKEN_INDEX] = model.tokenizer.pad_token_id
    with pytest.raises(ValueError, match=r"prompts hold \[0, 0\] <image> placeholders per row for 2 images"):
        model(**{**batch, "input_ids": ids})
