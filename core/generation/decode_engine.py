"""The radzoo decode engine: one prefill, a preallocated KV cache, token choice and stopping on the device.

transformers' ``generate`` does host work on every token (stopping criteria, logits processors, cache
bookkeeping) in series with the model. Here the prompt (with the image embeddings spliced in) is
prefilled once into a ``StaticCache``; each decode step then runs on fixed shapes (one token per row, one
attention mask of the cache's full length), picks its token on the device, and reads back whether every
row has ended only every ``eos_check_every`` tokens. On CUDA the decode step is compiled with
``torch.compile(mode="reduce-overhead")``, i.e. replayed as a CUDA graph. Greedy tokens equal ``generate``'s.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

from radzoo.errors import InputError, RecipeError
from radzoo.generation.engine_settings import engine_problem
from radzoo.generation.lean_decode_step import lean_step
from radzoo.generation.token_choice import HF_DEFAULT_TOP_K, ChoiceRules, next_tokens

ENGINES = ("auto", "hf", "radzoo")
# keys of the generation kwargs that only radzoo reads; the hf engine drops them before calling generate
RADZOO_KEYS = ("engine", "seed", "eos_check_every")
# generate() kwargs the radzoo engine understands; any other is refused rather than silently ignored
_HF_KEYS = {"max_new_tokens", "min_new_tokens", "do_sample", "num_beams", "temperature", "top_k", "top_p",
            "no_repeat_ngram_size", "repetition_penalty", "cache_implementation", "pad_token_id", "eos_token_id"}
# decode steps compile for each cache length, so lengths are rounded up to a multiple of this on CUDA
_CUDA_CACHE_ROUND = 256


def pick_engine(gen_kwargs: dict[str, Any], device: torch.device) -> str:
    """``hf`` or ``radzoo`` for these kwargs; ``auto`` is radzoo where it is measured faster (CPU, no beams)."""
    engine = str(gen_kwargs.get("engine", "hf"))
    if engine not in ENGINES:
        raise InputError(f"generation engine {engine!r}: choose one of {', '.join(ENGINES)}")
    if engine != "auto":
        return engine
    # no GPU figures yet (bench/README.md): on CUDA the measured transformers path stays the default
    return "radzoo" if int(gen_kwargs.get("num_beams", 1)) == 1 and device.type != "cuda" else "hf"


def engine_kwargs(gen_cfg: Any) -> dict[str, Any]:
    """The ``RADZOO_KEYS`` of a recipe's ``generation`` section (the hf engine drops them); RecipeError for
    settings the engine cannot run."""
    engine = {"engine": str(gen_cfg.get("engine", "auto")), "seed": int(gen_cfg.get("seed", 0)),
              "eos_check_every": int(gen_cfg.get("eos_check_every", 8))}
    problem = engine_problem(engine["engine"], int(gen_cfg.num_beams), engine["eos_check_every"])
    if problem:
        raise RecipeError(problem)
    return engine


@dataclass(frozen=True)
class DecodeSettings:
    """One decode: how many tokens, which ids end and pad a row, how tokens are chosen, how often to check EOS."""

    max_new_tokens: int
    pad_token_id: int
    rules: ChoiceRules
    eos_check_every: int = 8

    @classmethod
    def from_kwargs(cls, gen_kwargs: dict[str, Any], tokenizer: Any) -> DecodeSettings:
        """Settings from ``generate``-style kwargs (plus ``RADZOO_KEYS``); the tokenizer gives EOS and pad."""
        unknown = sorted(set(gen_kwargs) - _HF_KEYS - set(RADZOO_KEYS))
        if unknown:
            raise InputError(f"the radzoo engine does not support {', '.join(unknown)}; use generation.engine=hf")
        if "max_new_tokens" not in gen_kwargs:
            raise InputError("the radzoo engine needs max_new_tokens (generation.max_new_tokens in a recipe)")
        problem = engine_problem("radzoo", int(gen_kwargs.get("num_beams", 1)),
                                 int(gen_kwargs.get("eos_check_every", 8)))
        if problem:
            raise InputError(problem)
        eos = gen_kwargs.get("eos_token_id", tokenizer.eos_token_id)
        eos_ids = tuple(int(e) for e in eos) if isinstance(eos, (list, tuple)) else (int(eos),)
        sample = bool(gen_kwargs.get("do_sample", False))
        rules = ChoiceRules(
            eos_token_ids=eos_ids,
            min_new_tokens=int(gen_kwargs.get("min_new_tokens") or 0), do_sample=sample,
            temperature=float(gen_kwargs.get("temperature", 1.0)) if sample else 1.0,
            top_k=int(gen_kwargs.get("top_k", HF_DEFAULT_TOP_K)) if sample else 0,
            top_p=float(gen_kwargs.get("top_p", 1.0)) if sample else 1.0,
            no_repeat_ngram_size=int(gen_kwargs.get("no_repeat_ngram_size") or 0),
            repetition_penalty=float(gen_kwargs.get("repetition_penalty", 1.0)))
        pad = gen_kwargs.get("pad_token_id", tokenizer.pad_token_id)
        pad = eos_ids[0] if pad is None else pad  # as generate, for a tokenizer without a pad token
        return cls(max_new_tokens=int(gen_kwargs["max_new_tokens"]), pad_token_id=int(pad), rules=rules,
                   eos_check_every=int(gen_kwargs.get("eos_check_every", 8)))


def causal_lm(language_model: Any) -> Any:
    """The transformers model under a peft wrapper (LoRA layers live inside it), or the model itself."""
    return getattr(language_model, "get_base_model", lambda: language_model)()


class DecodeEngine:
    """Decodes batches of one model; keeps its KV cache (and, on CUDA, its compiled step) between batches."""

    def __init__(self, model: Any, seed: int = 0) -> None:
        self.model = model
        self.lm = causal_lm(model.language_model)
        self.device = next(self.lm.parameters()).device
        self.generator = torch.Generator(self.device).manual_seed(int(seed))
        self._cache: Any = None
        self._cache_key: tuple[int, int, torch.dtype] | None = None
        self._lock = threading.Lock()

    def generate(self, inputs: dict[str, torch.Tensor], settings: DecodeSettings) -> torch.Tensor:
        """``[B, T]`` new token ids for ``ReportGenerator.inputs``, pad after each row's EOS (as ``generate``)."""
        # inference mode, not no_grad: the same arithmetic without autograd's version counters and view
        # tracking on every op, which is ~12% of a CPU decode of the demo models at batch 32 (bench/README.md)
        with self._lock, torch.inference_mode():  # one KV cache per engine: a server's threads take turns
            ids = self._generate(inputs, settings)
        return ids.clone()  # an ordinary tensor again, which callers may change in place

    def _generate(self, inputs: dict[str, torch.Tensor], settings: DecodeSettings) -> torch.Tensor:
        model = self.model
        image_embeds = model.encode_images(inputs.get("pixel_values"), inputs.get("image_features"))
        embeds, mask, _ = model.splice(inputs["input_ids"], inputs["attention_mask"], image_embeds, left_pad=True)
        batch, prompt_len = mask.shape
        cache, cache_len = self._static_cache(batch, prompt_len + settings.max_new_tokens, embeds.dtype)
        # one mask for every step: left pads are 0, the rest 1 (the causal rule hides the slots not written yet)
        full_mask = torch.ones(batch, cache_len, dtype=mask.dtype, device=mask.device)
        full_mask[:, :prompt_len] = mask
        # as generate: a row's positions count its real tokens from 0 (pads get 1, masked out anyway)
        positions = (mask.cumsum(-1) - 1).masked_fill(mask == 0, 1)
        out = self.lm(inputs_embeds=embeds, attention_mask=full_mask[:, :prompt_len], position_ids=positions,
                      cache=cache, use_cache=True, logits_to_keep=1)
        logits = out.logits[:, -1].to(torch.float32, copy=True)
        position = positions[:, -1:] + 1
        return self._decode(logits, full_mask, position, cache, settings, self._step_function(cache_len))

    def _step_function(self, cache_len: int) -> Callable[..., torch.Tensor]:
        """``(token ids [B,1], mask, position ids [B,1], cache) -> float32 logits [B,V]`` for one decode step."""
        if self.device.type == "cuda":
            compiled = _compiled_step(self.lm)

            def graphed(ids: torch.Tensor, mask: torch.Tensor, position: torch.Tensor, cache: Any) -> torch.Tensor:
                torch.compiler.cudagraph_mark_step_begin()
                out = compiled(input_ids=ids, attention_mask=mask, position_ids=position, cache=cache,
                               use_cache=True, logits_to_keep=1)
                return out.logits[:, -1].to(torch.float32, copy=True)  # the graph's output buffer is reused

            return graphed
        lean = lean_step(self.lm, cache_len)
        if lean is not None:
            return lambda ids, mask, position, cache: lean(ids, mask, position, cache)[:, -1].to(torch.float32)

        def plain(ids: torch.Tensor, mask: torch.Tensor, position: torch.Tensor, cache: Any) -> torch.Tensor:
            out = self.lm(input_ids=ids, attention_mask=mask, position_ids=position, cache=cache, use_cache=True,
                          logits_to_keep=1)
            return out.logits[:, -1].to(torch.float32)

        return plain

    def _decode(self, logits: torch.Tensor, full_mask: torch.Tensor, position: torch.Tensor, cache: Any,
                settings: DecodeSettings, step_logits: Callable[..., torch.Tensor]) -> torch.Tensor:
        batch, steps, device = logits.shape[0], settings.max_new_tokens, logits.device
        eos = torch.tensor(settings.rules.eos_token_ids, device=device)
        tokens = torch.full((batch, steps), settings.pad_token_id, dtype=torch.long, device=device)
        ended = torch.zeros(batch, dtype=torch.bool, device=device)
        last = torch.full((batch,), steps - 1, dtype=torch.long, device=device)  # each row's final step
        step = 0
        while True:
            chosen = next_tokens(logits, tokens, step, settings.rules, eos, self.generator)
            chosen = chosen.masked_fill(ended, settings.pad_token_id)  # rows that ended get pad, as generate
            tokens[:, step] = chosen
            now_ended = (chosen == eos if eos.numel() == 1 else torch.isin(chosen, eos)) & ~ended
            last = torch.where(now_ended, step, last)
            ended |= now_ended
            step += 1
            # the only read-back: every eos_check_every tokens, whether all rows have ended
            if step == steps or (step % settings.eos_check_every == 0 and bool(ended.all())):
                break
            logits = step_logits(chosen[:, None], full_mask, position, cache)
            position = position + 1
        # generate stops at the step where the last row ended; steps computed past it are dropped
        width = int(last.max()) + 1 if bool(ended.all()) else step
        return tokens[:, :width]

    def _static_cache(self, batch: int, length: int, dtype: torch.dtype) -> tuple[Any, int]:
        """A preallocated KV cache for ``batch`` rows of ``length`` tokens (reused, reset, when it fits)."""
        from transformers import StaticCache

        if self.device.type == "cuda":
            length = -(-length // _CUDA_CACHE_ROUND) * _CUDA_CACHE_ROUND
        if self._cache is not None and self._cache_key == (batch, length, dtype):
            self._cache.reset()
        else:
            self._cache = StaticCache(config=self.lm.config, max_cache_len=length)
            self._cache_key = (batch, length, dtype)
        return self._cache, length


# one compiled decode step per model, shared by every engine of that model
_COMPILED: weakref.WeakKeyDictionary[Any, Any] = weakref.WeakKeyDictionary()


def _compiled_step(lm: Any) -> Any:
    """The model's forward compiled for CUDA-graph replay (fixed shapes, so ``dynamic=False``)."""
    if lm not in _COMPILED:
        _COMPILED[lm] = torch.compile(lm, mode="reduce-overhead", fullgraph=False, dynamic=False)
    return _COMPILED[lm]
