"""The radzoo decode engine: one prefill, a preallocated KV cache, token choice and stopping on the device.

transformers' ``generate`` does host work on every token (stopping criteria, logits processors, cache
bookkeeping) in series with the model. Here the prompt (with the image embeddings spliced in) is
prefilled once into a ``StaticCache``; each decode step then runs on fixed shapes (one token per row, one
attention mask of the cache's full length), picks its token on the device, and reads back whether every
row has ended only every ``eos_check_every`` tokens. On CUDA the decode step is compiled with
``torch.compile(mode="reduce-overhead")``, i.e. replayed as a CUDA graph. On a CPU the prefill and each step
run as lean_decode_step.py's flat forward (LoRA merged, q/k/v stacked). Greedy tokens equal ``generate``'s; on
a CPU the logits differ from transformers' in float rounding (lean_decode_step.py says where).
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

from radzoo.generation.lean_decode_step import lean_step
from radzoo.generation.merged_weights import WeightMerger
from radzoo.generation.report_end import eos_ids as report_eos_ids
from radzoo.generation.token_choice import HF_DEFAULT_TOP_K, ChoiceRules, next_tokens
from radzoo.recipe.decode_settings import DecodeSettings

# decode steps compile for each cache length, so lengths are rounded up to a multiple of this on CUDA
_CUDA_CACHE_ROUND = 256
# called with the tokens each step chose ([B]; pad for rows that ended); returns the rows to end now, or None
TokenHook = Callable[[torch.Tensor], "torch.Tensor | None"]


@dataclass(frozen=True)
class EngineSteps:
    """One decode as the engine runs it: how many tokens, which ids end and pad a row, how tokens are chosen."""

    max_new_tokens: int
    pad_token_id: int
    rules: ChoiceRules
    eos_check_every: int = 8

    @classmethod
    def of(cls, settings: DecodeSettings, tokenizer: Any) -> EngineSteps:
        """The engine's view of ``settings``; the tokenizer gives EOS and pad (as ``generate`` takes them)."""
        eos_ids = report_eos_ids(settings.eos_token_ids, tokenizer)
        sample = settings.do_sample
        rules = ChoiceRules(
            eos_token_ids=eos_ids, min_new_tokens=settings.min_new_tokens, do_sample=sample,
            temperature=settings.temperature if sample else 1.0,
            top_k=(HF_DEFAULT_TOP_K if settings.top_k is None else settings.top_k) if sample else 0,
            top_p=settings.top_p if sample else 1.0, no_repeat_ngram_size=settings.no_repeat_ngram_size,
            repetition_penalty=settings.repetition_penalty)
        pad = tokenizer.pad_token_id if settings.pad_token_id is None else settings.pad_token_id
        pad = eos_ids[0] if pad is None else pad  # as generate, for a tokenizer without a pad token
        return cls(max_new_tokens=settings.max_new_tokens, pad_token_id=int(pad), rules=rules,
                   eos_check_every=settings.eos_check_every)


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
        self._weights = WeightMerger()  # the lean step's merged LoRA and stacked q/k/v, kept between batches

    def generate(self, inputs: dict[str, torch.Tensor], settings: DecodeSettings,
                 on_token: TokenHook | None = None) -> torch.Tensor:
        """``[B, T]`` new token ids for ``ReportGenerator.inputs``, pad after each row's EOS (as ``generate``);
        ``on_token`` sees every step's tokens and may end rows (a server's streams, budgets and cancellations)."""
        # inference mode, not no_grad: the same arithmetic without autograd's version counters and view
        # tracking on every op, which is ~12% of a CPU decode of the demo models at batch 32 (bench/README.md)
        with self._lock, torch.inference_mode():  # one KV cache per engine: a server's threads take turns
            ids = self._generate(inputs, EngineSteps.of(settings, self.model.tokenizer), on_token)
        return ids.clone()  # an ordinary tensor again, which callers may change in place

    def _generate(self, inputs: dict[str, torch.Tensor], settings: EngineSteps,
                  on_token: TokenHook | None) -> torch.Tensor:
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
        prefill, step = self._step_functions(cache_len)
        logits = prefill(embeds, full_mask[:, :prompt_len], positions, cache)
        position = positions[:, -1:] + 1
        return self._decode(logits, full_mask, position, cache, settings, step, on_token)

    def _step_functions(self, cache_len: int) -> tuple[Callable[..., torch.Tensor], Callable[..., torch.Tensor]]:
        """(prefill, step): ``(embeds [B,T,H] | token ids [B,1], mask, position ids, cache) -> float32 logits
        [B,V]`` of the prompt's last position, and of one decode step."""
        def prefill(embeds: torch.Tensor, mask: torch.Tensor, position: torch.Tensor, cache: Any) -> torch.Tensor:
            out = self.lm(inputs_embeds=embeds, attention_mask=mask, position_ids=position, cache=cache,
                          use_cache=True, logits_to_keep=1)
            return out.logits[:, -1].to(torch.float32, copy=True)

        if self.device.type == "cuda":
            compiled = _compiled_step(self.lm)

            def graphed(ids: torch.Tensor, mask: torch.Tensor, position: torch.Tensor, cache: Any) -> torch.Tensor:
                torch.compiler.cudagraph_mark_step_begin()
                out = compiled(input_ids=ids, attention_mask=mask, position_ids=position, cache=cache,
                               use_cache=True, logits_to_keep=1)
                return out.logits[:, -1].to(torch.float32, copy=True)  # the graph's output buffer is reused

            return prefill, graphed
        lean = lean_step(self.lm, cache_len, self._weights)
        if lean is not None:
            return (lambda embeds, mask, position, cache: lean.prefill(embeds, mask, position, cache)[:, -1].float(),
                    lambda ids, mask, position, cache: lean(ids, mask, position, cache)[:, -1].to(torch.float32))

        def plain(ids: torch.Tensor, mask: torch.Tensor, position: torch.Tensor, cache: Any) -> torch.Tensor:
            out = self.lm(input_ids=ids, attention_mask=mask, position_ids=position, cache=cache, use_cache=True,
                          logits_to_keep=1)
            return out.logits[:, -1].to(torch.float32)

        return prefill, plain

    def _decode(self, logits: torch.Tensor, full_mask: torch.Tensor, position: torch.Tensor, cache: Any,
                settings: EngineSteps, step_logits: Callable[..., torch.Tensor],
                on_token: TokenHook | None = None) -> torch.Tensor:
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
            stop = on_token(chosen) if on_token is not None else None
            if stop is not None:  # the hook ends rows after this token, as a transformers stopping criterion
                now_ended |= stop.to(device=device, dtype=torch.bool) & ~ended
            last = torch.where(now_ended, step, last)
            ended |= now_ended
            step += 1
            # the only read-back: every eos_check_every tokens (every token with a hook, which reads anyway)
            check = on_token is not None or step % settings.eos_check_every == 0
            if step == steps or (check and bool(ended.all())):
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
