"""Lets the ``radgraph`` package (0.1.18) run under transformers 5.

The package bundles a copy of allennlp that calls two tokenizer methods transformers 5 removed:
``encode_plus`` (now plain ``__call__``) and ``build_inputs_with_special_tokens`` (adding the model's special
tokens around token ids). ``restore_tokenizer_methods`` puts them back on ``PreTrainedTokenizerBase`` only when
missing, so under transformers 4 nothing changes. The special tokens are read from the tokenizer's own template
(what it adds around a one-token text and a two-text pair), so BERT- and RoBERTa-style models both work. The
model's annotations are checked equal to the package's own under transformers 4.57
(tests/plugins/test_radgraph_model.py).
"""

from __future__ import annotations

from typing import Any

_TEMPLATES = "_radzoo_special_token_templates"


def _templates(tokenizer: Any) -> tuple[list[list[int]], list[list[int]]]:
    """([start, end] of one text, [start, middle, end] of a pair) as special-token ids, read from the tokenizer."""
    cached = tokenizer.__dict__.get(_TEMPLATES)
    if cached is None:
        probe = tokenizer("a", add_special_tokens=False)["input_ids"]
        single = tokenizer("a", add_special_tokens=True)["input_ids"]
        pair = tokenizer("a", "a", add_special_tokens=True)["input_ids"]
        width = len(probe)
        first = single.index(probe[0]) if probe else 0
        second = next(i for i in range(first + width, len(pair)) if pair[i:i + width] == probe)
        cached = ([single[:first], single[first + width:]],
                  [pair[:first], pair[first + width:second], pair[second + width:]])
        tokenizer.__dict__[_TEMPLATES] = cached
    return cached


def _build_inputs_with_special_tokens(self: Any, ids_0: list[int], ids_1: list[int] | None = None) -> list[int]:
    (start, end), (pair_start, middle, pair_end) = _templates(self)
    if ids_1 is None:
        return [*start, *ids_0, *end]
    return [*pair_start, *ids_0, *middle, *ids_1, *pair_end]


def _encode_plus(self: Any, *args: Any, **kwargs: Any) -> Any:
    return self(*args, **kwargs)


def restore_tokenizer_methods() -> None:
    """Adds ``encode_plus`` and ``build_inputs_with_special_tokens`` where transformers no longer has them."""
    from transformers.tokenization_utils_base import PreTrainedTokenizerBase  # only when RadGraph is loaded

    if not hasattr(PreTrainedTokenizerBase, "encode_plus"):
        PreTrainedTokenizerBase.encode_plus = _encode_plus
    if not hasattr(PreTrainedTokenizerBase, "build_inputs_with_special_tokens"):
        PreTrainedTokenizerBase.build_inputs_with_special_tokens = _build_inputs_with_special_tokens
