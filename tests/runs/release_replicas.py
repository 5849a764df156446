"""Tiny random replicas of published releases, and an independent LLaVA-style reference forward, for import tests.

The replicas follow ../shared/published_checkpoints.md: the releases' file names, key names and prefixes,
containers (pickle .bin/.pt or safetensors) and config fields, with tiny dimensions. The reference code here
re-implements the official forwards with plain torch/transformers/timm/peft, never with radzoo's modules.
"""

from __future__ import annotations

import functools
import io
import json
from pathlib import Path

import pytest
import torch

IMAGE_SENTINEL = -200
CORPUS = [
    "A chat between a curious user and an artificial intelligence assistant.",
    "The assistant gives helpful, detailed, and polite answers to the user's questions.",
    "USER: ASSISTANT: Provide a description of the findings in the radiology image.",
    "You are a helpful radiologist. Try to interpret chest x ray image and answer to the question that user provides.",
    "Write a radiologic report on the given chest radiograph, including information about atelectasis, "
    "cardiomegaly, consolidation, pulmonary edema, pleural effusion, and pneumothorax. [INST] <<SYS>> [/INST]",
    "the heart size is normal. no pleural effusion or pneumothorax. lungs are clear. given the following indication",
]


def _refuse_hub(*args, **kwargs):
    raise AssertionError(f"an import test reached for the hub: {args[:2]}")


@pytest.fixture(scope="module", autouse=True)
def hub_calls_fail():
    """Every hub download entry point raises (on top of HF_HUB_OFFLINE): an import must need none of them."""
    import huggingface_hub
    import huggingface_hub.file_download
    import transformers.utils.hub

    with pytest.MonkeyPatch.context() as patch:
        for module in (huggingface_hub, huggingface_hub.file_download, transformers.utils.hub):
            for name in ("hf_hub_download", "snapshot_download"):
                if hasattr(module, name):
                    patch.setattr(module, name, _refuse_hub)
        yield


@functools.lru_cache(maxsize=1)
def sentencepiece_model() -> bytes:
    """A tiny LLaMA-style sentencepiece BPE model (BOS 1, EOS 2, UNK 0, byte fallback), trained offline."""
    import sentencepiece as spm

    buffer = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(CORPUS * 20), model_writer=buffer, vocab_size=400, model_type="bpe",
        bos_id=1, eos_id=2, unk_id=0, pad_id=-1, byte_fallback=True, character_coverage=1.0,
        add_dummy_prefix=True, remove_extra_whitespaces=False, normalization_rule_name="identity",
        minloglevel=2)
    return buffer.getvalue()


def write_llama_tokenizer(directory: Path) -> None:
    """Vicuna/LLaMA-2 tokenizer files: tokenizer.model only (no tokenizer.json), config and special tokens."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "tokenizer.model").write_bytes(sentencepiece_model())
    (directory / "tokenizer_config.json").write_text(json.dumps({
        "tokenizer_class": "LlamaTokenizer", "add_bos_token": True, "add_eos_token": False, "legacy": False,
        "bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>", "pad_token": None,
        "model_max_length": 4096}))
    (directory / "special_tokens_map.json").write_text(json.dumps(
        {"bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>"}))


def write_base_llm(base: Path, config: object | None = None, head_spread: float = 0.0) -> None:
    """Vicuna-7B v1.5's layout: pickled pytorch_model-0000x-of-00002.bin shards with rotary inv_freq buffers.

    ``head_spread`` > 0 scales each output row by exp(N(0, spread)): a few tokens dominate, as in a trained LM, so
    greedy steps are won by clear top-2 margins rather than by near-ties of a flat random head.
    """
    config = config or tiny_llama_config()
    config.architectures = ["LlamaForCausalLM"]
    model = random_model(config, seed=1)
    if head_spread:
        with torch.no_grad():
            rows = torch.randn(config.vocab_size, 1, generator=torch.Generator().manual_seed(5))
            model.lm_head.weight.mul_(torch.exp(rows * head_spread))
    state = model.state_dict()
    head_dim = config.hidden_size // config.num_attention_heads
    inv_freq = 1.0 / (10000.0 ** (torch.arange(0, head_dim, 2).float() / head_dim))  # the values Vicuna saved
    for i in range(config.num_hidden_layers):
        state[f"model.layers.{i}.self_attn.rotary_emb.inv_freq"] = inv_freq.clone()
    names = list(state)
    shards = {"pytorch_model-00001-of-00002.bin": names[: len(names) // 2],
              "pytorch_model-00002-of-00002.bin": names[len(names) // 2:]}
    base.mkdir(parents=True)
    for shard, keys in shards.items():
        torch.save({k: state[k] for k in keys}, base / shard)
    index = {"metadata": {"total_size": 1}, "weight_map": {k: s for s, keys in shards.items() for k in keys}}
    (base / "pytorch_model.bin.index.json").write_text(json.dumps(index))
    config.save_pretrained(base)
    (base / "generation_config.json").write_text(json.dumps(
        {"bos_token_id": 1, "eos_token_id": 2, "pad_token_id": 0, "do_sample": True, "temperature": 0.9,
         "top_p": 0.6, "max_length": 4096}))
    write_llama_tokenizer(base)


def sentencepiece() -> object:
    import sentencepiece as spm

    return spm.SentencePieceProcessor(model_proto=sentencepiece_model())


def llava_prompt_ids(prompt: str, encode) -> list[int]:
    """LLaVA's ``tokenizer_image_token``: BOS once, each chunk tokenized alone, the sentinel at ``<image>``."""
    ids = [1]
    for i, chunk in enumerate(prompt.split("<image>")):
        if i:
            ids.append(IMAGE_SENTINEL)
        ids += encode(chunk)
    return ids


