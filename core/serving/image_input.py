"""An ``image_url`` data: URL to a PIL image: media type, base64, byte and pixel limits, then radzoo's decoder."""

from __future__ import annotations

import base64
import binascii
import io
import re
import warnings
from dataclasses import dataclass

from PIL import Image

from radzoo.data.images import ImageError, load_image_bytes
from radzoo.serving.errors import APIError, bad_request

MEDIA_TYPES = {"image/png": "PNG", "image/jpeg": "JPEG", "image/jpg": "JPEG", "application/dicom": "DICOM"}
DATA_URL = re.compile(r"data:(?P<media>[^;,]*)(?P<params>(?:;[^;,]*)*),", re.IGNORECASE)
EXAMPLE = "data:image/png;base64,iVBORw0KGgo..."


@dataclass(frozen=True)
class ImageLimits:
    """What one request may send: decoded file bytes and width x height (checked before the pixels are decoded)."""

    max_bytes: int = 50 * 2**20  # an uncompressed 16-bit 4k x 4k DICOM is 32 MiB
    max_pixels: int = 50_000_000  # a CXR is ~3k x 3k (9 MP); 50 MP stops decompression bombs long before RAM does


def decode_image_url(url: object, where: str, limits: ImageLimits) -> Image.Image:
    """The image in a base64 ``data:`` URL (PNG, JPEG or ``application/dicom``); APIError says what is wrong."""
    if not isinstance(url, str) or not url.startswith("data:"):
        shown = url[:40] + "..." if isinstance(url, str) and len(url) > 40 else url
        raise bad_request(f"{where} must be a base64 data: URL such as {EXAMPLE} (got {shown!r}); the server "
                          "fetches no remote URLs", where, "invalid_image_url")
    head = DATA_URL.match(url)
    if head is None or ";base64" not in head["params"].lower():
        raise bad_request(f"{where} is a data: URL without ';base64,'; send {EXAMPLE}", where, "invalid_image_url")
    media = head["media"].strip().lower()
    if media not in MEDIA_TYPES:
        raise bad_request(f"{where} has media type {media or '(none)'!r}; send image/png, image/jpeg or "
                          "application/dicom", where, "unsupported_image_type")
    payload = url[head.end():]
    if len(payload) * 3 // 4 > limits.max_bytes + 3:  # refused before decoding a huge payload
        raise _too_many_bytes(where, len(payload) * 3 // 4, limits)
    try:
        data = base64.b64decode("".join(payload.split()), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise bad_request(f"{where}: the base64 data is broken ({exc}); encode the whole file, e.g. with "
                          "`base64 -w0 image.png`", where, "invalid_base64") from None
    if len(data) > limits.max_bytes:
        raise _too_many_bytes(where, len(data), limits)
    dicom = MEDIA_TYPES[media] == "DICOM" or data[128:132] == b"DICM"
    size = _dicom_size(data) if dicom else _raster_size(data)
    if size is not None and size[0] * size[1] > limits.max_pixels:
        raise APIError(400, f"{where} is {size[0]}x{size[1]} pixels ({size[0] * size[1] / 1e6:.1f} MP), more than "
                       f"this server accepts ({limits.max_pixels / 1e6:.1f} MP, --max-image-pixels); downscale it, "
                       "e.g. to 3000 px on the long side", param=where, code="image_too_large")
    try:
        return load_image_bytes(data, where, dicom=dicom)
    except ImageError as exc:
        raise bad_request(" ".join(str(exc).split()), where, "invalid_image") from None


def _too_many_bytes(where: str, size: int, limits: ImageLimits) -> APIError:
    return APIError(413, f"{where} is {size / 2**20:.1f} MiB, more than this server accepts "
                    f"({limits.max_bytes / 2**20:.1f} MiB, --max-image-bytes); send a smaller or compressed image",
                    param=where, code="image_too_large")


def _raster_size(data: bytes) -> tuple[int, int] | None:
    """Width and height from the header alone (None when Pillow cannot even parse it: the decoder says why)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as img:
                return img.size
    except Image.DecompressionBombError:
        return (2**31, 1)  # beyond Pillow's own hard limit: over any limit this server allows
    except (OSError, SyntaxError, ValueError):
        return None


def _dicom_size(data: bytes) -> tuple[int, int] | None:
    """Columns x (rows x frames) from the DICOM header, read without its pixel data."""
    import pydicom

    try:
        ds = pydicom.dcmread(io.BytesIO(data), stop_before_pixels=True)
        if "Rows" not in ds or "Columns" not in ds:
            return None
        return int(ds.Columns), int(ds.Rows) * int(ds.get("NumberOfFrames", 1) or 1)
    except Exception:  # any header pydicom cannot parse is reported by the full decoder next
        return None
