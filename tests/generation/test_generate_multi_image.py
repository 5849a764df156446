"""A recipe that reads several images per study: the prompt places each, every image goes through the encoder and
the adapter, and a batch mixes studies with 1, 2 and 3 images in both decode engines."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from radzoo.cli import main
from radzoo.data.study import Study, StudyImage
from radzoo.errors import InputError
from radzoo.generation.pipeline import ReportGenerator, generation_kwargs, load_model
from radzoo.model.prompting import IMAGE_TOKEN_INDEX
from radzoo.recipe.load import load_recipe, save_recipe
from radzoo.runs.llava_hf_export import export_llava_hf
from radzoo.runs.llava_hf_towers import ExportRefused

MULTI = ["prompt.images=[frontal,lateral,prior_frontal]", "prompt.prior_report=true", "generation.max_new_tokens=12",
         "prompt.instruction='{frontal}{lateral}{prior_frontal} Prior report: {prior_report}. Describe the findings.'",
         "prompt.missing_image=' (no image)'", "prompt.instruction_with_indication=null"]


def image(path: Path, seed: int) -> str:
    rng = np.random.default_rng(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray((rng.random((72, 64)) * 255).astype("uint8")).save(path)
    return str(path)


def studies(folder: Path) -> list[Study]:
    """A study with frontal + lateral + prior, one with a frontal only, one with frontal + prior report alone."""
    full = Study("full", image(folder / "f0.png", 0), "r0", split="test",
                 images=[StudyImage(str(folder / "f0.png")), StudyImage(image(folder / "l0.png", 1), "lateral")],
                 prior=Study("old", image(folder / "p0.png", 2), "Small left effusion."))
    alone = Study("alone", image(folder / "f1.png", 3), "r1", split="test")
    report_only = Study("report-only", image(folder / "f2.png", 4), "r2", split="test",
                        prior=Study("old2", "", "Cardiomegaly."))
    return [full, alone, report_only]


def test_the_prompt_places_each_image_and_the_missing_text(tmp_path: Path) -> None:
    model, _ = load_model("demo/llava-rad", overrides=MULTI)
    full, alone, report_only = studies(tmp_path)
    prompt, paths = model.prompt.render_study(full)
    assert prompt.count("<image>") == 3 and "Prior report: Small left effusion." in prompt
    assert [Path(p).name for p in paths] == ["f0.png", "l0.png", "p0.png"]
    prompt, paths = model.prompt.render_study(alone)
    assert prompt.count("<image>") == 1 and prompt.count("(no image)") == 2 and "Prior report: N/A." in prompt
    prompt, paths = model.prompt.render_study(report_only)
    assert len(paths) == 1 and "Prior report: Cardiomegaly." in prompt


@pytest.mark.parametrize("engine", ["hf", "radzoo"])
def test_a_batch_of_studies_with_one_to_three_images_equals_them_one_by_one(tmp_path: Path, engine: str) -> None:
    model, cfg = load_model("demo/llava-rad", overrides=MULTI)
    run = ReportGenerator(model, {**generation_kwargs(cfg.generation), "engine": engine}, cfg.name)
    batch = run.prepare(studies(tmp_path))
    assert batch.inputs["pixel_values"].shape[0] == 3 + 1 + 1  # every image of every study
    assert [int((row == IMAGE_TOKEN_INDEX).sum()) for row in batch.inputs["input_ids"]] == [3, 1, 1]
    together = run.records(batch.studies, run.generate_ids(batch.inputs))
    apart = [run([s])[0] for s in studies(tmp_path)]
    assert [r["prediction"] for r in together] == [r["prediction"] for r in apart]
    assert [i["role"] for i in together[0]["images"]] == ["frontal", "lateral", "prior_frontal"]
    assert together[0]["prior"]["id"] == "old" and "prior" not in together[1]


def test_each_image_changes_the_report_inputs(tmp_path: Path) -> None:
    """The lateral's pixels reach the LM: its embeddings sit where its placeholder was."""
    model, cfg = load_model("demo/llava-rad", overrides=MULTI)
    run = ReportGenerator(model, generation_kwargs(cfg.generation), cfg.name)
    full = studies(tmp_path)[0]
    inputs = run.inputs([full])
    embeds = model.encode_images(inputs["pixel_values"])
    spliced, _, _ = model.splice(inputs["input_ids"], inputs["attention_mask"], embeds)
    tokens = embeds.shape[1]
    first = int((inputs["input_ids"][0] == IMAGE_TOKEN_INDEX).nonzero()[1])  # the lateral's placeholder
    start = first + (tokens - 1)  # the frontal's tokens came before it
    assert torch.equal(spliced[0, start:start + tokens], embeds[1].to(spliced.dtype))
    with pytest.raises(InputError, match="placeholders per row"):
        model.splice(inputs["input_ids"], inputs["attention_mask"], embeds[:2])


def test_a_multi_image_template_must_place_each_listed_image() -> None:
    with pytest.raises(InputError, match=r"must place \{lateral\} exactly once"):
        load_model("demo/llava-rad", overrides=["prompt.images=[frontal,lateral]",
                                                "prompt.instruction_with_indication=null",
                                                "prompt.instruction='{frontal} Describe.'"])


def test_cli_generate_reads_a_lateral_a_prior_image_and_a_prior_report(tmp_path: Path, capsys) -> None:
    frontal, lateral, prior = (image(tmp_path / f"{n}.png", i) for i, n in enumerate(("f", "l", "p")))
    argv = ["generate", "demo/multi-image", "--image", frontal, "--lateral", lateral, "--prior-image", prior,
            "--prior-report", "Small left effusion.", "--indication", "Dyspnea.", "generation.max_new_tokens=8"]
    assert main(argv) == 0
    report = capsys.readouterr().out.strip()
    assert report and "\n" not in report
    assert main(["generate", "demo/multi-image", "--image", frontal, "--image", lateral, "--lateral", lateral]) == 2
    assert "describe one study: give a single --image" in capsys.readouterr().err


def test_the_demo_multi_image_recipe_words_the_prompt_as_maira_2(tmp_path: Path) -> None:
    model, _ = load_model("demo/multi-image")
    full, alone, _ = studies(tmp_path)
    prompt, paths = model.prompt.render_study(full)
    assert "Given the current frontal image<image> the current lateral image<image> and the prior frontal " \
           "image<image> PRIOR_REPORT: Small left effusion. Provide a structured description" in prompt
    assert len(paths) == 3
    assert "Given the current frontal image only<image> Provide" in model.prompt.render_study(alone)[0]


def test_llava_hf_export_refuses_a_multi_image_run_with_the_reason(tmp_path: Path) -> None:
    run = tmp_path / "run"
    save_recipe(load_recipe("demo/multi-image"), run / "recipe.yaml")
    with pytest.raises(ExportRefused, match="chat template cannot word radzoo's multi-image prompt"):
        export_llava_hf(run, tmp_path / "out")
    assert not (tmp_path / "out").exists()
