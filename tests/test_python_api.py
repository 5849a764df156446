"""``radzoo.generate|train|evaluate|compare`` take what the commands take (a data path, a FORMAT:PATH spec, a
Study list) and default as they do (the test split); an empty selection is an error naming what was selected."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import radzoo
from radzoo.cli import main
from radzoo.data.readers import read_studies
from radzoo.errors import InputError

TINY = ["generation.max_new_tokens=4"]


@pytest.fixture(scope="module")
def sets(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("api")
    for name, n in (("twenty", 20), ("train_only", 4)):
        assert main(["data", "synth", "--n", str(n), "--out", str(root / name)]) == 0
    return {"root": root, "twenty": root / "twenty", "train_only": root / "train_only"}


@pytest.mark.slow
def test_generate_reads_a_path_or_a_spec_and_defaults_to_the_test_split(sets):
    root = sets["root"]
    by_path = radzoo.generate("demo/llava-rad", str(sets["twenty"]), out=root / "a.jsonl", overrides=TINY)
    by_spec = radzoo.generate("demo/llava-rad", f"synthetic:{sets['twenty']}", out=root / "b.jsonl", overrides=TINY)
    everything = radzoo.generate("demo/llava-rad", sets["twenty"], out=root / "c.jsonl", split="all", overrides=TINY)
    studies = read_studies({"format": "synthetic", "path": str(sets["twenty"])}, split="validate").studies
    listed = radzoo.generate("demo/llava-rad", studies, out=root / "d.jsonl", overrides=TINY)
    assert (by_path.total, by_spec.total, everything.total, listed.total) == (2, 2, 20, 2)
    ids = [json.loads(line)["id"] for line in (root / "a.jsonl").read_text().splitlines()]
    assert ids == [s.id for s in read_studies({"format": "synthetic", "path": str(sets["twenty"])}, "test").studies]


def test_an_empty_split_names_what_was_selected_from_what(sets, capsys):
    with pytest.raises(InputError) as error:
        radzoo.generate("demo/llava-rad", sets["train_only"], out=sets["root"] / "e.jsonl")
    assert f"0 studies in split test of synthetic data {sets['train_only']} (4 in train); pass --split train or all" \
        == str(error.value)
    assert main(["generate", "demo/llava-rad", "--data", str(sets["train_only"]), "--out",
                 str(sets["root"] / "e.jsonl")]) == 2
    assert "(4 in train); pass --split train or all" in capsys.readouterr().err
    assert not (sets["root"] / "e.jsonl").exists()  # nothing written for an empty selection


def test_an_empty_train_split_stops_training_before_it_starts(sets, tmp_path):
    csv = tmp_path / "test-only.csv"
    image = next((sets["twenty"] / "images").iterdir())
    csv.write_text(f"id,image,report,split\na,{image},Normal heart size.,test\n")
    with pytest.raises(InputError, match=r"0 studies in split train of csv data .* \(1 in test\); training reads"):
        radzoo.train("demo/llava-rad", tmp_path / "run", str(csv), overrides=["data.format=csv"])
    assert not (tmp_path / "run").exists()


def test_a_reader_that_keeps_nothing_says_why(tmp_path):
    csv = tmp_path / "no-images.csv"
    csv.write_text("id,image,report,split\na,missing.png,Normal heart size.,test\n")
    with pytest.raises(InputError, match=r"0 studies in split test of csv data .*1 skipped \(missing_image"):
        radzoo.generate("demo/llava-rad", f"csv:{csv}", out=tmp_path / "p.jsonl")


def test_generate_refuses_data_it_cannot_read(tmp_path):
    with pytest.raises(InputError, match="a list of Study"):
        radzoo.generate("demo/llava-rad", [1, 2], out=tmp_path / "p.jsonl")


def test_evaluate_takes_the_commands_predictions_file(tmp_path):
    preds = tmp_path / "preds.jsonl"
    rows = [{"id": str(i), "prediction": p, "reference": r} for i, (p, r) in enumerate(
        [("No pleural effusion.", "Small left pleural effusion."), ("Normal heart size.", "Normal heart size.")])]
    preds.write_text("".join(json.dumps(r) + "\n" for r in rows))
    from_file = radzoo.evaluate(preds, metrics=["bleu", "chexpert"], bootstrap=20)
    from_lists = radzoo.evaluate([r["prediction"] for r in rows], [r["reference"] for r in rows],
                                 metrics=["bleu", "chexpert"], bootstrap=20)
    assert from_file["metrics"] == from_lists["metrics"] and from_file["per_sample"]["id"] == ["0", "1"]
    assert main(["evaluate", "--predictions", str(preds), "--metrics", "bleu,chexpert", "--bootstrap", "20",
                 "--out", str(tmp_path / "m.json")]) == 0
    assert json.loads((tmp_path / "m.json").read_text())["metrics"] == from_file["metrics"]
