"""Run microsoft/LLaVA-Rad's own inference code on the tiny replica and print its figures as JSON.

NEEDS THE UPSTREAM CHECKOUT: run by llava_rad_goldens.py inside a venv holding LLaVA-Rad's pins (transformers
4.31.0, peft 0.4.0, open-clip-torch 2.23.0, timm 0.9.12, ...) with the checkout on PYTHONPATH, the working
directory in the release dir, and an HF cache seeded with the hub files LLaVA-Rad fetches. Tests never run it.

usage: python llava_rad_official.py RELEASE_DIR BASE_DIR STUDIES_JSON MAX_NEW_TOKENS OUT_JSON
STUDIES_JSON: [{"image": path, "indication": str or null}]. The steps are those of
``llava/eval/model_mimic_cxr.py:eval_model`` (load_pretrained_model, the mimic question, conv "v1",
tokenizer_image_token, image_processor.preprocess of the RGB image, greedy generate, batch_decode), one study per
batch, on the CPU, in float32: the builder's ``torch.float16`` is read as float32 (the one change; the released
eval runs fp16 on CUDA). The question text is the one ``data_loader_mimic_reason_findings`` writes.
"""

from __future__ import annotations

import hashlib
import json
import sys
import types

import llava.model.builder as builder
import torch
from llava.constants import DEFAULT_IMAGE_TOKEN, IMAGE_TOKEN_INDEX
from llava.conversation import conv_templates
from llava.mm_utils import get_model_name_from_path, tokenizer_image_token
from llava.utils import data_loaders, disable_torch_init
from PIL import Image


class _Float32Torch(types.ModuleType):
    """torch, except that ``float16`` is float32: the builder's fp16 cast becomes fp32 (fp32 goldens)."""

    def __getattr__(self, name: str):
        return torch.float32 if name == "float16" else getattr(torch, name)


def questions(studies: list[dict], scratch: str) -> list[str]:
    """The user turn LLaVA-Rad's MIMIC test loader writes for each study (with or without its indication)."""
    records = [{"id": i, "image": s["image"], "reason": s["indication"], "view": "PA", "generate_method": "rule-based",
                "conversations": [{"from": "human", "value": ""}, {"from": "gpt", "value": "x"}]}
               for i, s in enumerate(studies)]
    path = f"{scratch}/queries.json"
    with open(path, "w", encoding="utf-8") as f:
        json.dump(records, f)
    return [d["conversations"][0]["value"] for d in data_loaders["mimic_test_findings"](path)]


def main(release: str, base: str, studies_file: str, max_new_tokens: int, out: str) -> None:
    with open(studies_file, encoding="utf-8") as f:
        studies = json.load(f)
    disable_torch_init()
    builder.torch = _Float32Torch("torch")
    name = get_model_name_from_path(release)
    assert name == "llavarad", name
    tokenizer, model, image_processor, _ = builder.load_pretrained_model(release, base, name, device_map="cpu",
                                                                         device="cpu")
    model.eval()
    results = []
    for study, q in zip(studies, questions(studies, out.rsplit("/", 1)[0]), strict=True):
        q = DEFAULT_IMAGE_TOKEN + "\n" + q.replace("<image>", "").strip()  # eval_model's rewrite
        conv = conv_templates["v1"].copy()
        conv.append_message(conv.roles[0], q)
        conv.append_message(conv.roles[1], None)
        prompt = conv.get_prompt()
        input_ids = tokenizer_image_token(prompt, tokenizer, IMAGE_TOKEN_INDEX, return_tensors="pt")
        image = Image.open(study["image"]).convert("RGB")
        pixels = image_processor.preprocess(image, return_tensors="pt")["pixel_values"][0]
        with torch.inference_mode():
            first = model(input_ids[None], images=pixels[None]).logits[0, -1]
            output = model.generate(input_ids[None], images=pixels[None], do_sample=False, temperature=0,
                                    top_p=None, num_beams=1, max_new_tokens=max_new_tokens, use_cache=True,
                                    output_scores=True, return_dict_in_generate=True)
        new = output.sequences[0, input_ids.shape[0]:]
        scores = torch.stack([s[0] for s in output.scores]).float()
        top2 = scores.topk(2, dim=-1).values
        flat = pixels.flatten().double()
        results.append({
            "prompt": prompt, "prompt_ids": input_ids.tolist(),
            "pixels": {"shape": list(pixels.shape), "sum": float(flat.sum()), "abs_sum": float(flat.abs().sum()),
                       "sha256_f32": hashlib.sha256(pixels.float().contiguous().numpy().tobytes()).hexdigest(),
                       "values": {str(i): float(flat[i]) for i in (0, 1, 777, 12345, flat.numel() - 1)}},
            "first_step_logits": [float(x) for x in first.float()],
            "greedy_ids": new.tolist(),
            "report": tokenizer.batch_decode(new[None], skip_special_tokens=True)[0].strip(),
            "min_margin_over_std": float(((top2[:, 0] - top2[:, 1]) / scores.std(dim=-1)).min()),
        })
    with open(out, "w", encoding="utf-8") as f:
        json.dump({"studies": results, "image_tokens": int(model.get_vision_tower().num_patches),
                   "model_dtype": str(model.dtype)}, f)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5])
