"""One forward/backward pass on random images and short reports: proves a recipe's model is wired up."""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image

from radzoo.errors import RunFailedError
from radzoo.model.prompting import encode_example
from radzoo.model.vlm import RadiologyVLM

SMOKE_REPORTS = ("The lungs are clear. No pleural effusion or pneumothorax.",
                 "Small left pleural effusion. The heart is mildly enlarged.")


def collate_examples(examples: list[dict[str, list[int]]], pad_id: int) -> dict[str, torch.Tensor]:
    """Right-pad ``input_ids``/``labels`` lists into tensors with an attention mask."""
    width = max(len(e["input_ids"]) for e in examples)
    ids = torch.full((len(examples), width), pad_id, dtype=torch.long)
    labels = torch.full((len(examples), width), -100, dtype=torch.long)
    mask = torch.zeros((len(examples), width), dtype=torch.long)
    for i, e in enumerate(examples):
        n = len(e["input_ids"])
        ids[i, :n] = torch.tensor(e["input_ids"])
        labels[i, :n] = torch.tensor(e["labels"])
        mask[i, :n] = 1
    return {"input_ids": ids, "labels": labels, "attention_mask": mask}


def smoke_step(model: RadiologyVLM, seed: int = 0) -> float:
    """Loss of one forward/backward pass; raises if no trainable parameter received a gradient."""
    rng = np.random.default_rng(seed)
    transform = model.encoder.image_transform(False)
    images = [Image.fromarray((rng.random((96, 80)) * 255).astype("uint8")) for _ in SMOKE_REPORTS]
    pixels = torch.stack([transform(img) for img in images])
    batch = collate_examples([encode_example(model.tokenizer, model.prompt, r) for r in SMOKE_REPORTS],
                             model.tokenizer.pad_token_id)
    model.zero_grad(set_to_none=True)
    out = model(pixel_values=pixels, **batch)
    out.loss.backward()
    trainable = [p for p in model.parameters() if p.requires_grad]
    if trainable and not any(p.grad is not None and p.grad.abs().sum() > 0 for p in trainable):
        raise RunFailedError("no trainable parameter received a gradient; check the recipe's freeze/LoRA settings")
    return out.loss.item()
