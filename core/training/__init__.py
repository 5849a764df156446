"""Training: the Lightning stages, trainer set-up, data, checkpoints, feature cache, interrupts."""

from radzoo.lazy_modules import lazy_getattr

__getattr__ = lazy_getattr(__name__)  # `radzoo.<package>.pipeline` after a plain `import radzoo`
