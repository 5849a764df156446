"""`radzoo import maira-2`: what the recipe keeps. Conformance with MAIRA-2's own code is checked against goldens
from running it, in tests/conformance/test_maira2_goldens.py (the hand-written reference forward that used to live
here shared the importer's reading; no upstream code ran in it)."""

from __future__ import annotations

import pytest
from published_replicas import write_maira2
from release_replicas import hub_calls_fail, import_and_load  # noqa: F401 (autouse: hub downloads raise)


@pytest.fixture(scope="module")
def imported(tmp_path_factory):
    root = tmp_path_factory.mktemp("maira2")
    write_maira2(root / "maira-2")
    _, model, recipe = import_and_load("maira-2", root / "maira-2", root / "run")
    return model, recipe


def test_maira2_recipe_keeps_the_processor_choices(imported):
    _, recipe = imported
    assert (recipe.adapter.name, recipe.adapter.args.depth, recipe.encoder.args.rescale_intensity,
            recipe.encoder.args.crop_rounding) == ("mlp2x_gelu", 4, True, "floor")


def test_maira2_prompt_with_an_indication(imported):
    model, _ = imported
    plain = model.prompt.render()
    assert "INDICATION: N/A" in plain
    assert model.prompt.render(indication="cough") == plain.replace("INDICATION: N/A", "INDICATION: cough")
