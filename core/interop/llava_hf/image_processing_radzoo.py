"""A CLIP image processor that centre-crops as torchvision does: shipped as remote code in llava-hf exports.

Copied verbatim into an export whose encoder crops as torchvision (LLaVA-Rad's open_clip transform, radzoo's own
recipes) and named in its ``auto_map``. transformers' image processors floor an odd crop margin
(``(long - crop) // 2``) where torchvision rounds it half to even, so one image in four (resized long side 3 mod 4
pixels past the crop) lands one pixel off. ``AutoProcessor.from_pretrained(DIR, trust_remote_code=True)`` loads
this class and gets the trained pixels; without ``trust_remote_code`` transformers loads its stock
``CLIPImageProcessor`` from the same settings. It imports nothing but transformers and numpy, so it runs where
radzoo is not installed (transformers 4.46+ and 5.x).
"""

from __future__ import annotations

from typing import Any

import numpy as np

try:  # transformers 5: the PIL backend resizes PIL images, as torchvision does on the images radzoo reads
    from transformers.models.clip.image_processing_pil_clip import CLIPImageProcessorPil as _Base
except ImportError:  # transformers 4: the slow processor is the PIL one
    from transformers import CLIPImageProcessor as _Base


def _side(size: Any, key: str) -> int:
    return int(size[key] if isinstance(size, dict) else getattr(size, key))


class RadzooCLIPImageProcessor(_Base):
    """``CLIPImageProcessor`` whose centre crop starts at ``round((side - crop) / 2)`` (half to even), as
    ``torchvision.transforms.CenterCrop`` does."""

    def center_crop(self, image: np.ndarray, size: Any, *args: Any, **kwargs: Any) -> np.ndarray:
        """The ``size`` crop of ``image`` in its own layout: transformers 5's PIL backend passes channels first,
        transformers 4 names the layout in ``input_data_format``."""
        crop_h, crop_w = _side(size, "height"), _side(size, "width")
        layout = kwargs.get("input_data_format")
        last = image.ndim == 3 and layout is not None and getattr(layout, "value", layout) == "channels_last"
        h_axis = image.ndim - (3 if last else 2)
        height, width = image.shape[h_axis], image.shape[h_axis + 1]
        if crop_h > height or crop_w > width:  # padding: transformers' own rule
            return super().center_crop(image, size, *args, **kwargs)
        top, left = int(round((height - crop_h) / 2.0)), int(round((width - crop_w) / 2.0))
        index = [slice(None)] * image.ndim
        index[h_axis], index[h_axis + 1] = slice(top, top + crop_h), slice(left, left + crop_w)
        return image[tuple(index)]
