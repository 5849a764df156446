"""The whole-head rotation gives transformers' rotary embedding bit for bit (full and partial rotary dims)."""

from __future__ import annotations

import pytest
import torch
from transformers.models.llama.modeling_llama import apply_rotary_pos_emb as llama_rotary
from transformers.models.phi.modeling_phi import apply_rotary_pos_emb as phi_rotary

from radzoo.generation.rotary_table import rotation


@pytest.mark.parametrize("rotary_dims", [16, 8, 6])  # the whole head (llama), half and a bit over a third (phi)
def test_rotation_equals_transformers(rotary_dims):
    gen = torch.Generator().manual_seed(0)
    batch, length, heads, head_dim = 3, 5, 4, 16
    q, k = (torch.randn(batch, heads, length, head_dim, generator=gen) for _ in range(2))
    angles = torch.randn(batch, length, rotary_dims // 2, generator=gen) * 3
    cos, sin = torch.cat((angles, angles), -1).cos(), torch.cat((angles, angles), -1).sin()
    rotary = llama_rotary if rotary_dims == head_dim else phi_rotary
    q_rot, k_rot = rotary(q[..., :rotary_dims], k[..., :rotary_dims], cos, sin)
    q_theirs = torch.cat((q_rot, q[..., rotary_dims:]), -1)
    k_theirs = torch.cat((k_rot, k[..., rotary_dims:]), -1)
    slab = torch.stack((q, k), 2).transpose(1, 3)  # [B, T, 2, heads, head_dim], as the lean step holds them
    ours = rotation(cos[:, :, None, None], sin[:, :, None, None], head_dim)(slab).transpose(1, 3)
    assert torch.equal(ours[:, :, 0], q_theirs) and torch.equal(ours[:, :, 1], k_theirs)


def test_a_table_looked_up_by_position_is_the_rotation_at_those_positions():
    angles = torch.arange(10.0)[:, None] * torch.tensor([1.0, 0.1, 0.01, 0.001])  # [positions, dims / 2]
    cos, sin = torch.cat((angles, angles), -1).cos(), torch.cat((angles, angles), -1).sin()
    table = rotation(cos, sin, 8)
    positions = torch.tensor([[3], [7]])
    direct = rotation(cos[positions][:, :, None, None], sin[positions][:, :, None, None], 8)
    x = torch.randn(2, 1, 2, 3, 8)
    assert torch.equal(table.at(positions)(x), direct(x))
