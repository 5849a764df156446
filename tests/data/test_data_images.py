"""Image IO: PNG/JPEG modes, 16-bit scaling, DICOM (MONOCHROME1, window, VOI LUT, multi-frame) and bad files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pydicom
import pytest
from PIL import Image
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, SecondaryCaptureImageStorage, generate_uid

from radzoo.data.images import load_image
from radzoo.data.readers import read_studies


def write_dicom(path: Path, pixels: np.ndarray, photometric: str = "MONOCHROME2", bits_stored: int = 16,
                frames: int = 1, **extra: object) -> Path:
    """A minimal single- or multi-frame uncompressed DICOM file."""
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = SecondaryCaptureImageStorage
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID, ds.SOPInstanceUID = meta.MediaStorageSOPClassUID, meta.MediaStorageSOPInstanceUID
    ds.Modality = "CR"
    ds.Rows, ds.Columns = pixels.shape[-2:]
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, photometric
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, bits_stored, bits_stored - 1, 0
    if frames > 1:
        ds.NumberOfFrames = frames
    for key, value in extra.items():
        setattr(ds, key, value)
    ds.PixelData = pixels.astype("<u2").tobytes()
    ds.save_as(path, enforce_file_format=True)
    return path


def ramp(width: int = 16, high: int = 4095) -> np.ndarray:
    """Rows of 0 .. high, left to right."""
    return np.tile(np.linspace(0, high, width).round().astype(np.uint16), (8, 1))


def test_png_grayscale_rgb_and_rgba(tmp_path: Path) -> None:
    gray = np.arange(64, dtype=np.uint8).reshape(8, 8)
    Image.fromarray(gray, mode="L").save(tmp_path / "g.png")
    assert load_image(tmp_path / "g.png").mode == "L"
    # grayscale saved as RGBA (a common export): alpha dropped, returned as L with the same values
    rgba = np.dstack([gray, gray, gray, np.full_like(gray, 255)])
    Image.fromarray(rgba, mode="RGBA").save(tmp_path / "a.png")
    img = load_image(tmp_path / "a.png")
    assert img.mode == "L" and np.array_equal(np.asarray(img), gray)
    colour = np.zeros((8, 8, 3), dtype=np.uint8)
    colour[..., 0] = 200
    Image.fromarray(colour, mode="RGB").save(tmp_path / "c.jpg")
    assert load_image(tmp_path / "c.jpg").mode == "RGB"


def test_16bit_png_is_scaled_over_its_range(tmp_path: Path) -> None:
    Image.fromarray(ramp(high=4095)).save(tmp_path / "deep.png")  # 12-bit data in a 16-bit PNG
    assert Image.open(tmp_path / "deep.png").mode.startswith("I")
    arr = np.asarray(load_image(tmp_path / "deep.png"))
    assert arr.dtype == np.uint8 and arr.min() == 0 and arr.max() == 255
    assert np.all(np.diff(arr[0].astype(int)) >= 0)  # order kept


def test_dicom_monochrome2_12bit_without_window_uses_full_range(tmp_path: Path) -> None:
    img = load_image(write_dicom(tmp_path / "m2.dcm", ramp(high=4095), bits_stored=12))
    arr = np.asarray(img)
    assert img.mode == "L" and arr[0, 0] == 0 and arr[0, -1] == 255


def test_dicom_monochrome1_is_inverted(tmp_path: Path) -> None:
    m2 = np.asarray(load_image(write_dicom(tmp_path / "m2.dcm", ramp(), bits_stored=12)))
    m1 = np.asarray(load_image(write_dicom(tmp_path / "m1.dcm", ramp(), photometric="MONOCHROME1", bits_stored=12)))
    assert m1[0, 0] == 255 and m1[0, -1] == 0
    assert np.array_equal(m1, 255 - m2)


def test_dicom_16bit_window_is_applied(tmp_path: Path) -> None:
    pixels = ramp(width=32, high=65535)
    path = write_dicom(tmp_path / "w.dcm", pixels, bits_stored=16, WindowCenter=32768, WindowWidth=16384)
    arr = np.asarray(load_image(path))[0]
    below, inside, above = pixels[0] < 24576, (pixels[0] > 26000) & (pixels[0] < 39000), pixels[0] > 40960
    assert np.all(arr[below] == 0) and np.all(arr[above] == 255)
    assert 0 < arr[inside].min() < arr[inside].max() < 255  # the window spreads over the 8-bit range


def test_dicom_voi_lut_sequence_is_applied(tmp_path: Path) -> None:
    lut = Dataset()
    lut.add_new(0x00283002, "US", [4096, 0, 12])  # LUTDescriptor: 4096 entries from 0, 12-bit output
    lut.add_new(0x00283006, "US", [0 if v < 2048 else 4095 for v in range(4096)])  # LUTData: a step at 2048
    path = write_dicom(tmp_path / "voi.dcm", ramp(high=4095), bits_stored=12, VOILUTSequence=[lut])
    arr = np.asarray(load_image(path))[0]
    assert set(arr.tolist()) == {0, 255} and arr[0] == 0 and arr[-1] == 255


def test_dicom_rescale_then_window(tmp_path: Path) -> None:
    # modality LUT first: stored 0..4095 -> -1024..3071 (HU-like), then a window around 0
    path = write_dicom(tmp_path / "r.dcm", ramp(width=64, high=4095), bits_stored=12, RescaleSlope=1,
                       RescaleIntercept=-1024, WindowCenter=0, WindowWidth=400)
    arr = np.asarray(load_image(path))[0]
    assert arr[0] == 0 and arr[-1] == 255 and 0 < int(np.median(arr)) <= 255


def test_dicom_8bit_voi_lut_with_many_entries(tmp_path: Path) -> None:
    lut = Dataset()
    lut.add_new(0x00283002, "US", [4096, 0, 8])  # 8-bit output over 4096 entries (pydicom 3.0 wraps these)
    lut.add_new(0x00283006, "US", [min(255, v // 8) for v in range(4096)])  # a ramp saturating at 2040
    arr = np.asarray(load_image(write_dicom(tmp_path / "v8.dcm", ramp(high=4095), bits_stored=12,
                                            VOILUTSequence=[lut])))[0]
    assert arr[0] == 0 and arr[-1] == 255 and np.all(np.diff(arr.astype(int)) >= 0)


def test_multiframe_dicom_is_rejected(tmp_path: Path) -> None:
    path = write_dicom(tmp_path / "mf.dcm", np.stack([ramp(), ramp()]), frames=2)
    with pytest.raises(ValueError, match=r"mf\.dcm.*multi-frame"):
        load_image(path)


def test_dicom_is_detected_without_suffix(tmp_path: Path) -> None:
    path = write_dicom(tmp_path / "x.dcm", ramp(), bits_stored=12).rename(tmp_path / "noext")
    assert load_image(path).mode == "L"


def test_bad_files_name_the_file(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="missing.png"):
        load_image(tmp_path / "missing.png")
    (tmp_path / "empty.png").write_bytes(b"")
    with pytest.raises(ValueError, match=r"empty\.png.*zero-byte"):
        load_image(tmp_path / "empty.png")
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (64, 64), dtype=np.uint8)).save(tmp_path / "t.png")
    data = (tmp_path / "t.png").read_bytes()
    (tmp_path / "trunc.png").write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match=r"trunc\.png"):
        load_image(tmp_path / "trunc.png")
    (tmp_path / "junk.jpg").write_bytes(b"not an image at all")
    with pytest.raises(ValueError, match=r"junk\.jpg"):
        load_image(tmp_path / "junk.jpg")
    good = write_dicom(tmp_path / "good.dcm", ramp(), bits_stored=12).read_bytes()
    (tmp_path / "cut.dcm").write_bytes(good[:-100])
    with pytest.raises(ValueError, match=r"cut\.dcm"):
        load_image(tmp_path / "cut.dcm")


def test_pydicom_reads_fixture_back(tmp_path: Path) -> None:
    """The fixture writer itself produces valid DICOM (guards the tests above)."""
    ds = pydicom.dcmread(write_dicom(tmp_path / "f.dcm", ramp(), bits_stored=12))
    assert ds.pixel_array.shape == (8, 16) and ds.PhotometricInterpretation == "MONOCHROME2"


def test_a_dicom_files_view_position_gives_its_view_in_a_csv_study(tmp_path: Path) -> None:
    write_dicom(tmp_path / "front.dcm", ramp(), ViewPosition="AP")
    write_dicom(tmp_path / "side.dcm", ramp(), ViewPosition="LL")
    (tmp_path / "d.csv").write_text("image,image_lateral,report\nfront.dcm,side.dcm,Clear.\n")
    (study,) = read_studies({"format": "csv", "path": str(tmp_path / "d.csv")}).studies
    assert [(i.view, i.position) for i in study.images] == [("frontal", "AP"), ("lateral", "LL")]
