"""Drive a llava-hf export as transformers clients do, in a fresh interpreter that never imports radzoo.

usage: python llava_hf_clients.py EXPORT_DIR CASES_JSON MAX_NEW_TOKENS OUT_JSON
CASES_JSON: [{"id", "image", "question"}] (the question without ``<image>``, as a client writes it).
OUT_JSON: {client: {study id: {"prompt_ids": [...] (image tokens collapsed to one), "new_ids": [...] or absent,
"report": str}}} and "radzoo_imported". The clients:
- ``processor/parts``: AutoProcessor.apply_chat_template on [image part, text part], then the processor;
- ``processor/string``: the same with the string ``"<image>\\n" + question``;
- ``tokenizer+image_processor``: AutoTokenizer.apply_chat_template (parts), ``<image>`` repeated
  image_seq_length times as LlavaProcessor does, AutoImageProcessor for the pixels;
- ``pipeline``: ``pipeline("image-text-to-text")`` with [image part (the PIL image), text part];
- ``vllm/openai-format`` and ``vllm/string-format``: the prompt ids vLLM's chat path computes, rendered as vLLM
  calls transformers (``tokenizer.apply_chat_template(conversation=..., tools=None, chat_template=...,
  tokenize=True, return_dict=False, add_generation_prompt=True)``) on the conversation vLLM builds: in the
  "openai" content format (what vLLM's own detector reports for radzoo's template) image_url parts become
  ``{"type": "image"}``; in the "string" format vLLM writes ``"<image>\\n" + text``. Prompt ids only.
"""

from __future__ import annotations

import json
import sys

import torch
from PIL import Image
from transformers import AutoImageProcessor, AutoProcessor, AutoTokenizer, LlavaForConditionalGeneration, pipeline


def collapse(ids: list[int], image_id: int) -> list[int]:
    """Runs of the image token as one (radzoo's and LLaVA's sentinel form: compare with the official ids)."""
    return [t for i, t in enumerate(ids) if t != image_id or i == 0 or ids[i - 1] != image_id]


def parts(question: str, image=None) -> list[dict]:
    image_part = {"type": "image", "image": image} if image is not None else {"type": "image"}
    return [{"role": "user", "content": [image_part, {"type": "text", "text": question}]}]


def run(export: str, cases: list[dict], max_new_tokens: int) -> dict:
    processor = AutoProcessor.from_pretrained(export, backend="pil")
    tokenizer = AutoTokenizer.from_pretrained(export)
    images = AutoImageProcessor.from_pretrained(export, backend="pil")
    model = LlavaForConditionalGeneration.from_pretrained(export, dtype=torch.float32).eval()
    image_id, tokens = model.config.image_token_index, model.config.image_seq_length
    greedy = {"max_new_tokens": max_new_tokens, "do_sample": False}
    out: dict[str, dict] = {}

    def record(client: str, study: str, input_ids: torch.Tensor, pixels: torch.Tensor | None) -> None:
        entry = {"prompt_ids": collapse(input_ids[0].tolist(), image_id)}
        if pixels is not None:
            with torch.no_grad():
                new = model.generate(input_ids=input_ids, pixel_values=pixels, **greedy)[0, input_ids.shape[1]:]
            entry.update(new_ids=new.tolist(), report=tokenizer.decode(new, skip_special_tokens=True).strip())
        out.setdefault(client, {})[study] = entry

    for case in cases:
        with Image.open(case["image"]) as img:
            image = img.convert("RGB")
        q = case["question"]
        for client, messages in (("processor/parts", parts(q)),
                                 ("processor/string", [{"role": "user", "content": "<image>\n" + q}])):
            text = processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
            inputs = processor(text=text, images=image, return_tensors="pt")
            record(client, case["id"], inputs.input_ids, inputs.pixel_values)
        text = tokenizer.apply_chat_template(parts(q), add_generation_prompt=True, tokenize=False)
        ids = tokenizer(text.replace("<image>", "<image>" * tokens), return_tensors="pt").input_ids
        record("tokenizer+image_processor", case["id"], ids, images(image, return_tensors="pt").pixel_values)
        for client, content in (("vllm/openai-format", [{"type": "image"}, {"type": "text", "text": q}]),
                                ("vllm/string-format", "<image>\n" + q)):
            ids = tokenizer.apply_chat_template(conversation=[{"role": "user", "content": content}], tools=None,
                                                chat_template=tokenizer.get_chat_template(), tokenize=True,
                                                return_dict=False, add_generation_prompt=True)
            record(client, case["id"], torch.tensor([ids]), None)
    pipe = pipeline("image-text-to-text", model=model, processor=processor)
    for case in cases:
        with Image.open(case["image"]) as img:
            image = img.convert("RGB")
        result = pipe(text=parts(case["question"], image), generate_kwargs=greedy, return_full_text=False)
        out.setdefault("pipeline", {})[case["id"]] = {"report": result[0]["generated_text"].strip()}
    return out


if __name__ == "__main__":
    with open(sys.argv[2], encoding="utf-8") as f:
        cases = json.load(f)
    result = run(sys.argv[1], cases, int(sys.argv[3]))
    result["radzoo_imported"] = any(name == "radzoo" or name.startswith("radzoo.") for name in sys.modules)
    with open(sys.argv[4], "w", encoding="utf-8") as f:
        json.dump(result, f)
