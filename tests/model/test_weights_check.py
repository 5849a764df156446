"""Missing weights are named, all at once, before any model library is imported (radzoo.model.weights_check)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from radzoo.model.weights_check import check_weights_up_front, offline_problems
from radzoo.recipe.load import load_recipe

MODEL_LIBRARIES = ("torch", "transformers", "open_clip", "timm", "peft")
BUILD_AND_LIST_IMPORTS = (
    "import sys; from radzoo.cli import main; code = main(['build', sys.argv[1]]); "
    f"print(code, [m for m in {MODEL_LIBRARIES!r} if m in sys.modules])"
)


@pytest.fixture
def empty_hub_cache(tmp_path, monkeypatch):
    """An empty Hugging Face cache for this test (and the processes it starts)."""
    from huggingface_hub import constants

    cache = tmp_path / "hf" / "hub"
    cache.mkdir(parents=True)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(cache))
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    return cache


def _cache_repo(cache, repo_id: str, files: dict[str, str], revision: str = "main") -> None:
    """``repo_id`` in the hub cache's layout (refs/REVISION -> snapshots/COMMIT/FILE), as ``hf download`` leaves it."""
    repo = cache / f"models--{repo_id.replace('/', '--')}"
    commit = "0" * 40
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / revision).write_text(commit)
    for name, text in files.items():
        (repo / "snapshots" / commit).mkdir(parents=True, exist_ok=True)
        (repo / "snapshots" / commit / name).write_text(text)


@pytest.mark.parametrize(("recipe", "hub_ids"), [
    ("slava-cxr", ["timm/vit_large_patch14_clip_336.openai", "microsoft/phi-2"]),
    ("maira-1", ["microsoft/rad-dino", "lmsys/vicuna-7b-v1.5"]),
])
def test_build_fails_before_importing_model_code(recipe, hub_ids, empty_hub_cache, tmp_path):
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    result = subprocess.run([sys.executable, "-c", BUILD_AND_LIST_IMPORTS, recipe], env=env, capture_output=True,
                            text=True, cwd=tmp_path, timeout=300)
    assert result.stdout.split() == ["2", "[]"], (result.stdout, result.stderr)  # exit code 2, not even torch loaded
    error = result.stderr.strip().splitlines()[0]
    assert "2 parts are missing locally" in error
    for text in ["encoder.args.path=DIR", "llm.args.path=DIR"] + [f"hf download {h} --local-dir DIR" for h in hub_ids]:
        assert text in error


@pytest.mark.parametrize(("recipe", "encoder_hub", "llm_hub"), [
    ("llava-rad", "microsoft/llava-rad", "lmsys/vicuna-7b-v1.5"),
    ("cxr-llava", "ECOFRI/CXR-LLAVA-v2", "meta-llama/Llama-2-7b-chat-hf"),
    ("slava-cxr", "timm/vit_large_patch14_clip_336.openai", "microsoft/phi-2"),
    ("maira-1", "microsoft/rad-dino", "lmsys/vicuna-7b-v1.5"),
    ("llava-rad-mistral", "microsoft/llava-rad", "mistralai/Mistral-7B-Instruct-v0.2"),
])
def test_every_bundled_recipe_names_both_parts_and_accepts_cached_ones(recipe, encoder_hub, llm_hub,
                                                                       empty_hub_cache):
    cfg = load_recipe(recipe)
    encoder, llm = offline_problems(cfg)
    assert encoder_hub in encoder and "encoder.args.path" in encoder
    assert llm_hub in llm and "llm.args.path" in llm
    _cache_repo(empty_hub_cache, llm_hub, {"config.json": "{}"})
    assert offline_problems(cfg) == [encoder]  # the LLM in the hub cache is found there


def test_local_directories_and_a_partial_cache(empty_hub_cache, tmp_path):
    (tmp_path / "dino").mkdir()
    cfg = load_recipe("maira-1", [f"encoder.args.path={tmp_path / 'dino'}", f"llm.args.path={tmp_path / 'nowhere'}"])
    [problem] = offline_problems(cfg)  # the existing directory passes; the missing one is named as a path
    assert "llm.args.path" in problem and "the local directory does not exist" in problem
    # a repo whose cache holds other files than the weights looked for is still missing
    _cache_repo(empty_hub_cache, "microsoft/llava-rad", {"README.md": "readme"})
    assert "microsoft/llava-rad" in offline_problems(load_recipe("llava-rad"))[0]
    _cache_repo(empty_hub_cache, "timm/vit_large_patch14_clip_336.openai", {"open_clip_model.safetensors": ""})
    assert "microsoft/phi-2" in offline_problems(load_recipe("slava-cxr"))[0]
    # a pinned revision is looked up as the loader will ask for it
    _cache_repo(empty_hub_cache, "microsoft/phi-2", {"config.json": "{}"}, revision="pinned")
    assert len(offline_problems(load_recipe("slava-cxr"))) == 1
    assert offline_problems(load_recipe("slava-cxr", ["llm.args.revision=pinned"])) == []


def test_weightless_components_and_a_reachable_hub_need_nothing(empty_hub_cache, monkeypatch):
    assert offline_problems(load_recipe("demo/llava-rad")) == []
    assert offline_problems(load_recipe("llava-rad", ["encoder.args.pretrained=false", "llm.name=tiny-llama"])) == []
    monkeypatch.setattr("radzoo.model.weights_check.go_offline_if_unreachable", lambda: False)
    check_weights_up_front(load_recipe("slava-cxr"))  # the factories download what is missing


def test_open_clip_tag_repos_are_open_clips_own():
    import open_clip

    from radzoo.plugins.encoders.weight_sources import OPEN_CLIP_TAG_REPOS

    for (model_name, tag), repo in OPEN_CLIP_TAG_REPOS.items():
        assert open_clip.get_pretrained_cfg(model_name, tag)["hf_hub"].strip("/") == repo


def test_plugins_listing_stays_json(empty_hub_cache):
    from radzoo.components.discovery import get_plugins

    spec = get_plugins().registry("llm").spec("phi-2")
    assert spec.weights_check is not None
    json.dumps(spec.as_dict())  # the check itself is not metadata
