"""`radzoo import maira-2`: what the recipe keeps. Conformance with MAIRA-2's own code is checked against goldens
from running it, in tests/conformance/test_maira2_goldens.py (the hand-written reference forward that used to live
here shared the importer's reading; no upstream code ran in it)."""

from __future__ import annotations

import pytest
import torch
from published_replicas import study_image, write_maira2
from release_replicas import hub_calls_fail, import_and_load  # noqa: F401 (autouse: hub downloads raise)


@pytest.fixture(scope="module")
def imported(tmp_path_factory):
    root = tmp_path_factory.mktemp("maira2")
    write_maira2(root / "maira-2")
    _, model, recipe = import_and_load("maira-2", root / "maira-2", root / "run")
    return model, recipe, root


def test_maira2_recipe_keeps_the_processor_choices(imported):
    _, recipe, _ = imported
    assert (recipe.adapter.name, recipe.adapter.args.depth, recipe.encoder.args.rescale_intensity,
            recipe.encoder.args.crop_rounding) == ("mlp2x_gelu", 4, True, "floor")


def test_maira2_prompt_with_an_indication(imported):
    model, _, _ = imported
    plain = model.prompt.render()
    assert "INDICATION: N/A" in plain
    assert model.prompt.render(indication="cough") == plain.replace("INDICATION: N/A", "INDICATION: cough")


def test_grounded_reporting_prompt_and_boxes_in_original_pixels(imported):
    """generation.task=grounded_report words the release's grounded prompt; <obj>/<box> output becomes phrases with
    boxes in the frontal image's own pixels (bin centres of the centre-cropped square, the crop undone)."""
    from radzoo.data.study import Study
    from radzoo.generation.pipeline import ReportGenerator, generation_kwargs, load_model

    _, _, root = imported
    model, recipe = load_model(root / "run", overrides=["generation.task=grounded_report"])
    frontal = root / "frontal.png"
    study_image(0).save(frontal)  # 80 x 60: the crop is the centred 60 x 60 square, 10 px in
    study = Study("s", str(frontal), sections={"indication": "Dyspnea."})
    prompt, _ = model.prompt.render_study(study)
    assert "comparison to the prior frontal image. Each finding should be described as a self-contained " \
           "plain-text sentence. If the finding is groundable, locate the finding in the current frontal chest " \
           "X-ray image, with bounding boxes indicating all locations where it can be seen in the current frontal " \
           "image. Otherwise, generate just the ungrounded finding without bounding boxes. INDICATION: Dyspnea." \
           in prompt
    output = "<obj>Left pleural effusion.<box><x10><y20><x30><y45></box></obj><obj>No pneumothorax.</obj>"
    ids = torch.tensor([model.tokenizer(output, add_special_tokens=False).input_ids + [model.tokenizer.eos_token_id]])
    record = ReportGenerator(model, generation_kwargs(recipe.generation), recipe.name).records([study], ids)[0]
    assert record["prediction"] == "Left pleural effusion. No pneumothorax." and record["image_size"] == [80, 60]
    x0, y0, x1, y1 = (10.5 / 100 * 60 + 10, 20.5 / 100 * 60, 30.5 / 100 * 60 + 10, 45.5 / 100 * 60)
    assert record["grounding"] == [{"phrase": "Left pleural effusion.",
                                    "boxes": [[int(x0), int(y0), int(x1), int(y1)]]},
                                   {"phrase": "No pneumothorax.", "boxes": []}]
