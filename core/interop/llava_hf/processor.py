"""The processor of a LLaVA export: radzoo's image transform, its tokenizer with ``<image>``, its chat format.

The chat template renders the recipe's prompt format with the recipe's system prompt as the default, so
``apply_chat_template`` followed by the processor gives the token ids radzoo's prompt builder gives
(``check_prompt_ids`` proves it at export time, on the message forms clients send). Where radzoo's prompt starts
with the tokenizer's BOS, the template writes ``{{ bos_token }}`` (as Llama-2's and Mistral's do): transformers'
``apply_chat_template(tokenize=True)`` (processor and tokenizer), its pipelines and vLLM's chat path all tokenize
the rendered text without adding special tokens, so without it they lose the BOS. Text rendered with
``tokenize=False`` must then be tokenized with ``add_special_tokens=False``, or it gets two (transformers' own
chat-template docs say the same).

Where the recipe's instruction starts with the image (``<image>\n...``, LLaVA's and LLaVA-Rad's form), the user
turn is normalised as LLaVA-Rad's eval does: ``<image>`` taken out of the text, the rest stripped, and
``<image>\n`` put in front. So an image part before or after the text part, or a string with ``<image>``
anywhere, all give the trained prompt (vLLM, TGI and OpenAI-style servers send an image part and a text part,
with no newline between them).
"""

from __future__ import annotations

import copy
import json
import re
import shutil
from pathlib import Path
from typing import Any

from radzoo.interop.llava_hf.towers import ConvertedTower, ExportRefused
from radzoo.model.chat_formats import IMAGE_PLACEHOLDER, ChatFormat
from radzoo.model.prompting import IMAGE_TOKEN_INDEX, encode_example

# PIL's resample codes for the encoder's ``interpolation``
PIL_RESAMPLE = {"nearest": 0, "lanczos": 1, "bilinear": 2, "bicubic": 3, "box": 4, "hamming": 5}
EXACT_CROP_MODULE = Path(__file__).with_name("image_processing_radzoo.py")
EXACT_CROP_CLASS = "RadzooCLIPImageProcessor"


def image_processor(encoder: Any) -> Any:
    """A CLIP image processor doing radzoo's transform: short-side resize with the encoder's filter, centre crop,
    mean/std.

    Its PIL backend resizes as radzoo does (torchvision on PIL images); load it with ``backend="pil"``.
    A grayscale encoder's mean/std go on all three channels (the tower reads RGB, see ``as_rgb``).
    """
    from transformers.models.clip.image_processing_pil_clip import CLIPImageProcessorPil

    size = int(encoder.image_size)
    mean, std = list(encoder.mean), list(encoder.std)
    if len(mean) == 1:
        mean, std = mean * 3, std * 3
    if encoder.interpolation not in PIL_RESAMPLE or getattr(encoder, "rescale_intensity", False):
        raise ExportRefused(f"the encoder's transform (interpolation {encoder.interpolation!r}, rescale_intensity "
                            f"{getattr(encoder, 'rescale_intensity', False)}) has no transformers image processor "
                            "setting; use `radzoo export RUN --out DIR` (radzoo format) or `radzoo serve`")
    return CLIPImageProcessorPil(
        do_resize=True, size={"shortest_edge": size}, resample=PIL_RESAMPLE[encoder.interpolation],
        do_center_crop=True,
        crop_size={"height": size, "width": size}, do_rescale=True, rescale_factor=1 / 255, do_normalize=True,
        image_mean=mean, image_std=std, do_convert_rgb=True)


def ship_exact_crop(directory: Path) -> None:
    """Put ``image_processing_radzoo.py`` in a saved processor directory and name it in the image processor's
    ``auto_map``: ``trust_remote_code=True`` then crops as torchvision; without it transformers keeps its stock
    class (whose floor crop is one pixel off where the margin is odd)."""
    shutil.copyfile(EXACT_CROP_MODULE, directory / EXACT_CROP_MODULE.name)
    auto_map = {"AutoImageProcessor": f"{EXACT_CROP_MODULE.stem}.{EXACT_CROP_CLASS}"}
    for name, key in (("preprocessor_config.json", None), ("processor_config.json", "image_processor")):
        path = directory / name
        if not path.is_file():
            continue
        data = json.loads(path.read_text(encoding="utf-8"))
        target = data if key is None else data.get(key)
        if isinstance(target, dict):
            target["auto_map"] = auto_map
            path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def with_image_token(tokenizer: Any) -> tuple[Any, int]:
    """A copy of the tokenizer that knows ``<image>`` as one special token, and that token's id."""
    from tokenizers import AddedToken

    tok = copy.deepcopy(tokenizer)
    if IMAGE_PLACEHOLDER not in tok.get_vocab():
        tok.add_tokens([AddedToken(IMAGE_PLACEHOLDER, special=True, normalized=False)], special_tokens=True)
    prefix_every_chunk(tok)
    return tok, int(tok.convert_tokens_to_ids(IMAGE_PLACEHOLDER))


