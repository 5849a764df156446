"""``radzoo generate RUN --image x.png``: one report printed, bad images named, random weights said aloud."""

from __future__ import annotations

from pathlib import Path

import pytest

from radzoo.cli import main
from radzoo.data.synthetic import render_study


@pytest.fixture(scope="module")
def image(tmp_path_factory) -> Path:
    from PIL import Image

    path = tmp_path_factory.mktemp("img") / "chest.png"
    Image.fromarray(render_study(0, image_size=64).pixels).save(path)
    return path


def test_one_image_prints_its_report_and_warns_about_random_weights(image: Path, capsys):
    code = main(["generate", "demo/llava-rad", "--image", str(image), "--indication", "cough",
                 "generation.max_new_tokens=4", "generation.do_sample=true"])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert len(out.splitlines()) == 1
    assert "is a recipe, not a trained run" in err and "random" in err


def test_an_unreadable_image_is_named_and_exits_1(image: Path, tmp_path: Path, capsys):
    bad = tmp_path / "broken.png"
    bad.write_bytes(b"not a png")
    code = main(["generate", "demo/llava-rad", "--image", str(image), "--image", str(bad),
                 "generation.max_new_tokens=2"])
    out, err = capsys.readouterr()
    assert code == 1
    assert f"{bad}:" in err and out.startswith(f"{image}: ")


def test_image_and_data_set_options_do_not_mix(image: Path, capsys):
    assert main(["generate", "demo/llava-rad", "--image", str(image), "--out", "p.jsonl"]) == 2
    assert "leave out --data and --out" in capsys.readouterr().err
    assert main(["generate", "demo/llava-rad", "--data", "d"]) == 2
    assert "needs --out" in capsys.readouterr().err


def test_a_record_the_reader_skips_is_left_out_and_exits_1(image: Path, tmp_path: Path, capsys):
    data = tmp_path / "data.csv"
    data.write_text(f"id,image,report,split\na,{image},No effusion.,test\nb,,No effusion.,test\n", encoding="utf-8")
    code = main(["generate", "demo/llava-rad", "--data", str(data), "--format", "csv", "--out",
                 str(tmp_path / "p.jsonl"), "generation.max_new_tokens=2"])
    out, err = capsys.readouterr()
    assert code == 1
    assert "1 report generated" in out
    assert "radzoo generate: error: 1 study left out (not written), e.g. study " in err


def test_data_check_opens_every_image_by_default(tmp_path: Path, capsys):
    from radzoo.data.synthetic import generate

    folder = generate(tmp_path / "set", 10, image_size=32)
    (folder / "images" / sorted(p.name for p in (folder / "images").iterdir())[0]).write_bytes(b"junk")
    assert main(["data", "check", "--path", str(folder)]) == 1
    out, err = capsys.readouterr()
    assert "skipped (unreadable_image): 1" in out and "1 unusable record in" in err
    assert main(["data", "check", "--path", str(folder), "--option", "verify_images=false"]) == 0
    out = capsys.readouterr().out
    assert "images: NOT opened (verify_images=false)" in out
