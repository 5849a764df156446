"""One decode step of a Llama, Mistral or Phi model as a flat run of tensor operations (the CPU path).

On a CPU with a small model, most of a decode step is Python: transformers' layer and attention wrappers,
mask building, peft's LoRA dispatch. This step performs the same tensor operations in the same order on
the same weights (so its tokens equal transformers'), reading the weights from the model's own modules and
writing into the same ``StaticCache``. Where a model has anything it does not know (another family, another
attention implementation, a LoRA variant, q/k layer norms), ``lean_step`` returns None and the engine calls
the model itself. On CUDA the engine replays transformers' forward as a CUDA graph instead.

It reads transformers internals (a module's ``apply_rotary_pos_emb``, the cache's layout, the attention
implementation), so it runs only on the transformers versions in ``CHECKED_TRANSFORMERS``, where
tests/generation/test_decode_engine.py found its tokens equal to transformers'; on any other version the engine
calls the model itself, and ``test_the_lean_step_is_checked_on_this_transformers`` fails until it is checked.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
import transformers
from torch import nn

FAMILIES = ("llama", "mistral", "phi")
# transformers releases (major.minor) on which the equality tests passed: add one only after they pass on it
CHECKED_TRANSFORMERS = ("5.25",)


def checked_transformers(version: str = transformers.__version__) -> bool:
    """Whether the lean step was checked on this transformers version (major.minor)."""
    return ".".join(version.split(".")[:2]) in CHECKED_TRANSFORMERS


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


def _layer_norm(module: nn.Module, x: torch.Tensor) -> torch.Tensor:
    return F.layer_norm(x, module.normalized_shape, module.weight, module.bias, module.eps)


@dataclass(frozen=True)
class _Layer:
    attn_norm: Callable[[torch.Tensor], torch.Tensor]
    q: Projection
    k: Projection
    v: Projection
    o: Projection
    mlp: tuple[Projection, ...]  # llama: gate, up, down; phi: fc1, fc2
    mlp_norm: Callable[[torch.Tensor], torch.Tensor] | None  # phi: None (attention and MLP read the same norm)
    act: nn.Module
    rotary_dims: int  # < head_dim for phi's partial rotary


class LeanStep:
    """``step(token_ids [B,1], mask [B,L] (0 = left pad), position_ids [B,1], cache) -> logits [B,1,V]``."""

    def __init__(self, lm: Any, layers: list[_Layer], final_norm: Callable, head: Projection) -> None:
        self.lm, self.layers, self.final_norm, self.head = lm, layers, final_norm, head
        config = lm.config
        self.head_dim = getattr(config, "head_dim", None) or config.hidden_size // config.num_attention_heads
        self.scaling = self.head_dim ** -0.5
        self.parallel = config.model_type == "phi"  # phi adds attention and MLP to the same residual
        self.rotate = sys.modules[type(lm).__module__].apply_rotary_pos_emb  # transformers' own rotary
        self._mask: tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None = None  # (mask, as bool, slot index)

    def __call__(self, input_ids: torch.Tensor, mask: torch.Tensor, position_ids: torch.Tensor,
                 cache: Any) -> torch.Tensor:
        model = self.lm.model
        h = model.embed_tokens(input_ids)
        cos, sin = model.rotary_emb(h, position_ids=position_ids)
        # the sdpa mask transformers builds: real (not left-pad) slots up to the one this token is written to
        if self._mask is None or self._mask[0] is not mask:  # the engine passes one mask for every step
            self._mask = (mask, mask.bool(), torch.arange(mask.shape[1], device=mask.device))
        _, real, slots = self._mask
        allowed = (real & (slots <= cache.layers[0].cumulative_length))[:, None, None, :]
        for i, layer in enumerate(self.layers):
            h = self._layer(h, i, layer, cos, sin, allowed, cache)
        return self.head(self.final_norm(h))

    def _layer(self, h: torch.Tensor, i: int, layer: _Layer, cos: torch.Tensor, sin: torch.Tensor,
               allowed: torch.Tensor, cache: Any) -> torch.Tensor:
        batch = h.shape[0]
        x = layer.attn_norm(h)
        q = layer.q(x).view(batch, 1, -1, self.head_dim).transpose(1, 2)
        k = layer.k(x).view(batch, 1, -1, self.head_dim).transpose(1, 2)
        v = layer.v(x).view(batch, 1, -1, self.head_dim).transpose(1, 2)
        if layer.rotary_dims < self.head_dim:
            n = layer.rotary_dims
            q_rot, k_rot = self.rotate(q[..., :n], k[..., :n], cos, sin)
            q, k = torch.cat((q_rot, q[..., n:]), dim=-1), torch.cat((k_rot, k[..., n:]), dim=-1)
        else:
            q, k = self.rotate(q, k, cos, sin)
        keys, values = cache.update(k, v, i)
        attn = F.scaled_dot_product_attention(q, keys, values, attn_mask=allowed, dropout_p=0.0,
                                              scale=self.scaling, is_causal=False)
        attn = layer.o(attn.transpose(1, 2).contiguous().reshape(batch, 1, -1).contiguous())
        if self.parallel:
            fc1, fc2 = layer.mlp
            return attn + fc2(layer.act(fc1(x))) + h
        h = h + attn
        gate, up, down = layer.mlp
        x = layer.mlp_norm(h)
        return h + down(layer.act(gate(x)) * up(x))


def lean_step(lm: Any, cache_len: int) -> LeanStep | None:
    """The lean step for ``lm`` (a transformers causal LM, LoRA layers inside), or None where it does not apply."""
    config = lm.config
    family = config.model_type
    if (not checked_transformers() or family not in FAMILIES or config._attn_implementation != "sdpa" or lm.training
            or config.num_key_value_heads != config.num_attention_heads  # grouped-query packing: not here
            or (getattr(config, "sliding_window", None) or cache_len) < cache_len
            or type(lm.model.embed_tokens) is not nn.Embedding or getattr(config, "qk_layernorm", False)):
        return None
    layers = []
    for layer in lm.model.layers:
        attn, mlp = layer.self_attn, layer.mlp
        if family == "phi":
            names = (attn.q_proj, attn.k_proj, attn.v_proj, attn.dense, mlp.fc1, mlp.fc2)
            norms = (lambda x, m=layer.input_layernorm: _layer_norm(m, x), None)
            act, rotary = mlp.activation_fn, attn.rotary_ndims
        else:
            names = (attn.q_proj, attn.k_proj, attn.v_proj, attn.o_proj, mlp.gate_proj, mlp.up_proj, mlp.down_proj)
            norms = (lambda x, m=layer.input_layernorm: _rms_norm(m, x),
                     lambda x, m=layer.post_attention_layernorm: _rms_norm(m, x))
            act, rotary = mlp.act_fn, attn.head_dim
        projections = [projection(m) for m in names]
        if any(p is None for p in projections):
            return None
        q, k, v, o, *mlp_projections = projections
        layers.append(_Layer(norms[0], q, k, v, o, tuple(mlp_projections), norms[1], act, rotary))
    head = projection(lm.lm_head)
    if head is None:
        return None
    final = lm.model.final_layernorm if family == "phi" else lm.model.norm
    norm = (lambda x: _layer_norm(final, x)) if family == "phi" else (lambda x: _rms_norm(final, x))
    return LeanStep(lm, layers, norm, head)
