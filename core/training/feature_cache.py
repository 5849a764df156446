"""Frozen-encoder feature cache: each image's encoder features computed once and kept on disk (safetensors).

A feature file is keyed by the image (absolute path, mtime, size) and the encoder's identity (its class,
weights and transform), so a changed image or a retrained encoder never reuses stale features.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from pathlib import Path

import torch
from torch import nn

from radzoo.errors import MissingFileError
from radzoo.files.atomic import atomic_target


def encoder_identity(encoder: nn.Module) -> str:
    """A hash of the encoder's class, transform settings and every weight."""
    digest = hashlib.sha256(type(encoder).__qualname__.encode())
    for attr in ("image_size", "in_chans", "mean", "std", "select_layer"):
        digest.update(f"{attr}={getattr(encoder, attr, None)!r};".encode())
    for name, tensor in encoder.state_dict().items():
        digest.update(name.encode())
        digest.update(str(tuple(tensor.shape)).encode())
        digest.update(tensor.detach().to("cpu", torch.float32).contiguous().numpy().tobytes())
    return digest.hexdigest()[:24]


class FeatureCache:
    """Encoder features per image under ``root/<encoder identity>/<image key>.safetensors``."""

    def __init__(self, root: str | Path, encoder: nn.Module) -> None:
        self.encoder = encoder
        self.identity = encoder_identity(encoder)
        self.root = Path(root) / self.identity

    def path(self, image: str | Path) -> Path:
        """Feature file of ``image`` (its key changes with the file's path, mtime and size)."""
        image = Path(image).resolve()
        try:
            stat = image.stat()
        except FileNotFoundError:
            raise MissingFileError(f"{image}: image file not found (feature cache)") from None
        key = f"{image}|{stat.st_mtime_ns}|{stat.st_size}|{self.identity}"
        return self.root / f"{hashlib.sha256(key.encode()).hexdigest()[:32]}.safetensors"

    def load(self, image: str | Path) -> torch.Tensor:
        """``[N, embed_dim]`` features of one image; it must have been computed by :meth:`fill`."""
        from safetensors.torch import load_file

        path = self.path(image)
        if not path.is_file():
            raise MissingFileError(f"{image}: no cached encoder features at {path}; call FeatureCache.fill first")
        return load_file(str(path))["features"]

    @torch.no_grad()
    def fill(self, images: Sequence[str], load: Callable[[str], torch.Tensor], batch_size: int = 32,
             device: str | torch.device = "cpu") -> int:
        """Compute and store the features of every image not cached yet; returns how many were computed."""
        from safetensors.torch import save_file

        todo = sorted({str(i) for i in images if not self.path(i).is_file()})
        if not todo:
            return 0
        self.root.mkdir(parents=True, exist_ok=True)
        was_training, home = self.encoder.training, next(self.encoder.parameters()).device
        self.encoder.eval().to(device)
        try:
            for start in range(0, len(todo), batch_size):
                chunk = todo[start:start + batch_size]
                pixels = torch.stack([load(i) for i in chunk]).to(device)
                feats = self.encoder(pixels).float().cpu()
                for image, feat in zip(chunk, feats):
                    # DDP ranks may fill the same cache at once: each writes its own temporary file
                    with atomic_target(self.path(image)) as tmp:
                        save_file({"features": feat.contiguous()}, str(tmp))
        finally:
            self.encoder.train(was_training).to(home)
        return len(todo)
