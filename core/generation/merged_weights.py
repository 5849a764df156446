"""Inference copies of a decode step's weights: LoRA merged into its base weight, sibling projections stacked.

A LoRA projection costs three matrix products and a scaled add per token (``W x + s B (A x)``); merged
(``(W + s B A) x``, peft's own merge order) it costs one. Projections that read the same input (q/k/v; a
Llama MLP's gate/up) are stacked into one weight and their outputs split again, one product for the group.
For the demo's tiny models every product is mostly per-call overhead, so the decode step halves.

What stays equal: the greedy tokens (tests/generation/test_decode_engine.py checks them against transformers on
models whose LoRA weights are not zero). What does not: the bits. Merging rounds ``W + s B A`` once, where
transformers rounds ``W x`` and ``s B A x`` apart, so logits move by float32 rounding (about 1e-6 relative;
the lean step is float32 only for that reason).

The copies are cached on a ``WeightMerger`` and rebuilt when any source tensor is replaced or changed in
place (a training step, a loaded checkpoint: both bump the tensor's version counter). They cost memory, so a
merger makes copies up to ``budget_bytes`` and leaves the rest as they are (still exact LoRA sums).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F

# the demo models need a few MiB; a 7B model's copies would double its memory, so they stop here
MERGE_BUDGET_BYTES = 1 << 30


@dataclass(frozen=True)
class Projection:
    """A linear layer's weights and, under peft, its active LoRA pairs ``(A, B, scaling)``."""

    weight: torch.Tensor
    bias: torch.Tensor | None
    loras: tuple[tuple[torch.Tensor, torch.Tensor, float], ...] = ()

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        y = F.linear(x, self.weight, self.bias)
        for a, b, scaling in self.loras:  # peft's order: base + lora_B(lora_A(x)) * scaling
            y = y + F.linear(F.linear(x, a), b) * scaling
        return y

    def sources(self) -> tuple[torch.Tensor, ...]:
        """Every tensor this projection reads."""
        pairs = tuple(t for a, b, _ in self.loras for t in (a, b))
        return (self.weight, *((self.bias,) if self.bias is not None else ()), *pairs)

    def merged_weight(self) -> torch.Tensor:
        """``W + s B A`` for every LoRA pair, in peft's merge order (the base weight itself without LoRA)."""
        weight = self.weight
        for a, b, scaling in self.loras:
            weight = weight + (b @ a) * scaling
        return weight


@dataclass(frozen=True)
class ProjectionGroup:
    """Projections of one input: ``group(x)`` gives each one's output, from one stacked product or several."""

    parts: tuple[Projection, ...]
    sizes: tuple[int, ...] = ()  # output widths when ``parts`` is one stacked projection

    def __call__(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        if self.sizes:
            return self.parts[0](x).split(self.sizes, dim=-1)
        return tuple(p(x) for p in self.parts)

    def joined(self, x: torch.Tensor) -> torch.Tensor:
        """The projections' outputs side by side in one tensor (the stacked product's own output)."""
        return self.parts[0](x) if self.sizes or len(self.parts) == 1 else torch.cat(self(x), dim=-1)


@dataclass
class _Copy:
    sources: tuple[torch.Tensor, ...]
    versions: tuple[int, ...]
    scalings: tuple[float, ...]
    projection: Projection

    def still_of(self, sources: tuple[torch.Tensor, ...], scalings: tuple[float, ...]) -> bool:
        return (len(sources) == len(self.sources) and scalings == self.scalings and None not in self.versions
                and all(a is b and _version(a) == v for a, b, v in zip(sources, self.sources, self.versions)))


def _version(tensor: torch.Tensor) -> int | None:
    """The tensor's in-place version counter; None for an inference tensor, which keeps none (never cached)."""
    return None if tensor.is_inference() else tensor._version


class WeightMerger:
    """Merged, stacked inference copies of projection weights, kept until their sources change."""

    def __init__(self, budget_bytes: int = MERGE_BUDGET_BYTES) -> None:
        self.budget_bytes = budget_bytes
        self._copies: dict[tuple[int, ...], _Copy] = {}
        self._used: dict[tuple[int, ...], _Copy] = {}  # the copies asked for since ``begin``

    def begin(self) -> None:
        """Start a new set of requests; copies not asked for again by the next ``end`` are dropped."""
        self._used = {}

    def end(self) -> None:
        self._copies = self._used

    def group(self, parts: Sequence[Projection]) -> ProjectionGroup:
        """``parts`` (projections of one input) as one merged, stacked projection, within the memory budget."""
        parts = tuple(parts)
        if len(parts) == 1 and not parts[0].loras:
            return ProjectionGroup(parts)  # nothing to merge or stack: no copy
        sources = tuple(t for p in parts for t in p.sources())
        scalings = tuple(s for p in parts for _, _, s in p.loras)
        key = tuple(id(t) for t in sources)
        copy = self._copies.get(key)
        if copy is None or not copy.still_of(sources, scalings):
            size = sum(p.weight.numel() * p.weight.element_size() for p in parts)
            if size + sum(c.projection.weight.nbytes for c in self._used.values()) > self.budget_bytes:
                return ProjectionGroup(parts)
            copy = _Copy(sources, tuple(_version(t) for t in sources), scalings, _stacked(parts))
        self._used[key] = copy
        sizes = tuple(p.weight.shape[0] for p in parts) if len(parts) > 1 else ()
        return ProjectionGroup((copy.projection,), sizes)


def _stacked(parts: tuple[Projection, ...]) -> Projection:
    weight = torch.cat([p.merged_weight() for p in parts]) if len(parts) > 1 else parts[0].merged_weight()
    biases = [p.bias for p in parts]
    if all(b is None for b in biases):
        bias = None
    else:  # a missing bias is a zero one (phi's projections all have one; this is for a mix)
        bias = torch.cat([b if b is not None else p.weight.new_zeros(p.weight.shape[0]) for p, b in zip(parts, biases)])
    return Projection(weight.detach().contiguous(), None if bias is None else bias.detach())
