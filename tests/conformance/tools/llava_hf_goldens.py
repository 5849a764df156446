"""Write tests/conformance/goldens/llava_hf.json from transformers itself run on a llava-hf/llava-1.5-7b-hf replica.

The reference is transformers (what a llava-hf release is run with): AutoProcessor (PIL backend) with the
release's own chat_template.json, ``apply_chat_template(tokenize=True)`` on [image part, text part], and
``LlavaForConditionalGeneration.generate`` (greedy, fp32, CPU). It never imports radzoo. Tests never run this.
usage (radzoo's venv, any transformers >= 5): python tests/conformance/tools/llava_hf_goldens.py [WORK_DIR]
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

import torch

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent), str(HERE.parents[1] / "runs")]

import llava_hf_replica as replica  # noqa: E402

GOLDEN = HERE.parent / "goldens" / "llava_hf.json"
MAX_NEW_TOKENS = 24


def pixel_summary(pixels: torch.Tensor) -> dict:
    flat = pixels.double().flatten()
    return {"shape": list(pixels.shape), "sum": float(flat.sum()), "sum_sq": float((flat * flat).sum()),
            "first": [float(v) for v in flat[:16]]}


def main(work: Path) -> None:
    import transformers
    from PIL import Image
    from transformers import AutoProcessor, LlavaForConditionalGeneration

    release = replica.write_replica(work / "llava-1.5-7b-hf")
    images = replica.write_images(work / "images")
    # the PIL backend: transformers 4.x's CLIPImageProcessor, which the release was made for (5.x defaults to
    # torchvision, which resizes a tensor with its own antialiasing: pixels about 1e-3 apart)
    processor = AutoProcessor.from_pretrained(release, backend="pil")
    model = LlavaForConditionalGeneration.from_pretrained(release, dtype=torch.float32).eval()
    image_id = model.config.image_token_index
    studies, margins = [], []
    for path in images:
        with Image.open(path) as img:
            image = img.convert("RGB")
        messages = [{"role": "user", "content": [{"type": "image", "image": image},
                                                 {"type": "text", "text": replica.QUESTION}]}]
        inputs = processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=True, return_dict=True,
                                               return_tensors="pt")
        with torch.no_grad():
            logits = model(**inputs).logits[0, -1]
            out = model.generate(**inputs, max_new_tokens=MAX_NEW_TOKENS, do_sample=False, output_scores=True,
                                 return_dict_in_generate=True)
        for score in out.scores:
            top = score[0].topk(2).values
            margins.append(float((top[0] - top[1]) / score[0].std()))
        ids = inputs["input_ids"][0].tolist()
        studies.append({
            "image": path.name, "size": list(Image.open(path).size),
            "prompt_ids": [t for i, t in enumerate(ids) if t != image_id or i == 0 or ids[i - 1] != image_id],
            "image_tokens": ids.count(image_id), "pixels": pixel_summary(inputs["pixel_values"]),
            "first_step_logits": [round(float(v), 6) for v in logits],
            "greedy_ids": out.sequences[0, inputs["input_ids"].shape[1]:].tolist()})
    golden = {
        "reference": "transformers, run: AutoProcessor (backend pil).apply_chat_template(tokenize=True) with the "
                     "release's "
                     "chat_template.json, LlavaForConditionalGeneration.generate (greedy, fp32, CPU)",
        "versions": {"transformers": transformers.__version__, "torch": torch.__version__},
        "replica_fingerprint": replica.fingerprint(release), "image_token_index": image_id,
        "question": replica.QUESTION, "max_new_tokens": MAX_NEW_TOKENS,
        "min_top2_margin_over_std": min(margins), "studies": studies}
    GOLDEN.write_text(json.dumps(golden, indent=1) + "\n")
    print(f"wrote {GOLDEN}: {len(studies)} studies, min top-2 margin / std {min(margins):.3g}")


if __name__ == "__main__":
    if len(sys.argv) > 1:
        main(Path(sys.argv[1]))
    else:
        with tempfile.TemporaryDirectory() as tmp:
            main(Path(tmp))
