"""RadiologyVLM: encode the image, adapt it, splice the image tokens into the prompt, run the LLM."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch
from PIL import Image
from torch import nn

from radzoo.errors import InputError
from radzoo.model.parts import PARTS
from radzoo.model.prompting import IGNORE_INDEX, IMAGE_TOKEN_INDEX, PromptBuilder


class RadiologyVLM(nn.Module):
    """A LLaVA-style model: ``encoder -> adapter -> [text | image tokens | text] -> language_model``."""

    def __init__(self, encoder: nn.Module, adapter: nn.Module, llm: Any, prompt: PromptBuilder,
                 name: str = "radzoo") -> None:
        super().__init__()
        self.encoder = encoder
        self.adapter = adapter
        self.language_model = llm.model
        self.prompt = prompt
        self.name = name
        self.encoder_head: nn.Module | None = None  # a label-classification head, added by pre-training stages
        # the wrapper holds the tokenizer and metadata; keep it out of the module tree
        object.__setattr__(self, "llm", llm)

    @property
    def tokenizer(self) -> Any:
        return self.llm.tokenizer

    # ----------------------------------------------------------------- forward
    def encode_images(self, pixel_values: torch.Tensor | None = None,
                      image_features: torch.Tensor | None = None) -> torch.Tensor:
        """``[B, M, hidden]`` image embeddings; ``image_features`` skips a frozen encoder (feature cache)."""
        if image_features is None:
            if pixel_values is None:
                raise ValueError("encode_images needs pixel_values or precomputed image_features")
            param = next(self.encoder.parameters(), None)
            if param is not None:
                pixel_values = pixel_values.to(device=param.device, dtype=param.dtype)
            image_features = self.encoder(pixel_values)
        param = next(self.adapter.parameters(), None)
        if param is not None:
            image_features = image_features.to(device=param.device, dtype=param.dtype)
        return self.adapter(image_features)

    def splice(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, image_embeds: torch.Tensor,
               labels: torch.Tensor | None = None, left_pad: bool = False
               ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """Replace each IMAGE_TOKEN_INDEX by the next image's embeddings; re-pad rows to one length.

        ``image_embeds`` holds every image of the batch in order, ``[sum of images, M, hidden]``: row by row, each
        placeholder of a row takes the next one (a one-image prompt has one placeholder, so one image a row)."""
        embed = self.language_model.get_input_embeddings()
        counts = [int((input_ids[i][attention_mask[i].bool()] == IMAGE_TOKEN_INDEX).sum())
                  for i in range(input_ids.shape[0])]
        if sum(counts) != image_embeds.shape[0] or 0 in counts:
            raise InputError(f"the batch's prompts hold {counts} <image> placeholders per row for "
                             f"{image_embeds.shape[0]} images; each row needs one placeholder per image it reads")
        rows, row_labels, next_image = [], [], 0
        for i in range(input_ids.shape[0]):
            keep = attention_mask[i].bool()
            ids = input_ids[i][keep]
            text = embed(ids.clamp(min=0))
            lab = labels[i][keep] if labels is not None else None
            pieces, label_pieces, start = [], [], 0
            for p in (ids == IMAGE_TOKEN_INDEX).nonzero().flatten().tolist():
                img = image_embeds[next_image].to(text.dtype)
                next_image += 1
                pieces += [text[start:p], img]
                if lab is not None:
                    label_pieces += [lab[start:p], torch.full((img.shape[0],), IGNORE_INDEX, dtype=lab.dtype,
                                                              device=lab.device)]
                start = p + 1
            rows.append(torch.cat(pieces + [text[start:]]))
            if lab is not None:
                row_labels.append(torch.cat(label_pieces + [lab[start:]]))
        width = max(r.shape[0] for r in rows)
        batch = len(rows)
        hidden = rows[0].shape[-1]
        embeds = rows[0].new_zeros(batch, width, hidden)
        mask = torch.zeros(batch, width, dtype=torch.long, device=embeds.device)
        out_labels = (torch.full((batch, width), IGNORE_INDEX, dtype=torch.long, device=embeds.device)
                      if labels is not None else None)
        for i, row in enumerate(rows):
            n = row.shape[0]
            span = slice(width - n, width) if left_pad else slice(0, n)
            embeds[i, span] = row
            mask[i, span] = 1
            if out_labels is not None:
                out_labels[i, span] = row_labels[i]
        return embeds, mask, out_labels

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, labels: torch.Tensor | None = None,
                pixel_values: torch.Tensor | None = None, image_features: torch.Tensor | None = None,
                **_: Any) -> Any:
        """LM output; ``loss`` is the mean cross-entropy over answer tokens only."""
        image_embeds = self.encode_images(pixel_values, image_features)
        embeds, mask, labels = self.splice(input_ids, attention_mask, image_embeds, labels)
        return self.language_model(inputs_embeds=embeds, attention_mask=mask, labels=labels)

    @torch.no_grad()
    def generate(self, input_ids: torch.Tensor, attention_mask: torch.Tensor,
                 pixel_values: torch.Tensor | None = None, image_features: torch.Tensor | None = None,
                 **generate_kwargs: Any) -> torch.Tensor:
        """New token ids ``[B, T]`` (left-padded prompts, KV cache); decode with the tokenizer."""
        image_embeds = self.encode_images(pixel_values, image_features)
        embeds, mask, _ = self.splice(input_ids, attention_mask, image_embeds, left_pad=True)
        tok = self.tokenizer
        generate_kwargs.setdefault("pad_token_id", tok.pad_token_id)
        generate_kwargs.setdefault("eos_token_id", tok.eos_token_id)
        return self.language_model.generate(inputs_embeds=embeds, attention_mask=mask, **generate_kwargs)

    # ------------------------------------------------------------ trainability
    def part_parameters(self, part: str) -> list[tuple[str, nn.Parameter]]:
        """Named parameters of one part: encoder, encoder_head, adapter, llm (all LM weights) or lora."""
        if part not in PARTS:
            raise InputError(f"unknown model part {part!r}; parts are {', '.join(PARTS)}")
        if part == "lora":
            return [(n, p) for n, p in self.language_model.named_parameters() if "lora_" in n]
        module = {"encoder": self.encoder, "encoder_head": self.encoder_head, "adapter": self.adapter,
                  "llm": self.language_model}[part]
        return list(module.named_parameters()) if module is not None else []

    def set_trainable(self, parts: Iterable[str]) -> None:
        """Freeze everything, then unfreeze exactly ``parts``."""
        parts = list(parts)
        for p in self.parameters():
            p.requires_grad_(False)
        for part in parts:
            if part == "lora" and not self.part_parameters("lora"):
                raise InputError("a stage trains 'lora' but the recipe sets no llm.lora; add llm.lora or train 'llm'")
            for _, p in self.part_parameters(part):
                p.requires_grad_(True)

    def trainable_parts(self) -> list[str]:
        return [part for part in PARTS if any(p.requires_grad for _, p in self.part_parameters(part))]

    def parameter_counts(self) -> dict[str, dict[str, int]]:
        """Total and trainable parameters per part (LoRA counted inside ``llm`` and on its own)."""
        counts = {}
        for part in PARTS:
            params = [p for _, p in self.part_parameters(part)]
            if part == "encoder_head" and not params:
                continue
            counts[part] = {"total": sum(p.numel() for p in params),
                            "trainable": sum(p.numel() for p in params if p.requires_grad)}
        everything = list(self.parameters())
        counts["all"] = {"total": sum(p.numel() for p in everything),
                         "trainable": sum(p.numel() for p in everything if p.requires_grad)}
        return counts

    def trainable_state_dict(self) -> dict[str, torch.Tensor]:
        """Only the weights that training changes (what a radzoo checkpoint stores)."""
        names = {n for n, p in self.named_parameters() if p.requires_grad}
        return {n: t.detach().cpu() for n, t in self.state_dict().items() if n in names}

    def image_tokens(self) -> int:
        """Image tokens the LLM sees per image (after the adapter).

        ``num_tokens`` is optional in the encoder and adapter contracts: without it, one blank image goes
        through the encoder's own transform, the encoder and the adapter.
        """
        if hasattr(self.encoder, "num_tokens") and hasattr(self.adapter, "num_tokens"):
            return int(self.adapter.num_tokens(self.encoder.num_tokens))
        size = int(getattr(self.encoder, "image_size", 224))
        pixel_values = self.encoder.image_transform(False)(Image.new("L", (size, size)))[None]
        was_training = self.training
        self.eval()  # a probe must not move batch-norm statistics
        try:
            with torch.no_grad():
                return int(self.encode_images(pixel_values).shape[1])
        finally:
            self.train(was_training)
