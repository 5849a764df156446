"""Findings of the synthetic set: sampling a ground truth and drawing each finding into the density map.

Effects are deliberately large (a tiny CNN/ViT at 64-128 px should learn them); "uncertain" findings
are drawn fainter and reported with hedging.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from radzoo.data.synthetic.anatomy import LUNG, SOFT_TISSUE, Anatomy, grid, smooth_noise, soft_step

FINDINGS = ("cardiomegaly", "pleural_effusion", "pneumothorax", "consolidation", "nodule", "edema",
            "atelectasis", "support_devices")
LOBES = ("right upper", "right middle", "right lower", "left upper", "left lower")
SEVERITIES = ("mild", "moderate", "severe")
SIZES = ("small", "moderate", "large")
# cardiothoracic ratio ranges: a clear gap between normal (< 0.48) and mild cardiomegaly (> 0.53)
CTR = {"normal": (0.40, 0.47), "mild": (0.53, 0.57), "moderate": (0.58, 0.63), "severe": (0.64, 0.70)}
NORMAL_FRACTION, FINDING_PROBABILITY = 0.25, 0.22


def pick(rng: np.random.Generator, options: tuple | list) -> Any:
    return options[int(rng.integers(len(options)))]


def normal_truth(ctr: float = 0.44) -> dict[str, Any]:
    """A ground truth without findings (tests and examples add one finding at a time)."""
    return {**{name: None for name in FINDINGS}, "ctr": ctr, "normal": True}


def sample_truth(rng: np.random.Generator) -> dict[str, Any]:
    """A random ground truth: about a quarter normal, otherwise each finding with p ~0.22 (at least one)."""
    present: list[str] = []
    if rng.random() >= NORMAL_FRACTION:
        present = [f for f in FINDINGS if rng.random() < FINDING_PROBABILITY] or [pick(rng, FINDINGS)]
    truth = normal_truth()
    severity = None
    if "cardiomegaly" in present:
        severity = pick(rng, SEVERITIES)
        truth["cardiomegaly"] = {"severity": severity, "uncertain": severity == "mild" and rng.random() < 0.3}
    low, high = CTR[severity or "normal"]
    truth["ctr"] = round(float(rng.uniform(low, high)), 3)
    if "pleural_effusion" in present:
        size = pick(rng, SIZES)
        truth["pleural_effusion"] = {"side": pick(rng, ("left", "right", "bilateral")), "size": size,
                                     "uncertain": size == "small" and rng.random() < 0.35}
    if "pneumothorax" in present:
        truth["pneumothorax"] = {"side": pick(rng, ("left", "right")), "size": pick(rng, SIZES)}
    if "consolidation" in present:
        kind = "opacity" if rng.random() < 0.33 else "consolidation"
        truth["consolidation"] = {"lobe": pick(rng, LOBES), "kind": kind, "uncertain": bool(rng.random() < 0.25)}
    if "nodule" in present:
        kind = "mass" if rng.random() < 0.3 else "nodule"
        size_cm = float(pick(rng, (4.0, 5.0, 6.0) if kind == "mass" else (1.5, 2.0, 2.5, 3.0)))
        truth["nodule"] = {"kind": kind, "size_cm": size_cm, "lobe": pick(rng, LOBES)}
    if "edema" in present:
        severity = pick(rng, SEVERITIES)
        truth["edema"] = {"severity": severity, "uncertain": severity == "mild" and rng.random() < 0.3}
    if "atelectasis" in present:
        truth["atelectasis"] = {"side": pick(rng, ("left", "right", "bilateral")),
                                "pattern": pick(rng, ("basal", "linear"))}
    if "support_devices" in present:
        devices = [d for d in ("et_tube", "ng_tube", "central_line") if rng.random() < 0.5] or ["et_tube"]
        truth["support_devices"] = {"devices": devices, "et_tube_cm_above_carina": int(rng.integers(2, 7))}
    truth["normal"] = not present
    return truth


def _sides(side: str) -> tuple[str, ...]:
    return ("right", "left") if side == "bilateral" else (side,)


def lobe_mask(anatomy: Anatomy, masks: dict[str, np.ndarray], lobe: str) -> np.ndarray:
    """Soft mask of a lobe's usual projection on a PA film, inside its (visible) lung."""
    side, level = lobe.split()
    lung = masks[side]
    u, v = anatomy.lung_coords(side, lung.shape[0])
    if level == "upper":
        zone = soft_step((0.42 if side == "right" else 0.5) - u, 0.05)
    elif level == "middle":  # medial lower zone against the right heart border
        zone = soft_step(u - 0.45, 0.05) * soft_step(0.8 - u, 0.05) * soft_step(0.6 - v, 0.08)
    else:
        zone = soft_step(u - (0.62 if side == "right" else 0.55), 0.05)
    return lung * zone


