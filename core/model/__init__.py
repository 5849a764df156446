"""The model: build_model assembles encoder -> adapter -> LLM (RadiologyVLM); chat formats and prompting.

``from radzoo.model import RadiologyVLM, build_model`` works; torch loads only when one of them is asked for.
"""

from radzoo.lazy_modules import lazy_getattr

_PUBLIC = {"RadiologyVLM": ".vlm", "build_model": ".build", "PromptBuilder": ".prompting",
           "ChatFormat": ".chat_formats"}
__all__ = list(_PUBLIC)
__getattr__ = lazy_getattr(__name__, _PUBLIC)
