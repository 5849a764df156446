"""Component protocols: what a plugin's factory must return (see DESIGN.md, "Public plugin contract")."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol, runtime_checkable

import torch
from PIL import Image


@runtime_checkable
class VisionEncoder(Protocol):
    """An ``nn.Module``: ``forward(pixel_values[B,C,H,W]) -> features[B,N,embed_dim]``."""

    embed_dim: int

    def forward(self, pixel_values: torch.Tensor) -> torch.Tensor: ...

    def image_transform(self, train: bool) -> Callable[[Image.Image], torch.Tensor]:
        """The encoder's own preprocessing (size, channels, mean/std) for one PIL image."""
        ...


@runtime_checkable
class Adapter(Protocol):
    """An ``nn.Module`` mapping ``[B,N,in_dim] -> [B,M,out_dim]``; built as ``factory(in_dim, out_dim, **args)``."""

    def forward(self, features: torch.Tensor) -> torch.Tensor: ...


@runtime_checkable
class PromptFormat(Protocol):
    """An LLM's conversation format: renders the text that precedes the assistant's answer."""

    name: str

    def render(self, user: str, system: str | None = None) -> str: ...


@runtime_checkable
class LanguageModel(Protocol):
    """A causal LM wrapper: HF ``model`` and ``tokenizer`` plus what radzoo needs to prompt and adapt it."""

    model: Any  # transformers.PreTrainedModel
    tokenizer: Any  # transformers.PreTrainedTokenizerBase
    hidden_size: int
    prompt_format: PromptFormat
    lora_target_modules: list[str]


@runtime_checkable
class Evaluator(Protocol):
    """Per-sample sufficient statistics, aggregated into metrics, so bootstrap resamples statistics."""

    name: str
    version: str
    metric_names: Sequence[str]
    higher_is_better: Mapping[str, bool]

    def sample_stats(self, predictions: Sequence[str], references: Sequence[str]) -> Any:
        """Statistics per sample (an array-like of length ``len(predictions)`` or a list)."""
        ...

    def aggregate(self, stats: Any, indices: Sequence[int] | None = None) -> dict[str, float]:
        """Metrics from the statistics of the samples at ``indices`` (all when ``None``)."""
        ...

    def options(self) -> dict[str, Any]:
        """The choices that change the numbers (tokenisation, uncertain policy, ...)."""
        ...


def check_component(kind: str, name: str, obj: Any) -> None:
    """Raise a clear TypeError when a plugin's factory returned something that breaks its protocol."""
    missing: list[str] = []
    if kind == "encoder":
        missing = [a for a in ("embed_dim", "forward", "image_transform") if not hasattr(obj, a)]
    elif kind == "adapter":
        missing = [a for a in ("forward", "parameters") if not hasattr(obj, a)]
    elif kind == "llm":
        missing = [
            a for a in ("model", "tokenizer", "hidden_size", "prompt_format", "lora_target_modules")
            if not hasattr(obj, a)
        ]
    elif kind == "evaluator":
        missing = [
            a for a in ("name", "version", "metric_names", "higher_is_better", "sample_stats", "aggregate")
            if not hasattr(obj, a)
        ]
    if missing:
        raise TypeError(
            f"{kind} {name!r} returned {type(obj).__name__}, which lacks {', '.join(missing)} required by the "
            f"radzoo {kind} protocol (see DESIGN.md 'Public plugin contract'); fix the plugin's factory"
        )
