"""The hook implementations radzoo calls; listed under the ``radzoo`` entry-point group in pyproject.toml.

Only cheap imports here: radzoo imports every plugin module to list components, so torch-heavy code
loads when a factory is called.
"""

from __future__ import annotations

from radzoo import hookimpl


def build_example_cnn(**args):
    """Encoder factory: called with the recipe's ``encoder.args``."""
    from radzoo_plugin_example.components import ExampleCNN

    return ExampleCNN(**args)


def build_example_gated(in_dim: int, out_dim: int, **args):
    """Adapter factory: radzoo passes the encoder width and the LLM width, then the recipe's ``adapter.args``."""
    from radzoo_plugin_example.components import GatedAdapter

    return GatedAdapter(in_dim, out_dim, **args)


@hookimpl
def radzoo_register_encoders(registry) -> None:
    registry.add("example-cnn", build_example_cnn, license="Apache-2.0", paper="none (a teaching example)",
                 description="example plugin: tiny 1-channel conv net, one token per feature-map cell")


@hookimpl
def radzoo_register_adapters(registry) -> None:
    registry.add("example-gated", build_example_gated, license="Apache-2.0", paper="none (a teaching example)",
                 description="example plugin: linear projection times a learned sigmoid gate")
