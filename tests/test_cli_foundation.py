"""The foundation's commands: ``radzoo plugins``, ``radzoo recipe``, ``radzoo build`` and their user errors."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from omegaconf import OmegaConf

from radzoo.cli import main
from radzoo.components.discovery import get_plugins
from radzoo.recipe.load import bundled_recipe_names, load_recipe, recipe_hash

COLUMNS = ("kind", "name", "plugin", "version", "description", "license")
TINY_LLAVA_RAD = ["llava-rad", "encoder.name=tiny-vit", "llm.name=tiny-llama"]


def run_cli(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def all_components() -> list[tuple[str, str]]:
    return [(spec.kind, spec.name) for registry in get_plugins().registries.values() for spec in registry]


def test_help_lists_the_foundation_commands(capsys):
    code, out, _ = run_cli(capsys)
    assert code == 2
    for command in ("plugins", "recipe", "build"):
        assert re.search(rf"^\s+{command}\s", out, re.MULTILINE), f"{command} missing from --help"


# -------------------------------------------------------------------------------------------- plugins
def test_plugins_table_lists_every_component_with_its_columns(capsys):
    code, out, _ = run_cli(capsys, "plugins")
    assert code == 0
    header = next(line for line in out.splitlines() if "kind" in line and "license" in line)
    assert [c.strip() for c in re.split(r"[┃│]", header) if c.strip()] == list(COLUMNS)
    for kind, name in all_components():
        assert re.search(rf"│ {kind}\s+│ {re.escape(name)}\s+│", out), f"{kind} {name} is not listed whole"
    assert re.search(r"│ llm\s+│ phi-2\s+│ radzoo\.plugins\.llms\s+│ 0\.1\.0\s+│", out)
    assert "failed:" not in out


def test_plugins_json_has_every_component_and_its_metadata(capsys):
    code, out, _ = run_cli(capsys, "plugins", "--json")
    assert code == 0
    listing = json.loads(out)
    rows = listing["components"]
    assert sorted((r["kind"], r["name"]) for r in rows) == sorted(all_components())
    for row in rows:
        assert set(COLUMNS) <= set(row), row
    by_name = {(r["kind"], r["name"]): r for r in rows}
    assert by_name[("encoder", "biomedclip-cxr-518")]["license"] == "MSRLA"
    assert by_name[("adapter", "mlp2x_gelu")]["plugin"] == "radzoo.plugins.adapters"
    assert by_name[("llm", "vicuna-7b-v1.5")]["extra"] == {"hub_id": "lmsys/vicuna-7b-v1.5", "needs": "weights"}
    assert listing["failures"] == []


def test_plugins_kind_filter(capsys):
    _, out, _ = run_cli(capsys, "plugins", "--json", "--kind", "adapter")
    rows = json.loads(out)["components"]
    assert {r["kind"] for r in rows} == {"adapter"}
    assert {"linear", "mlp2x_gelu", "mlp2x_gelu_pool", "perceiver"} <= {r["name"] for r in rows}


def test_console_script_runs(tmp_path):
    script = shutil.which("radzoo", path=str(Path(sys.executable).parent))
    assert script, f"the radzoo console script is not installed next to {sys.executable}"
    result = subprocess.run([script, "plugins", "--json", "--kind", "llm"], capture_output=True, text=True,
                            cwd=tmp_path, check=True)
    assert "tiny-llama" in {r["name"] for r in json.loads(result.stdout)["components"]}


# --------------------------------------------------------------------------------------------- recipe
def test_recipe_list_prints_the_bundled_recipes(capsys):
    code, out, _ = run_cli(capsys, "recipe", "list")
    assert code == 0 and [line.split()[0] for line in out.splitlines()] == bundled_recipe_names()


def test_recipe_show_prints_the_resolved_recipe_and_its_hash(capsys):
    code, out, _ = run_cli(capsys, "recipe", "show", *TINY_LLAVA_RAD, "llm.lora.r=16")
    assert code == 0
    first, _, body = out.partition("\n")
    expected = load_recipe(TINY_LLAVA_RAD[0], [*TINY_LLAVA_RAD[1:], "llm.lora.r=16"])
    assert first == f"# recipe hash: {recipe_hash(expected)}"
    shown = yaml.safe_load(body)
    assert shown == OmegaConf.to_container(expected, resolve=True)
    assert shown["llm"] == {"name": "tiny-llama", "args": {}, "freeze": True,
                            "lora": {"r": 16, "alpha": 128, "dropout": 0.05, "target_modules": None}}
    assert [s["name"] for s in shown["stages"]] == ["align", "finetune"]  # merged from _base/two_stage.yaml


def test_recipe_show_of_a_file(capsys, tmp_path):
    path = tmp_path / "mine.yaml"
    path.write_text("extends: []\nname: mine\nencoder: {name: tiny-vit}\nllm: {name: tiny-phi}\n", encoding="utf-8")
    code, out, _ = run_cli(capsys, "recipe", "show", str(path))
    assert code == 0 and yaml.safe_load(out.partition("\n")[2])["llm"]["name"] == "tiny-phi"


@pytest.mark.parametrize(("argv", "expected"), [
    (["recipe", "show"], "radzoo recipe: error: recipe show needs a RECIPE"),
    (["recipe", "show", "llava-rd"], "radzoo recipe: error: recipe 'llava-rd' not found: no such file and no "
                                     "bundled recipe of that name. Did you mean llava-rad"),
    (["recipe", "show", "llava-rad", "trainer.precision=fp8"], "key 'trainer.precision': 'fp8' is not allowed."),
    (["build", "llava-rad", "llm.name=tiny-lama"], "Did you mean 'tiny-llama'"),
    (["build", "demo/llava-rad", "llm.lora.target_modules=[qkv]", "--no-smoke"],
     "radzoo build: error: recipe key 'llm.lora.target_modules': ['qkv'] not found in tiny-llama"),
])
def test_user_errors_are_one_line_with_exit_code_2(capsys, argv, expected):
    code, out, err = run_cli(capsys, *argv)
    assert code == 2
    lines = err.strip().splitlines()
    assert lines[-1] == "(run with --debug for the full traceback)"
    assert len(lines) == 2 and expected in lines[0], err
    assert "Traceback" not in err


# ---------------------------------------------------------------------------------------------- build
def test_build_prints_exact_parameter_counts_without_training(capsys):
    code, out, _ = run_cli(capsys, "build", *TINY_LLAVA_RAD, "--no-smoke")
    assert code == 0
    # LoRA r=64 on a 2-layer, width-64, MLP-128 Llama: 2 * 64 * (4*128 + 2*192 + 192) = 139,264
    assert re.search(r"│ lora\s+│\s+139,264 │\s+139,264 │", out)
    assert re.search(r"│ adapter\s+│\s+8,320 │\s+8,320 │", out)  # mlp2x_gelu 64->64->64
    assert re.search(r"│ encoder\s+│\s+[\d,]+ │\s+0 │", out)
    assert re.search(r"│ all\s+│\s+[\d,]+ │\s+147,584 │", out)
    assert "image tokens per image: 64" in out
    assert "forward/backward" not in out


def test_build_runs_one_forward_backward_pass(capsys):
    code, out, _ = run_cli(capsys, "build", "demo/cxr-llava")
    assert code == 0
    text = " ".join(out.split())  # rich wraps long lines at the console width
    match = re.search(r"forward/backward on 2 random images: loss (\d+\.\d+), gradients reached ([a-z, ]+)", text)
    assert match and float(match.group(1)) > 0
    assert "adapter" in match.group(2) and "lora" in match.group(2)
