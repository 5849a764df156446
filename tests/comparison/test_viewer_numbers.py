"""The viewer shows the leaderboard's numbers: its per-finding averages, intervals and per-study values come from
the per-sample data evaluate wrote, with the comparison's evaluator options (here uncertain labels negative)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from viewer_fixture import small_comparison

pytestmark = pytest.mark.slow  # runs a comparison

NEGATIVE = {"chexpert": {"uncertain": "negative"}}


@pytest.fixture(scope="module")
def out(tmp_path_factory) -> Path:
    return small_comparison(tmp_path_factory.mktemp("negative"), metric_options=NEGATIVE)


def _embedded(out: Path) -> dict:
    html = (out / "viewer" / "index.html").read_text(encoding="utf-8")
    start = html.index('id="viewer-data">') + len('id="viewer-data">')
    return json.loads(html[start:html.index("</script>", start)])


@pytest.mark.slow
def test_finding_tables_equal_the_leaderboard_under_uncertain_negative(out) -> None:
    data, board = _embedded(out), json.loads((out / "leaderboard.json").read_text())
    assert data["findings"]["uncertain"] == "negative"
    for row in board["rows"]:
        for subset in ("14", "5"):
            table = data["findings"]["tables"][subset]
            f1 = table["systems"][row["name"]]["f1"]
            for average in ("micro", "macro"):
                shown = f1[table["rows"].index(f"{average} average")]
                cell = row["metrics"][f"chexpert_{average}_f1_{subset}"]
                assert shown[0] == pytest.approx(cell["value"], abs=5e-4), (row["name"], subset, average)
                if average == "micro":  # the same resamples as the leaderboard's interval
                    assert shown[1:] == pytest.approx([cell["ci_low"], cell["ci_high"]], abs=5e-4)


@pytest.mark.slow
def test_per_study_values_are_evaluates_under_the_same_options(out) -> None:
    from radzoo.comparison.viewer.comparison_files import read_comparison
    from radzoo.evaluation.pipeline import evaluate

    data, comparison = _embedded(out), read_comparison(out)
    references = [s.report or "" for s in comparison.studies]
    ids = [str(s.id) for s in comparison.studies]
    assert data["studies"]["ids"] == ids
    differs = 0
    for name, system in data["studies"]["systems"].items():
        predictions = [comparison.predictions[name][i] for i in ids]
        by_policy = {policy: evaluate(predictions, references, metrics=["chexpert"], bootstrap=0,
                                      options={"chexpert": {"uncertain": policy}})["per_sample"]
                     for policy in ("negative", "positive")}
        for metric in ("chexpert_micro_f1_14", "chexpert_micro_f1_5"):
            assert system["metrics"][metric] == [round(v, 3) for v in by_policy["negative"][metric]], (name, metric)
            differs += by_policy["negative"][metric] != by_policy["positive"][metric]
    assert differs, "the two policies give the same per-study values here: the test could not tell them apart"
