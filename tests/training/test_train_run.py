"""Training runs on tiny images: loss falls, stages chain, resume = uninterrupted run, cache = no cache."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from radzoo.data.study import Study
from radzoo.runs.store import load_trained_model, load_weights
from radzoo.training.pipeline import train

REPORTS = ("The heart is enlarged. Small right pleural effusion.",
           "The heart size is normal. The lungs are clear. No pleural effusion.")
QUIET = ["trainer.accelerator=cpu", "trainer.progress_bar=false", "trainer.loggers=[csv]"]


def make_studies(root: Path, n: int = 16) -> list[Study]:
    """Grey squares with a large or a small bright 'heart' and the matching report and labels."""
    rng = np.random.default_rng(0)
    root.mkdir(parents=True, exist_ok=True)
    studies = []
    for i in range(n):
        big = i % 2 == 0
        img = np.full((64, 64), 30, np.uint8)
        w = 28 if big else 12
        img[24:24 + w, 32 - w // 2:32 + w // 2] = 210
        img = np.clip(img + rng.integers(0, 25, img.shape), 0, 255).astype(np.uint8)
        path = root / f"study{i}.png"
        Image.fromarray(img).save(path)
        labels = {"Cardiomegaly": 1.0 if big else 0.0, "Pleural Effusion": 1.0 if big else 0.0,
                  "No Finding": 0.0 if big else 1.0, "Edema": -1.0}
        studies.append(Study(f"s{i}", str(path), REPORTS[0 if big else 1], labels=labels))
    return studies


@pytest.fixture(scope="module")
def studies(tmp_path_factory) -> list[Study]:
    return make_studies(tmp_path_factory.mktemp("images"))


def steps(*counts: int, batch: int = 4) -> list[str]:
    """Overrides giving stage i ``counts[i]`` optimizer steps of ``batch`` examples."""
    return [o for i, n in enumerate(counts) for o in (f"stages.{i}.max_steps={n}", f"stages.{i}.batch_size={batch}")]


def test_report_loss_falls_and_run_dir_loads(studies, tmp_path: Path) -> None:
    overrides = QUIET + steps(6, 30) + ["stages.1.lr=3e-3", "stages.1.warmup_ratio=0.1"]
    result = train("demo/llava-rad", tmp_path / "run", overrides=overrides, studies=studies)
    align, finetune = result.stages
    assert (align.name, align.steps, finetune.name, finetune.steps) == ("align", 6, "finetune", 30)
    assert finetune.end_loss < 0.5 * align.start_loss
    summary = json.loads((tmp_path / "run" / "train_summary.json").read_text())
    assert len(summary["losses"]["finetune"]) == 30
    assert (tmp_path / "run" / "logs" / "finetune" / "metrics.csv").is_file()
    weights = load_weights(tmp_path / "run" / "model.safetensors")  # only what training changed
    assert weights and all(k.startswith("adapter.") or "lora_" in k for k in weights)
    assert any("lora_" in k for k in weights)
    model, recipe = load_trained_model(tmp_path / "run")
    own = model.state_dict()
    for key, value in weights.items():
        assert torch.equal(own[key], value)
    assert recipe.stages[1].max_steps == 30  # the resolved recipe, overrides included


def test_resume_gives_the_uninterrupted_result(studies, tmp_path: Path) -> None:
    # LoRA dropout draws random numbers: resuming must restore the RNG, not only weights and optimizer
    overrides = QUIET + steps(4, 4) + ["trainer.checkpoint_every_n_steps=2", "llm.lora.dropout=0.1"]
    train("demo/llava-rad", tmp_path / "whole", overrides=overrides, studies=studies)
    first = train("demo/llava-rad", tmp_path / "parts", overrides=overrides, studies=studies, stop_after_steps=3)
    assert first.stopped_early and not (tmp_path / "parts" / "model.safetensors").exists()
    with pytest.raises(FileExistsError, match="--resume"):
        train("demo/llava-rad", tmp_path / "parts", overrides=overrides, studies=studies)
    with pytest.raises(ValueError, match="differs"):
        train("demo/llava-rad", tmp_path / "parts", resume=True, overrides=overrides + ["stages.1.lr=1"],
              studies=studies)
    second = train("demo/llava-rad", tmp_path / "parts", resume=True, overrides=overrides, studies=studies,
                   stop_after_steps=6)  # stops inside the second stage
    assert [(s.name, s.steps) for s in second.stages] == [("align", 1), ("finetune", 2)]
    train("demo/llava-rad", tmp_path / "parts", resume=True, overrides=overrides, studies=studies)
    whole = load_weights(tmp_path / "whole" / "model.safetensors")
    parts = load_weights(tmp_path / "parts" / "model.safetensors")
    assert whole.keys() == parts.keys()
    for key in whole:
        assert torch.equal(whole[key], parts[key]), key
    losses = [json.loads((tmp_path / d / "train_summary.json").read_text())["losses"] for d in ("whole", "parts")]
    assert losses[0] == losses[1]


def test_feature_cache_gives_the_same_losses(studies, tmp_path: Path) -> None:
    overrides = QUIET + steps(3, 3)
    plain = train("demo/llava-rad", tmp_path / "plain", overrides=overrides + ["trainer.feature_cache=false"],
                  studies=studies)
    cached = train("demo/llava-rad", tmp_path / "cached", overrides=overrides + ["trainer.feature_cache=true"],
                   studies=studies)
    assert len(list((tmp_path / "cached" / "feature_cache").rglob("*.safetensors"))) == len(studies)
    plain_losses = json.loads((tmp_path / "plain" / "train_summary.json").read_text())["losses"]
    cached_losses = json.loads((tmp_path / "cached" / "train_summary.json").read_text())["losses"]
    for stage in ("align", "finetune"):
        np.testing.assert_allclose(cached_losses[stage], plain_losses[stage], rtol=1e-4)
    assert [s.steps for s in cached.stages] == [s.steps for s in plain.stages] == [3, 3]


def test_label_pretraining_then_alignment(studies, tmp_path: Path) -> None:
    overrides = QUIET + steps(8, 2, 2) + ["stages.0.lr=3e-3", "trainer.uncertain_labels=positive",
                                          "trainer.feature_cache=true"]
    result = train("demo/cxr-llava", tmp_path / "run", overrides=overrides, studies=studies)
    assert [s.name for s in result.stages] == ["pretrain_encoder", "align", "finetune"]
    assert result.stages[0].end_loss < result.stages[0].start_loss
    weights = load_weights(tmp_path / "run" / "model.safetensors")
    # the encoder trained in stage 1, so the final weights keep it (and its head) beside adapter and LoRA
    assert {k.split(".")[0] for k in weights} == {"encoder", "encoder_head", "adapter", "language_model"}
    assert weights["encoder_head.weight"].shape[0] == 14
    model, _ = load_trained_model(tmp_path / "run")
    assert torch.equal(model.state_dict()["encoder.model.patch_embed.proj.weight"],
                       weights["encoder.model.patch_embed.proj.weight"])


def test_bad_training_settings_are_named(studies, tmp_path: Path) -> None:
    import radzoo
    import radzoo.training.pipeline  # binds the package attribute to the module: radzoo.train(...) must still train

    with pytest.raises(ValueError, match="deepspeed"):
        radzoo.train("demo/llava-rad", tmp_path / "ds", studies,
                     overrides=QUIET + ["trainer.strategy=deepspeed_stage_2"])
    with pytest.raises(ValueError, match="uncertain_labels"):
        train("demo/llava-rad", tmp_path / "u", overrides=QUIET + ["trainer.uncertain_labels=maybe"], studies=studies)
    with pytest.raises(ValueError, match=r"stages\[0\].*encoder_head"):
        train("demo/llava-rad", tmp_path / "l", overrides=QUIET + ["stages.0.task=labels"], studies=studies)


DDP_SCRIPT = """
import json, sys
import torch
torch.set_num_threads(1)
from radzoo.data.study import Study
from radzoo.training.pipeline import train
studies = [Study(**row) for row in json.loads(open(sys.argv[1]).read())]
train("demo/llava-rad", sys.argv[2], overrides=json.loads(sys.argv[3]), studies=studies)
"""


@pytest.mark.slow
def test_ddp_two_cpu_processes_agree_and_learn(studies, tmp_path: Path) -> None:
    """Lightning's DDP launcher re-runs the script as rank 1; gloo syncs gradients on CPU."""
    import dataclasses
    import os
    import subprocess
    import sys

    (tmp_path / "studies.json").write_text(json.dumps([dataclasses.asdict(s) for s in studies]))
    (tmp_path / "ddp_train.py").write_text(DDP_SCRIPT)
    overrides = QUIET[1:] + steps(2, 10) + ["stages.1.lr=1e-2", "trainer.accelerator=cpu", "trainer.devices=2",
                                            "trainer.strategy=ddp"]
    launcher_keys = ("MASTER_ADDR", "MASTER_PORT", "LOCAL_RANK", "NODE_RANK", "RANK", "WORLD_SIZE")
    env = {k: v for k, v in os.environ.items() if k not in launcher_keys}  # Lightning picks a free port
    env.update(OMP_NUM_THREADS="1", PYTHONWARNINGS="ignore")
    proc = subprocess.run([sys.executable, str(tmp_path / "ddp_train.py"), str(tmp_path / "studies.json"),
                           str(tmp_path / "run"), json.dumps(overrides)], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    summary = json.loads((tmp_path / "run" / "train_summary.json").read_text())
    for stage in ("align", "finetune"):
        checksums = summary["replica_checksums"][stage]
        assert len(checksums) == 2 and checksums[0] == checksums[1], (stage, checksums)
    finetune = summary["stages"][1]
    assert finetune["samples"] == 10 * 4 * 2  # each step sees a batch of 4 on each of the 2 ranks
    assert finetune["end_loss"] < finetune["start_loss"] - 0.5
    assert (tmp_path / "run" / "model.safetensors").is_file()


def test_accumulation_mixed_precision_and_gradient_checkpointing(studies, tmp_path: Path) -> None:
    overrides = QUIET + steps(2, 3, batch=2) + [
        "trainer.accumulate_grad_batches=2", "trainer.precision=bf16-mixed", "trainer.gradient_checkpointing=true",
        "trainer.loggers=[csv,tensorboard]"]
    result = train("demo/llava-rad", tmp_path / "run", overrides=overrides, studies=studies)
    assert [(s.steps, s.samples) for s in result.stages] == [(2, 8), (3, 12)]  # 2 micro-batches of 2 per step
    assert all(np.isfinite([s.start_loss, s.end_loss]).all() for s in result.stages)
    losses = json.loads((tmp_path / "run" / "train_summary.json").read_text())["losses"]
    assert [len(v) for v in losses.values()] == [2, 3]
    assert list((tmp_path / "run" / "tensorboard" / "finetune").glob("events.*"))


def test_cli_trains_from_a_csv_and_resumes(studies, tmp_path: Path, capsys) -> None:
    from radzoo.cli import main

    csv = tmp_path / "reports.csv"
    csv.write_text("id,image,report\n" + "".join(f'{s.id},{s.image},"{s.report}"\n' for s in studies))
    args = ["train", "demo/llava-rad", "data.format=csv", f"data.path={csv}", *QUIET, *steps(2, 2),
            "--out", str(tmp_path / "run")]
    assert main(args + ["--stop-after-steps", "3"]) == 0
    assert "stopped early" in capsys.readouterr().out
    assert main(args) == 2  # the run exists: the user is told to pass --resume
    assert "--resume" in capsys.readouterr().err
    assert main(args + ["--resume"]) == 0
    out = capsys.readouterr().out
    assert "finetune: 1 steps" in out and "done:" in out
    saved = (tmp_path / "run" / "recipe.yaml").read_text()
    assert "format: csv" in saved and "max_steps: 2" in saved
    assert (tmp_path / "run" / "model.safetensors").is_file()


@pytest.fixture(scope="module")
def synthetic_studies(tmp_path_factory) -> list[Study]:
    from radzoo.data.readers import read_studies
    from radzoo.data.synthetic import generate

    folder = generate(tmp_path_factory.mktemp("synthetic"), 12, seed=0)
    return read_studies({"format": "synthetic", "path": str(folder)}).studies


@pytest.mark.parametrize("recipe_name", ["demo/slava-cxr", "demo/cxr-llava", "demo/llava-rad"])
def test_demo_recipes_train_through_all_stages(recipe_name: str, synthetic_studies, tmp_path: Path) -> None:
    from radzoo import load_recipe

    names = [s.name for s in load_recipe(recipe_name).stages]
    result = train(recipe_name, tmp_path / "run", overrides=QUIET + steps(*[2] * len(names)),
                   studies=synthetic_studies)
    assert [(s.name, s.steps) for s in result.stages] == [(n, 2) for n in names]
    assert all(np.isfinite(s.end_loss) for s in result.stages)
    assert sorted(p.name for p in (tmp_path / "run" / "checkpoints").iterdir()) == sorted([*names, "last"])


def test_instruction_stage_trains_on_question_answer_pairs(synthetic_studies) -> None:
    from radzoo import build_model, load_recipe
    from radzoo.training.dataset import StageDataset

    model = build_model(load_recipe("demo/slava-cxr"))
    dataset = StageDataset(synthetic_studies, model, "instruction", seed=0)
    assert len(dataset) > len(synthetic_studies)  # several questions per study
    assert len(StageDataset(synthetic_studies, model, "instruction", seed=0)) == len(dataset)  # seeded
    item = dataset[0]
    question, answer = dataset.items[0][1], dataset.items[0][2]
    prompt = model.tokenizer.decode([t for t, lab in zip(item["input_ids"], item["labels"]) if lab == -100 and t >= 0])
    target = model.tokenizer.decode([t for t in item["labels"] if t != -100])
    assert question.replace("<image>", "").strip()[:20] in prompt and "USER:" in prompt
    assert answer.strip()[:20] in target


def test_resume_after_label_pretraining_keeps_the_trained_encoder(studies, tmp_path: Path) -> None:
    overrides = QUIET + steps(2, 2, 2) + ["trainer.checkpoint_every_n_steps=1"]
    train("demo/cxr-llava", tmp_path / "whole", overrides=overrides, studies=studies)
    train("demo/cxr-llava", tmp_path / "parts", overrides=overrides, studies=studies, stop_after_steps=3)
    train("demo/cxr-llava", tmp_path / "parts", resume=True, overrides=overrides, studies=studies)
    whole = load_weights(tmp_path / "whole" / "model.safetensors")
    parts = load_weights(tmp_path / "parts" / "model.safetensors")
    assert whole.keys() == parts.keys() and "encoder_head.weight" in whole
    for key in whole:
        assert torch.equal(whole[key], parts[key]), key
