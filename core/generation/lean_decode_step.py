"""A Llama, Mistral or Phi forward as a flat run of tensor operations: the CPU engine's decode step and prefill.

On a CPU with a small model, most of a decode step is per-op overhead: transformers' layer and attention
wrappers, mask building, peft's LoRA dispatch. This step reads the weights from the model's own modules and
writes into the same ``StaticCache``, with fewer operations: LoRA merged and q/k/v stacked (merged_weights.py),
one query's attention as two batched products over the slots written so far, the rotary table looked up, a
tanh GELU as one op. Those change the float rounding, not the arithmetic: **the greedy tokens equal
transformers', the logits do not bit for bit** (they agree to ~1e-6 relative; float32 only: in bf16/fp16 the
same reordering changes tokens, so there the engine calls the model's own forward). tests/generation/ checks the
tokens on every demo recipe, trained-like LoRA included. Where a model has anything it does not know (another
family, another attention implementation, a LoRA variant, q/k layer norms), ``lean_step`` returns None and the
engine calls the model itself. On CUDA the engine replays transformers' forward as a CUDA graph instead.

It reads transformers internals (the families' rotary convention and rotary module, the cache's layout, the
attention implementation), so it runs only on the transformers versions in ``CHECKED_TRANSFORMERS``, where
tests/generation/test_decode_engine.py found its tokens equal to transformers'; on any other version the engine
calls the model itself, and ``test_the_lean_step_is_checked_on_this_transformers`` fails until it is checked.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
import transformers
from torch import nn
from transformers import activations

from radzoo.generation.merged_weights import Projection, ProjectionGroup, WeightMerger
from radzoo.generation.rotary_table import Rotation, rotation

FAMILIES = ("llama", "mistral", "phi")
# transformers releases (major.minor) on which the equality tests passed: add one only after they pass on it
CHECKED_TRANSFORMERS = ("5.25",)


def checked_transformers(version: str = transformers.__version__) -> bool:
    """Whether the lean step was checked on this transformers version (major.minor)."""
    return ".".join(version.split(".")[:2]) in CHECKED_TRANSFORMERS


def projection(module: nn.Module) -> Projection | None:
    """The module as a Projection: a plain ``nn.Linear`` or a vanilla peft LoRA ``Linear``; None otherwise."""
    if type(module) is nn.Linear:
        return Projection(module.weight, module.bias)
    base = getattr(module, "base_layer", None)
    if type(base) is not nn.Linear or not hasattr(module, "lora_A") or module.training:
        return None
    if module.merged or module.disable_adapters:
        return Projection(base.weight, base.bias)
    active = [a for a in module.active_adapters if a in module.lora_A]
    if any(a in module.lora_variant for a in active):  # DoRA and the like: not the vanilla sum
        return None
    pairs = [(module.lora_A[a], module.lora_B[a], float(module.scaling[a])) for a in active]
    if any(A.bias is not None or B.bias is not None or A.weight.dtype != base.weight.dtype for A, B, _ in pairs):
        return None
    return Projection(base.weight, base.bias, tuple((A.weight, B.weight, s) for A, B, s in pairs))


def _rms_norm(module: nn.Module, x: torch.Tensor) -> torch.Tensor:
    dtype = x.dtype
    x = x.to(torch.float32)
    x = x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + module.variance_epsilon)
    return module.weight * x.to(dtype)


def _activation(module: nn.Module) -> Callable[[torch.Tensor], torch.Tensor]:
    """The activation as one torch function where there is one (the module's call, with transformers' kernel-hub
    dispatch, costs ~4x the op at these sizes); phi's tanh GELU as one op rounds differently from transformers'
    eight-op formula (within 3e-7), which leaves the greedy tokens equal (tests/generation/test_decode_engine.py)."""
    if isinstance(module, (activations.SiLUActivation, nn.SiLU)):  # both are F.silu
        return F.silu
    if isinstance(module, activations.GELUTanh):
        return module.act  # its own function, without the module call
    if isinstance(module, activations.NewGELUActivation):
        return lambda x: F.gelu(x, approximate="tanh")
    return module


def _layer_norm(module: nn.Module, x: torch.Tensor) -> torch.Tensor:
    return F.layer_norm(x, module.normalized_shape, module.weight, module.bias, module.eps)


@dataclass(frozen=True)
class _Layer:
    attn_norm: Callable[[torch.Tensor], torch.Tensor]
    qkv: ProjectionGroup
    o: ProjectionGroup
    mlp: tuple[ProjectionGroup, ProjectionGroup]  # llama: (gate, up), down; phi: fc1, fc2
    mlp_norm: Callable[[torch.Tensor], torch.Tensor] | None  # phi: None (attention and MLP read the same norm)
    act: Callable[[torch.Tensor], torch.Tensor]


class LeanStep:
    """``step(token_ids [B,1], mask [B,L] (0 = left pad), position_ids [B,1], cache) -> logits [B,1,V]``;
    ``step.prefill`` writes a prompt's embeddings into the empty cache and gives its last position's logits."""

    def __init__(self, lm: Any, layers: list[_Layer], final_norm: Callable, head: ProjectionGroup) -> None:
        self.lm, self.layers, self.final_norm, self.head = lm, layers, final_norm, head
        config = lm.config
        self.head_dim = getattr(config, "head_dim", None) or config.hidden_size // config.num_attention_heads
        self.scaling = self.head_dim ** -0.5
        self.parallel = config.model_type == "phi"  # phi adds attention and MLP to the same residual
        self._bias: tuple[torch.Tensor, torch.Tensor] | None = None  # (mask, its additive form [B,1,1,L])
        self._table: Rotation | None = None  # the rotation of every slot, looked up per step

    def __call__(self, input_ids: torch.Tensor, mask: torch.Tensor, position_ids: torch.Tensor,
                 cache: Any) -> torch.Tensor:
        # attention reads the slots written so far and this token's (as transformers' dynamic cache holds them),
        # not the whole preallocated cache: of those, the real (not left-pad) ones
        if self._bias is None or self._bias[0] is not mask:  # the engine passes one mask for every step
            self._bias = (mask, _additive(mask.bool())[:, None, None, :])
            self._table = self._rotary_table(mask.shape[1], input_ids.device)
        filled = int(cache.layers[0].cumulative_length) + 1
        h = F.embedding(input_ids, self.lm.model.embed_tokens.weight)
        rotate = self._table.at(position_ids) if self._table else None
        return self._forward(h, position_ids, self._bias[1][..., :filled], cache, rotate=rotate)

    def prefill(self, embeds: torch.Tensor, mask: torch.Tensor, position_ids: torch.Tensor,
                cache: Any) -> torch.Tensor:
        """Logits ``[B,1,V]`` of the last of ``embeds`` ``[B,T,H]`` (``mask`` ``[B,T]``: 0 = left pad)."""
        length = mask.shape[1]
        causal = torch.ones(length, length, dtype=torch.bool, device=mask.device).tril()
        allowed = mask.bool()[:, None, None, :] & causal
        # a left pad's query sees no real slot; itself keeps its row finite (no real query ever reads a pad slot)
        allowed |= torch.eye(length, dtype=torch.bool, device=mask.device)
        return self._forward(embeds, position_ids, _additive(allowed), cache, last_only=True)

    def _rotary_table(self, length: int, device: torch.device) -> Rotation | None:
        """The rotation of positions 0..length-1, looked up per step rather than computed (the same values: each
        is one product and a cos or sin); None for rope types that rescale with the length."""
        rotary = self.lm.model.rotary_emb
        if getattr(rotary, "rope_type", None) != "default":
            return None
        like = self.lm.model.embed_tokens.weight
        cos, sin = rotary(like[:1, None], position_ids=torch.arange(length, device=device)[None])
        return rotation(cos[0], sin[0], self.head_dim)

    def _forward(self, h: torch.Tensor, position_ids: torch.Tensor, bias: torch.Tensor, cache: Any,
                 last_only: bool = False, rotate: Rotation | None = None) -> torch.Tensor:
        if rotate is None:
            cos, sin = self.lm.model.rotary_emb(h, position_ids=position_ids)
            rotate = rotation(cos[:, :, None, None], sin[:, :, None, None], self.head_dim)
        for i, layer in enumerate(self.layers):
            h = self._layer(h, i, layer, rotate, bias, cache, last_only and i == len(self.layers) - 1)
        return self.head(self.final_norm(h))[0]

    def _layer(self, h: torch.Tensor, i: int, layer: _Layer, rotate: Rotation, bias: torch.Tensor, cache: Any,
               last_only: bool = False) -> torch.Tensor:
        batch, length = h.shape[:2]
        x = layer.attn_norm(h)
        qkv = layer.qkv.joined(x).view(batch, length, 3, -1, self.head_dim)
        qk = rotate(qkv[:, :, :2])  # queries and keys together: [B, T, 2, heads, head_dim]
        q, k, v = qk[:, :, 0].transpose(1, 2), qk[:, :, 1].transpose(1, 2), qkv[:, :, 2].transpose(1, 2)
        filled = bias.shape[-1]
        keys, values = _write(cache.layers[i], k, v, filled - length)
        keys, values = keys[:, :, :filled], values[:, :, :filled]
        if last_only:  # the prompt's last layer: every position's keys and values, but only the last one's output
            q, bias, x, h, length = q[:, :, -1:], bias[:, :, -1:], x[:, -1:], h[:, -1:], 1
        if length > 1:  # the prompt: sdpa, as transformers
            attn = F.scaled_dot_product_attention(q, keys, values, attn_mask=bias.to(q.dtype), scale=self.scaling)
        else:
            # one query: batched products rather than sdpa, whose CPU kernel pays per (row, head) and at these
            # sizes (a few heads of 16-64 dims) costs ~1.3x these; the two differ in float rounding only
            scores = torch.matmul(q, keys.transpose(-1, -2)) * self.scaling + bias
            attn = torch.matmul(scores.softmax(-1), values)
        attn = layer.o(attn.transpose(1, 2).reshape(batch, length, -1))[0]
        if self.parallel:
            fc1, fc2 = layer.mlp
            return attn + fc2(layer.act(fc1(x)[0]))[0] + h
        h = h + attn
        gate_up, down = layer.mlp
        gate, up = gate_up(layer.mlp_norm(h))
        return h + down(layer.act(gate) * up)[0]


def _write(layer: Any, keys: torch.Tensor, values: torch.Tensor, start: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Write ``keys``/``values`` ``[B, heads, T, D]`` into a ``StaticCache`` layer at slots ``start..start+T-1``, as
    its ``update`` does (same slots, same counter) without building an index tensor for them; its whole buffers."""
    if not layer.is_initialized:  # the first write makes the buffers
        layer.update(keys, values)
        return layer.keys, layer.values
    end = start + keys.shape[2]
    layer.keys[:, :, start:end].copy_(keys)
    layer.values[:, :, start:end].copy_(values)
    layer.cumulative_length.add_(end - start)
    return layer.keys, layer.values


