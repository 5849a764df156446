"""Image IO: PNG/JPEG (8- or 16-bit) and DICOM to a PIL image, grayscale as mode "L".

No resizing or normalisation happens here: each encoder applies its own ``image_transform`` later.
DICOM goes through pydicom's modality LUT and VOI LUT/window, MONOCHROME1 is inverted, and high bit
depths are scaled to 8 bits over the range the VOI transform (or, without one, the pixel data) spans.
"""

from __future__ import annotations

import io
import re
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageChops

from radzoo.errors import InputError, MissingFileError

DICOM_SUFFIXES = (".dcm", ".dicom", ".dic")
# a real radiograph is hundreds of pixels a side at least; anything under this is a placeholder or a broken export
MIN_SIDE = 8
# Pillow's own hard limit (2 x MAX_IMAGE_PIXELS, ~179 MP): larger files are refused with a clear message, files
# between its warning threshold and this limit (a 10,000 px scan) load without the DecompressionBombWarning
MAX_PIXELS = 2 * (Image.MAX_IMAGE_PIXELS or 89_478_485)
# rows scaled per step when mapping high bit depths to 8 bits: bounds the float temporaries of huge images
SCALE_ROWS = 512


class ImageError(InputError):
    """An image file that cannot be used; the message names the file, the problem and the fix."""


def load_image(path: str | Path) -> Image.Image:
    """Read a CXR image file: "L" for grayscale data, "RGB" for colour; errors name the file and the fix."""
    path = Path(path)
    if not path.is_file():
        raise MissingFileError(f"image {path} does not exist; check the data set's image paths and image_root")
    if path.stat().st_size == 0:
        raise ImageError(f"image {path} is an empty (zero-byte) file; re-copy or re-download it")
    return _big_enough(_load_dicom(path) if is_dicom(path) else _load_raster(path), path)


def load_image_bytes(data: bytes, name: str, dicom: bool = False) -> Image.Image:
    """The same decoding for an in-memory file (an upload); ``name`` stands for the file in error messages.

    ``dicom`` says the sender declared DICOM; a file with the "DICM" preamble marker is read as DICOM anyway.
    """
    if not data:
        raise ImageError(f"image {name} is empty (zero bytes); send the image file's bytes")
    file = _NamedBytes(data, name)
    return _big_enough(_load_dicom(file) if dicom or data[128:132] == b"DICM" else _load_raster(file), name)


class _NamedBytes(io.BytesIO):
    """In-memory file bytes that print as a name, so the readers' messages name the upload, not an object."""

    def __init__(self, data: bytes, name: str) -> None:
        super().__init__(data)
        self.display_name = name

    def __str__(self) -> str:
        return self.display_name

    __repr__ = __str__  # Pillow's messages use repr()


def _big_enough(image: Image.Image, path: object) -> Image.Image:
    if min(image.size) < MIN_SIDE:
        raise ImageError(f"image {path} is {image.size[0]}x{image.size[1]} pixels, too small to be a radiograph "
                         f"(under {MIN_SIDE} px a side): probably a placeholder or a broken export; replace the file "
                         "or leave the study out")
    return image


def is_dicom(path: Path) -> bool:
    """True for a .dcm name or a file with the DICOM preamble's "DICM" marker."""
    if path.suffix.lower() in DICOM_SUFFIXES:
        return True
    with open(path, "rb") as fh:
        head = fh.read(132)
    return len(head) == 132 and head[128:] == b"DICM"


def dicom_view_position(path: str | Path) -> str | None:
    """A DICOM file's ViewPosition tag (PA, AP, LL, ...); None for a raster image or an empty tag."""
    path = Path(path)
    if not path.is_file() or path.suffix.lower() not in DICOM_SUFFIXES:
        return None
    import pydicom  # only DICOM data needs pydicom loaded

    header = pydicom.dcmread(path, stop_before_pixels=True, specific_tags=["ViewPosition"])
    return str(header.get("ViewPosition") or "").strip() or None


def _too_large(path: Path | io.BytesIO, pixels: int, size: str = "") -> ImageError:
    return ImageError(f"image {path} is {size}{pixels / 1e6:.0f} MP, more than radzoo reads ({MAX_PIXELS / 1e6:.0f} "
                      "MP); downscale it, e.g. to 4096 px on the long side")


