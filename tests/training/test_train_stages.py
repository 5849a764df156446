"""Stage mechanics without training: exact trainable sets, LR schedule, data order, feature cache, checkpoints."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from radzoo import build_model, load_recipe
from radzoo.data.study import Study
from radzoo.training.checkpoints import TrainState, load_checkpoint, restore_optimizer, save_checkpoint
from radzoo.training.dataset import StepBatchSampler, label_targets
from radzoo.training.feature_cache import FeatureCache
from radzoo.training.stages import attach_encoder_head, build_optimizer, lr_factor, part_state_dict

# part -> how its parameter names look in RadiologyVLM (independent of model.part_parameters)
NAME_RULES = {
    "encoder": lambda n: n.startswith("encoder."),
    "encoder_head": lambda n: n.startswith("encoder_head."),
    "adapter": lambda n: n.startswith("adapter."),
    "llm": lambda n: n.startswith("language_model."),
    "lora": lambda n: n.startswith("language_model.") and "lora_" in n,
}



@pytest.fixture(scope="module")
def model():
    """A tiny LLaVA-Rad demo model of this module's own (the tests change its weights and freezing)."""
    return build_model(load_recipe("demo/llava-rad"))


EXPECTED_STAGES = {
    "demo/llava-rad": [("align", {"adapter"}), ("finetune", {"adapter", "lora"})],
    "demo/cxr-llava": [("pretrain_encoder", {"encoder", "encoder_head"}), ("align", {"adapter"}),
                       ("finetune", {"adapter", "lora"})],
    "demo/slava-cxr": [("recognition", {"adapter"}), ("reasoning", {"encoder", "adapter", "llm"}),
                       ("reporting", {"encoder", "adapter", "llm"})],
}


@pytest.mark.parametrize("recipe_name", sorted(EXPECTED_STAGES))
def test_demo_stages_train_exactly_their_parts(recipe_name: str) -> None:
    cfg = load_recipe(recipe_name)
    model = build_model(cfg)
    attach_encoder_head(model, 14)
    assert [(s.name, set(s.trainable)) for s in cfg.stages] == EXPECTED_STAGES[recipe_name]
    names = [n for n, _ in model.named_parameters()]
    for stage in cfg.stages:
        model.set_trainable(stage.trainable)
        expected = {n for n in names if any(NAME_RULES[part](n) for part in stage.trainable)}
        trainable = {n for n, p in model.named_parameters() if p.requires_grad}
        assert trainable == expected, stage.name
        for part in stage.trainable:  # every listed part really has parameters
            assert any(NAME_RULES[part](n) for n in trainable), (stage.name, part)
        if "lora" in stage.trainable and "llm" not in stage.trainable:
            assert not any(NAME_RULES["llm"](n) and "lora_" not in n for n in trainable)


def test_lr_schedule_warms_up_then_decays() -> None:
    total = 100
    cosine = [lr_factor(s, total, 0.1, "cosine") for s in range(total)]
    assert cosine[0] < cosine[5] < cosine[9] <= 1.0  # linear warmup over 10 steps
    assert cosine[10] == pytest.approx(1.0)
    assert cosine[99] < 0.01 and all(a >= b for a, b in zip(cosine[10:], cosine[11:]))
    assert lr_factor(50, total, 0.0, "constant") == 1.0
    assert lr_factor(55, total, 0.1, "linear") == pytest.approx(0.5)


def test_optimizer_covers_only_trainable_parameters(model) -> None:
    model.set_trainable(["adapter"])
    stage = load_recipe("demo/llava-rad").stages[0]
    optimizer, scheduler = build_optimizer(model, stage, total_steps=10)
    in_opt = {id(p) for g in optimizer.param_groups for p in g["params"]}
    assert in_opt == {id(p) for p in model.adapter.parameters()}
    assert scheduler.get_last_lr()[0] < float(stage.lr)  # warmup starts below the base LR


def test_batch_order_is_seeded_resumable_and_sharded() -> None:
    full = list(StepBatchSampler(10, 3, 9, seed=7))
    assert full == list(StepBatchSampler(10, 3, 9, seed=7))
    assert full != list(StepBatchSampler(10, 3, 9, seed=8))
    assert sorted(i for b in full[:4] for i in b) == list(range(10))  # one epoch = 4 batches, each item once
    assert list(StepBatchSampler(10, 3, 9, seed=7, start=5)) == full[5:]
    ranks = [list(StepBatchSampler(10, 2, 6, seed=1, rank=r, world_size=2)) for r in (0, 1)]
    for a, b in zip(*ranks):
        assert len(a) == len(b) == 2
    first_epoch = [i for step in range(3) for r in (0, 1) for i in ranks[r][step]]
    assert set(first_epoch) == set(range(10))


