"""The model: build_model assembles encoder -> adapter -> LLM (RadiologyVLM); chat formats and prompting.

``from radzoo.model import RadiologyVLM, build_model`` works; torch loads only when one of them is asked for.
"""

import importlib

_PUBLIC = {"RadiologyVLM": "vlm", "build_model": "build", "PromptBuilder": "prompting", "ChatFormat": "chat_formats"}


def __getattr__(name: str):
    if name not in _PUBLIC:
        raise AttributeError(f"module 'radzoo.model.vlm' has no attribute {name!r}")
    return getattr(importlib.import_module(f"radzoo.model.vlm.{_PUBLIC[name]}"), name)
