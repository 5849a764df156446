"""Conversions to and from outside formats: published releases -> run directories (``releases``), run
directories -> a radzoo export (``radzoo_export``) or a transformers LLaVA directory (``llava_hf``)."""
