"""A chest radiograph's normal anatomy drawn with numpy: body outline, lungs, mediastinum, heart, domes, ribs.

Images are density maps in [0, 1] (bright = dense, as on a radiograph) over coordinates x, y in [0, 1]
(y down). The patient's right is the image's left, as on a PA film.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from PIL import Image

AIR, SOFT_TISSUE, LUNG, MEDIASTINUM, HEART, BONE = 0.03, 0.50, 0.17, 0.70, 0.76, 0.13


@lru_cache(maxsize=4)
def grid(size: int) -> tuple[np.ndarray, np.ndarray]:
    """Pixel-centre coordinates (x, y) in [0, 1], each [size, size] float32."""
    c = (np.arange(size, dtype=np.float32) + 0.5) / size
    return np.meshgrid(c, c)


def smooth_noise(rng: np.random.Generator, size: int, cells: int) -> np.ndarray:
    """Low-frequency noise in about [-1, 1]: a ``cells`` x ``cells`` random grid upsampled bicubically."""
    small = rng.standard_normal((cells, cells)).astype(np.float32)
    return np.asarray(Image.fromarray(small, mode="F").resize((size, size), Image.BICUBIC)) / 1.5


def soft_step(d: np.ndarray, width: float) -> np.ndarray:
    """0 -> 1 as ``d`` goes from -width to +width (a blurred edge)."""
    return np.clip(0.5 + d / (2 * width), 0.0, 1.0)


@dataclass
class Anatomy:
    """Per-image geometry (all in image fractions)."""

    cx: float  # midline
    thorax_half: float  # half the inner thoracic width
    lung_top: float
    dome_right: float  # dome apex height of the right (image-left) hemidiaphragm
    dome_left: float
    mediastinum_half: float
    heart_width: float  # = ctr * 2 * thorax_half
    heart_height: float
    contrast: float
    noise: float

    @classmethod
    def sample(cls, rng: np.random.Generator, ctr: float) -> Anatomy:
        """Random normal variation around a typical adult PA film; ``ctr`` sets the heart width."""
        thorax_half = float(rng.uniform(0.33, 0.38))
        dome_right = float(rng.uniform(0.68, 0.73))
        return cls(cx=float(0.5 + rng.normal(0, 0.012)), thorax_half=thorax_half,
                   lung_top=float(rng.uniform(0.1, 0.14)),
                   dome_right=dome_right, dome_left=dome_right + float(rng.uniform(0.01, 0.035)),
                   mediastinum_half=float(rng.uniform(0.045, 0.06)), heart_width=ctr * 2 * thorax_half,
                   heart_height=float(rng.uniform(0.22, 0.27)), contrast=float(rng.uniform(0.85, 1.15)),
                   noise=float(rng.uniform(0.01, 0.03)))

    def dome(self, x: np.ndarray, side: str) -> np.ndarray:
        """Height of the hemidiaphragm under x (lowest laterally, at the costophrenic angle)."""
        apex = self.dome_right if side == "right" else self.dome_left
        centre = self.cx + (-1 if side == "right" else 1) * self.thorax_half * 0.5
        return apex + 1.4 * (x - centre) ** 2

    def lung_box(self, side: str) -> tuple[float, float, float, float]:
        """(left x, right x, top y, bottom y) bounding the lung on ``side``."""
        sign = -1 if side == "right" else 1
        inner, outer = self.cx + sign * self.mediastinum_half, self.cx + sign * self.thorax_half
        bottom = (self.dome_right if side == "right" else self.dome_left) + 0.06
        return min(inner, outer), max(inner, outer), self.lung_top, bottom

    def lung_coords(self, side: str, size: int) -> tuple[np.ndarray, np.ndarray]:
        """(u, v) per pixel: u = 0 at the apex .. 1 at the base, v = 0 medial .. 1 lateral."""
        x, y = grid(size)
        x0, x1, top, bottom = self.lung_box(side)
        u = (y - top) / (bottom - top)
        v = (x - x0) / (x1 - x0)
        return u, (1 - v if side == "right" else v)

    def lung_mask(self, side: str, size: int, shrink: float = 0.0) -> np.ndarray:
        """Soft [0, 1] mask of the aerated lung (a boxy superellipse cut by the dome); ``shrink`` collapses it
        toward the hilum by that fraction."""
        x, y = grid(size)
        x0, x1, top, bottom = self.lung_box(side)
        sign = -1 if side == "right" else 1
        hx, hy = (x0 if side == "left" else x1), top + 0.45 * (bottom - top)  # hilum: medial, mid-height
        ex, ey = (x0 + x1) / 2, (top + bottom) / 2
        rx, ry = (x1 - x0) / 2 * 1.08, (bottom - top) / 2 * 1.05
        if shrink:
            ex, ey = ex + (hx - ex) * shrink, ey + (hy - ey) * shrink * 0.5
            rx, ry = rx * (1 - shrink), ry * (1 - shrink * 0.6)
        taper = 0.7 + 0.3 * np.clip((y - top) / (0.45 * (bottom - top)), 0, 1)  # narrow apex
        ex_t = ex + (hx - ex) * (1 - taper) * 0.5
        rho = np.abs((x - ex_t) / (rx * taper)) ** 2.4 + np.abs((y - ey) / ry) ** 2.4
        edge = 2.0 / size
        inside = soft_step(1 - rho, 0.08) * soft_step(self.dome(x, side) - y, edge)
        medial = soft_step(sign * (x - (self.cx + sign * self.mediastinum_half)), edge)
        return inside * medial

    def heart_mask(self, size: int) -> np.ndarray:
        """Soft mask of the heart: a third right of the midline, two thirds left, resting on the left dome."""
        x, y = grid(size)
        hx = self.cx + self.heart_width / 6
        hy = self.dome_left - self.heart_height * 0.12
        rho = ((x - hx) / (self.heart_width / 2)) ** 2 + ((y - hy) / (self.heart_height / 2)) ** 2
        return soft_step(1 - rho, 0.06)


def render_normal(anatomy: Anatomy, size: int, rng: np.random.Generator) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """The normal density map and the masks findings draw into (``right``/``left`` lung, ``markings``)."""
    x, y = grid(size)
    a = anatomy
    dx = x - a.cx
    # soft-tissue body: a rounded trunk with a neck on top
    trunk = np.abs(dx / (a.thorax_half + 0.09)) ** 4 + np.abs((y - 0.62) / 0.62) ** 4
    body = np.maximum(soft_step(1 - trunk, 0.05), soft_step(0.11 - np.abs(dx), 0.01) * (y < 0.3))
    img = AIR + (SOFT_TISSUE + 0.08 * smooth_noise(rng, size, 4) - AIR) * body
    # abdomen below the domes is denser toward the bottom
    below = np.maximum(soft_step(y - a.dome(x, "right"), 1.5 / size) * (dx < 0),
                       soft_step(y - a.dome(x, "left"), 1.5 / size) * (dx >= 0)) * body
    img = img + 0.1 * below * np.clip((y - a.dome_right) * 3, 0, 1)
    # ribs: posterior arcs, brighter at their cortical edges, across the thorax
    ribs = np.zeros_like(img)
    thorax = soft_step(a.thorax_half + 0.02 - np.abs(dx), 0.01) * (y < a.dome_left + 0.05)
    spacing = (a.dome_left - a.lung_top) / 8.5
    for k in range(10):
        centre = a.lung_top - 0.03 + k * spacing + 1.3 * (np.abs(dx) - 0.2) ** 2
        d = np.abs(y - centre)
        ribs += soft_step(0.011 - d, 0.004) * (0.6 + 0.4 * soft_step(d - 0.006, 0.003))
    img = img + BONE * np.clip(ribs, 0, 1.2) * thorax * (np.abs(dx) > 0.03)
    # clavicles
    for sign in (-1, 1):
        t = np.clip((sign * dx - 0.04) / 0.26, 0, 1)
        clav_y = a.lung_top + 0.02 - 0.05 * t
        img = img + 0.16 * soft_step(0.014 - np.abs(y - clav_y), 0.004) * (sign * dx > 0.03) * (sign * dx < 0.32)
    # lungs (air) with vascular markings fanning out from each hilum
    masks: dict[str, np.ndarray] = {}
    markings = np.zeros_like(img)
    for side in ("right", "left"):
        mask = a.lung_mask(side, size)
        masks[side] = mask
        x0, x1, top, bottom = a.lung_box(side)
        hx, hy = (x1 if side == "right" else x0), top + 0.45 * (bottom - top)
        r = np.hypot(x - hx, y - hy)
        theta = np.arctan2(y - hy, x - hx)
        fan = np.maximum(0, np.sin(16 * theta + 4 * smooth_noise(rng, size, 8))) ** 4
        markings += mask * (0.5 * fan + 0.5 * np.clip(smooth_noise(rng, size, 14), 0, 1)) * np.exp(-r / 0.16)
    lungs = np.clip(masks["right"] + masks["left"], 0, 1)
    img = img * (1 - lungs) + (LUNG + 0.45 * (img - SOFT_TISSUE).clip(0)) * lungs + 0.09 * markings
    # mediastinum (with the spine) and the heart over everything medial
    above = soft_step(a.dome_left + 0.02 - y, 0.03)
    mediastinum = soft_step(a.mediastinum_half - np.abs(dx), 0.008) * soft_step(y - 0.02, 0.02) * body * above
    spine = 0.06 * soft_step(0.028 - np.abs(dx), 0.005) * body
    img = np.maximum(img, MEDIASTINUM * mediastinum) + spine
    heart = a.heart_mask(size) * soft_step(np.minimum(a.dome(x, "left"), a.dome(x, "right")) + 0.015 - y, 0.01)
    img = img * (1 - heart) + np.maximum(img, HEART) * heart
    # the trachea: an air column in the upper mediastinum
    trachea = soft_step(0.016 - np.abs(dx + 0.004), 0.004) * soft_step(a.lung_top + 0.2 - y, 0.01)
    img = img - 0.28 * trachea * mediastinum
    for side in ("right", "left"):  # findings draw into the lung, not into the heart in front of it
        masks[side] = masks[side] * (1 - heart)
    masks["heart"], masks["markings"] = heart, markings
    return img.astype(np.float32), masks


def to_pixels(density: np.ndarray, anatomy: Anatomy, rng: np.random.Generator) -> np.ndarray:
    """Exposure, blur and noise: the density map as an 8-bit radiograph."""
    img = np.clip(density, 0, 1) ** (1 / anatomy.contrast)
    size = img.shape[0]
    blurred = Image.fromarray((img * 255).astype(np.float32), mode="F").resize(
        (size // 2, size // 2), Image.BILINEAR).resize((size, size), Image.BICUBIC)
    img = 0.55 * img * 255 + 0.45 * np.asarray(blurred)  # film/detector unsharpness
    img = img + rng.normal(0, anatomy.noise * 255, img.shape)
    return np.clip(img, 0, 255).astype(np.uint8)
