"""`radzoo import llava-rad`: provenance, dtype, errors and the CLI on the tiny microsoft/llava-rad replica.

Conformance with LLaVA-Rad's own code (prompt ids, pixels, logits, greedy ids) is checked against goldens from
the upstream code, run, in tests/conformance/test_llava_rad_goldens.py; no reference forward is re-typed here.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest
import torch
import yaml
from llava_rad_replica import write_replica
from release_replicas import (
    hub_calls_fail,  # noqa: F401 (autouse: hub downloads raise)
    tiny_llama_config,
)


@pytest.fixture(scope="module")
def replica(tmp_path_factory):
    root = tmp_path_factory.mktemp("llava_rad")
    write_replica(root)
    return root


@pytest.fixture(scope="module")
def imported(replica):
    """The replica imported, then moved: the run must not depend on where it was written.

    open_clip's text-tower builder raises meanwhile: BiomedBERT (a hub download) is never built.
    """
    import open_clip.model

    from radzoo.generation.pipeline import load_model
    from radzoo.runs.importers import import_release

    def no_text_tower(*args, **kwargs):
        raise AssertionError("the BiomedBERT text tower was built")

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(open_clip.model, "_build_text_tower", no_text_tower)
        written = import_release("llava-rad", replica / "llava-rad", replica / "written",
                                 base_llm=replica / "vicuna-7b-v1.5")
        moved = replica / "moved" / "llava-rad-published"
        moved.parent.mkdir()
        shutil.move(written, moved)
        model, recipe = load_model(moved)  # a run is loaded from where it is now, wherever it was written
    return moved, model, recipe


def test_llava_rad_run_records_provenance_and_keeps_the_released_dtype(replica, imported):
    from safetensors import safe_open

    run, _, recipe = imported
    provenance = json.loads((run / "provenance.json").read_text())
    files = {f["file"]: f["sha256"] for f in provenance["files"]}
    adapter = replica / "llava-rad" / "adapter_model.bin"
    assert files["adapter_model.bin"] == hashlib.sha256(adapter.read_bytes()).hexdigest()
    assert "pytorch_model-00002-of-00002.bin" in files and "tokenizer.model" in files
    assert any("alpha/r = 2" in c for c in provenance["conversions"]) and "MSRLA" in provenance["license"]
    assert (recipe.encoder.name, recipe.encoder.args.select_layer, recipe.adapter.name) == \
        ("biomedclip-cxr-518", -2, "mlp2x_gelu")
    import os
    import stat

    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(run.stat().st_mode) == 0o777 & ~umask  # not mkdtemp's private 0700
    saved = yaml.safe_load((run / "recipe.yaml").read_text())
    assert saved["encoder"]["args"]["path"] == "encoder" and saved["llm"]["args"]["path"] == "llm"  # relocatable
    with safe_open(str(run / "llm" / "model.safetensors"), framework="pt") as f:
        assert {f.get_tensor(k).dtype for k in f.keys()} == {torch.float32}  # noqa: SIM118
        merged = f.get_tensor("model.layers.1.mlp.down_proj.weight")
    lora = torch.load(adapter, weights_only=True)
    key = "base_model.model.model.layers.1.mlp.down_proj"
    base = torch.load(replica / "vicuna-7b-v1.5" / "pytorch_model-00002-of-00002.bin", weights_only=True)
    torch.testing.assert_close(merged, base["model.layers.1.mlp.down_proj.weight"]
                               + 2.0 * lora[f"{key}.lora_B.weight"] @ lora[f"{key}.lora_A.weight"])
    tower = json.loads((run / "encoder" / "open_clip_config.json").read_text())
    assert "text_cfg" not in tower["model_cfg"]  # BiomedBERT is never built


def test_dtype_option_converts_the_stored_weights(replica, tmp_path):
    from safetensors import safe_open

    from radzoo.runs.importers import import_release

    run = import_release("llava-rad", replica / "llava-rad", tmp_path / "bf16", base_llm=replica / "vicuna-7b-v1.5",
                         dtype="bf16")
    with safe_open(str(run / "llm" / "model.safetensors"), framework="pt") as f:
        assert {f.get_tensor(k).dtype for k in f.keys()} == {torch.bfloat16}  # noqa: SIM118
    assert json.loads((run / "llm" / "config.json").read_text())["dtype"] == "bfloat16"
    assert json.loads((run / "provenance.json").read_text())["dtype"] == "bf16"


def _broken_copy(replica: Path, tmp_path: Path, change) -> Path:
    src = tmp_path / "llava-rad"
    shutil.copytree(replica / "llava-rad", src)
    change(src)
    return src


def _save_namespace(src: Path) -> None:
    import argparse

    torch.save({"args": argparse.Namespace(lr=1.0)}, src / "adapter_model.bin")


def _wrong_projector(src: Path) -> None:
    state = torch.load(src / "non_lora_trainables.bin", weights_only=True)
    state["base_model.model.model.mm_projector.0.weight"] = torch.randn(64, 48)
    torch.save(state, src / "non_lora_trainables.bin")


def _not_llava(src: Path) -> None:
    (src / "config.json").write_text(json.dumps(tiny_llama_config().to_dict()))


@pytest.mark.parametrize("change, message", [
    (lambda src: (src / "adapter_model.bin").unlink(),
     "adapter_model.bin not found: the LLaVA-Rad release needs it; get it with `hf download microsoft/llava-rad"),
    (_save_namespace, "holds the Python object argparse.Namespace"),
    (_wrong_projector, "the projector does not fit a 192-wide tower"),
    (_not_llava, "is not a LLaVA config"),
])
def test_bad_llava_rad_sources_fail_in_one_line_and_leave_no_run(replica, tmp_path, capsys, change, message):
    from radzoo.cli import main

    src = _broken_copy(replica, tmp_path, change)
    out = tmp_path / "runs" / "published"
    code = main(["import", "llava-rad", str(src), "--base-llm", str(replica / "vicuna-7b-v1.5"), "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 2
    assert message in err and err.count("error:") == 1
    assert not out.exists() and list((tmp_path / "runs").iterdir()) == []


def test_llava_rad_without_base_llm_names_the_download(replica, tmp_path, capsys):
    from radzoo.cli import main

    assert main(["import", "llava-rad", str(replica / "llava-rad"), "--out", str(tmp_path / "run")]) == 2
    assert "hf download lmsys/vicuna-7b-v1.5 --local-dir DIR" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


def test_imported_run_generates_and_evaluates_through_the_cli(imported, tmp_path, capsys):
    from radzoo.cli import main
    from radzoo.data.synthetic import generate as make_synthetic

    run, _, _ = imported
    data = make_synthetic(tmp_path / "data", n=2, image_size=64)
    preds = tmp_path / "preds.jsonl"
    assert main(["generate", str(run), "generation.max_new_tokens=4", "--data", str(data), "--format", "synthetic",
                 "--split", "all", "--out", str(preds)]) == 0
    records = [json.loads(line) for line in preds.read_text().splitlines()]
    assert len(records) == 2 and all(r["prediction"] is not None for r in records)
    metrics = tmp_path / "metrics.json"
    assert main(["evaluate", "--predictions", str(preds), "--metrics", "chexpert", "--bootstrap", "0",
                 "--out", str(metrics)]) == 0
    result = json.loads(metrics.read_text())
    assert result["n"] == 2
    assert "chexpert" in result["evaluators"] and result["metrics"]
