"""An example third-party radzoo plugin: a tiny CNN encoder and a gated adapter."""

__version__ = "0.1.0"