def prefix_every_chunk(tokenizer: Any) -> None:
    """Make a sentencepiece-style (Metaspace) tokenizer put its ``▁`` prefix on the text after ``<image>`` too.

    radzoo, like LLaVA's ``tokenizer_image_token``, encodes each chunk after ``<image>`` alone, so sentencepiece's
    dummy prefix starts it (``"\\n..."`` -> ``▁ <0x0A> ...``). A Llama tokenizer loaded with ``legacy=False``
    (Vicuna's, LLaMA-2's) prefixes only the first text segment (``prepend_scheme="first"``), so the whole prompt
    would lose that ``▁``; ``"always"`` (what ``legacy=True`` builds) prefixes every segment between added tokens.
    """
    backend = getattr(tokenizer, "backend_tokenizer", None)
    pre = getattr(backend, "pre_tokenizer", None)
    if type(pre).__name__ != "Metaspace" or pre.prepend_scheme != "first":
        return
    pre.prepend_scheme = "always"
    backend.pre_tokenizer = pre
    if hasattr(tokenizer, "legacy"):  # the saved config says the same, should transformers rebuild the pre-tokenizer
        tokenizer.legacy = True
        tokenizer.init_kwargs["legacy"] = True


def _literal(text: str) -> str:
    return "{{ " + json.dumps(text) + " }}" if text else ""


def image_lead(*instructions: str | None) -> str | None:
    """``<image>`` plus the whitespace after it where every instruction starts with the image, else None."""
    leads = set()
    for text in instructions:
        if text is None:
            continue
        match = re.match(re.escape(IMAGE_PLACEHOLDER) + r"\s*", text)
        leads.add(match.group(0) if match else None)
    return leads.pop() if len(leads) == 1 else None


def chat_template(fmt: ChatFormat, system: str | None, lead: str | None = None, bos: bool = False) -> str:
    """A Jinja chat template that renders ``fmt`` as radzoo does: one system text (default: the recipe's),
    one user turn (text, or content parts where an image part stands for ``<image>``), then the answer.
    With ``lead`` (see ``image_lead``) a user turn holding an image becomes ``lead`` + its text, stripped;
    with ``bos`` the text starts with ``{{ bos_token }}``."""
    default_system = fmt.default_system if system is None else system
    sys_before, sys_after = fmt.system_block.split("{system}")
    body = []
    for piece in re.split(r"(\{system\}|\{user\})", fmt.template):
        if piece == "{system}":
            body.append("{% if ns.system %}" + _literal(sys_before) + "{{ ns.system }}" + _literal(sys_after)
                        + "{% endif %}")
        elif piece == "{user}":
            body.append("{{ ns.user }}")
        else:
            body.append(_literal(piece))
    image = json.dumps(IMAGE_PLACEHOLDER)
    text_of = ("{% macro text_of(m) %}{% if m.content is string %}{{ m.content }}{% else %}"
               "{% for part in m.content %}{% if part.type == 'image' %}" + IMAGE_PLACEHOLDER
               + "{% elif part.type == 'text' %}{{ part.text }}{% endif %}{% endfor %}{% endif %}{% endmacro %}")
    user = "{% set ns.user = text_of(m) %}"
    if lead is not None:
        user += ("{% if " + image + " in ns.user %}{% set ns.user = " + json.dumps(lead) + " ~ (ns.user | replace("
                 + image + ", '') | trim) %}{% endif %}")
    return (
        text_of + "{% set ns = namespace(system=" + json.dumps(default_system) + ", user=none, answer=none) %}"
        "{% for m in messages %}"
        "{% if m.role == 'system' %}{% set ns.system = text_of(m) %}"
        "{% elif m.role == 'user' and ns.user is none %}" + user +
        "{% elif m.role == 'assistant' and ns.answer is none %}{% set ns.answer = text_of(m) %}"
        "{% else %}{{ raise_exception('this model was trained on one system text, one user turn and one answer') }}"
        "{% endif %}{% endfor %}"
        + ("{{ bos_token }}" if bos else "") + "".join(body)
        + "{% if ns.answer is not none %}" + _literal(fmt.answer_prefix) + "{{ ns.answer }}{{ eos_token }}{% endif %}"
    )


