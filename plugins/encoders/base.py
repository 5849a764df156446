"""Shared behaviour of the built-in encoders: the image transform and patch-token selection."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from PIL import Image
from torch import nn

from radzoo.errors import InputError

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)


def block_index(num_blocks: int, select_layer: int) -> int:
    """0-based block whose output is used: ``-1`` the last block, ``-2`` the second-to-last (LLaVA)."""
    index = num_blocks + select_layer if select_layer < 0 else select_layer
    if not 0 <= index < num_blocks:
        raise InputError(f"encoder.args.select_layer={select_layer} is outside a {num_blocks}-block encoder")
    return index


def stretch_grey_levels(image: Image.Image) -> Image.Image:
    """The image in grey, its darkest pixel mapped to 0 and its brightest to 255 (truncated to 8 bits)."""
    import numpy as np

    grey = np.asarray(image.convert("L"), dtype=np.float64)
    grey = grey - grey.min()
    if grey.max() > 0:
        grey = grey / grey.max() * 255
    return Image.fromarray(grey.astype(np.uint8), mode="L")


class EncoderBase(nn.Module):
    """An encoder with ``embed_dim``, ``image_size``, channels and normalisation, and its own transform."""

    # the resize filter; an imported release sets its processor's (CXR-LLaVA's processor resizes with Lanczos)
    interpolation: str = "bicubic"
    # stretch each image's grey levels to 0..255 first (MAIRA-2's processor does, before its image processor)
    rescale_intensity: bool = False
    # where an odd crop margin goes: torchvision rounds half the margin, transformers' image processors floor it
    # (CXR-LLaVA, SLaVA-CXR and MAIRA-2 use the latter; one pixel of shift changes every patch)
    crop_rounding: str = "round"

    def __init__(self, embed_dim: int, image_size: int, in_chans: int = 3,
                 mean: Sequence[float] = CLIP_MEAN, std: Sequence[float] = CLIP_STD) -> None:
        super().__init__()
        if in_chans not in (1, 3):
            raise InputError(f"encoder.args.in_chans must be 1 (grayscale) or 3 (RGB), got {in_chans}")
        self.embed_dim = int(embed_dim)
        self.image_size = int(image_size)
        self.in_chans = in_chans
        self.mean = tuple(float(m) for m in mean)[:in_chans] if len(mean) >= in_chans else tuple(mean) * in_chans
        self.std = tuple(float(s) for s in std)[:in_chans] if len(std) >= in_chans else tuple(std) * in_chans

    def image_transform(self, train: bool = False) -> Callable[[Image.Image], torch.Tensor]:
        """Resize the short side, centre-crop, to tensor, normalise; grayscale or RGB as the encoder expects.

        ``train`` adds no augmentation: LLaVA-Rad and CXR-LLaVA train on the plain transform too.
        """
        from torchvision import transforms as T

        mode = "L" if self.in_chans == 1 else "RGB"
        return T.Compose([
            T.Lambda(lambda img: (stretch_grey_levels(img) if self.rescale_intensity else img).convert(mode)),
            T.Resize(self.image_size, interpolation=T.InterpolationMode[self.interpolation.upper()]),
            T.CenterCrop(self.image_size) if self.crop_rounding == "round" else T.Lambda(self._floor_crop),
            T.ToTensor(),
            T.Normalize(self.mean, self.std),
        ])

    def _floor_crop(self, image: Image.Image) -> Image.Image:
        """The centred ``image_size`` square with the odd margin pixel on the right/bottom, as transformers crops."""
        if self.crop_rounding != "floor":
            raise InputError(f"encoder crop_rounding must be 'round' or 'floor', got {self.crop_rounding!r}")
        size = self.image_size
        left, top = (image.width - size) // 2, (image.height - size) // 2
        return image.crop((left, top, left + size, top + size))

    @property
    def num_tokens(self) -> int:
        """Image tokens per image (patch tokens after selection)."""
        with torch.no_grad():
            probe = torch.zeros(1, self.in_chans, self.image_size, self.image_size,
                                device=next(self.parameters()).device)
            return int(self.forward(probe).shape[1])
