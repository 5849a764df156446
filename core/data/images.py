"""Image IO: PNG/JPEG (8- or 16-bit) and DICOM to a PIL image, grayscale as mode "L".

No resizing or normalisation happens here: each encoder applies its own ``image_transform`` later.
DICOM goes through pydicom's modality LUT and VOI LUT/window, MONOCHROME1 is inverted, and high bit
depths are scaled to 8 bits over the range the VOI transform (or, without one, the pixel data) spans.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

DICOM_SUFFIXES = (".dcm", ".dicom", ".dic")


def load_image(path: str | Path) -> Image.Image:
    """Read a CXR image file: "L" for grayscale data, "RGB" for colour; errors name the file and the fix."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"image {path} does not exist; check the data set's image paths and image_root")
    if path.stat().st_size == 0:
        raise ValueError(f"image {path} is an empty (zero-byte) file; re-copy or re-download it")
    if is_dicom(path):
        return _load_dicom(path)
    return _load_raster(path)


def is_dicom(path: Path) -> bool:
    """True for a .dcm name or a file with the DICOM preamble's "DICM" marker."""
    if path.suffix.lower() in DICOM_SUFFIXES:
        return True
    with open(path, "rb") as fh:
        head = fh.read(132)
    return len(head) == 132 and head[128:] == b"DICM"


def _load_raster(path: Path) -> Image.Image:
    try:
        with Image.open(path) as img:
            img.load()
            frames = getattr(img, "n_frames", 1)
            if frames > 1:
                raise ValueError(f"image {path} has {frames} frames; radzoo reads single-frame images only")
            return _to_display_mode(img)
    except (OSError, SyntaxError, Image.DecompressionBombError) as exc:
        raise ValueError(f"image {path} cannot be read ({exc}); the file is corrupt, truncated or not an "
                         "image; re-export it as PNG/JPEG/DICOM") from None


def _to_display_mode(img: Image.Image) -> Image.Image:
    """8-bit "L" for grayscale (16-bit/float scaled over their range), "RGB" for true colour."""
    if img.mode in ("I", "I;16", "I;16B", "I;16L", "I;16N", "F"):
        return Image.fromarray(_scale_to_uint8(np.asarray(img), None), mode="L")
    if img.mode in ("1", "L", "LA", "La"):
        return img.convert("L")
    rgb = img.convert("RGB")  # P, RGBA, CMYK, YCbCr: alpha dropped, palette expanded
    arr = np.asarray(rgb)
    if np.array_equal(arr[..., 0], arr[..., 1]) and np.array_equal(arr[..., 1], arr[..., 2]):
        return Image.fromarray(np.ascontiguousarray(arr[..., 0]), mode="L")  # grayscale stored as RGB
    return rgb


def _scale_to_uint8(arr: np.ndarray, value_range: tuple[float, float] | None) -> np.ndarray:
    """Linear map of ``value_range`` (default: the data's min..max) onto 0..255."""
    arr = arr.astype(np.float64)
    low, high = value_range if value_range is not None else (float(arr.min()), float(arr.max()))
    if high <= low:
        return np.zeros(arr.shape, dtype=np.uint8)
    out = (np.clip(arr, low, high) - low) * (255.0 / (high - low))
    return np.round(out).astype(np.uint8)


