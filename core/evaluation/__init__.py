"""Evaluation: score predictions with registered evaluators; bootstrap CIs and paired tests."""

from radzoo.lazy_modules import lazy_getattr

__getattr__ = lazy_getattr(__name__)  # `radzoo.<package>.pipeline` after a plain `import radzoo`
