"""Adapters: output shapes, image-token counts, parameter counts, and argument errors."""

from __future__ import annotations

import math

import pytest
import torch

from radzoo.components.discovery import load_plugins

IN_DIM, OUT_DIM, BATCH = 24, 32, 3


@pytest.fixture(scope="module")
def adapters():
    return load_plugins().registry("adapter")


def run(adapter, n_tokens: int) -> torch.Tensor:
    features = torch.randn(BATCH, n_tokens, IN_DIM, requires_grad=True)
    out = adapter(features)
    out.sum().backward()
    assert features.grad is not None and features.grad.abs().sum() > 0  # gradients reach the encoder side
    return out


def n_params(module) -> int:
    return sum(p.numel() for p in module.parameters())


@pytest.mark.parametrize("n_tokens", [1, 49, 64])
def test_linear_keeps_every_token(adapters, n_tokens):
    adapter = adapters.create("linear", in_dim=IN_DIM, out_dim=OUT_DIM)
    assert run(adapter, n_tokens).shape == (BATCH, n_tokens, OUT_DIM)
    assert adapter.num_tokens(n_tokens) == n_tokens
    assert n_params(adapter) == IN_DIM * OUT_DIM + OUT_DIM


@pytest.mark.parametrize(("depth", "linears"), [(1, 1), (2, 2), (4, 4)])
def test_mlp2x_gelu_is_linear_gelu_linear(adapters, depth, linears):
    adapter = adapters.create("mlp2x_gelu", in_dim=IN_DIM, out_dim=OUT_DIM, depth=depth)
    assert run(adapter, 64).shape == (BATCH, 64, OUT_DIM)
    assert n_params(adapter) == (IN_DIM * OUT_DIM + OUT_DIM) + (linears - 1) * (OUT_DIM * OUT_DIM + OUT_DIM)
    kinds = [type(m).__name__ for m in adapter.mlp]
    assert kinds == ["Linear"] + ["GELU", "Linear"] * (depth - 1)


def test_mlp2x_gelu_default_matches_llava_1_5(adapters):
    adapter = adapters.create("mlp2x_gelu", in_dim=IN_DIM, out_dim=OUT_DIM)
    assert [type(m).__name__ for m in adapter.mlp] == ["Linear", "GELU", "Linear"]


@pytest.mark.parametrize(("pool", "n_in", "n_out"), [(1, 64, 64), (2, 64, 16), (4, 64, 4), (2, 49, 16), (3, 1369, 169)])
def test_pooling_adapter_divides_the_grid(adapters, pool, n_in, n_out):
    adapter = adapters.create("mlp2x_gelu_pool", in_dim=IN_DIM, out_dim=OUT_DIM, pool=pool)
    assert run(adapter, n_in).shape == (BATCH, n_out, OUT_DIM)
    assert adapter.num_tokens(n_in) == n_out


def test_pool_2_gives_four_times_fewer_tokens_and_averages_each_2x2_cell(adapters):
    adapter = adapters.create("mlp2x_gelu_pool", in_dim=IN_DIM, out_dim=OUT_DIM, pool=2)
    features = torch.randn(1, 64, IN_DIM)
    grid = features.reshape(1, 8, 8, IN_DIM)  # row-major patch order
    first_cell = grid[0, :2, :2].reshape(4, IN_DIM).mean(0)
    out = adapter(features)
    assert out.shape[1] == 64 // 4
    assert torch.allclose(out[0, 0], adapter.mlp(first_cell), atol=1e-6)


def test_pooling_adapter_rejects_a_non_square_token_count(adapters):
    adapter = adapters.create("mlp2x_gelu_pool", in_dim=IN_DIM, out_dim=OUT_DIM)
    with pytest.raises(ValueError, match=r"square patch grid, got 65 tokens \(drop the CLS token\)"):
        adapter(torch.randn(1, 65, IN_DIM))


@pytest.mark.parametrize(("num_latents", "n_in"), [(8, 64), (8, 5), (16, 1369)])
def test_perceiver_returns_a_fixed_number_of_tokens(adapters, num_latents, n_in):
    adapter = adapters.create("perceiver", in_dim=IN_DIM, out_dim=OUT_DIM, num_latents=num_latents, depth=1,
                              heads=4)
    out = run(adapter, n_in)
    assert out.shape == (BATCH, num_latents, OUT_DIM)
    assert adapter.num_tokens(n_in) == num_latents
    assert torch.isfinite(out).all()


def test_perceiver_output_depends_on_the_image(adapters):
    adapter = adapters.create("perceiver", in_dim=IN_DIM, out_dim=OUT_DIM, num_latents=4, heads=4)
    a, b = adapter(torch.randn(1, 16, IN_DIM)), adapter(torch.randn(1, 16, IN_DIM))
    assert not torch.allclose(a, b)


@pytest.mark.parametrize(("name", "args", "message"), [
    ("mlp2x_gelu", {"depth": 0}, "adapter.args.depth must be >= 1, got 0"),
    ("mlp2x_gelu_pool", {"pool": 0}, "adapter.args.pool must be >= 1, got 0"),
    ("perceiver", {"heads": 5}, r"adapter.args.heads \(5\) must divide the LLM width 32"),
])
def test_bad_adapter_args_name_the_recipe_key(adapters, name, args, message):
    with pytest.raises(ValueError, match=message):
        adapters.create(name, in_dim=IN_DIM, out_dim=OUT_DIM, **args)


def test_token_reducing_adapter_in_a_full_model():
    from radzoo import build_model, load_recipe
    from radzoo.model.smoke import smoke_step

    model = build_model(load_recipe("demo/llava-rad", ["adapter.name=mlp2x_gelu_pool", "adapter.args.pool=2",
                                                       "encoder.args.patch_size=8"]))  # 8x8 = 64 patch tokens
    assert model.encoder.num_tokens == 64 and model.image_tokens() == 16
    assert math.isfinite(smoke_step(model))
