"""Adapters: project encoder features ``[B,N,in_dim]`` into the LLM's embedding space ``[B,M,out_dim]``."""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

from radzoo.errors import InputError


class LinearAdapter(nn.Module):
    """One linear layer (LLaVA-1, CXR-LLaVA)."""

    def __init__(self, in_dim: int, out_dim: int) -> None:
        super().__init__()
        self.in_dim, self.out_dim = in_dim, out_dim
        self.proj = nn.Linear(in_dim, out_dim)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.proj(features)

    def num_tokens(self, n_in: int) -> int:
        return n_in


class MLPAdapter(nn.Module):
    """Linear -> GELU -> Linear, repeated ``depth - 1`` times (``mlp2x_gelu`` of LLaVA-1.5 and LLaVA-Rad)."""

    def __init__(self, in_dim: int, out_dim: int, depth: int = 2) -> None:
        super().__init__()
        if depth < 1:
            raise InputError(f"adapter.args.depth must be >= 1, got {depth}")
        self.in_dim, self.out_dim = in_dim, out_dim
        layers: list[nn.Module] = [nn.Linear(in_dim, out_dim)]
        for _ in range(depth - 1):
            layers += [nn.GELU(), nn.Linear(out_dim, out_dim)]
        self.mlp = nn.Sequential(*layers)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.mlp(features)

    def num_tokens(self, n_in: int) -> int:
        return n_in


class PooledMLPAdapter(MLPAdapter):
    """Average-pools the patch grid by ``pool`` x ``pool`` before the MLP: ``pool**2`` times fewer image tokens."""

    def __init__(self, in_dim: int, out_dim: int, pool: int = 2, depth: int = 2) -> None:
        super().__init__(in_dim, out_dim, depth)
        if pool < 1:
            raise InputError(f"adapter.args.pool must be >= 1, got {pool}")
        self.pool = pool

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        b, n, d = features.shape
        side = math.isqrt(n)
        if side * side != n:
            raise InputError(f"pooling adapter needs a square patch grid, got {n} tokens (drop the CLS token)")
        grid = features.transpose(1, 2).reshape(b, d, side, side)
        pooled = F.avg_pool2d(grid, self.pool, ceil_mode=True)
        return super().forward(pooled.flatten(2).transpose(1, 2))

    def num_tokens(self, n_in: int) -> int:
        side = math.ceil(math.isqrt(n_in) / self.pool)
        return side * side


class PerceiverResampler(nn.Module):
    """``num_latents`` learned queries cross-attend to the features (Flamingo-style): a fixed token count."""

    def __init__(self, in_dim: int, out_dim: int, num_latents: int = 64, depth: int = 2, heads: int = 8) -> None:
        super().__init__()
        self.in_dim, self.out_dim, self.num_latents = in_dim, out_dim, num_latents
        if out_dim % heads:
            raise InputError(f"adapter.args.heads ({heads}) must divide the LLM width {out_dim}")
        self.latents = nn.Parameter(torch.randn(num_latents, out_dim) * 0.02)
        self.input_proj = nn.Linear(in_dim, out_dim)
        self.layers = nn.ModuleList(
            nn.ModuleDict({
                "norm_q": nn.LayerNorm(out_dim), "norm_kv": nn.LayerNorm(out_dim),
                "attn": nn.MultiheadAttention(out_dim, heads, batch_first=True),
                "ff": nn.Sequential(nn.LayerNorm(out_dim), nn.Linear(out_dim, 4 * out_dim), nn.GELU(),
                                    nn.Linear(4 * out_dim, out_dim)),
            })
            for _ in range(depth)
        )
        self.norm_out = nn.LayerNorm(out_dim)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        kv = self.input_proj(features)
        x = self.latents.unsqueeze(0).expand(features.shape[0], -1, -1)
        for layer in self.layers:
            q, k = layer["norm_q"](x), layer["norm_kv"](kv)
            x = x + layer["attn"](q, k, k, need_weights=False)[0]
            x = x + layer["ff"](x)
        return self.norm_out(x)

    def num_tokens(self, n_in: int) -> int:
        return self.num_latents
