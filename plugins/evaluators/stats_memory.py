"""Per-sample statistics remembered for the same evaluator settings and texts, so a metric built from other
metrics' columns (``1/RadCliQ-v1``) reuses what those evaluators computed in the same run instead of running
their models again."""

from __future__ import annotations

import hashlib
import json
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from radzoo.plugins.evaluators.ngram_metrics import check_pairs

_REMEMBERED: OrderedDict[str, np.ndarray] = OrderedDict()
_KEEP = 16  # a suite of a few columns over a few systems


def remembered(evaluator: Any, predictions: Sequence[str], references: Sequence[str],
               compute: Callable[[list[str], list[str]], np.ndarray]) -> np.ndarray:
    """``compute(predictions, references)``, reused when the same evaluator settings saw the same texts."""
    check_pairs(predictions, references)
    payload = json.dumps([evaluator.name, evaluator.options(), list(predictions), list(references)],
                         sort_keys=True, default=str, ensure_ascii=False)
    key = hashlib.sha256(payload.encode("utf-8")).hexdigest()
    if key not in _REMEMBERED:
        _REMEMBERED[key] = compute(list(predictions), list(references))
        while len(_REMEMBERED) > _KEEP:
            _REMEMBERED.popitem(last=False)
    _REMEMBERED.move_to_end(key)
    return _REMEMBERED[key]
