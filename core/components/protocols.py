"""Component protocols: what a plugin's factory must return (docs/ARCHITECTURE.md, "The plugin contract").

The Protocol classes are the contract; ``check_component`` derives its checks from them, so the contract is
written down once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from radzoo.errors import ContractError

if TYPE_CHECKING:  # annotations only: the plugin loader imports this module, and must not import torch
    import torch
    from PIL import Image

CONTRACT_DOC = "docs/ARCHITECTURE.md 'The plugin contract'"


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

    def parameters(self, recurse: bool = True) -> Iterator[torch.nn.Parameter]:
        """Its trainable weights (an ``nn.Module`` has them)."""
        ...


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
    """Per-sample sufficient statistics, aggregated into metrics, so bootstrap resamples statistics.

    Optional: ``options() -> dict`` naming the choices that change the numbers (tokenisation, uncertain
    policy, ...); ``radzoo evaluate`` saves them beside the metrics. A labelling evaluator (chexpert, chexbert)
    may also give ``label_names``, ``sample_labels(reports) -> [n][len(label_names)]`` (1.0 / 0.0 / -1.0 / None)
    and ``finding_counts(stats) -> [n, len(label_names), (tp, fp, fn)]`` under its options: compare writes them
    beside metrics.json, and the viewer's label chips and per-finding tables read them.
    """

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


# component kind -> the protocol its factory's result follows
PROTOCOLS: dict[str, type] = {"encoder": VisionEncoder, "adapter": Adapter, "llm": LanguageModel,
                              "evaluator": Evaluator}


def protocol_members(protocol: type) -> tuple[str, ...]:
    """The attributes and methods a Protocol class declares (annotations first, then methods, in order)."""
    methods = [name for name, value in vars(protocol).items() if callable(value) and not name.startswith("_")]
    return tuple(dict.fromkeys([*getattr(protocol, "__annotations__", {}), *methods]))


def check_component(kind: str, name: str, obj: Any) -> None:
    """Raise a ContractError when a plugin's factory returned something that breaks its kind's protocol."""
    missing = [member for member in protocol_members(PROTOCOLS[kind]) if not hasattr(obj, member)]
    if missing:
        raise ContractError(
            f"{kind} {name!r} returned {type(obj).__name__}, which lacks {', '.join(missing)} required by the "
            f"radzoo {kind} protocol (see {CONTRACT_DOC}); fix the plugin's factory"
        )
