"""The lateral view of a synthetic chest: the same findings seen from the side (anterior to the image's left).

A lateral film adds what the frontal view hides: the retrocardiac space, the posterior costophrenic sulcus where
a small effusion shows first, and the depth of a lobe. The drawing is schematic, as the frontal one is: a body
outline, one lung field (both lungs overlap), the heart anteriorly (its depth follows the cardiothoracic ratio),
the spine posteriorly, and each finding at its lateral position.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from radzoo.data.synthetic.anatomy import AIR, BONE, HEART, LUNG, SOFT_TISSUE, Anatomy, grid, smooth_noise, soft_step

# the lobes' centres on a lateral film (x: anterior 0 .. posterior 1 across the lung, y: top 0 .. base 1)
LOBE_CENTRES = {"right upper": (0.45, 0.25), "left upper": (0.4, 0.3), "right middle": (0.3, 0.62),
                "right lower": (0.68, 0.7), "left lower": (0.7, 0.72)}
SIZE_SCALE = {"small": 0.2, "moderate": 0.36, "large": 0.55}
SEVERITY_SCALE = {"mild": 0.16, "moderate": 0.26, "severe": 0.36}


def render_lateral(truth: dict[str, Any], rng: np.random.Generator, image_size: int) -> np.ndarray:
    """8-bit pixels of the lateral view of a random chest (from ``rng``) with the findings of ``truth``."""
    anatomy = Anatomy.sample(rng, truth["ctr"])
    x, y = grid(image_size)
    top, base = anatomy.lung_top, anatomy.dome_left + 0.04
    front, back = 0.22, 0.74  # the lung field's anterior and posterior edges
    body = soft_step(1 - (np.abs((x - 0.48) / 0.36) ** 3 + np.abs((y - 0.6) / 0.6) ** 4), 0.05)
    img = AIR + (SOFT_TISSUE + 0.06 * smooth_noise(rng, image_size, 4) - AIR) * body
    u, v = (y - top) / (base - top), (x - front) / (back - front)  # u: apex 0 .. base 1, v: front 0 .. back 1
    dome = 1.0 - 0.08 * (1 - v) - 0.1 * np.cos(np.pi * (v - 0.5))  # the diaphragm, highest mid-chest
    lung = soft_step(1 - (np.abs(v - 0.5) / 0.5) ** 3, 0.06) * soft_step(dome - u, 0.02) * soft_step(u + 0.05, 0.03)
    img = img * (1 - lung) + (LUNG + 0.04 * smooth_noise(rng, image_size, 10)) * lung
    depth = 0.18 + 0.9 * (truth["ctr"] - 0.4)  # an enlarged heart fills the retrosternal and retrocardiac space
    heart = soft_step(1 - (((v - 0.12 - depth / 2) / (depth / 2 + 0.1)) ** 2 + ((u - 0.78) / 0.3) ** 2), 0.05)
    img = img * (1 - heart) + HEART * heart
    spine = soft_step(0.045 - np.abs(x - (back + 0.06)), 0.01) * (y > top)
    img = img + (BONE + 0.4) * spine * 0.6
    if truth["edema"]:
        e = truth["edema"]
        img = img + lung * SEVERITY_SCALE[e["severity"]] * (0.7 if e["uncertain"] else 1.0) * \
            np.exp(-((v - 0.45) ** 2 + (u - 0.5) ** 2) / 0.08)
    for key in ("consolidation", "nodule"):
        entry = truth[key]
        if entry:
            cv, cu = LOBE_CENTRES[entry["lobe"]]
            radius = 0.16 if key == "consolidation" else entry["size_cm"] / 30
            blob = soft_step(radius - np.hypot(v - cv, u - cu) * 0.9, 0.03)
            strength = 0.5 if key == "nodule" else (0.2 if entry["uncertain"] else 0.36)
            img = img + strength * lung * blob
    if truth["atelectasis"]:
        img = img + 0.3 * lung * soft_step(u - 0.8, 0.04) * soft_step(v - 0.5, 0.05)
    if truth["pleural_effusion"]:
        e = truth["pleural_effusion"]
        height = SIZE_SCALE[e["size"]] * (0.75 if e["uncertain"] else 1.0)
        fluid = lung * soft_step(u - (dome - height * (0.4 + 0.8 * v)), 0.02)  # the posterior sulcus fills first
        img = img * (1 - fluid) + (SOFT_TISSUE + 0.1) * fluid
    if truth["pneumothorax"]:
        gap = {"small": 0.15, "moderate": 0.25, "large": 0.38}[truth["pneumothorax"]["size"]]
        img = img * (1 - lung * soft_step(gap - u, 0.03)) + (LUNG - 0.1) * lung * soft_step(gap - u, 0.03)
    if truth["support_devices"]:
        tube = soft_step(0.008 - np.abs(x - (0.4 + 0.05 * y)), 0.004) * (y < 0.5) * (y > 0.05)
        img = img + 0.6 * tube
    img = np.clip(img, 0, 1) ** (1 / anatomy.contrast) * 255 + rng.normal(0, anatomy.noise * 255, img.shape)
    return np.clip(img, 0, 255).astype(np.uint8)