def llava_processor(model: Any, tower: ConvertedTower) -> tuple[Any, int]:
    """(LlavaProcessor, image token id) for the run's model and its converted tower."""
    from transformers import LlavaProcessor

    tokenizer, image_id = with_image_token(model.tokenizer)
    builder = model.prompt
    bos = model.tokenizer.bos_token_id
    starts_with_bos = bos is not None and encode_example(model.tokenizer, builder, None)["input_ids"][:1] == [bos]
    template = chat_template(builder.format, builder.system,
                             image_lead(builder.instruction, builder.instruction_with_indication), starts_with_bos)
    tokenizer.chat_template = template  # AutoTokenizer.apply_chat_template renders as AutoProcessor does
    processor = LlavaProcessor(
        image_processor=image_processor(model.encoder), tokenizer=tokenizer,
        patch_size=int(tower.config.patch_size), vision_feature_select_strategy=tower.select_strategy,
        chat_template=template, image_token=IMAGE_PLACEHOLDER,
        num_additional_image_tokens=tower.additional_tokens)
    return processor, image_id


def client_messages(user_text: str, system: str | None, lead: str | None) -> dict[str, list[dict]]:
    """The message lists clients send for one user turn, by name: the string as radzoo writes it and, where the
    template normalises the image (``lead``), content parts in both orders, a system message, ``<image>`` inline
    at the end of a string."""
    forms = {"string": [{"role": "user", "content": user_text}]}
    if lead is None:
        return forms
    question = user_text.replace(IMAGE_PLACEHOLDER, "").strip()
    image, text = {"type": "image"}, {"type": "text", "text": question}
    system_turn = [{"role": "system", "content": system}] if system else []
    forms.update({
        "image part, text part": [{"role": "user", "content": [image, text]}],
        "text part, image part": [{"role": "user", "content": [text, image]}],
        "system message, image part, text part": system_turn + [{"role": "user", "content": [image, text]}],
        "string with <image> at the end": [{"role": "user", "content": f"{question} {IMAGE_PLACEHOLDER}"}],
    })
    return forms


def check_prompt_ids(model: Any, processor: Any, image_id: int, image_tokens: int, probe: Any,
                     tokenizer: Any = None) -> None:
    """The ids of ``apply_chat_template(tokenize=True)`` for the recipe's prompts, in every form of
    ``client_messages``, equal radzoo's (image tokens expanded), on the processor and on ``tokenizer``
    (AutoTokenizer, whose ``<image>`` LlavaProcessor would expand)."""
    builder = model.prompt
    lead = image_lead(builder.instruction, builder.instruction_with_indication)
    system = builder.format.default_system if builder.system is None else builder.system
    cases = [None] + (["cough"] if builder.instruction_with_indication else [])
    for indication in cases:
        ours = encode_example(model.tokenizer, builder, None, indication=indication)["input_ids"]
        expanded = [t for i in ours for t in ([image_id] * image_tokens if i == IMAGE_TOKEN_INDEX else [i])]
        for form, messages in client_messages(builder.user_text(indication), system, lead).items():
            text = processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
            theirs = processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=True,
                                                   return_dict=True, processor_kwargs={"images": [probe]},
                                                   return_tensors="pt")["input_ids"][0].tolist()
            if theirs != expanded:
                at = next((i for i, (a, b) in enumerate(zip(theirs, expanded, strict=False)) if a != b),
                          min(len(theirs), len(expanded)))
                raise ExportRefused(f"the exported tokenizer and chat template give other ids than radzoo for the "
                                    f"prompt {text!r} ({form}; first difference at token {at}), so the export "
                                    "would not reproduce radzoo's reports")
            if tokenizer is not None and [t for i in tokenizer.apply_chat_template(
                    messages, add_generation_prompt=True, tokenize=True, return_dict=False)
                    for t in ([image_id] * image_tokens if i == image_id else [i])] != expanded:
                raise ExportRefused(f"the exported tokenizer's chat template gives other ids than radzoo for {form}")
