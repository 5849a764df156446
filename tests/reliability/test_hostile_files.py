"""Hostile weight files: a pickle whose payload would run code is refused before it runs, wherever weights load."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
import torch
from conftest import QUIET_TRAIN, cli_error

import radzoo
from radzoo.recipe.load import load_recipe, recipe_hash
from radzoo.runs.store import save_run
from radzoo.training.checkpoints import LAST, TrainState, save_checkpoint

REPO = Path(__file__).resolve().parents[2]


class Payload:
    """Unpickling this calls open(marker, "w"): the file appearing means code from the data ran."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return open, (str(self.marker), "w")


def poison(path: Path, marker: Path) -> Path:
    """Overwrite ``path`` with a torch pickle carrying the payload (beside plausible tensors)."""
    torch.save({"adapter.proj.weight": torch.zeros(2), "model_state_dict": Payload(marker)}, path)
    return path


def test_run_directory_with_a_pickled_model_file_is_refused(tiny_llava_rad, tiny_set: Path, tmp_path: Path,
                                                            capsys) -> None:
    run, marker = tmp_path / "run", tmp_path / "PWNED"
    save_run(tiny_llava_rad, load_recipe("demo/llava-rad"), run)
    poison(run / "model.safetensors", marker)
    message = cli_error(capsys, "generate", run, "--data", tiny_set, "--split", "all", "--out", tmp_path / "p.jsonl")
    assert message.startswith(f"radzoo generate: error: {run / 'model.safetensors'}: not a valid safetensors file (")
    assert message.endswith("radzoo loads weights from safetensors only, never from pickle files")
    assert not marker.exists()


def test_resume_checkpoint_with_a_pickled_weights_file_is_refused(tmp_path: Path, capsys) -> None:
    overrides = [*QUIET_TRAIN, "stages.0.max_steps=1"]
    run, marker = tmp_path / "run", tmp_path / "PWNED"
    state = TrainState(0, 1, recipe_hash=recipe_hash(load_recipe("demo/llava-rad", overrides)))
    save_checkpoint(run / "checkpoints" / LAST, {"adapter.proj.weight": torch.zeros(2)}, state)
    poison(run / "checkpoints" / LAST / "weights-0-1.safetensors", marker)
    message = cli_error(capsys, "train", "demo/llava-rad", *overrides, "--out", run, "--resume")
    assert "weights-0-1.safetensors: not a valid safetensors file" in message
    assert not marker.exists()


def test_chexbert_checkpoint_with_a_payload_is_refused_unrun(tmp_path: Path, capsys) -> None:
    from test_chexbert import save_tiny_chexbert

    _, bert_dir = save_tiny_chexbert(tmp_path)
    evil, marker = tmp_path / "chexbert.pth", tmp_path / "PWNED"
    torch.save({"epoch": 1, "model_state_dict": Payload(marker)}, evil)
    predictions = tmp_path / "p.jsonl"
    predictions.write_text('{"id": 1, "prediction": "No effusion.", "reference": "Small effusion."}\n')
    message = cli_error(capsys, "evaluate", "--predictions", predictions, "--metrics", "chexbert",
                        "--option", f"chexbert.checkpoint_path={evil}", "--option", f"chexbert.bert_path={bert_dir}",
                        "--out", tmp_path / "m.json")
    assert message.startswith(f"radzoo evaluate: error: chexbert: {evil} holds the Python object io.open, not only "
                              "tensors: radzoo never unpickles arbitrary objects (it loads torch files with "
                              "weights_only=True), so the file was refused unrun; download chexbert.pth from")
    assert not marker.exists()


def test_encoder_weights_with_a_payload_are_refused_unrun(tmp_path: Path) -> None:
    from radzoo.files.weight_files import read_weights

    marker = tmp_path / "PWNED"
    with pytest.raises(ValueError, match=r"holds the Python object io\.open, not only tensors"):
        read_weights(poison(tmp_path / "encoder.pt", marker))
    assert not marker.exists()


def source_files() -> list[Path]:
    roots = [Path(radzoo.__file__).parent, REPO / "plugins"]
    return sorted({p for root in roots for p in root.rglob("*.py")})


def unsafe_calls(path: Path, root: Path = REPO) -> list[str]:
    """Calls in ``path`` that could run code from data: unpickling, eval/exec, remote code, named classes."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Constant) and node.value == "_target_":
            found.append("a '_target_' key (instantiation from config)")
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
        owner = func.value.id if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) else ""
        keywords = {k.arg: k.value for k in node.keywords}
        flag = {k: v.value for k, v in keywords.items() if isinstance(v, ast.Constant)}
        if (owner, name) == ("torch", "load") and flag.get("weights_only") is not True:
            found.append("torch.load without weights_only=True")
        elif owner in ("pickle", "dill", "joblib", "cloudpickle") and name.startswith("load"):
            found.append(f"{owner}.{name}")
        elif owner == "yaml" and name in ("load", "unsafe_load", "full_load", "load_all"):
            found.append(f"yaml.{name} (use yaml.safe_load)")
        elif (isinstance(func, ast.Name) and name in ("eval", "exec")) or name in ("instantiate", "locate",
                                                                                    "register_new_resolver"):
            found.append(name)
        elif flag.get("trust_remote_code") is True:
            found.append("trust_remote_code=True")
    return [f"{path.relative_to(root)}: {what}" for what in found]


def test_source_has_no_unsafe_loader_or_instantiation_from_data() -> None:
    """Every torch.load is weights-only; nothing unpickles, evals, or instantiates classes named by data."""
    assert [problem for path in source_files() for problem in unsafe_calls(path)] == []


def test_the_source_scan_catches_what_it_looks_for(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text("import torch, yaml, pickle\ntorch.load(p)\ntorch.load(p, weights_only=True)\n"
                      "eval('1')\nmodel.eval()\ncfg['_target_']\nyaml.load(s)\nyaml.safe_load(s)\n"
                      "pickle.loads(b)\nAutoModel.from_pretrained(p, trust_remote_code=True)\n"
                      "message = 'never torch.load(x) unsafely'\n")
    assert sorted(unsafe_calls(sample, tmp_path)) == sorted(f"sample.py: {what}" for what in (
        "torch.load without weights_only=True", "eval", "a '_target_' key (instantiation from config)",
        "yaml.load (use yaml.safe_load)", "pickle.loads", "trust_remote_code=True"))
