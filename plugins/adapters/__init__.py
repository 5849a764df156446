"""Built-in adapters (vision features -> LLM embeddings)."""

from __future__ import annotations

from radzoo import hookimpl


def _lazy(class_name: str):
    def factory(in_dim: int, out_dim: int, **args):
        from radzoo.plugins.adapters import modules

        return getattr(modules, class_name)(in_dim, out_dim, **args)

    factory.__name__ = class_name
    return factory


@hookimpl
def radzoo_register_adapters(registry) -> None:
    registry.add("linear", _lazy("LinearAdapter"), description="one linear projection (CXR-LLaVA, LLaVA-1)",
                 license="Apache-2.0", paper="arXiv:2304.08485")
    registry.add("mlp2x_gelu", _lazy("MLPAdapter"), description="Linear-GELU-Linear (LLaVA-1.5, LLaVA-Rad)",
                 license="Apache-2.0", paper="arXiv:2310.03744")
    registry.add("mlp2x_gelu_pool", _lazy("PooledMLPAdapter"),
                 description="avg-pools the patch grid (pool x pool) then mlp2x_gelu: fewer image tokens",
                 license="Apache-2.0")
    registry.add("perceiver", _lazy("PerceiverResampler"),
                 description="perceiver resampler: num_latents learned queries, a fixed image-token count",
                 license="Apache-2.0", paper="arXiv:2204.14198")
