"""The processor of a LLaVA export: radzoo's image transform, its tokenizer with ``<image>``, its chat format.

The chat template renders the recipe's prompt format with the recipe's system prompt as the default, so
``apply_chat_template`` followed by the processor gives the token ids radzoo's prompt builder gives
(``check_prompt_ids`` proves it at export time, on the message forms clients send). BOS is left to the
tokenizer, as radzoo leaves it: the processor adds it to the rendered text as radzoo's first prompt chunk gets it.

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
from typing import Any

from radzoo.model.prompting import IMAGE_TOKEN_INDEX, encode_example
from radzoo.runs.llava_hf_towers import ConvertedTower, ExportRefused
from radzoo.model.chat_formats import IMAGE_PLACEHOLDER, ChatFormat


def image_processor(encoder: Any) -> Any:
    """A CLIP image processor doing radzoo's transform: bicubic short-side resize, centre crop, mean/std.

    Its PIL backend resizes as radzoo does (torchvision on PIL images); load it with ``backend="pil"``.
    A grayscale encoder's mean/std go on all three channels (the tower reads RGB, see ``as_rgb``).
    """
    from transformers.models.clip.image_processing_pil_clip import CLIPImageProcessorPil

    size = int(encoder.image_size)
    mean, std = list(encoder.mean), list(encoder.std)
    if len(mean) == 1:
        mean, std = mean * 3, std * 3
    return CLIPImageProcessorPil(
        do_resize=True, size={"shortest_edge": size}, resample=3, do_center_crop=True,
        crop_size={"height": size, "width": size}, do_rescale=True, rescale_factor=1 / 255, do_normalize=True,
        image_mean=mean, image_std=std, do_convert_rgb=True)


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


def chat_template(fmt: ChatFormat, system: str | None, lead: str | None = None) -> str:
    """A Jinja chat template that renders ``fmt`` as radzoo does: one system text (default: the recipe's),
    one user turn (text, or content parts where an image part stands for ``<image>``), then the answer.
    With ``lead`` (see ``image_lead``) a user turn holding an image becomes ``lead`` + its text, stripped."""
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
        + "".join(body)
        + "{% if ns.answer is not none %}" + _literal(fmt.answer_prefix) + "{{ ns.answer }}{{ eos_token }}{% endif %}"
    )


def llava_processor(model: Any, tower: ConvertedTower) -> tuple[Any, int]:
    """(LlavaProcessor, image token id) for the run's model and its converted tower."""
    from transformers import LlavaProcessor

    tokenizer, image_id = with_image_token(model.tokenizer)
    builder = model.prompt
    template = chat_template(builder.format, builder.system,
                             image_lead(builder.instruction, builder.instruction_with_indication))
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
    """The processor's ids for the recipe's prompts, in every form of ``client_messages``, equal radzoo's (with
    the image tokens expanded); ``tokenizer.apply_chat_template`` (AutoTokenizer) renders the same text."""
    builder = model.prompt
    lead = image_lead(builder.instruction, builder.instruction_with_indication)
    system = builder.format.default_system if builder.system is None else builder.system
    cases = [None] + (["cough"] if builder.instruction_with_indication else [])
    for indication in cases:
        ours = encode_example(model.tokenizer, builder, None, indication=indication)["input_ids"]
        expanded = [t for i in ours for t in ([image_id] * image_tokens if i == IMAGE_TOKEN_INDEX else [i])]
        for form, messages in client_messages(builder.user_text(indication), system, lead).items():
            text = processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
            theirs = processor(text=text, images=probe, return_tensors="pt").input_ids[0].tolist()
            if theirs != expanded:
                at = next((i for i, (a, b) in enumerate(zip(theirs, expanded, strict=False)) if a != b),
                          min(len(theirs), len(expanded)))
                raise ExportRefused(f"the exported tokenizer and chat template give other ids than radzoo for the "
                                    f"prompt {text!r} ({form}; first difference at token {at}), so the export "
                                    "would not reproduce radzoo's reports")
            if tokenizer is not None and tokenizer.apply_chat_template(
                    messages, add_generation_prompt=True, tokenize=False) != text:
                raise ExportRefused(f"the exported tokenizer's chat template renders {form} otherwise than the "
                                    "processor's")
