"""Every registered component, built-in or installed from another package, passes the same checks (as timm's
tests/test_models.py does): a new component is tested without a new test.

Components that need weights or a judge endpoint say so in their metadata (``needs=...``); for them the test
checks that building one without its weights is a one-line user error, not a download or a traceback.
"""

from __future__ import annotations

import inspect
import math

import pytest
import torch
from PIL import Image
from test_plugins import example_plugin  # noqa: F401 - the example package installed for this module
from torch import nn

from radzoo.components.discovery import create_component, get_plugins
from radzoo.components.protocols import PROTOCOLS
from radzoo.components.registry import resolve_factory
from radzoo.errors import RadzooError

IN_DIM, OUT_DIM, N_IN = 32, 48, 16  # adapter test size: 16 tokens make a square 4x4 patch grid
PREDICTIONS = ["Small left pleural effusion.", "No acute cardiopulmonary process."]
REFERENCES = ["Small left pleural effusion. No pneumothorax.", "Heart size is normal."]


def registered(needs_something: bool) -> list[tuple[str, str]]:
    """(kind, name) of every registered component that does (or does not) need weights or an endpoint."""
    return [(kind, spec.name) for kind, registry in get_plugins().registries.items() for spec in registry
            if bool(spec.extra.get("needs")) == needs_something]


def args_for(kind: str, name: str) -> dict:
    """The component's own tiny offline arguments (metadata ``tiny_args``), plus the widths adapters are given."""
    spec = get_plugins().registry(kind).spec(name)
    args = dict(spec.extra.get("tiny_args", {}))
    return {"in_dim": IN_DIM, "out_dim": OUT_DIM, **args} if kind == "adapter" else args


def trained_something(module: nn.Module) -> bool:
    return any(p.grad is not None and p.grad.abs().sum() > 0 for p in module.parameters())


def check_encoder(encoder) -> None:
    assert isinstance(encoder, nn.Module) and isinstance(encoder.embed_dim, int)
    size = int(getattr(encoder, "image_size", 64))
    pixels = encoder.image_transform(False)(Image.new("L", (size, size), 128))
    assert pixels.ndim == 3
    features = encoder(torch.stack([pixels, pixels.flip(-1)]))
    assert features.ndim == 3 and features.shape[0] == 2 and features.shape[2] == encoder.embed_dim
    if hasattr(encoder, "num_tokens"):  # what RadiologyVLM.image_tokens trusts instead of a probe
        assert features.shape[1] == encoder.num_tokens
    features.float().square().mean().backward()
    assert trained_something(encoder)


def check_adapter(adapter) -> None:
    assert isinstance(adapter, nn.Module)
    out = adapter(torch.randn(2, N_IN, IN_DIM))
    assert out.ndim == 3 and out.shape[0] == 2 and out.shape[2] == OUT_DIM
    if hasattr(adapter, "num_tokens"):
        assert out.shape[1] == adapter.num_tokens(N_IN)
    out.square().mean().backward()
    assert trained_something(adapter)


def check_llm(llm) -> None:
    ids = llm.tokenizer(llm.prompt_format.render("Describe the image."), return_tensors="pt").input_ids
    assert isinstance(llm.hidden_size, int) and llm.model.get_input_embeddings()(ids).shape[-1] == llm.hidden_size
    logits = llm.model(input_ids=ids).logits
    assert logits.shape[:2] == ids.shape and logits.shape[2] >= len(llm.tokenizer) - 1
    present = {name.rsplit(".", 1)[-1] for name, _ in llm.model.named_modules()}
    assert set(llm.lora_target_modules) <= present, "LoRA would find no module to wrap"
    logits.float().logsumexp(-1).mean().backward()
    assert trained_something(llm.model)


def check_evaluator(evaluator) -> None:
    assert evaluator.version and set(evaluator.metric_names) <= set(evaluator.higher_is_better)
    stats = evaluator.sample_stats(PREDICTIONS, REFERENCES)
    overall = evaluator.aggregate(stats)
    assert set(overall) == set(evaluator.metric_names) and all(not math.isinf(v) for v in overall.values())
    assert set(evaluator.aggregate(stats, [0])) == set(evaluator.metric_names)


CHECKS = {"encoder": check_encoder, "adapter": check_adapter, "llm": check_llm, "evaluator": check_evaluator}


def check_component_of(kind: str, name: str) -> None:
    torch.manual_seed(0)
    component = create_component(kind, name, args_for(kind, name))
    assert isinstance(component, PROTOCOLS[kind])
    CHECKS[kind](component)


def test_every_kind_has_a_check() -> None:
    assert set(CHECKS) == set(PROTOCOLS)


@pytest.mark.parametrize(("kind", "name"), registered(needs_something=False))
def test_offline_component_follows_its_protocol(kind: str, name: str) -> None:
    check_component_of(kind, name)


@pytest.mark.parametrize(("kind", "name"), registered(needs_something=True))
def test_component_needing_weights_says_so_in_one_line(kind: str, name: str, tmp_path) -> None:
    """Pointed at weights that are not there (every ``*path`` argument), it fails as a user error, never a bug.

    Pointing it somewhere keeps the test from loading a model a developer happens to have in the hub cache.
    """
    factory = resolve_factory(get_plugins().registry(kind).spec(name).factory)
    args = {p: str(tmp_path / "missing") for p in inspect.signature(factory).parameters if p.endswith("path")}
    with pytest.raises(RadzooError):
        create_component(kind, name, {"in_dim": IN_DIM, "out_dim": OUT_DIM, **args} if kind == "adapter" else args)


@pytest.mark.parametrize(("kind", "name"), registered(False) + registered(True))
def test_component_metadata_names_licence_and_paper(kind: str, name: str) -> None:
    spec = get_plugins().registry(kind).spec(name)
    assert spec.license.strip() and spec.paper.strip() and spec.description.strip()
    assert spec.extra.get("needs") in (None, "weights", "judge endpoint")


def test_installed_third_party_components_pass_the_same_checks(example_plugin) -> None:  # noqa: F811
    theirs = [(kind, spec.name) for kind, registry in get_plugins().registries.items() for spec in registry
              if spec.package != "radzoo"]
    assert {("encoder", "example-cnn"), ("adapter", "example-gated")} <= set(theirs)
    for kind, name in theirs:
        spec = get_plugins().registry(kind).spec(name)
        assert spec.license and spec.paper
        if not spec.extra.get("needs"):
            check_component_of(kind, name)
