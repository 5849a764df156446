"""Generation: batched KV-cache report generation, decode engines, sharding."""

from radzoo.lazy_modules import lazy_getattr

__getattr__ = lazy_getattr(__name__)  # `radzoo.<package>.pipeline` after a plain `import radzoo`
