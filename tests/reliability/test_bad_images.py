"""Bad and odd image files: one clear line each; batch jobs count them and finish every other study."""

from __future__ import annotations

import csv
import re
import struct
import tracemalloc
import warnings
import zlib
from pathlib import Path

import numpy as np
import pytest
from conftest import QUIET_TRAIN, SHORT_GENERATION, cli_error, run_cli
from PIL import Image
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import BasicTextSRStorage, ExplicitVRLittleEndian, generate_uid
from test_data_images import ramp, write_dicom

from radzoo.data.images import load_image
from radzoo.files.jsonl import read_records

REPORT = "The heart size is normal. The lungs are clear."


def noise_png(path: Path, size: tuple[int, int] = (64, 64), seed: int = 0) -> Path:
    Image.fromarray(np.random.default_rng(seed).integers(0, 255, size[::-1], dtype=np.uint8)).save(path)
    return path


def png_claiming_size(path: Path, width: int, height: int) -> Path:
    """A small PNG whose header claims ``width`` x ``height`` (a decompression-bomb-sized image)."""
    data = bytearray(noise_png(path).read_bytes())
    body = b"IHDR" + struct.pack(">II", width, height) + bytes(data[24:29])
    data[12:29], data[29:33] = body, struct.pack(">I", zlib.crc32(body))
    path.write_bytes(bytes(data))
    return path


def structured_report_dicom(path: Path) -> Path:
    """A DICOM object without any pixel data (a Basic Text SR)."""
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID, meta.MediaStorageSOPInstanceUID = BasicTextSRStorage, generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID, ds.SOPInstanceUID, ds.Modality = BasicTextSRStorage, meta.MediaStorageSOPInstanceUID, "SR"
    ds.save_as(path, enforce_file_format=True)
    return path


def corrupt(path: Path, source: Path, keep: slice, junk: bytes = b"") -> Path:
    data = source.read_bytes()
    path.write_bytes(data[keep] + junk)
    return path


# name -> (how to make it in a folder, what the one-line message must say)
BAD = {
    "corrupt.png": (lambda d: corrupt(d / "corrupt.png", noise_png(d / "c.png"), slice(0, 60), b"\0" * 500),
                    r"image .*corrupt\.png cannot be read \(.*\); the file is corrupt, truncated or not an image; "
                    r"re-export it as PNG/JPEG/DICOM"),
    "corrupt.jpg": (lambda d: corrupt(d / "corrupt.jpg", noise_png(d / "c.jpg"), slice(0, 1000)),
                    r"image .*corrupt\.jpg cannot be read \(image file is truncated .*\); the file is corrupt"),
    "zero.png": (lambda d: corrupt(d / "zero.png", d / "c.png", slice(0, 0)),
                 r"image .*zero\.png is an empty \(zero-byte\) file; re-copy or re-download it"),
    "truncated.dcm": (lambda d: corrupt(d / "truncated.dcm", write_dicom(d / "whole.dcm", ramp(), bits_stored=12),
                                        slice(0, -100)),
                      r"DICOM .*truncated\.dcm: pixel data cannot be decoded \(The number of bytes of pixel data "
                      r"is less than expected \(156 vs 256 bytes\)\); the file is truncated; re-copy it"),
    "header-only.dcm": (lambda d: corrupt(d / "header-only.dcm", d / "whole.dcm", slice(0, 200)),
                        r"DICOM .*header-only\.dcm ends before its pixel data: the file is truncated; re-copy it"),
    "report.dcm": (lambda d: structured_report_dicom(d / "report.dcm"),
                   r"DICOM .*report\.dcm holds no pixel data: it is not an image \(modality SR, e\.g\. a structured "
                   r"report\); leave it out of the data set"),
    "multiframe.dcm": (lambda d: write_dicom(d / "multiframe.dcm", np.stack([ramp(), ramp()]), frames=2),
                       r"DICOM .*multiframe\.dcm is multi-frame \(2 frames\); radzoo reads single-frame radiographs "
                       r"only: export the frame you want as its own file"),
    "one-pixel.png": (lambda d: Image.new("L", (1, 1), 128).save(d / "one-pixel.png"),
                      r"image .*one-pixel\.png is 1x1 pixels, too small to be a radiograph \(under 8 px a side\): "
                      r"probably a placeholder or a broken export; replace the file or leave the study out"),
    "bomb.png": (lambda d: png_claiming_size(d / "bomb.png", 20000, 20000),
                 r"image .*bomb\.png is 400 MP, more than radzoo reads \(179 MP\); "
                 r"downscale it, e.g\. to 4096 px on the long side"),
}


