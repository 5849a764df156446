"""``DecodeSettings``: a recipe's ``generation`` section as one typed, checked value (no torch).

Built once from the recipe (``from_recipe``, also when the recipe loads, so a setting the engine cannot run
fails before any training), then handed to ``ReportGenerator.generate``; a request that wants other settings
(a server's ``max_tokens``) makes a changed copy (``replace``), never changes a shared one.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from radzoo.errors import RecipeError

ENGINES = ("auto", "hf", "radzoo")  # the recipe schema's generation.engine choices
CACHES = ("dynamic", "static")


@dataclass(frozen=True)
class DecodeSettings:
    """How reports are decoded: token budget, greedy or sampled, bans and penalties, cache, engine."""

    max_new_tokens: int
    do_sample: bool = False
    num_beams: int = 1
    temperature: float = 1.0
    top_p: float = 1.0
    top_k: int | None = None  # None: transformers' default when sampling
    min_new_tokens: int = 0
    no_repeat_ngram_size: int = 0
    repetition_penalty: float = 1.0
    eos_token_ids: tuple[int, ...] | None = None  # None: the tokenizer's EOS
    pad_token_id: int | None = None  # None: the tokenizer's pad (its EOS without one)
    cache: str = "dynamic"
    # "hf" (transformers generate; the only one with beams), "radzoo" (radzoo.generation.decode_engine) or
    # "auto" (radzoo where it is measured faster: CPU, no beams)
    engine: str = "hf"
    seed: int = 0  # the radzoo engine's sampling generator
    eos_check_every: int = 8  # radzoo engine: tokens between its checks whether every row has ended

    def __post_init__(self) -> None:
        problem = self.problem()
        if problem:
            raise RecipeError(problem)

    def problem(self) -> str | None:
        """Why these settings cannot run (beams on the radzoo engine, an unknown engine...), or None."""
        if self.engine not in ENGINES:
            return f"generation.engine={self.engine!r}: choose one of {', '.join(ENGINES)}"
        if self.cache not in CACHES:
            return f"generation.cache={self.cache!r}: choose one of {', '.join(CACHES)}"
        if self.max_new_tokens < 1:
            return f"generation.max_new_tokens must be at least 1, got {self.max_new_tokens}"
        if self.engine == "radzoo" and self.num_beams > 1:
            return (f"generation.num_beams={self.num_beams} needs generation.engine=hf (the radzoo engine decodes "
                    "greedily or by sampling); set generation.engine=hf or generation.num_beams=1")
        if self.eos_check_every < 1:
            return f"generation.eos_check_every must be at least 1, got {self.eos_check_every}"
        return None

    @classmethod
    def problem_of(cls, gen_cfg: Any) -> str | None:
        """Why a recipe's ``generation`` section cannot run, or None (what ``load_recipe`` checks)."""
        try:
            cls.from_recipe(gen_cfg)
        except RecipeError as exc:
            return str(exc)
        return None

    @classmethod
    def from_recipe(cls, gen_cfg: Any) -> DecodeSettings:
        """The settings of a recipe's ``generation`` section; RecipeError for ones the engine cannot run."""
        return cls(max_new_tokens=int(gen_cfg.max_new_tokens), do_sample=bool(gen_cfg.do_sample),
                   num_beams=int(gen_cfg.num_beams), temperature=float(gen_cfg.temperature),
                   top_p=float(gen_cfg.top_p), no_repeat_ngram_size=int(gen_cfg.no_repeat_ngram_size or 0),
                   repetition_penalty=float(gen_cfg.repetition_penalty), cache=str(gen_cfg.get("cache", "dynamic")),
                   engine=str(gen_cfg.get("engine", "auto")), seed=int(gen_cfg.get("seed", 0)),
                   eos_check_every=int(gen_cfg.get("eos_check_every", 8)))

    def replace(self, **changes: Any) -> DecodeSettings:
        """A checked copy with ``changes`` (e.g. one request's ``max_new_tokens``)."""
        return dataclasses.replace(self, **changes)

    def engine_for(self, device_type: str) -> str:
        """``hf`` or ``radzoo``; ``auto`` is radzoo where it is measured faster (CPU, no beams)."""
        if self.engine != "auto":
            return self.engine
        # no GPU figures yet (bench/README.md): on CUDA the measured transformers path stays the default
        return "radzoo" if self.num_beams == 1 and device_type != "cuda" else "hf"

    def hf_kwargs(self) -> dict[str, Any]:
        """transformers ``generate`` keyword arguments (greedy unless do_sample), also for an exported
        ``GenerationConfig``."""
        kwargs: dict[str, Any] = {"max_new_tokens": self.max_new_tokens, "do_sample": self.do_sample,
                                  "num_beams": self.num_beams}
        if self.do_sample:
            kwargs.update(temperature=self.temperature, top_p=self.top_p)
            if self.top_k is not None:
                kwargs["top_k"] = self.top_k
        if self.min_new_tokens:
            kwargs["min_new_tokens"] = self.min_new_tokens
        if self.no_repeat_ngram_size:
            kwargs["no_repeat_ngram_size"] = self.no_repeat_ngram_size
        if self.repetition_penalty != 1.0:
            kwargs["repetition_penalty"] = self.repetition_penalty
        if self.eos_token_ids is not None:
            kwargs["eos_token_id"] = list(self.eos_token_ids)
        if self.pad_token_id is not None:
            kwargs["pad_token_id"] = self.pad_token_id
        if self.cache == "static":
            kwargs["cache_implementation"] = "static"
        return kwargs
