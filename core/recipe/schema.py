"""The recipe schema: omegaconf structured configs that type-check every key of a recipe."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from omegaconf import MISSING

from radzoo.data.readers import FORMATS as DATA_FORMATS
from radzoo.model.chat_formats import FORMATS as CHAT_FORMATS
from radzoo.model.parts import PARTS
from radzoo.model.study_prompt import IMAGE_SLOTS, LAYOUTS
from radzoo.recipe.decode_settings import CACHES, ENGINES


@dataclass
class EncoderConfig:
    name: str = MISSING
    args: dict[str, Any] = field(default_factory=dict)
    freeze: bool = True


@dataclass
class AdapterConfig:
    name: str = "mlp2x_gelu"
    args: dict[str, Any] = field(default_factory=dict)
    freeze: bool = False


@dataclass
class LoraConfig:
    r: int = 64
    alpha: int = 128
    dropout: float = 0.05
    # None: the LLM plugin's own ``lora_target_modules``
    target_modules: list[str] | None = None


@dataclass
class LLMConfig:
    name: str = MISSING
    args: dict[str, Any] = field(default_factory=dict)
    freeze: bool = True
    lora: LoraConfig | None = None


@dataclass
class PromptConfig:
    # None: the LLM plugin's own conversation format
    format: str | None = None
    system: str | None = None
    instruction: str = "<image>\nProvide a description of the findings in the radiology image."
    # used when the study has an indication; "{indication}" is filled in
    instruction_with_indication: str | None = None
    # the study images the model reads, in the prompt's order; more than [frontal] makes the instruction a
    # template with {frontal}, {lateral}, {prior_frontal}, {prior_report}, {indication}, {technique}, {comparison}
    images: list[str] = field(default_factory=lambda: ["frontal"])
    prior_report: bool = False  # the prior study's report fills {prior_report}
    # "template" (the instruction above) or "maira2" (MAIRA-2's reporting prompt, worded by the images present)
    layout: str = "template"
    missing_image: str = ""  # what an image placeholder becomes when the study lacks that image
    missing_section: str = "N/A"  # what a section placeholder becomes when the study lacks that section


@dataclass
class GenerationConfig:
    max_new_tokens: int = 256
    do_sample: bool = False
    temperature: float = 1.0
    top_p: float = 1.0
    num_beams: int = 1
    no_repeat_ngram_size: int = 0
    repetition_penalty: float = 1.0
    batch_size: int = 8
    # KV cache: "dynamic" (grows per token) or "static" (preallocated; on a GPU transformers then compiles the
    # decode step into CUDA graphs, which removes the per-token launch overhead that dominates at batch 1)
    cache: str = "dynamic"
    # "report", or "grounded_report": MAIRA-2's grounded prompt, phrases with boxes in the output (prompt.layout maira2)
    task: str = "report"
    # decoder: "hf" (transformers generate; the only one with beams), "radzoo" (static cache, token choice and
    # stopping on the device, CUDA graph; bench/README.md) or "auto" (radzoo where measured faster: CPU, no beams)
    engine: str = "auto"
    # radzoo engine: seed of its sampling generator; tokens between its EOS checks (each one a host sync)
    seed: int = 0
    eos_check_every: int = 8


@dataclass
class DataConfig:
    # reader name: synthetic, csv, llava-json, mimic-cxr, chexpert-plus, iu-xray, mixture (a recipe's ``data``
    # may also be a list of such sections with weights: radzoo.data.readers.mixture)
    format: str = "synthetic"
    path: str | None = None
    image_root: str | None = None
    # reader-specific options (column names, sections, split file, skip policy, ...)
    options: dict[str, Any] = field(default_factory=dict)


@dataclass
class StageConfig:
    name: str = MISSING
    # parts updated in this stage: encoder, encoder_head, adapter, llm, lora
    trainable: list[str] = field(default_factory=lambda: ["adapter"])
    # what the stage learns from: report (= findings), impression, vqa, instruction, labels; or a mapping of
    # findings / impression / vqa to sampling weights ({findings: 0.7, impression: 0.3}; radzoo.data.tasks)
    task: Any = "report"
    lr: float = 1e-3
    epochs: int | None = 1
    max_steps: int | None = None
    # per device and micro-batch: one optimizer step sees batch_size x devices x accumulate_grad_batches
    batch_size: int = 8
    scheduler: str = "cosine"
    warmup_ratio: float = 0.03
    weight_decay: float = 0.0


@dataclass
class TrainerConfig:
    accelerator: str = "auto"
    devices: Any = "auto"
    strategy: str = "auto"
    precision: str = "32"
    accumulate_grad_batches: int = 1
    gradient_checkpointing: bool = False
    # stages with a frozen encoder train from encoder features computed once and kept on disk
    feature_cache: bool = False
    # None: RUN_DIR/feature_cache
    feature_cache_dir: str | None = None
    num_workers: int = 0
    seed: int = 0
    log_every_n_steps: int = 10
    # resumable checkpoints (weights, optimizer, scheduler, RNG) every N optimizer steps and at stage ends
    checkpoint_every_n_steps: int = 50
    # label pre-training: uncertain (-1) CheXpert labels are "mask"ed out of the loss or counted "positive"
    uncertain_labels: str = "mask"
    # answer tokens beyond this are cut (None: keep all)
    max_answer_tokens: int | None = None
    loggers: list[str] = field(default_factory=lambda: ["csv"])
    progress_bar: bool = True
    max_steps_per_stage: int | None = None  # caps every stage's steps: one key for a quick run of any recipe
    gradient_clip_val: float | None = None  # clip the gradient norm to this (None: no clipping)
    optimizer: str = "adamw"  # adamw, adamw-fused (CUDA), adamw-8bit (bitsandbytes)
    val_every_n_steps: int | None = None  # validation loss on the validate split every N steps (None: off)
    keep_best: bool = False  # end each stage at its lowest validation loss instead of its last step
    early_stopping_patience: int | None = None  # end a stage after N validations without improvement


@dataclass
class EvaluationConfig:
    metrics: list[str] = field(default_factory=list)
    options: dict[str, Any] = field(default_factory=dict)
    bootstrap_samples: int = 500


@dataclass
class Recipe:
    name: str = MISSING
    description: str = ""
    paper: str = ""
    encoder: EncoderConfig = field(default_factory=EncoderConfig)
    adapter: AdapterConfig = field(default_factory=AdapterConfig)
    llm: LLMConfig = field(default_factory=LLMConfig)
    prompt: PromptConfig = field(default_factory=PromptConfig)
    generation: GenerationConfig = field(default_factory=GenerationConfig)
    data: DataConfig = field(default_factory=DataConfig)
    stages: list[StageConfig] = field(default_factory=list)
    trainer: TrainerConfig = field(default_factory=TrainerConfig)
    evaluation: EvaluationConfig = field(default_factory=EvaluationConfig)


def schema_default(config_type: Any, key: str) -> Any:
    """The schema's default of field ``key`` of ``config_type`` (``MISSING`` if required); KeyError if no field."""
    fields = {f.name: f for f in dataclasses.fields(config_type)} if dataclasses.is_dataclass(config_type) else {}
    if key not in fields:
        raise KeyError(key)
    f = fields[key]
    return f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default


