"""Run by tests/runs/test_export_llava_hf.py in a fresh interpreter: reload LLaVA exports with transformers alone.

usage: python llava_hf_reload.py CASES_JSON OUT_JSON, CASES_JSON = {export dir: [{id, image, indication}]}.
Writes {export dir: {study id: greedy report}}. It never imports radzoo (checked at the end).
"""

from __future__ import annotations

import json
import sys

import torch
from PIL import Image
from transformers import AutoProcessor, LlavaForConditionalGeneration


def messages(info: dict, indication: str | None, parts: bool) -> list[dict]:
    template = info["instruction_with_indication"] if indication and info["instruction_with_indication"] else None
    text = template.replace("{indication}", indication.strip()) if template else info["instruction"]
    if parts and text.startswith("<image>"):  # the content-parts form: an image part, then the text
        return [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": text[len("<image>"):]}]}]
    return [{"role": "user", "content": text}]


def reports(export: str, studies: list[dict]) -> dict[str, str]:
    with open(f"{export}/radzoo_export.json", encoding="utf-8") as f:
        info = json.load(f)
    # as the export says: trust_remote_code=True where it ships image_processing_radzoo.py (torchvision's crop)
    exact = "trust_remote_code=True" in info["load_processor_with"]
    processor = AutoProcessor.from_pretrained(export, **({"trust_remote_code": True} if exact else {"backend": "pil"}))
    model = LlavaForConditionalGeneration.from_pretrained(export, dtype=torch.float32).eval()
    out = {}
    for i, study in enumerate(studies):
        with Image.open(study["image"]) as img:
            # tokenize=True: the template writes BOS, so the rendered text is tokenized without special tokens
            inputs = processor.apply_chat_template(messages(info, study["indication"], parts=i % 2 == 1),
                                                   add_generation_prompt=True, tokenize=True, return_dict=True,
                                                   return_tensors="pt", processor_kwargs={"images": [img.convert("L")]})
        with torch.no_grad():
            ids = model.generate(**inputs)  # greedy and max_new_tokens from the export's generation_config
        new = ids[0, inputs["input_ids"].shape[1]:]
        out[study["id"]] = processor.decode(new, skip_special_tokens=True).strip()
    return out


if __name__ == "__main__":
    with open(sys.argv[1], encoding="utf-8") as f:
        cases = json.load(f)
    result = {export: reports(export, studies) for export, studies in cases.items()}
    result["radzoo_imported"] = any(name == "radzoo" or name.startswith("radzoo.") for name in sys.modules)
    with open(sys.argv[2], "w", encoding="utf-8") as f:
        json.dump(result, f)