@pytest.fixture(scope="module")
def bad_images(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("bad-images")
    for make, _ in BAD.values():
        make(folder)
    return {name: folder / name for name in BAD}


@pytest.mark.parametrize("name", list(BAD))
def test_bad_image_is_one_line_naming_file_problem_and_fix(bad_images: dict[str, Path], name: str) -> None:
    with pytest.raises(ValueError) as caught:
        load_image(bad_images[name])
    message = str(caught.value)
    assert "\n" not in message and str(bad_images[name]) in message
    assert re.search(BAD[name][1], message), message


def test_monochrome1_loads_inverted(tmp_path: Path) -> None:
    normal = np.asarray(load_image(write_dicom(tmp_path / "m2.dcm", ramp(), bits_stored=12)))
    inverted = np.asarray(load_image(write_dicom(tmp_path / "m1.dcm", ramp(), "MONOCHROME1", bits_stored=12)))
    np.testing.assert_array_equal(inverted, 255 - normal)
    assert inverted[0, 0] == 255  # the lowest stored value is white in MONOCHROME1


@pytest.mark.slow
def test_10000_px_image_loads_resizes_and_stays_within_memory(tmp_path: Path, tiny_llava_rad) -> None:
    row = np.linspace(0, 65535, 10_000).astype(np.uint16)  # a 16-bit scan: the widest conversion path
    path = tmp_path / "huge.png"
    Image.fromarray(np.ascontiguousarray(np.broadcast_to(row, (10_000, 10_000)))).save(path, compress_level=1)
    tracemalloc.start()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # no DecompressionBombWarning for a large but legitimate scan
            image = load_image(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert image.mode == "L" and image.size == (10_000, 10_000)
    # 2 bytes/px of 16-bit pixels plus 1 byte/px of output; a float64 copy of the image alone would be 8 bytes/px
    assert peak < 6 * 10_000 * 10_000, f"peak {peak / 1e6:.0f} MB"
    pixels = tiny_llava_rad.encoder.image_transform(False)(image)
    assert tuple(pixels.shape[-2:]) == (64, 64)


@pytest.fixture(scope="module")
def mixed_csv(bad_images: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A test-split CSV: three good images (one an RGBA PNG, one MONOCHROME1), then every bad one."""
    folder = bad_images["corrupt.png"].parent
    noise_png(folder / "good.png", seed=1)
    colour = np.random.default_rng(2).integers(0, 255, (64, 64, 4), dtype=np.uint8)
    Image.fromarray(colour, mode="RGBA").save(folder / "rgba.png")
    write_dicom(folder / "mono1.dcm", np.tile(np.linspace(0, 4095, 64).astype(np.uint16), (64, 1)),
                "MONOCHROME1", bits_stored=12)
    path = tmp_path_factory.mktemp("mixed") / "data.csv"
    with path.open("w", newline="", encoding="utf-8") as stream:
        writer = csv.writer(stream)
        writer.writerow(["id", "image", "report", "split"])
        for name in ["good.png", "rgba.png", "mono1.dcm", *BAD]:
            writer.writerow([name, str(folder / name), REPORT, "test"])
    return path


def test_data_check_counts_every_bad_image_and_exits_nonzero(mixed_csv: Path, capsys) -> None:
    code, out, err = run_cli(capsys, "data", "check", "--format", "csv", "--path", mixed_csv,
                             "--option", "verify_images=true", "--split", "test")
    assert code == 1, err
    assert "csv data: 3 studies" in out
    assert "skipped (empty_image_file): 1" in out and "skipped (unreadable_image): 8" in out
    assert "study zero.png (data.csv line 7): image" in out  # the file and row of each problem
    assert f"radzoo data: error: 9 unusable records in {mixed_csv}" in err


def test_generate_leaves_out_bad_images_counts_them_and_finishes_the_rest(mixed_csv: Path, bad_images,
                                                                          tmp_path: Path, capsys) -> None:
    out = tmp_path / "preds.jsonl"
    argv = ["generate", "demo/llava-rad", *SHORT_GENERATION, "--data", mixed_csv, "--format", "csv",
            "--out", out, "--batch-size", "4"]
    message = cli_error(capsys, *argv, code=1)
    # 8 images that fail to load, and the zero-byte file the reader already skipped
    assert message.startswith("radzoo generate: error: 9 studies left out (not written), e.g. study corrupt.png: "
                              "data.csv line 5: image ")
    assert message.endswith("then rerun the same command to generate just those")
    assert [r["id"] for r in read_records(out)] == ["good.png", "rgba.png", "mono1.dcm"]
    # fix one file and rerun: only that study is generated, nothing done is redone
    done = read_records(out)
    broken = bad_images["corrupt.png"]
    noise_png(broken, seed=3)
    try:
        code, stdout, err = run_cli(capsys, *argv)
    finally:
        BAD["corrupt.png"][0](broken.parent)  # the module's other tests expect it broken
    assert code == 1 and "1 report generated, 3 already present" in stdout, err
    assert "8 studies left out" in err
    assert read_records(out)[:3] == done and read_records(out)[3]["id"] == "corrupt.png"


def test_train_names_the_bad_image_and_the_option_that_skips_it(bad_images: dict[str, Path], tmp_path: Path,
                                                                capsys) -> None:
    data = tmp_path / "train.csv"
    good = noise_png(tmp_path / "good.png", seed=4)
    data.write_text(f"id,image,report\na,{good},{REPORT}\nb,{bad_images['corrupt.png']},{REPORT}\n", encoding="utf-8")
    train = ["train", "demo/llava-rad", *QUIET_TRAIN, "data.format=csv", f"data.path={data}",
             "stages.0.max_steps=1", "stages.1.max_steps=1", "stages.0.batch_size=2", "stages.1.batch_size=2"]
    message = cli_error(capsys, *train, "--out", tmp_path / "run")
    assert re.fullmatch(r"radzoo train: error: image .*corrupt\.png cannot be read \(.*\); the file is corrupt, "
                        r"truncated or not an image; re-export it as PNG/JPEG/DICOM; or set "
                        r"data\.options\.verify_images=true to skip \(and count\) unreadable images when the data "
                        r"is read", message), message
    code, out, err = run_cli(capsys, *train, "data.options.verify_images=true", "--out", tmp_path / "skipping")
    assert code == 0 and "done:" in out, err
    assert "skipped 1 record -- unreadable_image: 1 (e.g. study b (train.csv line 3): image" in err
