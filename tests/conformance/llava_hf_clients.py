"""Drive a llava-hf export as transformers clients do, in a fresh interpreter that never imports radzoo.

usage: python llava_hf_clients.py EXPORT_DIR CASES_JSON MAX_NEW_TOKENS OUT_JSON
CASES_JSON: [{"id", "image", "question"}] (the question without ``<image>``, as a client writes it).
OUT_JSON: {client: {study id: {"prompt_ids": [...] (image tokens collapsed to one), "new_ids": [...] or absent,
"report": str}}} and "radzoo_imported". The clients:
- ``processor/parts``: AutoProcessor.apply_chat_template(tokenize=True) on [image part (the PIL image), text part];
- ``processor/string``: the same with the string ``"<image>\\n" + question`` (the image in processor_kwargs);
- ``processor/rendered``: the text of apply_chat_template(tokenize=False), then the processor with
  ``add_special_tokens=False``, as transformers' docs say for a template that writes BOS;
  ``processor/rendered-default``: the same with the processor's default (special tokens added): prompt ids only;
- ``tokenizer+image_processor``: AutoTokenizer.apply_chat_template(tokenize=True) (parts), ``<image>`` repeated
  image_seq_length times as LlavaProcessor does, AutoImageProcessor for the pixels;
- ``pipeline``: ``pipeline("image-text-to-text")`` with [image part (the PIL image), text part];
- ``remote-code/processor/parts`` and ``remote-code/pipeline``: the same loaded with ``trust_remote_code=True``
  (the export's ``image_processing_radzoo.py``, which crops as torchvision), on the default backend;
  ``remote-code/class`` is the image processor class that loaded;
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
        inputs = processor.apply_chat_template(parts(q, image), add_generation_prompt=True, tokenize=True,
                                               return_dict=True, return_tensors="pt")
        record("processor/parts", case["id"], inputs["input_ids"], inputs["pixel_values"])
        string = [{"role": "user", "content": "<image>\n" + q}]
        inputs = processor.apply_chat_template(string, add_generation_prompt=True, tokenize=True, return_dict=True,
                                               return_tensors="pt",
                                               processor_kwargs={"images": [image]})
        record("processor/string", case["id"], inputs["input_ids"], inputs["pixel_values"])
        text = processor.apply_chat_template(parts(q), add_generation_prompt=True, tokenize=False)
        inputs = processor(text=text, images=image, return_tensors="pt", add_special_tokens=False)
        record("processor/rendered", case["id"], inputs.input_ids, inputs.pixel_values)
        default = processor(text=text, images=image, return_tensors="pt").input_ids  # add_special_tokens=True
        record("processor/rendered-default", case["id"], default, None)
        ids = tokenizer.apply_chat_template(parts(q), add_generation_prompt=True, tokenize=True, return_dict=False)
        ids = torch.tensor([[t for i in ids for t in ([image_id] * tokens if i == image_id else [i])]])
        record("tokenizer+image_processor", case["id"], ids, images(image, return_tensors="pt").pixel_values)
        for client, content in (("vllm/openai-format", [{"type": "image"}, {"type": "text", "text": q}]),
                                ("vllm/string-format", "<image>\n" + q)):
            ids = tokenizer.apply_chat_template(conversation=[{"role": "user", "content": content}], tools=None,
                                                chat_template=tokenizer.get_chat_template(), tokenize=True,
                                                return_dict=False, add_generation_prompt=True)
            record(client, case["id"], torch.tensor([ids]), None)
    exact = AutoProcessor.from_pretrained(export, trust_remote_code=True)  # the shipped round-crop processor
    out["remote-code/class"] = type(exact.image_processor).__name__
    for case in cases:
        with Image.open(case["image"]) as img:
            image = img.convert("RGB")
        inputs = exact.apply_chat_template(parts(case["question"], image), add_generation_prompt=True, tokenize=True,
                                           return_dict=True, return_tensors="pt")
        record("remote-code/processor/parts", case["id"], inputs["input_ids"], inputs["pixel_values"])
    for client, pipe in (("pipeline", pipeline("image-text-to-text", model=model, processor=processor)),
                         ("remote-code/pipeline", pipeline("image-text-to-text", model=export, trust_remote_code=True,
                                                           dtype=torch.float32))):
        for case in cases:
            with Image.open(case["image"]) as img:
                image = img.convert("RGB")
            result = pipe(text=parts(case["question"], image), generate_kwargs=greedy, return_full_text=False)
            out.setdefault(client, {})[case["id"]] = {"report": result[0]["generated_text"].strip()}
    return out


if __name__ == "__main__":
    with open(sys.argv[2], encoding="utf-8") as f:
        cases = json.load(f)
    result = run(sys.argv[1], cases, int(sys.argv[3]))
    result["radzoo_imported"] = any(name == "radzoo" or name.startswith("radzoo.") for name in sys.modules)
    with open(sys.argv[4], "w", encoding="utf-8") as f:
        json.dump(result, f)
