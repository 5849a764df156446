"""LoRA on the language model: wrap it (``apply_lora``, at build) and fold it back in (``merged_language_model``,
for export and ``train --init``)."""

from __future__ import annotations

import warnings
from typing import Any

from radzoo.errors import RecipeError


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


def merged_language_model(model: Any) -> Any:
    """The model's LM with LoRA folded into the base weights (peft merge_and_unload); plain LMs as they are."""
    lm = model.language_model
    if hasattr(lm, "merge_and_unload"):
        lm = lm.merge_and_unload()
        model.language_model = lm
    return lm