def _load_raster(path: Path | io.BytesIO) -> Image.Image:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            img = Image.open(path)
        with img:
            if img.width * img.height > MAX_PIXELS:
                raise _too_large(path, img.width * img.height, f"{img.width}x{img.height} pixels, ")
            img.load()
            frames = getattr(img, "n_frames", 1)
            if frames > 1:
                raise ImageError(f"image {path} has {frames} frames; radzoo reads single-frame images only: "
                                 "export the frame you want as its own file")
            return _to_display_mode(img)
    except Image.DecompressionBombError as exc:  # Pillow refuses it before we see the size: its message has it
        pixels = re.search(r"\((\d+) pixels\)", str(exc))
        raise _too_large(path, int(pixels.group(1)) if pixels else MAX_PIXELS + 1) from None
    except (OSError, SyntaxError) as exc:
        raise ImageError(f"image {path} cannot be read ({exc}); the file is corrupt, truncated or not an "
                         "image; re-export it as PNG/JPEG/DICOM") from None


def _to_display_mode(img: Image.Image) -> Image.Image:
    """8-bit "L" for grayscale (16-bit/float scaled over their range), "RGB" for true colour."""
    if img.mode in ("I", "I;16", "I;16B", "I;16L", "I;16N", "F"):
        return Image.fromarray(_scale_to_uint8(np.asarray(img), None), mode="L")
    if img.mode in ("1", "L", "LA", "La"):
        return img.convert("L")
    rgb = img.convert("RGB")  # P, RGBA, CMYK, YCbCr: alpha dropped, palette expanded
    red, green, blue = rgb.split()  # compared in Pillow: no numpy copies of a huge image
    if ImageChops.difference(red, green).getbbox() is None and ImageChops.difference(green, blue).getbbox() is None:
        return red  # grayscale stored as RGB
    return rgb


def _scale_to_uint8(arr: np.ndarray, value_range: tuple[float, float] | None) -> np.ndarray:
    """Linear map of ``value_range`` (default: the data's min..max) onto 0..255, a band of rows at a time."""
    low, high = value_range if value_range is not None else (float(arr.min()), float(arr.max()))
    out = np.zeros(arr.shape, dtype=np.uint8)
    if high <= low:
        return out
    for start in range(0, arr.shape[0], SCALE_ROWS):
        band = np.clip(arr[start:start + SCALE_ROWS].astype(np.float64), low, high)
        out[start:start + SCALE_ROWS] = np.round((band - low) * (255.0 / (high - low)))
    return out


def _load_dicom(path: Path | io.BytesIO) -> Image.Image:
    import pydicom
    from pydicom.errors import InvalidDicomError
    from pydicom.pixels import apply_modality_lut, apply_voi_lut

    try:
        ds = pydicom.dcmread(path)
    except (InvalidDicomError, OSError, EOFError, ValueError) as exc:
        raise ImageError(f"DICOM {path} cannot be read ({exc}); the file is corrupt or truncated") from None
    if "PixelData" not in ds:
        if "Rows" in ds or "SOPClassUID" not in ds:  # image attributes (or not even the dataset) but no pixels
            raise ImageError(f"DICOM {path} ends before its pixel data: the file is truncated; re-copy it")
        raise ImageError(f"DICOM {path} holds no pixel data: it is not an image (modality "
                         f"{ds.get('Modality', '?')}, e.g. a structured report); leave it out of the data set")
    if "Rows" in ds and "Columns" in ds and int(ds.Rows) * int(ds.Columns) > MAX_PIXELS:
        raise _too_large(path, int(ds.Rows) * int(ds.Columns), f"{ds.Columns}x{ds.Rows} pixels, ")
    frames = int(ds.get("NumberOfFrames", 1) or 1)
    if frames > 1:
        raise ImageError(f"DICOM {path} is multi-frame ({frames} frames); radzoo reads single-frame "
                         "radiographs only: export the frame you want as its own file")
    try:
        arr = ds.pixel_array
    except Exception as exc:  # pydicom raises many types for bad/truncated pixel data or missing codecs
        syntax = getattr(getattr(ds, "file_meta", None), "TransferSyntaxUID", None)
        fix = ("the file is truncated or needs a codec: re-copy it, or pip install pylibjpeg pylibjpeg-libjpeg"
               if syntax is not None and syntax.is_compressed else "the file is truncated; re-copy it")
        detail = str(exc).split(" - ")[0]  # pydicom appends a long list of possible causes
        raise ImageError(f"DICOM {path}: pixel data cannot be decoded ({detail}); {fix}") from None
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
