"""The example's components: they follow radzoo's encoder and adapter protocols (see radzoo's docs/ARCHITECTURE.md)."""

from __future__ import annotations

from collections.abc import Callable

import torch
from PIL import Image
from torch import nn


class ExampleCNN(nn.Module):
    """A tiny grayscale conv net: ``[B,1,H,W] -> [B,(H/2**depth)**2,embed_dim]`` tokens."""

    def __init__(self, image_size: int = 64, embed_dim: int = 32, depth: int = 3, mean: float = 0.5,
                 std: float = 0.25) -> None:
        super().__init__()
        if image_size % 2**depth:
            raise ValueError(f"encoder.args.image_size ({image_size}) must be divisible by 2**depth ({2**depth})")
        self.embed_dim = embed_dim
        self.image_size = image_size
        self.depth = depth
        self.mean, self.std = mean, std
        layers: list[nn.Module] = []
        channels = 1
        for _ in range(depth):  # each stride-2 conv halves the grid
            layers += [nn.Conv2d(channels, embed_dim, 3, stride=2, padding=1), nn.GELU()]
            channels = embed_dim
        self.convs = nn.Sequential(*layers)

    def forward(self, pixel_values: torch.Tensor) -> torch.Tensor:
        return self.convs(pixel_values).flatten(2).transpose(1, 2)

    @property
    def num_tokens(self) -> int:
        """Image tokens per image (``radzoo build`` prints it)."""
        side = self.image_size // 2**self.depth
        return side * side

    def image_transform(self, train: bool = False) -> Callable[[Image.Image], torch.Tensor]:
        """Grayscale, resize and centre-crop to ``image_size``, normalise with this encoder's mean/std."""
        from torchvision import transforms as T

        return T.Compose([
            T.Lambda(lambda img: img.convert("L")),
            T.Resize(self.image_size),
            T.CenterCrop(self.image_size),
            T.ToTensor(),
            T.Normalize([self.mean], [self.std]),
        ])


class GatedAdapter(nn.Module):
    """``proj(x) * sigmoid(gate(x))``: a linear projection whose output each token scales by a learned gate."""

    def __init__(self, in_dim: int, out_dim: int, gate_bias: float = 0.0) -> None:
        super().__init__()
        self.proj = nn.Linear(in_dim, out_dim)
        self.gate = nn.Linear(in_dim, out_dim)
        nn.init.constant_(self.gate.bias, gate_bias)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.proj(features) * torch.sigmoid(self.gate(features))

    def num_tokens(self, n_in: int) -> int:
        return n_in
