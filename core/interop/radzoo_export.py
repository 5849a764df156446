"""Export a trained run: LoRA merged into the LM, saved as a standard transformers directory.

Layout of OUT:
    llm/                 save_pretrained of the merged LM and its tokenizer (loads with AutoModelForCausalLM)
    model.safetensors    encoder and adapter weights (plus an encoder head if trained)
    recipe.yaml          the run's recipe with llm -> hf-causal-lm at llm/ and no LoRA
    export.json          what was exported from where
`radzoo generate OUT` runs from it with the same greedy outputs as the run directory.
``--format llava-hf`` writes a transformers LlavaForConditionalGeneration directory instead (interop.llava_hf).
"""

from __future__ import annotations

import json
from pathlib import Path

from omegaconf import OmegaConf

from radzoo.errors import InputError
from radzoo.files.atomic import atomic_directory, write_text_atomic
from radzoo.files.weight_files import save_weights
from radzoo.interop.llava_hf.export import export_llava_hf
from radzoo.model.lora import merged_language_model
from radzoo.recipe.load import save_recipe
from radzoo.runs.layout import EXPORT_FILE, LLM_DIR, RECIPE_FILE, WEIGHTS_FILE, require_run_dir
from radzoo.runs.open import open_model

EXPORT_FORMATS = ("radzoo", "llava-hf")


def export_run(run_dir: str | Path, out: str | Path, format: str = "radzoo") -> Path:
    """Write ``out`` from a run directory in ``format`` (see the module docstring, or llava_hf_export for
    ``llava-hf``); returns ``out``."""
    if format == "llava-hf":
        return export_llava_hf(run_dir, out).out
    if format != "radzoo":
        raise InputError(f"--format {format!r}: choose one of {', '.join(EXPORT_FORMATS)}")
    run_dir = require_run_dir(run_dir).path
    with atomic_directory(out) as staged:
        _write_export(run_dir, staged)
    return Path(out)


def _write_export(run_dir: Path, out: Path) -> None:
    """The radzoo-format export of ``run_dir`` into the (staging) folder ``out``."""
    model, recipe = open_model(run_dir)
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
    write_text_atomic(out / EXPORT_FILE, json.dumps(info, indent=2) + "\n")