def _additive(allowed: torch.Tensor) -> torch.Tensor:
    """0 where attention is allowed, -inf elsewhere (float32, the only dtype the lean step runs in)."""
    return torch.zeros(allowed.shape, device=allowed.device).masked_fill(~allowed, float("-inf"))


def lean_step(lm: Any, cache_len: int, merger: WeightMerger | None = None) -> LeanStep | None:
    """The lean step for ``lm`` (a transformers causal LM, LoRA layers inside), or None where it does not apply.

    Its weights are ``merger``'s merged, stacked copies (a fresh merger: made now, for this step alone)."""
    config = lm.config
    family = config.model_type
    if (not checked_transformers() or family not in FAMILIES or config._attn_implementation != "sdpa" or lm.training
            or config.num_key_value_heads != config.num_attention_heads  # grouped-query packing: not here
            or (getattr(config, "sliding_window", None) or cache_len) < cache_len
            or type(lm.model.embed_tokens) is not nn.Embedding or lm.model.embed_tokens.max_norm is not None
            or getattr(config, "qk_layernorm", False)):
        return None
    # its rounding differs from transformers' by ~1e-6 relative in float32, which leaves greedy tokens alone; in
    # bf16/fp16 the same differences are ~1e-2 and do change tokens (8 of 32 demo rows), so there the engine
    # calls the model itself
    if lm.model.embed_tokens.weight.dtype != torch.float32:
        return None
    found = []  # per layer: (norms, projections, activation)
    for layer in lm.model.layers:
        attn, mlp = layer.self_attn, layer.mlp
        if family == "phi":
            names = (attn.q_proj, attn.k_proj, attn.v_proj, attn.dense, mlp.fc1, mlp.fc2)
            norms = (lambda x, m=layer.input_layernorm: _layer_norm(m, x), None)
            act = mlp.activation_fn
        else:
            names = (attn.q_proj, attn.k_proj, attn.v_proj, attn.o_proj, mlp.gate_proj, mlp.up_proj, mlp.down_proj)
            norms = (lambda x, m=layer.input_layernorm: _rms_norm(m, x),
                     lambda x, m=layer.post_attention_layernorm: _rms_norm(m, x))
            act = mlp.act_fn
        found.append((norms, [projection(m) for m in names], _activation(act)))
    head = projection(lm.lm_head)
    if head is None or any(p is None for _, projections, _ in found for p in projections):
        return None
    merger = merger or WeightMerger()
    merger.begin()  # q/k/v, and a Llama MLP's gate/up, read one input: one stacked product each
    group = merger.group
    layers = [_Layer(norms[0], group(p[:3]), group(p[3:4]), (group(p[4:-1]), group(p[-1:])), norms[1], act)
              for norms, p, act in found]
    head_group = group([head])
    merger.end()
    final = lm.model.final_layernorm if family == "phi" else lm.model.norm
    norm = (lambda x: _layer_norm(final, x)) if family == "phi" else (lambda x: _rms_norm(final, x))
    return LeanStep(lm, layers, norm, head_group)
