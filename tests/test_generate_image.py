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
