"""Recipes: extends merging, command-line overrides, validation errors, bundled recipes, hashing."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from radzoo.recipe.load import (
    RecipeError,
    bundled_recipe_names,
    load_recipe,
    recipe_hash,
    save_recipe,
)

TINY = "name: {name}\nencoder: {{name: tiny-vit}}\nllm: {{name: tiny-llama}}\n"


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def as_dict(cfg) -> dict:
    return OmegaConf.to_container(cfg, resolve=True)


# ------------------------------------------------------------------------------------------ extends
def test_extends_merges_bases_in_order_relative_to_each_file(tmp_path):
    write(tmp_path, "_base/model.yaml",
          "encoder: {name: tiny-vit, args: {image_size: 32}}\nllm: {name: tiny-llama, lora: {r: 4}}\n"
          "trainer: {seed: 1, precision: '32'}\n")
    write(tmp_path, "_base/schedule.yaml", "extends: [model.yaml]\ntrainer: {seed: 2}\n"
                                           "stages: [{name: align, lr: 0.5}]\n")
    child = write(tmp_path, "child.yaml", "extends: [_base/model.yaml, _base/schedule.yaml]\nname: child\n"
                                          "llm: {lora: {alpha: 8}}\n")
    cfg = load_recipe(child)
    assert cfg.name == "child"
    assert cfg.encoder.args == {"image_size": 32}
    assert (cfg.llm.lora.r, cfg.llm.lora.alpha) == (4, 8)  # nested mappings merge key by key
    assert cfg.trainer.seed == 2 and cfg.trainer.precision == "32"  # later bases win
    assert [s.name for s in cfg.stages] == ["align"] and cfg.stages[0].lr == 0.5
    assert cfg.stages[0].trainable == ["adapter"]  # schema defaults fill what the YAML leaves out
    assert "extends" not in cfg


def test_extends_accepts_a_single_string(tmp_path):
    write(tmp_path, "base.yaml", TINY.format(name="base"))
    cfg = load_recipe(write(tmp_path, "child.yaml", "extends: base.yaml\nname: child\n"))
    assert (cfg.name, cfg.llm.name) == ("child", "tiny-llama")


def test_extends_cycle_is_an_error_showing_the_chain(tmp_path):
    write(tmp_path, "a.yaml", "extends: [b.yaml]\nname: a\n")
    write(tmp_path, "b.yaml", "extends: [a.yaml]\nname: b\n")
    with pytest.raises(RecipeError, match=r"'extends' forms a cycle: .*a\.yaml -> .*b\.yaml -> .*a\.yaml"):
        load_recipe(tmp_path / "a.yaml")


def test_extends_missing_base_names_the_file_and_the_path_tried(tmp_path):
    child = write(tmp_path, "child.yaml", "extends: [bases/nope.yaml]\nname: child\n")
    with pytest.raises(RecipeError) as info:
        load_recipe(child)
    message = str(info.value)
    assert str(child) in message and "key 'extends'" in message
    assert "'bases/nope.yaml' not found at" in message and str(tmp_path / "bases" / "nope.yaml") in message


def test_extends_must_be_a_list_of_paths(tmp_path):
    with pytest.raises(RecipeError, match="key 'extends' must be a list of recipe paths"):
        load_recipe(write(tmp_path, "r.yaml", "extends: {a: 1}\n" + TINY.format(name="r")))


def test_swapping_a_component_in_a_child_recipe_drops_the_base_args(tmp_path):
    write(tmp_path, "base.yaml", "name: base\nencoder: {name: tiny-vit, args: {image_size: 32}}\n"
                                 "llm: {name: tiny-llama, args: {num_layers: 1}}\n")
    cfg = load_recipe(write(tmp_path, "child.yaml", "extends: [base.yaml]\nencoder: {name: timm}\n"
                                                    "llm: {args: {hidden_size: 32}}\n"))
    assert cfg.encoder.name == "timm" and cfg.encoder.args == {}
    assert cfg.llm.args == {"num_layers": 1, "hidden_size": 32}  # same component: args merge


# ---------------------------------------------------------------------------------------- overrides
def test_override_sets_nested_values_parsed_as_yaml():
    cfg = load_recipe("demo/llava-rad", ["llm.lora.r=16", "trainer.seed=7", "generation.do_sample=true",
                                         "llm.lora.target_modules=[q_proj, v_proj]", "description=a b"])
    assert cfg.llm.lora.r == 16 and isinstance(cfg.llm.lora.r, int)
    assert cfg.trainer.seed == 7 and cfg.generation.do_sample is True
    assert list(cfg.llm.lora.target_modules) == ["q_proj", "v_proj"]
    assert cfg.description == "a b"


def test_override_with_a_mapping_replaces_the_whole_node():
    base = load_recipe("demo/llava-rad")
    assert len(base.encoder.args) > 1
    cfg = load_recipe("demo/llava-rad", ["encoder.args={image_size: 32}"])
    assert as_dict(cfg.encoder.args) == {"image_size": 32}


def test_override_tilde_deletes_a_key():
    cfg = load_recipe("demo/llava-rad", ["~encoder.args.in_chans"])
    assert "in_chans" not in cfg.encoder.args and "image_size" in cfg.encoder.args


def test_override_tilde_of_a_missing_key_is_an_error():
    with pytest.raises(RecipeError, match=r"override '~encoder.args.nope': no key 'encoder.args.nope' to delete"):
        load_recipe("demo/llava-rad", ["~encoder.args.nope"])


def test_override_tilde_resets_a_schema_key_to_its_default():
    recipe = load_recipe("demo/llava-rad")
    assert recipe.llm.lora is not None and recipe.generation.max_new_tokens != 256
    cfg = load_recipe("demo/llava-rad", ["~llm.lora", "~generation.max_new_tokens"])
    assert cfg.llm.lora is None  # LoRA off
    assert cfg.generation.max_new_tokens == 256  # the schema's default


def test_override_tilde_of_a_required_schema_key_leaves_it_unset():
    with pytest.raises(RecipeError, match=r"required key\(s\) not set: llm.name"):
        load_recipe("demo/llava-rad", ["~llm.name"])


def test_swapping_a_component_name_on_the_command_line_resets_its_args():
    cfg = load_recipe("llava-rad", ["encoder.name=tiny-vit", "llm.name=tiny-llama"])
    assert cfg.encoder.args == {} and cfg.llm.args == {}
    assert cfg.llm.lora.r == 64  # LoRA settings belong to the recipe, not to the component's args
    same = load_recipe("demo/llava-rad", ["encoder.name=tiny-vit"])
    assert same.encoder.args.image_size == 64  # naming the same component keeps its args
    later = load_recipe("llava-rad", ["encoder.name=tiny-vit", "encoder.args.image_size=32"])
    assert as_dict(later.encoder.args) == {"image_size": 32}


def test_malformed_override_says_what_form_is_expected():
    with pytest.raises(RecipeError, match=r"override 'llm.lora.r' is not of the form key=value"):
        load_recipe("demo/llava-rad", ["llm.lora.r"])


# --------------------------------------------------------------------------------------- validation
def test_unknown_key_in_a_file_names_file_key_suggestion_and_allowed_keys(tmp_path):
    path = write(tmp_path, "r.yaml", TINY.format(name="r") + "trainr: {seed: 1}\n")
    with pytest.raises(RecipeError) as info:
        load_recipe(path)
    message = str(info.value)
    assert message.startswith(f"{path}: key 'trainr'")
    assert "Did you mean trainer" in message and "Allowed keys: name, description" in message


def test_unknown_nested_key_on_the_command_line_lists_the_allowed_keys():
    with pytest.raises(RecipeError) as info:
        load_recipe("demo/llava-rad", ["encoder.nmae=tiny-vit"])
    message = str(info.value)
    assert "override 'encoder.nmae=tiny-vit'" in message and "key 'encoder.nmae'" in message
    assert "Did you mean name" in message and "Allowed keys: name, args, freeze" in message


def test_wrong_type_names_the_key_path(tmp_path):
    path = write(tmp_path, "r.yaml", "name: r\nencoder: {name: tiny-vit}\nllm: {name: tiny-llama, lora: {r: lots}}\n")
    with pytest.raises(RecipeError, match=r"key 'llm.lora.r': Value 'lots' of type 'str' could not be converted "
                                          r"to Integer"):
        load_recipe(path)
    with pytest.raises(RecipeError, match=r"key 'trainer.gradient_checkpointing'"):
        load_recipe("demo/llava-rad", ["trainer.gradient_checkpointing=often"])


@pytest.mark.parametrize(("override", "key", "suggestion", "allowed"), [
    ("trainer.precision=bf16", "trainer.precision", "bf16-true", "32, 32-true, 16-mixed, bf16-mixed, bf16-true"),
    ("prompt.format=vicuna", "prompt.format", "vicuna_v1",
     "vicuna_v1, llama_2, phi, mistral_instruct, plain, llama_2_chat_template"),
    ("stages[0].trainable=[adaptr]", "stages[0].trainable[0]", "adapter", "encoder, encoder_head, adapter"),
    ("data.format=mimic", "data.format", "mimic-cxr", "synthetic, csv, llava-json, mimic-cxr"),
])
def test_bad_choice_names_key_suggestion_and_allowed_values(override, key, suggestion, allowed):
    with pytest.raises(RecipeError) as info:
        load_recipe("demo/llava-rad", [override])
    message = str(info.value)
    assert f"key '{key}'" in message and "is not allowed" in message
    assert f"Did you mean '{suggestion}'" in message and f"Allowed values: {allowed}" in message


def test_duplicate_stage_names_are_an_error():
    with pytest.raises(RecipeError, match=r"key 'stages': stage names must be unique, got \['align', 'align'\]"):
        load_recipe("demo/llava-rad", ["stages[1].name=align"])


def test_unknown_component_lists_close_matches():
    with pytest.raises(RecipeError) as info:
        load_recipe("demo/llava-rad", ["llm.name=tiny-lama"])
    message = str(info.value)
    assert "unknown llm 'tiny-lama'" in message and "Did you mean 'tiny-llama'" in message
    assert "Known llms:" in message and "vicuna-7b-v1.5" in message


@pytest.mark.parametrize(("override", "key"), [
    ("llm.name=tiny-lama", "llm.name"), ("encoder.name=tiny-vt", "encoder.name"),
    ("adapter.name=mlp3x", "adapter.name"), ("evaluation.metrics=[bleu, rouge]", "evaluation.metrics[1]"),
])
def test_unknown_component_error_names_the_full_key_path(override, key):
    with pytest.raises(RecipeError, match=rf"llava-rad\.yaml: key '{re.escape(key)}': unknown "):
        load_recipe("demo/llava-rad", [override])


def test_unknown_component_can_be_left_unchecked():
    cfg = load_recipe("demo/llava-rad", ["llm.name=not-installed-yet"], check_names=False)
    assert cfg.llm.name == "not-installed-yet"


def test_missing_required_key_is_named(tmp_path):
    with pytest.raises(RecipeError, match=r"required key\(s\) not set: llm.name"):
        load_recipe(write(tmp_path, "r.yaml", "name: r\nencoder: {name: tiny-vit}\n"))


def test_missing_file_suggests_bundled_recipes():
    with pytest.raises(RecipeError) as info:
        load_recipe("llava-rd")
    message = str(info.value)
    assert "recipe 'llava-rd' not found" in message and "Did you mean llava-rad" in message
    assert "Bundled recipes: " in message and "demo/slava-cxr" in message


@pytest.mark.parametrize(("text", "expected"), [
    ("name: [unclosed\n", "invalid YAML"),
    ("- a\n- b\n", "a recipe must be a YAML mapping, got list"),
])
def test_unreadable_recipe_files_are_named(tmp_path, text, expected):
    path = write(tmp_path, "r.yaml", text)
    with pytest.raises(RecipeError, match=expected) as info:
        load_recipe(path)
    assert str(path) in str(info.value)


def test_image_placeholder_missing_from_the_instruction_fails_at_build():
    from radzoo import build_model

    cfg = load_recipe("demo/llava-rad")
    cfg.prompt.instruction = "Describe the radiograph."  # past load-time checks: build_model must catch it too
    with pytest.raises(RecipeError) as info:
        build_model(cfg)
    message = str(info.value)
    assert "prompt.instruction must contain the image placeholder '<image>' exactly once, got 0" in message


@pytest.mark.parametrize(("override", "key", "count"), [
    ("prompt.instruction=Describe the radiograph.", "prompt.instruction", 0),
    ("prompt.instruction_with_indication='<image> <image> {indication}'", "prompt.instruction_with_indication", 2),
])
def test_image_placeholder_missing_from_the_instruction_fails_at_load(override, key, count):
    with pytest.raises(RecipeError) as info:
        load_recipe("demo/llava-rad", [override])
    message = str(info.value)
    assert f"llava-rad.yaml: key '{key}': must contain the image placeholder '<image>' exactly once, " \
           f"got {count}" in message


# ------------------------------------------------------------------------------------------ bundled
REFERENCE = ["llava-rad", "cxr-llava", "slava-cxr", "maira-1", "llava-rad-mistral"]
DEMOS = ["demo/llava-rad", "demo/cxr-llava", "demo/slava-cxr"]


def test_bundled_recipe_names_list_the_reference_and_demo_recipes_but_not_bases():
    names = bundled_recipe_names()
    assert set(REFERENCE + DEMOS) <= set(names)
    assert not [n for n in names if n.startswith("_")]


@pytest.mark.parametrize("name", bundled_recipe_names())
def test_every_bundled_recipe_loads_and_round_trips(name, tmp_path):
    """Loads, trains something in every stage, and its saved (resolved) form loads back to the same recipe."""
    cfg = load_recipe(name)
    assert cfg.name == name.replace("/", "-")  # the leaderboard names a system by its recipe
    assert cfg.stages and all(stage.trainable and (stage.epochs or stage.max_steps) for stage in cfg.stages)
    saved = save_recipe(cfg, tmp_path / "recipe.yaml")
    assert load_recipe(saved) == cfg and recipe_hash(load_recipe(saved)) == recipe_hash(cfg)


@pytest.mark.parametrize(("name", "encoder", "adapter", "llm", "prompt_format", "lora_r", "starts"), [
    ("llava-rad", "biomedclip-cxr-518", "mlp2x_gelu", "vicuna-7b-v1.5", None, 64,
     "<image>\nProvide a description of the findings in the radiology image"),
    ("cxr-llava", "cxr-llava-vit", "linear", "llama-2-7b-chat", "llama_2", 64,
     "<image>\nWrite a radiologic report on the given chest radiograph, including information about "
     "atelectasis, cardiomegaly, consolidation, pulmonary edema, pleural effusion, and pneumothorax.\n"),
    ("slava-cxr", "clip", "mlp2x_gelu", "phi-2", "phi", None, "<image>\nWrite a findings report of this image:"),
    ("maira-1", "rad-dino", "mlp2x_gelu", "vicuna-7b-v1.5", None, 64, "<image>\nProvide a description"),
    ("llava-rad-mistral", "biomedclip-cxr-518", "mlp2x_gelu", "mistral-7b-instruct", None, 64,
     "<image>\nProvide a description of the findings in the radiology image"),
])
def test_reference_recipes_follow_their_papers(name, encoder, adapter, llm, prompt_format, lora_r, starts):
    cfg = load_recipe(name)
    assert (cfg.encoder.name, cfg.adapter.name, cfg.llm.name) == (encoder, adapter, llm)
    assert cfg.prompt.format == prompt_format
    assert (cfg.llm.lora.r if cfg.llm.lora else None) == lora_r
    if lora_r:
        assert cfg.llm.lora.alpha == 2 * lora_r
    assert cfg.prompt.instruction.startswith(starts)
    assert cfg.encoder.freeze is True


def test_reference_recipes_training_schedules():
    llava_rad = load_recipe("llava-rad")
    assert [(s.name, list(s.trainable), s.lr, s.epochs) for s in llava_rad.stages] == [
        ("align", ["adapter"], 1e-3, 1), ("finetune", ["adapter", "lora"], 1e-4, 3)]
    assert "{indication}" in llava_rad.prompt.instruction_with_indication
    slava = load_recipe("slava-cxr")
    assert [s.name for s in slava.stages] == ["recognition", "reasoning", "reporting"]
    assert slava.generation.no_repeat_ngram_size == 3 and slava.encoder.args.model_name == "ViT-L-14-336"
    cxr = load_recipe("cxr-llava")
    assert cxr.prompt.system.startswith("You are a helpful radiologist.")
    assert (cxr.generation.temperature, cxr.generation.top_p, cxr.generation.max_new_tokens) == (0.2, 0.8, 512)


# -------------------------------------------------------------------------------------------- hashes
def test_recipe_hash_is_stable_and_sensitive(tmp_path):
    first, second = load_recipe("demo/llava-rad"), load_recipe("demo/llava-rad")
    assert recipe_hash(first) == recipe_hash(second)
    assert len(recipe_hash(first)) == 16
    assert recipe_hash(load_recipe("demo/llava-rad", ["trainer.seed=1"])) != recipe_hash(first)
    assert recipe_hash(load_recipe("demo/llava-rad", ["stages[1].lr=0.0042"])) != recipe_hash(first)
    # the saved, resolved recipe loads back to the same hash (what run directories rely on)
    saved = save_recipe(first, tmp_path / "run" / "recipe.yaml")
    assert recipe_hash(load_recipe(saved)) == recipe_hash(first)


def test_recipe_hash_ignores_key_order(tmp_path):
    a = write(tmp_path, "a.yaml", "name: r\nencoder: {name: tiny-vit}\nllm: {name: tiny-llama}\n"
                                  "trainer: {seed: 3, precision: '32'}\n")
    b = write(tmp_path, "b.yaml", "trainer: {precision: '32', seed: 3}\nllm: {name: tiny-llama}\n"
                                  "encoder: {name: tiny-vit}\nname: r\n")
    assert recipe_hash(load_recipe(a)) == recipe_hash(load_recipe(b))
