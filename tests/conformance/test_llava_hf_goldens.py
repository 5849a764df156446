"""`radzoo import llava-hf` → generate (fp32) against goldens from transformers itself, run on a replica of
llava-hf/llava-1.5-7b-hf with the release's own chat_template.json (tools/llava_hf_goldens.py): the processor's
``apply_chat_template(tokenize=True)`` ids and pixels, and ``LlavaForConditionalGeneration`` logits and greedy ids.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from llava_hf_replica import SIZES, fingerprint, write_images, write_replica
from release_replicas import hub_calls_fail  # noqa: F401 (autouse: hub downloads raise)

GOLDEN = json.loads((Path(__file__).parent / "goldens" / "llava_hf.json").read_text())
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def imported(tmp_path_factory):
    from radzoo.interop.releases import import_release
    from radzoo.runs.open import open_model

    root = tmp_path_factory.mktemp("llava_hf_golden")
    release = write_replica(root / "llava-1.5-7b-hf")
    assert fingerprint(release) == GOLDEN["replica_fingerprint"], "rerun tests/conformance/tools/llava_hf_goldens.py"
    images = write_images(root / "images")
    run = import_release("llava-hf", release, root / "run")
    model, _ = open_model(run)
    return run, model, images


def test_the_golden_has_wide_enough_margins_and_distinct_reports():
    assert GOLDEN["min_top2_margin_over_std"] > 1e-3
    assert len({tuple(s["greedy_ids"]) for s in GOLDEN["studies"]}) == len(SIZES)


@pytest.mark.parametrize("index", range(len(SIZES)))
def test_prompt_pixels_logits_and_greedy_ids_equal_transformers(imported, index):
    from radzoo.data.images import load_image
    from radzoo.model.prompting import IMAGE_TOKEN_INDEX, encode_example

    _, model, images = imported
    golden = GOLDEN["studies"][index]
    ids = encode_example(model.tokenizer, model.prompt, None)["input_ids"]
    image_id = GOLDEN["image_token_index"]
    assert [image_id if t == IMAGE_TOKEN_INDEX else t for t in ids] == golden["prompt_ids"]
    assert model.image_tokens() == golden["image_tokens"]
    pixels = model.encoder.image_transform(False)(load_image(images[index]))[None]
    assert list(pixels.shape) == golden["pixels"]["shape"]
    flat = pixels.flatten().double()
    assert float(flat.sum()) == pytest.approx(golden["pixels"]["sum"], rel=1e-5, abs=1e-3)
    assert float((flat * flat).sum()) == pytest.approx(golden["pixels"]["sum_sq"], rel=1e-5)
    torch.testing.assert_close(flat[:16], torch.tensor(golden["pixels"]["first"], dtype=torch.float64), atol=1e-5,
                               rtol=0)
    input_ids = torch.tensor([ids])
    mask = torch.ones_like(input_ids)
    with torch.no_grad():
        logits = model(input_ids=input_ids, attention_mask=mask, pixel_values=pixels).logits[0, -1]
    torch.testing.assert_close(logits, torch.tensor(golden["first_step_logits"]), atol=2e-4, rtol=1e-4)


def test_radzoo_generate_writes_transformers_greedy_reports(imported, tmp_path):
    """`generate` (fp32, batches of 3, left padding) decodes exactly transformers' greedy ids, 6 of 6."""
    from radzoo.data.study import Study
    from radzoo.files.jsonl import read_records
    from radzoo.generation.pipeline import generate

    run, model, images = imported
    studies = [Study(id=f"s{i}", image=str(p)) for i, p in enumerate(images)]
    generate(run, out=tmp_path / "preds.jsonl", studies=studies, batch_size=3, dtype="fp32",
             overrides=[f"generation.max_new_tokens={GOLDEN['max_new_tokens']}"])
    ours = {r["id"]: r["prediction"] for r in read_records(tmp_path / "preds.jsonl")}
    official = {f"s{i}": model.tokenizer.decode(s["greedy_ids"], skip_special_tokens=True).strip()
                for i, s in enumerate(GOLDEN["studies"])}
    assert ours == official
