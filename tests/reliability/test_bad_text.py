"""Bad report text and tables: non-UTF-8 bytes, empty and 100k-character reports, missing columns, torn JSONL."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import pytest
from conftest import cli_error, run_cli

from radzoo.data.study import Study

LONG_REPORT = ("The heart size is normal. There is a small left pleural effusion. No pneumothorax. " * 1300)[:100_000]


@pytest.fixture(scope="module")
def text_csv(tiny_set: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Four rows on real images: a good one, one with cp1252 bytes, an empty report, a 100k-character report."""
    images = sorted((tiny_set / "images").iterdir())
    path = tmp_path_factory.mktemp("text") / "data.csv"
    rows = [b"id,image,report,split",
            f"good,{images[0]},The lungs are clear.,test".encode(),
            f"latin,{images[1]},".encode() + "Cœur normal.".encode("cp1252") + b",test",
            f"empty,{images[2]},,test".encode(),
            f"long,{images[3]},{LONG_REPORT},test".encode()]
    path.write_bytes(b"\n".join(rows) + b"\n")
    return path


def test_bad_rows_are_counted_with_file_line_and_fix_and_the_rest_is_read(text_csv: Path, capsys) -> None:
    code, out, err = run_cli(capsys, "data", "check", "--format", "csv", "--path", text_csv)
    assert code == 1 and "csv data: 2 studies" in out  # the good one and the 100k-character one
    assert ("skipped (not_utf8): 1\n  data.csv line 3: text is not UTF-8 (byte 0x9c in column 'report'); re-save "
            "the file as UTF-8 (e.g. iconv -f cp1252 -t utf-8 IN > OUT)") in out
    assert ("skipped (empty_report): 1\n  study empty (data.csv line 4): no report text; add it, or set "
            "data.options.require_report=false for inference-only data") in out
    assert f"radzoo data: error: 2 unusable records in {text_csv}" in err


def test_csv_without_the_named_columns_names_them_and_the_options(tmp_path: Path, capsys) -> None:
    path = tmp_path / "data.csv"
    path.write_text("id,path,findings\na,x.png,Normal.\n", encoding="utf-8")
    message = cli_error(capsys, "data", "check", "--format", "csv", "--path", path)
    assert message == (f"radzoo data: error: {path}: column(s) 'image', 'report' not found; the file has 'id', 'path', "
                       "'findings'; name the file's columns with data.options.image_column and "
                       "data.options.report_column")
    message = cli_error(capsys, "train", "demo/llava-rad", "data.format=csv", f"data.path={path}",
                        "--out", tmp_path / "run")
    assert f"{path}: column(s) 'image', 'report' not found" in message


def test_100k_character_report_is_cut_to_the_context_with_one_warning(tiny_llava_rad, tiny_set: Path) -> None:
    from radzoo.training.dataset import StageDataset

    image = str(sorted((tiny_set / "images").iterdir())[0])
    studies = [Study("long", image, LONG_REPORT), Study("short", image, "The lungs are clear.")]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        dataset = StageDataset(studies, tiny_llava_rad, "report")
    context = tiny_llava_rad.language_model.config.max_position_embeddings
    limit = context - (tiny_llava_rad.image_tokens() - 1)  # the image placeholder becomes the image tokens
    [warning] = [w for w in caught if "training answer" in str(w.message)]
    assert str(warning.message) == (f"1 training answer(s) do not fit the {limit} tokens the LLM's context leaves "
                                    "for text and are cut to fit (longest: study long, 100,000 characters); check "
                                    "the data for reports joined together")
    long, short = dataset[0], dataset[1]
    assert len(long["input_ids"]) == limit
    assert len(short["input_ids"]) < 100


def test_100k_character_prediction_and_empty_prediction_evaluate(tmp_path: Path, capsys) -> None:
    path = tmp_path / "preds.jsonl"
    rows = [("long", LONG_REPORT, LONG_REPORT), ("empty", "", "The lungs are clear."), ("ok", "Normal.", "Normal.")]
    path.write_text("".join(json.dumps({"id": i, "prediction": p, "reference": r}) + "\n" for i, p, r in rows),
                    encoding="utf-8")
    code, out, err = run_cli(capsys, "evaluate", "--predictions", path, "--metrics", "bleu,rouge_l,chexpert",
                             "--bootstrap", "20", "--out", tmp_path / "m.json")
    assert code == 0 and "wrote" in out, err
    per_sample = json.loads((tmp_path / "m.json").read_text())["per_sample"]
    assert per_sample["rouge_l"][0] == pytest.approx(1.0) and per_sample["rouge_l"][1] == 0.0


@pytest.fixture
def predictions(tmp_path: Path) -> Path:
    path = tmp_path / "preds.jsonl"
    path.write_text("".join(json.dumps({"id": f"s{i}", "prediction": "Heart normal.", "reference": "Heart normal."})
                            + "\n" for i in range(4)), encoding="utf-8")
    return path


def test_torn_last_jsonl_line_is_one_warning_and_the_rest_is_evaluated(predictions: Path, capsys) -> None:
    with predictions.open("a", encoding="utf-8") as stream:
        stream.write('{"id": "s4", "predic')
    code, out, err = run_cli(capsys, "evaluate", "--predictions", predictions, "--metrics", "bleu",
                             "--out", predictions.with_name("m.json"))
    assert code == 0 and "(4 samples)" in out
    assert err.strip() == (f"radzoo evaluate: warning: {predictions}:5: skipped a torn last line (Unterminated "
                           "string starting at); rerun generation to finish it")


@pytest.mark.parametrize(("bad_line", "expected"), [
    (b'{"id": "s9", "predic\n', "{path}:3: not valid JSON at column 14 (Unterminated string starting at); fix or "
                                "delete the line"),
    ('{"id": "x", "prediction": "Cœur", "reference": "x"}\n'.encode("cp1252"),
     "{path}:3: not UTF-8 text (byte 0x9c at column 29); JSONL files must be UTF-8: re-save the file as UTF-8 or "
     "fix the line"),
], ids=["torn-middle-line", "not-utf8"])
def test_bad_jsonl_line_inside_the_file_is_one_line_naming_it(predictions: Path, capsys, bad_line: bytes,
                                                              expected: str) -> None:
    lines = predictions.read_bytes().splitlines(keepends=True)
    predictions.write_bytes(b"".join(lines[:2]) + bad_line + b"".join(lines[2:]))
    message = cli_error(capsys, "evaluate", "--predictions", predictions, "--out", predictions.with_name("m.json"))
    assert message == "radzoo evaluate: error: " + expected.format(path=predictions)


def test_label_input_that_is_not_utf8_names_file_and_line(tmp_path: Path, capsys) -> None:
    path = tmp_path / "reports.csv"
    path.write_bytes(b"report\nNo effusion.\n" + "Cœur normal.\n".encode("cp1252"))
    message = cli_error(capsys, "label", path, "--out", tmp_path / "labels.csv")
    assert message == (f"radzoo label: error: {path}: line 3 is not UTF-8 text (byte 0x9c); re-save the file as "
                       "UTF-8 (e.g. iconv -f cp1252 -t utf-8 IN > OUT)")
    assert not (tmp_path / "labels.csv").exists()
