"""MAIRA-2's full reporting prompt (current frontal, lateral, prior frontal, prior report, sections) through
`radzoo import maira-2` and generate's inputs, against goldens/maira2_multi_image.json: the upstream processor's
``format_and_preprocess_reporting_input`` ids and pixels for the same three images and sections."""

from __future__ import annotations

import published_replicas as replicas
import torch
from imported_goldens import assert_pixels_match, golden, import_replica
from release_replicas import hub_calls_fail  # noqa: F401 (autouse: hub downloads raise)
from test_maira2_goldens import collapsed

from radzoo.data.study import Study, StudyImage

MULTI = golden("maira2_multi_image.json")
SEQUENCE = golden("maira2.json")["image_seq_length"]


def test_full_prompt_ids_and_pixels_equal_the_release_processors(tmp_path):
    replicas.write_maira2(tmp_path / "maira-2")
    generator = import_replica("maira-2", tmp_path / "maira-2", tmp_path / "run", MULTI["replica_digests"])
    paths = []
    for index in range(3):  # study_image(0) current frontal, (1) current lateral, (2) prior frontal
        paths.append(tmp_path / f"image{index}.png")
        replicas.study_image(index).save(paths[-1])
    sections = MULTI["sections"]
    study = Study("s", str(paths[0]), images=[StudyImage(str(paths[0])), StudyImage(str(paths[1]), "lateral")],
                  sections={k: sections[k] for k in ("indication", "technique", "comparison")},
                  prior=Study("p", str(paths[2]), sections["prior_report"]), split="test")
    assert generator.model.prompt.render_study(study)[0] == MULTI["prompt_text"]
    batch = generator.prepare([study])
    assert not batch.failed
    ids = batch.inputs["input_ids"][0].tolist()
    assert ids == collapsed(MULTI["prompt_ids"], MULTI["image_token_index"], SEQUENCE)
    pixels = batch.inputs["pixel_values"]
    assert pixels.shape[0] == 3
    for k, summary in enumerate(MULTI["pixels"]):
        assert_pixels_match(pixels[k:k + 1].to(torch.float32), summary)
