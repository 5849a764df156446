"""Export a trained run: LoRA merged into the LM, saved as a standard transformers directory.

Layout of OUT:
    llm/                 save_pretrained of the merged LM and its tokenizer (loads with AutoModelForCausalLM)
    model.safetensors    encoder and adapter weights (plus an encoder head if trained)
    recipe.yaml          the run's recipe with llm -> hf-causal-lm at llm/ and no LoRA
    export.json          what was exported from where
`radzoo generate OUT` runs from it with the same greedy outputs as the run directory.
``--format llava-hf`` writes a transformers LlavaForConditionalGeneration directory instead (llava_hf_export).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from omegaconf import OmegaConf

from radzoo.runs.store import RECIPE_FILE, WEIGHTS_FILE, load_trained_model, save_weights
from radzoo.errors import InputError
from radzoo.files.atomic import atomic_directory
from radzoo.generation.pipeline import EXPORT_MARKER
from radzoo.recipe.load import save_recipe

LLM_DIR = "llm"
EXPORT_FORMATS = ("radzoo", "llava-hf")


def merged_language_model(model: Any) -> Any:
    """The model's LM with LoRA folded into the base weights (peft merge_and_unload); plain LMs as they are."""
    lm = model.language_model
    if hasattr(lm, "merge_and_unload"):
        lm = lm.merge_and_unload()
        model.language_model = lm
    return lm


def export_run(run_dir: str | Path, out: str | Path, format: str = "radzoo") -> Path:
    """Write ``out`` from a run directory in ``format`` (see the module docstring, or llava_hf_export for
    ``llava-hf``); returns ``out``."""
    if format == "llava-hf":
        from radzoo.runs.llava_hf_export import export_llava_hf  # cycle: llava_hf_export imports this module

        return export_llava_hf(run_dir, out).out
    if format != "radzoo":
        raise InputError(f"--format {format!r}: choose one of {', '.join(EXPORT_FORMATS)}")
    run_dir = Path(run_dir)
    with atomic_directory(out) as staged:
        _write_export(run_dir, staged)
    return Path(out)


def _write_export(run_dir: Path, out: Path) -> None:
    """The radzoo-format export of ``run_dir`` into the (staging) folder ``out``."""
    model, recipe = load_trained_model(run_dir)
    fmt = model.prompt.format.name
    lm = merged_language_model(model)
    lm.save_pretrained(out / LLM_DIR)
    model.tokenizer.save_pretrained(out / LLM_DIR)
    state = {k: v for k, v in model.state_dict().items() if not k.startswith("language_model.")}
    save_weights(state, out / WEIGHTS_FILE)
    exported = OmegaConf.create(OmegaConf.to_container(recipe, resolve=True))
    source_llm = str(exported.llm.name)
    exported.llm = {"name": "hf-causal-lm", "args": {"path": LLM_DIR, "prompt_format": fmt, "dtype": "auto"},
                    "freeze": True, "lora": None}
    exported.prompt.format = fmt
    save_recipe(exported, out / RECIPE_FILE)
    info = {"format": "radzoo-export", "source_run": str(run_dir.resolve()), "source_llm": source_llm,
            "lora_merged": recipe.llm.lora is not None, "llm_dir": LLM_DIR}
    (out / EXPORT_MARKER).write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")
