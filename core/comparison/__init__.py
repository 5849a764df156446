"""Comparison: compare recipes and runs, baselines, leaderboard, plots, viewer, the demo."""

from radzoo.lazy_modules import lazy_getattr

__getattr__ = lazy_getattr(__name__)  # `radzoo.<package>.pipeline` after a plain `import radzoo`
