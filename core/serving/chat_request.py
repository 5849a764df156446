"""A chat-completions request body to what the model needs: the study's images by role, the indication, the prior
report and the token budget.

Each ``image_url`` part is one image; its role is the part's ``view`` key (``frontal``, ``lateral`` or
``prior_frontal``), else its place: the first image is the frontal one, the second the lateral, the third the
prior frontal. A text part that starts with ``Prior report:`` is the prior study's report; the other text parts
are the indication."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from PIL import Image

from radzoo.serving.errors import APIError, bad_request
from radzoo.serving.image_input import ImageLimits, decode_image_url

PART_TYPES = ("text", "image_url")
VIEW_ORDER = ("frontal", "lateral", "prior_frontal")  # the roles of unlabelled images, in order
PRIOR_REPORT_PREFIX = "prior report:"


@dataclass
class ReportRequest:
    """One parsed request: the decoded image, the indication (the user's text, if any) and how to answer."""

    image: Image.Image
    indication: str | None
    max_tokens: int
    stream: bool
    include_usage: bool
    other_images: dict[str, Image.Image] = field(default_factory=dict)  # lateral / prior_frontal
    prior_report: str | None = None


def parse_chat_request(body: bytes, served_model: str, max_tokens_limit: int, limits: ImageLimits) -> ReportRequest:
    """Check and decode a ``POST /v1/chat/completions`` body; APIError names the field and the fix."""
    try:
        payload = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise bad_request(f"the request body is not valid JSON ({exc}); send a JSON object with model and messages",
                          code="invalid_json") from None
    if not isinstance(payload, dict):
        raise bad_request("the request body must be a JSON object with model and messages", code="invalid_json")
    model = payload.get("model")
    if model is not None and model != served_model:
        raise APIError(404, f"model {model!r} is not served here; this server serves {served_model!r} "
                       "(see GET /v1/models)", param="model", code="model_not_found")
    if payload.get("n") not in (None, 1):
        raise bad_request("n must be 1: the server writes one report per request", "n")
    images, texts = _image_and_texts(payload.get("messages"))
    stream = payload.get("stream") or False
    if not isinstance(stream, bool):
        raise bad_request(f"stream must be true or false, got {stream!r}", "stream")
    options = payload.get("stream_options") or {}
    prior = [t.strip()[len(PRIOR_REPORT_PREFIX):] for t in texts if t.strip().lower().startswith(PRIOR_REPORT_PREFIX)]
    texts = [t for t in texts if not t.strip().lower().startswith(PRIOR_REPORT_PREFIX)]
    decoded = {view: decode_image_url(url, where, limits) for view, (url, where) in images.items()}
    return ReportRequest(
        image=decoded.pop("frontal"), other_images=decoded,
        prior_report=" ".join(" ".join(prior).split()) or None,
        indication=" ".join(" ".join(texts).split()) or None,
        max_tokens=_max_tokens(payload, max_tokens_limit),
        stream=stream,
        include_usage=bool(isinstance(options, dict) and options.get("include_usage")),
    )


def _max_tokens(payload: dict[str, Any], limit: int) -> int:
    key = "max_completion_tokens" if payload.get("max_completion_tokens") is not None else "max_tokens"
    value = payload.get(key)
    if value is None:
        return limit
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise bad_request(f"{key} must be a positive integer, got {value!r}", key, "invalid_max_tokens")
    if value > limit:
        raise bad_request(f"{key} {value} is over this model's limit of {limit} (its recipe's "
                          "generation.max_new_tokens); ask for at most that, or serve with "
                          f"generation.max_new_tokens={value}", key, "max_tokens_too_large")
    return value


def _image_and_texts(messages: object) -> tuple[dict[str, tuple[object, str]], list[str]]:
    """The image_urls by view (each URL and where it is) and the user's text parts."""
    if not isinstance(messages, list) or not messages:
        raise bad_request("messages must be a non-empty list; send one user message with an image_url part and "
                          "optional text (the indication)", "messages")
    images: list[tuple[object, str, object]] = []
    texts: list[str] = []
    for i, message in enumerate(messages):
        if not isinstance(message, dict) or not isinstance(message.get("role"), str):
            raise bad_request(f"messages[{i}] must be an object with a role and content", f"messages[{i}]")
        if message["role"] != "user":
            continue  # the prompt is the model's own: system and assistant turns do not change it
        content = message.get("content")
        parts = [{"type": "text", "text": content}] if isinstance(content, str) else content
        if not isinstance(parts, list):
            raise bad_request(f"messages[{i}].content must be a string or a list of parts", f"messages[{i}].content")
        for j, part in enumerate(parts):
            where = f"messages[{i}].content[{j}]"
            kind = part.get("type") if isinstance(part, dict) else None
            if kind not in PART_TYPES:
                raise bad_request(f"{where} has unsupported part type {kind!r}; send 'image_url' (the image) and "
                                  "'text' (the indication) parts only", where, "unsupported_content_type")
            if kind == "text":
                if not isinstance(part.get("text"), str):
                    raise bad_request(f"{where}.text must be a string", f"{where}.text")
                texts.append(part["text"])
                continue
            image_url = part.get("image_url")
            url = image_url.get("url") if isinstance(image_url, dict) else image_url
            images.append((url, f"{where}.image_url", part.get("view")))
    if not images:
        raise bad_request("the request has no image: add a user content part {\"type\": \"image_url\", "
                          "\"image_url\": {\"url\": \"data:image/png;base64,...\"}}", "messages", "missing_image")
    return _by_view(images), texts


def _by_view(images: list[tuple[object, str, object]]) -> dict[str, tuple[object, str]]:
    """Each image under its role: its ``view`` key, else the next of frontal, lateral, prior_frontal."""
    if len(images) > len(VIEW_ORDER):
        raise bad_request(f"the request has {len(images)} images; a study has at most {len(VIEW_ORDER)} "
                          f"({', '.join(VIEW_ORDER)})", images[len(VIEW_ORDER)][1], "too_many_images")
    by_view: dict[str, tuple[object, str]] = {}
    for (url, where, view), default in zip(images, VIEW_ORDER, strict=False):
        view = default if view is None else view
        if view not in VIEW_ORDER:
            raise bad_request(f"{where.removesuffix('.image_url')}.view {view!r}: use one of {', '.join(VIEW_ORDER)}",
                              where, "unknown_view")
        if view in by_view:
            raise bad_request(f"two images are the {view} image ({by_view[view][1]} and {where}); give each image "
                              "its own view", where, "duplicate_view")
        by_view[view] = (url, where)
    if "frontal" not in by_view:
        raise bad_request("the request has no frontal image: label one image part \"view\": \"frontal\" (or leave "
                          "the views out: the first image is the frontal one)", "messages", "missing_image")
    return by_view