# key -> allowed values, checked after the merge so errors can list the choices. A set a light module owns is
# taken from it (data formats, chat formats, model parts); the rest are recipe vocabulary declared here;
# tests/recipe/test_recipe_choices.py keeps them in step
CHOICES: dict[str, tuple[str, ...]] = {
    "data.format": tuple(DATA_FORMATS),
    "stages[].trainable[]": PARTS,
    "stages[].task": ("report", "findings", "impression", "vqa", "instruction", "labels"),
    "stages[].scheduler": ("cosine", "linear", "constant"),
    "trainer.precision": ("32", "32-true", "16-mixed", "bf16-mixed", "bf16-true"),
    # ddp launches one process per device that reruns the command (ddp_spawn cannot pickle a stage)
    "trainer.strategy": ("auto", "ddp", "fsdp", "deepspeed_stage_2"),
    "trainer.uncertain_labels": ("mask", "positive"),
    "trainer.loggers[]": ("csv", "tensorboard", "wandb"),
    "trainer.optimizer": ("adamw", "adamw-fused", "adamw-8bit"),
    "generation.cache": CACHES,
    "generation.engine": ENGINES,
    "prompt.format": tuple(CHAT_FORMATS),
    "prompt.images[]": IMAGE_SLOTS,
    "prompt.layout": LAYOUTS,
    "generation.task": ("report", "grounded_report"),
}
