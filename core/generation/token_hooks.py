"""A per-token hook (``on_token``) on transformers' ``generate``: a stopping criterion, which ``generate`` calls
once per step with the ids so far, hands the hook each step's new tokens and ends the rows it returns, so both
engines take the same hook."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from transformers import StoppingCriteria, StoppingCriteriaList


class _HookStop(StoppingCriteria):
    """Calls the hook with the step's new tokens ([B]: the last column of the ids) and ends the rows it returns."""

    def __init__(self, on_token: Callable[[torch.Tensor], torch.Tensor | None]) -> None:
        self.on_token = on_token

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor, **kwargs: Any) -> torch.Tensor:
        stop = self.on_token(input_ids[:, -1])
        if stop is None:
            return torch.zeros(input_ids.shape[0], dtype=torch.bool, device=input_ids.device)
        return stop.to(device=input_ids.device, dtype=torch.bool)


def hook_kwargs(on_token: Callable[[torch.Tensor], torch.Tensor | None]) -> dict[str, Any]:
    """``generate`` keyword arguments (``stopping_criteria``) that run ``on_token`` every step."""
    return {"stopping_criteria": StoppingCriteriaList([_HookStop(on_token)])}
