"""Bad recipes give one line naming file, key and fix; no recipe, override or resolver can run code."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import cli_error, run_cli
from omegaconf import OmegaConf

BASE = "name: bad\nencoder: {name: tiny-vit, args: {image_size: 32, patch_size: 8}}\nllm: {name: tiny-llama}\n"


def recipe(folder: Path, body: str, name: str = "recipe.yaml") -> Path:
    (folder / "base.yaml").write_text(BASE, encoding="utf-8")
    path = folder / name
    path.write_text("extends: [base.yaml]\n" + body, encoding="utf-8")
    return path


@pytest.mark.parametrize(("body", "expected"), [
    ("encoder: {name: tiny-vitt}\n",
     "{path}: key 'encoder.name': unknown encoder 'tiny-vitt'. Did you mean 'tiny-vit'? Known encoders: "),
    ("trainer: {seed: lots}\n",
     "{path}: key 'trainer.seed': Value 'lots' of type 'str' could not be converted to Integer."),
    ("trainer: {lerning_rate: 0.1}\n",
     "{path}: key 'trainer.lerning_rate': Key 'lerning_rate' not in 'TrainerConfig'."),
    ("llm: {lora: {target_modules: [qkv_proj]}}\n",
     "recipe key 'llm.lora.target_modules': ['qkv_proj'] not found in tiny-llama; its linear layers are: "
     "down_proj, gate_proj, k_proj, o_proj, q_proj, up_proj, v_proj (recipe {path})"),
], ids=["unknown-component", "wrong-type", "unknown-key", "lora-on-a-missing-module"])
def test_bad_recipe_is_one_line_naming_file_key_and_fix(tmp_path: Path, capsys, body: str, expected: str) -> None:
    path = recipe(tmp_path, body)
    message = cli_error(capsys, "build", path, "--no-smoke")
    assert expected.format(path=path) in message


def test_wrong_type_inside_a_stage_names_the_stage(tmp_path: Path, capsys) -> None:
    path = recipe(tmp_path, "stages:\n  - {name: a}\n  - {name: b, lr: fast}\n")
    assert "key 'stages[1].lr'" in cli_error(capsys, "recipe", "show", path)


@pytest.mark.parametrize(("argv", "expected"), [
    (["build", "{folder}/nothere.yaml"], "recipe '{folder}/nothere.yaml' not found: no such file and no bundled "
                                         "recipe of that name."),
    (["build", "{folder}/recipe.yaml"], "{folder}/recipe.yaml: key 'extends': base recipe 'gone.yaml' not found "
                                        "at {folder}/gone.yaml"),
    (["generate", "demo/llava-rad", "--data", "{folder}/none.csv", "--format", "csv", "--out", "{folder}/p.jsonl"],
     "data.path {folder}/none.csv does not exist (format 'csv'); point data.path (or --data) at the data file"),
], ids=["recipe", "extends-base", "data"])
def test_missing_file_is_one_line_naming_it(tmp_path: Path, capsys, argv: list[str], expected: str) -> None:
    (tmp_path / "recipe.yaml").write_text("extends: [gone.yaml]\nname: x\n", encoding="utf-8")
    message = cli_error(capsys, *[a.format(folder=tmp_path) for a in argv])
    assert expected.format(folder=tmp_path) in message


# ------------------------------------------------------------------------------ no code execution from data
MARKER = "radzoo-pwned"


@pytest.mark.parametrize("body", [
    'description: !!python/object/apply:os.system ["touch MARKER"]\n',
    'description: "${python:os.system}"\n',
    "_target_: os.system\n",
    'encoder: {args: {_target_: os.system, _args_: ["touch MARKER"]}}\n',
], ids=["yaml-python-tag", "custom-resolver", "top-level-target", "target-in-component-args"])
def test_recipes_cannot_run_code(tmp_path: Path, capsys, monkeypatch, body: str) -> None:
    monkeypatch.chdir(tmp_path)
    path = recipe(tmp_path, body.replace("MARKER", str(tmp_path / MARKER)))
    message = cli_error(capsys, "build", path, "--no-smoke")
    assert any(reason in message for reason in ("could not determine a constructor for the tag",
                                                "Unsupported interpolation type python",
                                                "Key '_target_' not in 'Recipe'",
                                                "encoder 'tiny-vit': no option '_target_'")), message
    assert not (tmp_path / MARKER).exists()


def test_overrides_cannot_run_code(tmp_path: Path, capsys) -> None:
    marker = tmp_path / MARKER
    message = cli_error(capsys, "recipe", "show", "demo/llava-rad",
                        f'description=!!python/object/apply:os.system ["touch {marker}"]')
    assert "override 'description=!!python/object/apply:os.system" in message and "not valid YAML" in message
    assert not marker.exists()


def test_only_omegaconf_builtin_resolvers_exist_and_none_runs_code() -> None:
    from omegaconf.basecontainer import BaseContainer

    import radzoo.model.build  # noqa: F401 - everything a recipe passes through is imported
    import radzoo.training.pipeline  # noqa: F401

    # oc.env reads a variable, oc.decode parses a config literal (no eval), the rest select/copy config nodes
    assert set(BaseContainer._resolvers) <= {"oc.coerce", "oc.create", "oc.decode", "oc.deprecated",
                                             "oc.dict.keys", "oc.dict.values", "oc.env", "oc.select"}
    assert OmegaConf.create({"x": "${oc.decode:'[1, 2]'}"}).x == [1, 2]


def test_recipe_cannot_copy_a_credential_from_the_environment(tmp_path: Path, capsys, monkeypatch) -> None:
    monkeypatch.setenv("JUDGE_API_KEY", "sk-never-in-a-recipe")
    monkeypatch.setenv("DATA_ROOT", str(tmp_path))
    path = recipe(tmp_path, 'description: "${oc.env:JUDGE_API_KEY}"\n')
    message = cli_error(capsys, "recipe", "show", path)
    assert message == (f"radzoo recipe: error: {path}: key 'description': reads the environment variable "
                       "JUDGE_API_KEY, which looks like a credential; a recipe is saved beside every output, so "
                       "keep credentials out of it and pass a variable's name where an option asks for one (e.g. "
                       "api_key_env)")
    code, out, _ = run_cli(capsys, "recipe", "show", "demo/llava-rad", "data.path=${oc.env:DATA_ROOT}/set")
    assert code == 0 and f"path: {tmp_path}/set" in out  # other variables (data locations) still work
