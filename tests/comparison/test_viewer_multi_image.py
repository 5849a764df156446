"""The viewer on studies with a lateral image and a prior: every image labelled by view, the prior study's report,
and a grounded row's boxes drawn over the frontal image (in headless Chromium, as test_viewer.py drives it); the
screenshot goes to docs/viewer_multi_image.png."""

from __future__ import annotations

import importlib
import json
from collections.abc import Sequence
from pathlib import Path

import pytest
from test_viewer import DOCS, _driver, _settled

from radzoo.comparison.scoring import SystemOutput
from radzoo.data.study import Study
from radzoo.generation.grounding import grounding_record

GROUNDED = "grounded-maira"


def _grounded_run(cfg, runs_dir: Path, test: Sequence[Study], log, batch_size=None) -> SystemOutput:
    """A finished run whose rows carry MAIRA-2 grounded output, parsed as `radzoo generate` parses it."""
    from radzoo.comparison.systems import PREDICTIONS_FILE, run_dir_of
    from radzoo.files.atomic import write_text_atomic
    from radzoo.recipe.load import save_recipe

    run_dir = run_dir_of(cfg, runs_dir)
    save_recipe(cfg, run_dir / "recipe.yaml")
    rows = []
    for i, study in enumerate(test):
        raw = (f"<obj>Left pleural effusion.<box><x{55 + i}><y60><x80><y85></box></obj>"
               "<obj>Heart size is normal.</obj>")
        rows.append({"id": study.id, **grounding_record(raw, 64, 64)})
    write_text_atomic(run_dir / PREDICTIONS_FILE, "".join(json.dumps(r) + "\n" for r in rows))
    predictions = {r["id"]: r["prediction"] for r in rows}
    efficiency = {"params_total": 1000, "params_trainable": 100, "image_tokens": 48, "train_time_s": 1.0,
                  "reports_per_s": 10.0, "peak_memory_mb": 50.0}
    return SystemOutput(str(cfg.name), "learned", predictions, "hand-written grounded reports", "nothing (test)",
                        efficiency, run_dir)


@pytest.fixture(scope="module")
def out(tmp_path_factory) -> Path:
    from radzoo.cli import main
    from radzoo.comparison.pipeline import compare
    from radzoo.data.synthetic import generate
    from radzoo.recipe.load import load_recipe

    root = tmp_path_factory.mktemp("viewer_multi")
    data = generate(root / "synthetic", 100, image_size=64, multi_image=True)  # 10 test studies
    cfg = load_recipe("demo/multi-image", [f"name={GROUNDED}", "data.format=synthetic", f"data.path={data}"])
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(importlib.import_module("radzoo.comparison.pipeline"), "run_recipe", _grounded_run)
        compare([cfg], root / "out", bootstrap=20, baselines=("constant",))
    assert main(["view", str(root / "out")]) == 0
    return root / "out"


@pytest.mark.slow
def test_views_prior_reports_and_grounded_boxes_in_chromium(out) -> None:
    from radzoo.comparison.viewer.comparison_files import read_comparison

    studies = read_comparison(out).studies
    driver = _driver()
    try:
        driver.get((out / "viewer" / "index.html").as_uri())
        _settled(driver)  # the cards' images and boxes come from the shard scripts next to the page
        assert [e for e in driver.get_log("browser") if e["level"] == "SEVERE"] == []
        for study in studies:
            card = driver.find_element("css selector", f'.card[data-study="{study.id}"]')
            roles = [f.get_attribute("data-role") for f in card.find_elements("css selector", "figure.view")]
            expected = ["frontal"] + [i.view for i in study.images[1:]] + (["prior_frontal"] if study.prior else [])
            assert roles == expected, study.id
            captions = [f.text for f in card.find_elements("css selector", "figure.view figcaption")]
            assert captions[0] == "frontal" and all(captions)
            priors = card.find_elements("css selector", "p.prior")
            assert (priors[0].text == f"Prior study {study.prior.id}: {study.prior.report}") if study.prior \
                else not priors
            boxes = card.find_elements("css selector", "figure.view[data-role=frontal] svg.boxes rect")
            assert [b.get_attribute("data-phrase") for b in boxes] == ["Left pleural effusion."]
        # study 0's box: bins 55..80 of a 64 px square -> x from int(55.5/100*64) = 35 to int(80.5/100*64) = 51
        first = driver.find_element("css selector", "svg.boxes rect")
        assert (first.get_attribute("x"), first.get_attribute("width")) == ("35", "16")
        assert any(s.prior for s in studies) and any(len(s.images) > 1 for s in studies)
        target = next(s for s in studies if s.prior and len(s.images) > 1)
        driver.execute_script("arguments[0].scrollIntoView()",
                              driver.find_element("css selector", f'.card[data-study="{target.id}"]'))
        DOCS.mkdir(exist_ok=True)
        driver.save_screenshot(str(DOCS / "viewer_multi_image.png"))
    finally:
        driver.quit()