def _load_dicom(path: Path) -> Image.Image:
    import pydicom
    from pydicom.errors import InvalidDicomError
    from pydicom.pixels import apply_modality_lut, apply_voi_lut

    try:
        ds = pydicom.dcmread(path)
    except (InvalidDicomError, OSError, EOFError, ValueError) as exc:
        raise ValueError(f"DICOM {path} cannot be read ({exc}); the file is corrupt or truncated") from None
    if "PixelData" not in ds:
        raise ValueError(f"DICOM {path} holds no pixel data (a report or structured-report object?)")
    frames = int(ds.get("NumberOfFrames", 1) or 1)
    if frames > 1:
        raise ValueError(f"DICOM {path} is multi-frame ({frames} frames); radzoo reads single-frame "
                         "radiographs only: export the frame you want as its own file")
    try:
        arr = ds.pixel_array
    except Exception as exc:  # pydicom raises many types for bad/truncated pixel data or missing codecs
        raise ValueError(f"DICOM {path}: pixel data cannot be decoded ({exc}); the file is truncated or "
                         "needs a codec (pip install pylibjpeg pylibjpeg-libjpeg)") from None
    photometric = str(ds.get("PhotometricInterpretation", "MONOCHROME2")).upper()
    if arr.ndim == 3 and int(ds.get("SamplesPerPixel", 1)) > 1:
        return Image.fromarray(_scale_to_uint8(arr, None) if arr.dtype != np.uint8 else arr, mode="RGB")
    arr = apply_modality_lut(arr, ds)
    value_range = _voi_output_range(ds)
    if value_range is not None:
        arr = _apply_8bit_voi_lut(arr, ds) if _is_long_8bit_lut(ds) else apply_voi_lut(arr, ds)
    out = _scale_to_uint8(arr, value_range)
    if photometric == "MONOCHROME1":  # low values are white in MONOCHROME1: flip to the usual look
        out = 255 - out
    return Image.fromarray(out, mode="L")


def _is_long_8bit_lut(ds: object) -> bool:
    """An 8-bit VOI LUT with more than 256 entries: pydicom 3.0 indexes it through uint8 and wraps around."""
    voi = ds.get("VOILUTSequence")  # type: ignore[attr-defined]
    if not voi or voi[0].get("LUTDescriptor") is None or voi[0].get("LUTData") is None:
        return False
    entries, _, bits = (int(v) for v in voi[0].LUTDescriptor)
    return bits == 8 and (entries or 65536) > 256 and voi[0]["LUTData"].VR != "OW"


def _apply_8bit_voi_lut(arr: np.ndarray, ds: object) -> np.ndarray:
    """The VOI LUT lookup of PS3.3 C.11.2.1.1 with wide indices (values below/above the table clamp to its ends)."""
    item = ds.VOILUTSequence[0]  # type: ignore[attr-defined]
    entries, first, _ = (int(v) for v in item.LUTDescriptor)
    table = np.asarray(item.LUTData, dtype=np.int64)
    index = np.clip(np.asarray(arr, dtype=np.int64) - first, 0, (entries or 65536) - 1)
    return table[index]


def _voi_output_range(ds: object) -> tuple[float, float] | None:
    """The value range apply_voi_lut maps onto (None when the file has no VOI LUT or window).

    Mirrors pydicom: a VOI LUT outputs 0..2**bits-1 (its descriptor); a window outputs the stored range
    (after rescale), unsigned or signed by PixelRepresentation.
    """
    get = ds.get  # type: ignore[attr-defined]
    voi = get("VOILUTSequence")
    if voi and voi[0].get("LUTDescriptor") is not None and voi[0].get("LUTData") is not None:
        return 0.0, float(2 ** int(voi[0].LUTDescriptor[2]) - 1)
    if get("WindowCenter") is None or get("WindowWidth") is None:
        return None
    bits = int(get("BitsStored", 16))
    if get("ModalityLUTSequence"):
        return 0.0, float(2 ** int(ds.ModalityLUTSequence[0].LUTDescriptor[2]) - 1)  # type: ignore[attr-defined]
    if int(get("PixelRepresentation", 0)) == 0:
        low, high = 0.0, float(2 ** bits - 1)
    else:
        low, high = float(-(2 ** (bits - 1))), float(2 ** (bits - 1) - 1)
    slope, intercept = get("RescaleSlope"), get("RescaleIntercept")
    if slope is not None and intercept is not None:
        low, high = low * float(slope) + float(intercept), high * float(slope) + float(intercept)
    return low, high
