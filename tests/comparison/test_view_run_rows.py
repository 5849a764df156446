"""`radzoo view` of a comparison made only of `run:DIR` rows (an imported release): the viewer finds every row's
folder and the test split through comparison.json, not through run recipes it would have to guess."""

from __future__ import annotations

import json

import pytest
from release_replicas import hub_calls_fail  # noqa: F401 (autouse: hub downloads raise)
from test_import_llava_hf import write_llava_hf


@pytest.mark.slow
def test_view_of_a_comparison_of_an_imported_run_only(tmp_path, capsys) -> None:
    from radzoo.cli import main
    from radzoo.comparison.layout import read_manifest
    from radzoo.data.synthetic import generate

    write_llava_hf(tmp_path / "llava")
    assert main(["import", "llava-hf", str(tmp_path / "llava"), "--out", str(tmp_path / "imported")]) == 0
    data = generate(tmp_path / "synthetic", 20, image_size=64)
    out = tmp_path / "cmp"
    assert main(["compare", f"run:{tmp_path / 'imported'}", "--data", f"synthetic:{data}", "--baselines",
                 "constant", "--bootstrap", "10", "--out", str(out)]) == 0
    assert not list(out.glob("runs/*/recipe.yaml")), "a run:DIR row has no recipe in the comparison's folder"

    manifest = read_manifest(out)
    rows = {row.name: row for row in manifest.rows}
    assert set(rows) == {r["name"] for r in json.loads((out / "leaderboard.json").read_text())["rows"]}
    learned = [row for row in manifest.rows if row.kind == "learned"]
    assert len(learned) == 1 and learned[0].weights_from.startswith("imported llava-hf")
    assert learned[0].folder.parent == out / "runs" and (learned[0].folder / "predictions.jsonl").is_file()
    assert manifest.split == "test" and manifest.data["path"] == str(data)

    (out / "viewer").rename(tmp_path / "first-viewer")
    capsys.readouterr()
    assert main(["view", str(out)]) == 0
    page = out / "viewer" / "index.html"
    assert capsys.readouterr().out.strip() == str(page)
    assert page.read_text() == (tmp_path / "first-viewer" / "index.html").read_text()