def draw_findings(img: np.ndarray, anatomy: Anatomy, masks: dict[str, np.ndarray], truth: dict[str, Any],
                  rng: np.random.Generator) -> np.ndarray:
    """``img`` with every finding of ``truth`` drawn in (cardiomegaly is already the heart's width)."""
    size = img.shape[0]
    x, y = grid(size)
    if truth["edema"]:
        amp = {"mild": 0.16, "moderate": 0.26, "severe": 0.36}[truth["edema"]["severity"]]
        amp *= 0.7 if truth["edema"]["uncertain"] else 1.0
        spread = {"mild": 0.13, "moderate": 0.17, "severe": 0.22}[truth["edema"]["severity"]]
        for side in ("right", "left"):
            x0, x1, top, bottom = anatomy.lung_box(side)
            hx, hy = (x1 if side == "right" else x0), top + 0.5 * (bottom - top)
            haze = np.exp(-((x - hx) ** 2 + 0.6 * (y - hy) ** 2) / (2 * spread**2))
            texture = 0.8 + 0.3 * smooth_noise(rng, size, 10)
            img = img + masks[side] * haze * (amp * texture + 0.3 * masks["markings"])
    if truth["consolidation"]:
        c = truth["consolidation"]
        region = lobe_mask(anatomy, masks, c["lobe"])
        patch = np.clip(0.75 + 0.5 * smooth_noise(rng, size, 12), 0, 1.2)
        img = img + (0.2 if c["uncertain"] else 0.36) * region * patch
    if truth["nodule"]:
        n = truth["nodule"]
        region = lobe_mask(anatomy, masks, n["lobe"])
        ys, xs = np.nonzero(region > 0.9)
        if len(ys):
            i = int(rng.integers(len(ys)))
            cx, cy = (xs[i] + 0.5) / size, (ys[i] + 0.5) / size
            # one cm ~ 1/30 of the thoracic width; drawn at twice the size (a lesion a 64 px model can see)
            radius = n["size_cm"] * (2 * anatomy.thorax_half / 30)
            disc = soft_step(radius - np.hypot(x - cx, (y - cy)), 1.2 / size)
            img = img + 0.5 * disc * (masks["right"] + masks["left"]).clip(0, 1)
    if truth["atelectasis"]:
        a = truth["atelectasis"]
        for side in _sides(a["side"]):
            u, v = anatomy.lung_coords(side, size)
            lung = masks[side]
            if a["pattern"] == "linear":  # a plate-like band, slightly oblique, above the base
                d = np.abs(u - (0.72 + 0.06 * v))
                img = img + 0.42 * lung * soft_step(0.035 - d, 0.012) * soft_step(0.9 - v, 0.05)
            else:  # basal: hazy dense band along the dome
                img = img + 0.3 * lung * soft_step(u - 0.78, 0.05) * (0.8 + 0.3 * smooth_noise(rng, size, 10))
    if truth["pleural_effusion"]:
        e = truth["pleural_effusion"]
        height = {"small": 0.2, "moderate": 0.36, "large": 0.55}[e["size"]] * (0.75 if e["uncertain"] else 1.0)
        for side in _sides(e["side"]):
            u, v = anatomy.lung_coords(side, size)
            surface = (1 - height) - 0.12 * v**2  # meniscus: the fluid climbs the lateral chest wall
            fluid = masks[side] * soft_step(u - surface, 0.02)
            img = img * (1 - fluid) + (SOFT_TISSUE + 0.1) * fluid
    if truth["pneumothorax"]:
        p = truth["pneumothorax"]
        shrink = {"small": 0.22, "moderate": 0.32, "large": 0.45}[p["size"]]
        collapsed = anatomy.lung_mask(p["side"], size, shrink=shrink) * (1 - masks["heart"])
        lucent = np.clip(masks[p["side"]] - collapsed, 0, 1)
        line = np.exp(-((collapsed - 0.5) / 0.18) ** 2) * masks[p["side"]]
        img = img * (1 - lucent) + (LUNG - 0.1) * lucent + 0.22 * line + 0.05 * collapsed
    if truth["support_devices"]:
        img = _draw_devices(img, anatomy, truth["support_devices"], size)
    return img


def _polyline(size: int, points: list[tuple[float, float]], width: float) -> np.ndarray:
    """Soft mask of a polyline of ``width`` (image fractions)."""
    x, y = grid(size)
    dist = np.full((size, size), np.inf, dtype=np.float32)
    for (x0, y0), (x1, y1) in zip(points, points[1:]):
        dx, dy = x1 - x0, y1 - y0
        t = np.clip(((x - x0) * dx + (y - y0) * dy) / max(dx * dx + dy * dy, 1e-9), 0, 1)
        dist = np.minimum(dist, np.hypot(x - (x0 + t * dx), y - (y0 + t * dy)))
    return soft_step(width / 2 - dist, 0.8 / size)


def _draw_devices(img: np.ndarray, anatomy: Anatomy, devices: dict[str, Any], size: int) -> np.ndarray:
    """Radio-opaque tubes and lines as bright curves."""
    cx, cm = anatomy.cx, 2 * anatomy.thorax_half / 30
    carina = anatomy.lung_top + 0.2
    lines = []
    if "et_tube" in devices["devices"]:
        tip = carina - devices["et_tube_cm_above_carina"] * cm
        lines.append(_polyline(size, [(cx + 0.005, 0.0), (cx, tip)], 0.03))
    if "ng_tube" in devices["devices"]:
        stomach_y = anatomy.dome_left + 0.08
        lines.append(_polyline(size, [(cx - 0.012, 0.0), (cx - 0.015, 0.35), (cx + 0.01, anatomy.dome_left),
                                      (cx + 0.12, stomach_y), (cx + 0.17, stomach_y - 0.02)], 0.022))
    if "central_line" in devices["devices"]:
        lines.append(_polyline(size, [(cx - 0.2, 0.03), (cx - 0.1, 0.12), (cx - 0.04, 0.2), (cx - 0.03, carina + 0.06)],
                               0.022))
    for line in lines:
        img = np.maximum(img, 0.97 * line)
    return img
