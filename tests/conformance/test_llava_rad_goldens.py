"""`radzoo import llava-rad` → generate (fp32) against goldens from LLaVA-Rad's own code, run.

goldens/llava_rad.json was written by tools/llava_rad_goldens.py: microsoft/LLaVA-Rad @1fc4409 with its pinned
transformers 4.31.0 / peft 0.4.0 / open-clip-torch 2.23.0 / timm 0.9.12, its ``load_pretrained_model``, conv "v1",
``tokenizer_image_token`` and ``generate``, on the replica llava_rad_replica.py builds (fp32, CPU). Nothing here
re-implements LLaVA-Rad: the figures are the upstream code's.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from llava_rad_replica import STUDIES, fingerprint, write_images, write_replica
from release_replicas import hub_calls_fail  # noqa: F401 (autouse: hub downloads raise)

GOLDEN = json.loads((Path(__file__).parent / "goldens" / "llava_rad.json").read_text())
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def imported(tmp_path_factory):
    """The replica, checked to be the one the goldens were made from, imported and loaded as generate loads it."""
    from radzoo.generation.pipeline import load_model
    from radzoo.runs.importers import import_release

    root = tmp_path_factory.mktemp("llava_rad_golden")
    release, base = write_replica(root)
    assert fingerprint(release, base) == GOLDEN["replica_fingerprint"], (
        "llava_rad_replica.py no longer builds the replica the goldens came from: rerun "
        "tests/conformance/tools/llava_rad_goldens.py (needs the upstream checkout)")
    images = write_images(root / "images")
    run = import_release("llava-rad", release, root / "run", base_llm=base)
    model, _ = load_model(run)
    return run, model, images


def _study_inputs(model, image_path: Path, indication: str | None) -> tuple[list[int], torch.Tensor]:
    from radzoo.data.images import load_image
    from radzoo.model.prompting import encode_example

    ids = encode_example(model.tokenizer, model.prompt, None, indication=indication)["input_ids"]
    pixels = model.encoder.image_transform(False)(load_image(image_path))[None]
    return ids, pixels


@pytest.mark.parametrize("index", range(len(STUDIES)))
def test_prompt_pixels_logits_and_greedy_ids_equal_the_official_code(imported, index):
    _, model, images = imported
    golden = GOLDEN["studies"][index]
    ids, pixels = _study_inputs(model, images[index], golden["indication"])
    assert model.prompt.render(golden["indication"]) == golden["prompt"]
    assert ids == golden["prompt_ids"]
    assert list(pixels.shape[1:]) == golden["pixels"]["shape"]
    flat = pixels.flatten().double()
    assert float(flat.sum()) == pytest.approx(golden["pixels"]["sum"], rel=1e-5, abs=1e-2)
    assert float(flat.abs().sum()) == pytest.approx(golden["pixels"]["abs_sum"], rel=1e-5)
    for i, value in golden["pixels"]["values"].items():
        assert float(flat[int(i)]) == pytest.approx(value, abs=1e-5)
    input_ids = torch.tensor([ids])
    mask = torch.ones_like(input_ids)
    with torch.no_grad():
        logits = model(input_ids=input_ids, attention_mask=mask, pixel_values=pixels).logits[0, -1]
        new = model.generate(input_ids, mask, pixel_values=pixels, max_new_tokens=GOLDEN["max_new_tokens"],
                             do_sample=False)[0].tolist()
    torch.testing.assert_close(logits, torch.tensor(golden["first_step_logits"]), atol=2e-4, rtol=1e-4)
    assert new == golden["greedy_ids"]


def _generated(imported, tmp_path) -> tuple[dict[str, str], object]:
    from radzoo.data.study import Study
    from radzoo.files.jsonl import read_records
    from radzoo.generation.pipeline import generate

    run, model, images = imported
    studies = [Study(id=f"s{i}", image=str(p), indication=s["indication"])
               for i, (p, s) in enumerate(zip(images, GOLDEN["studies"], strict=True))]
    generate(run, out=tmp_path / "preds.jsonl", studies=studies, batch_size=3, dtype="fp32",
             overrides=[f"generation.max_new_tokens={GOLDEN['max_new_tokens']}"])
    return {r["id"]: r["prediction"] for r in read_records(tmp_path / "preds.jsonl")}, model


def test_radzoo_generate_writes_the_official_greedy_ids_in_batches(imported, tmp_path):
    """`generate` (batches of 3, left padding) decodes exactly the official greedy ids, 6 of 6."""
    ours, model = _generated(imported, tmp_path)
    assert model.image_tokens() == GOLDEN["image_tokens"]
    official = {f"s{i}": model.tokenizer.decode(s["greedy_ids"], skip_special_tokens=True).strip()
                for i, s in enumerate(GOLDEN["studies"])}
    assert ours == official


@pytest.mark.xfail(strict=True, reason="known difference: the replica's random LM emits byte-fallback tokens; "
                   "tokenizers' ByteFallback decoder turns a run of bytes that is not valid UTF-8 into U+FFFD "
                   "each, where LLaVA-Rad's slow sentencepiece decode keeps the valid bytes")
def test_radzoo_report_text_equals_the_official_sentencepiece_decode(imported, tmp_path):
    ours, _ = _generated(imported, tmp_path)
    assert ours == {f"s{i}": s["report"] for i, s in enumerate(GOLDEN["studies"])}
