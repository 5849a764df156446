"""Built-in adapters (vision features -> LLM embeddings)."""

from __future__ import annotations

from radzoo import hookimpl
from radzoo.components.registry import lazy

_MODULES = "radzoo.plugins.adapters.modules"


@hookimpl
def radzoo_register_adapters(registry) -> None:
    registry.add("linear", lazy(f"{_MODULES}:LinearAdapter"), description="one linear projection (CXR-LLaVA, LLaVA-1)",
                 license="Apache-2.0", paper="arXiv:2304.08485")
    registry.add("mlp2x_gelu", lazy(f"{_MODULES}:MLPAdapter"), description="Linear-GELU-Linear (LLaVA-1.5, LLaVA-Rad)",
                 license="Apache-2.0", paper="arXiv:2310.03744")
    registry.add("mlp2x_gelu_pool", lazy(f"{_MODULES}:PooledMLPAdapter"),
                 description="avg-pools the patch grid (pool x pool) then mlp2x_gelu: fewer image tokens",
                 license="Apache-2.0", paper="arXiv:2310.03744")
    registry.add("perceiver", lazy(f"{_MODULES}:PerceiverResampler"),
                 description="perceiver resampler: num_latents learned queries, a fixed image-token count",
                 license="Apache-2.0", paper="arXiv:2204.14198")