def test_label_targets_mask_or_count_uncertain() -> None:
    study = Study("s", "x.png", labels={"A": 1.0, "B": 0.0, "C": -1.0})
    target, mask = label_targets(study, ["A", "B", "C", "D"], "mask")
    assert target.tolist() == [1, 0, 0, 0] and mask.tolist() == [1, 1, 0, 0]
    target, mask = label_targets(study, ["A", "B", "C", "D"], "positive")
    assert target.tolist() == [1, 0, 1, 0] and mask.tolist() == [1, 1, 1, 0]


def _png(path: Path, value: int) -> str:
    Image.fromarray(np.full((32, 32), value, np.uint8)).save(path)
    return str(path)


def test_feature_cache_keys_on_image_and_encoder(model, tmp_path: Path) -> None:
    encoder = model.encoder
    transform = encoder.image_transform(False)
    images = [_png(tmp_path / f"{i}.png", 50 * i) for i in range(3)]
    load = lambda p: transform(Image.open(p))  # noqa: E731
    cache = FeatureCache(tmp_path / "cache", encoder)
    assert cache.fill(images, load) == 3
    assert cache.fill(images, load) == 0  # all cached
    with torch.no_grad():
        direct = encoder(load(images[1])[None])[0]
    torch.testing.assert_close(cache.load(images[1]), direct, rtol=1e-5, atol=1e-5)
    old = cache.path(images[0])
    stat = os.stat(images[0])
    os.utime(images[0], ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    assert cache.path(images[0]) != old  # a changed image gets new features
    assert cache.fill(images, load) == 1
    other = build_model(load_recipe("demo/llava-rad", ["encoder.args.seed=1"])).encoder
    assert FeatureCache(tmp_path / "cache", other).identity != cache.identity


def test_training_checkpoint_round_trip(model, tmp_path: Path) -> None:
    model.set_trainable(["adapter", "lora"])
    stage = load_recipe("demo/llava-rad").stages[1]
    optimizer, scheduler = build_optimizer(model, stage, total_steps=5)
    for _ in range(2):  # real optimizer state
        for p in model.adapter.parameters():
            p.grad = torch.randn_like(p)
        optimizer.step()
        scheduler.step()
    weights = part_state_dict(model, {"adapter", "lora"})
    state = TrainState(stage_index=1, step=2, trained_parts=["adapter", "lora"], scheduler=scheduler.state_dict())
    save_checkpoint(tmp_path / "ck", weights, state, optimizer)
    assert not list((tmp_path / "ck").glob("*.pt")) and not list((tmp_path / "ck").glob("*.ckpt"))
    loaded_state, loaded_weights, tensors = load_checkpoint(tmp_path / "ck")
    assert loaded_state.step == 2 and loaded_state.trained_parts == ["adapter", "lora"]
    assert loaded_weights.keys() == weights.keys()
    assert any("lora_" in k for k in weights) and all(k.startswith(("adapter.", "language_model.")) for k in weights)
    for key, value in weights.items():
        assert torch.equal(loaded_weights[key], value)
    fresh, fresh_sched = build_optimizer(model, stage, total_steps=5)
    restore_optimizer(fresh, tensors, loaded_state.param_groups)
    fresh_sched.load_state_dict(loaded_state.scheduler)
    assert fresh_sched.get_last_lr() == scheduler.get_last_lr()
    for p in model.adapter.parameters():
        for key in ("exp_avg", "exp_avg_sq"):
            assert torch.equal(fresh.state[p][key], optimizer.state[p][key])


def test_fsdp_wraps_each_llm_decoder_block(model) -> None:
    from lightning.pytorch.strategies import FSDPStrategy

    from radzoo.training.trainer import build_strategy

    cfg = load_recipe("demo/llava-rad", ["trainer.strategy=fsdp"])
    strategy = build_strategy(cfg, model)
    assert isinstance(strategy, FSDPStrategy)
    policy = strategy.kwargs["auto_wrap_policy"]
    assert {c.__name__ for c in policy._module_classes} == {"LlamaDecoderLayer"}
    assert build_strategy(load_recipe("demo/llava-rad", ["trainer.strategy=ddp"]), model) == "ddp"