def tiny_llama_config(vocab_size: int = 400, hidden: int = 32, layers: int = 2) -> object:
    from transformers import LlamaConfig

    return LlamaConfig(vocab_size=vocab_size, hidden_size=hidden, intermediate_size=2 * hidden,
                       num_hidden_layers=layers, num_attention_heads=4, num_key_value_heads=4,
                       max_position_embeddings=2048, bos_token_id=1, eos_token_id=2, tie_word_embeddings=False)


def randomize(module: torch.nn.Module) -> torch.nn.Module:
    """Every weight random, norms included (around 1), so a skipped or extra norm shows in the outputs."""
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.randn_like(p) * 0.2 + (1.0 if p.ndim == 1 else 0.0))
    return module.eval()


def random_model(config: object, seed: int) -> torch.nn.Module:
    """A causal LM of ``config`` with every weight random."""
    from transformers import AutoModelForCausalLM

    torch.manual_seed(seed)
    return randomize(AutoModelForCausalLM.from_config(config))


def random_state(parts: list[tuple[str, torch.nn.Module]], seed: int) -> dict[str, torch.Tensor]:
    """The state dicts of randomized ``(prefix, module)`` parts under their prefixes (no position_ids buffers)."""
    torch.manual_seed(seed)
    state = {}
    for prefix, module in parts:
        randomize(module)
        state.update({prefix + k: v.detach() for k, v in module.state_dict().items()
                      if not k.endswith("position_ids")})
    return state


def released_tensors(module: torch.nn.Module, scratch: Path) -> dict[str, torch.Tensor]:
    """``module`` randomized, under the names transformers writes to disk (5.x renames some in memory: Dinov2)."""
    from safetensors.torch import load_file

    randomize(module).save_pretrained(scratch)
    return load_file(scratch / "model.safetensors")


def write_safetensors_shards(directory: Path, state: dict[str, torch.Tensor], shards: int) -> None:
    """``model-0000i-of-0000n.safetensors`` files plus ``model.safetensors.index.json``, names spread over shards."""
    from safetensors.torch import save_file

    names = sorted(state)
    weight_map = {}
    for i in range(shards):
        shard = f"model-{i + 1:05d}-of-{shards:05d}.safetensors"
        save_file({k: state[k].contiguous() for k in names[i::shards]}, directory / shard, metadata={"format": "pt"})
        weight_map.update({k: shard for k in names[i::shards]})
    (directory / "model.safetensors.index.json").write_text(json.dumps({"metadata": {}, "weight_map": weight_map}))


def import_and_load(fmt: str, src: Path, out: Path, **options) -> tuple[Path, object, object]:
    """(run directory, model, recipe): ``radzoo import`` of ``src``, then the run loaded as generate loads it."""
    from radzoo.generation.pipeline import load_model
    from radzoo.runs.importers import import_release

    run = import_release(fmt, src, out, **options)
    model, recipe = load_model(run)
    return run, model, recipe


def sample_image(size: int = 300, seed: int = 0) -> object:
    """A non-square grey image (resize and centre crop both matter)."""
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 256, (size, int(size * 1.3)), dtype=np.uint8), mode="L")


@torch.no_grad()
def reference_logits_and_greedy(lm: torch.nn.Module, ids: list[int], image_embeds: torch.Tensor, steps: int,
                                image_token: int = IMAGE_SENTINEL, eos: int = 2) -> tuple[torch.Tensor, list[int]]:
    """LLaVA's splice (text, image embeddings, text) into ``lm``; prompt logits and up to ``steps`` greedy tokens."""
    embed = lm.get_input_embeddings()
    p = ids.index(image_token)
    before, after = torch.tensor(ids[:p]), torch.tensor(ids[p + 1:])
    sequence = torch.cat([embed(before), image_embeds.to(embed.weight.dtype), embed(after)])[None]
    first = lm(inputs_embeds=sequence).logits[0]
    tokens = []
    for _ in range(steps):
        logits = lm(inputs_embeds=sequence).logits[0, -1]
        token = int(logits.argmax())
        tokens.append(token)
        if token == eos:
            break
        sequence = torch.cat([sequence, embed(torch.tensor([[token]]))], dim=1)
    return first, tokens


def radzoo_logits_and_greedy(model, pixel_values: torch.Tensor, steps: int) -> tuple[list[int], torch.Tensor,
                                                                                      list[int]]:
    """(prompt ids, prompt logits, greedy tokens) of an imported radzoo model through its public API."""
    from radzoo.model.prompting import encode_example

    ids = encode_example(model.tokenizer, model.prompt, None)["input_ids"]
    input_ids = torch.tensor([ids])
    mask = torch.ones_like(input_ids)
    with torch.no_grad():
        logits = model(input_ids=input_ids, attention_mask=mask, pixel_values=pixel_values).logits[0]
        new = model.generate(input_ids, mask, pixel_values=pixel_values, max_new_tokens=steps, do_sample=False)
    return ids, logits, new[0].tolist()
