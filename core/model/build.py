"""build_model: recipe -> registries -> components -> LoRA -> freezing -> RadiologyVLM."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

from omegaconf import DictConfig

from radzoo.components.discovery import create_component
from radzoo.errors import RecipeError
from radzoo.files.weights import WeightsNotFoundError
from radzoo.model.prompting import PromptBuilder
from radzoo.model.vlm import RadiologyVLM
from radzoo.model.weights_check import WEIGHTED_PARTS, check_weights_up_front, component_args, missing_parts_error


def apply_lora(llm: Any, lora_cfg: Any) -> None:
    """Wrap ``llm.model`` with peft LoRA on the recipe's (or the LLM plugin's) target modules."""
    from peft import LoraConfig, get_peft_model

    targets = list(lora_cfg.target_modules) if lora_cfg.target_modules else list(llm.lora_target_modules)
    present = {name.rsplit(".", 1)[-1] for name, _ in llm.model.named_modules()}
    missing = [t for t in targets if t not in present]
    if missing:
        linear = sorted({n.rsplit(".", 1)[-1] for n, m in llm.model.named_modules()
                         if type(m).__name__ == "Linear" and "." in n})
        raise RecipeError(f"recipe key 'llm.lora.target_modules': {missing} not found in {llm.name or 'the LLM'}; "
                          f"its linear layers are: {', '.join(linear)}")
    config = LoraConfig(r=int(lora_cfg.r), lora_alpha=int(lora_cfg.alpha), lora_dropout=float(lora_cfg.dropout),
                        target_modules=targets, task_type="CAUSAL_LM", bias="none")
    with warnings.catch_warnings():
        # peft (0.21) reads transformers' deprecated `is_gradient_checkpointing` through getattr with a default,
        # so it keeps working after transformers v6 removes it; the warning is peft's to fix, not a user's
        warnings.filterwarnings("ignore", message=r".*is_gradient_checkpointing.*deprecated", category=FutureWarning)
        llm.model = get_peft_model(llm.model, config)


def build_model(recipe: DictConfig, source: str | Path | None = None) -> RadiologyVLM:
    """Build the recipe's model; what is trainable follows the recipe's ``freeze`` flags and LoRA.

    ``source`` (the recipe's file or bundled name) is named in recipe errors found while building.
    """
    try:
        return _build(recipe)
    except RecipeError as exc:
        if source is None or str(source) in str(exc):
            raise
        raise RecipeError(f"{exc} (recipe {source})") from None


def _load_parts(recipe: DictConfig) -> tuple[Any, Any]:
    """The encoder and the LLM; weights missing locally for either are named together, in one error, and an
    unreachable hub makes that error immediate (see radzoo.model.weights_check) instead of a minute of retries each."""
    check_weights_up_front(recipe)  # before any factory imports open_clip/transformers
    parts, missing = {}, []
    for kind in WEIGHTED_PARTS:
        try:
            parts[kind] = create_component(kind, recipe[kind].name, component_args(recipe[kind].args), recipe_key=kind)
        except WeightsNotFoundError as exc:  # what the light checks cannot see (e.g. an unlisted open_clip tag)
            missing.append(str(exc))
    if missing:
        raise missing_parts_error(missing)
    return parts["encoder"], parts["llm"]


def _build(recipe: DictConfig) -> RadiologyVLM:
    encoder, llm = _load_parts(recipe)
    adapter_args = {"in_dim": int(encoder.embed_dim), "out_dim": int(llm.hidden_size),
                    **component_args(recipe.adapter.args)}
    adapter = create_component("adapter", recipe.adapter.name, adapter_args, recipe_key="adapter")
    if recipe.llm.lora is not None:
        apply_lora(llm, recipe.llm.lora)
    try:
        prompt = PromptBuilder.from_recipe(recipe.prompt, llm.prompt_format,
                                           grounded=recipe.generation.get("task", "report") == "grounded_report")
    except ValueError as exc:
        raise RecipeError(f"recipe: {exc}") from None
    model = RadiologyVLM(encoder, adapter, llm, prompt, name=recipe.name)
    parts = ["adapter"] if not recipe.adapter.freeze else []
    if not recipe.encoder.freeze:
        parts.append("encoder")
    if recipe.llm.lora is not None:
        parts.append("lora")
    elif not recipe.llm.freeze:
        parts.append("llm")
    model.set_trainable(parts)
    return model
