"""The run directory's layout: every file name in it, the one "not a run directory" error, and where its
weights came from (``origin``), in the one vocabulary that compare, serve, view and the leaderboard show.

Layout of RUN_DIR (written by ``radzoo train``, ``radzoo import`` or ``radzoo export``):
    recipe.yaml          the fully resolved recipe (rebuilds the untrained model deterministically)
    model.safetensors    weights that training changed (adapter, LoRA, unfrozen parts), by module name
    export.json          an export: what was exported from where; its LM is the plain transformers dir llm/
    provenance.json      an import: each source file's name and sha256, the licence, the conversions done
    train_summary.json   a trained run: losses per stage; init.json: the run ``--init`` started from
    checkpoints/         a training run's resumable checkpoints (radzoo.training.checkpoints)
    predictions.jsonl, metrics.json, efficiency.json   what ``radzoo compare`` generated, scored and measured
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from radzoo.errors import InputError, MissingFileError

RECIPE_FILE = "recipe.yaml"
WEIGHTS_FILE = "model.safetensors"
EXPORT_FILE = "export.json"
PROVENANCE_FILE = "provenance.json"
SUMMARY_FILE = "train_summary.json"
INIT_FILE = "init.json"
PREDICTIONS_FILE = "predictions.jsonl"
METRICS_FILE = "metrics.json"
PER_SAMPLE_FILE = "per_sample.json"
EFFICIENCY_FILE = "efficiency.json"
LLM_DIR = "llm"
CHECKPOINTS_DIR = "checkpoints"
ENCODER_DIR = "encoder"
# provenance keys naming the upstream release, most specific first
RELEASE_KEYS = ("hub_id", "repo", "repo_id", "upstream", "model")


@dataclass(frozen=True)
class Origin:
    """Where a model's weights came from: ``kind`` (recipe, run, export, import), the one line every surface
    shows, and an import's provenance record."""

    kind: str
    text: str
    provenance: dict[str, Any] | None = None


@dataclass(frozen=True)
class RunDir:
    """A run directory (train, import or export output) and the paths of the files it may hold."""

    path: Path

    @property
    def recipe(self) -> Path:
        return self.path / RECIPE_FILE

    @property
    def weights(self) -> Path:
        return self.path / WEIGHTS_FILE

    @property
    def export_info(self) -> Path:
        return self.path / EXPORT_FILE

    @property
    def provenance(self) -> Path:
        return self.path / PROVENANCE_FILE

    @property
    def summary(self) -> Path:
        return self.path / SUMMARY_FILE

    @property
    def init_info(self) -> Path:
        return self.path / INIT_FILE

    @property
    def llm_dir(self) -> Path:
        return self.path / LLM_DIR

    def is_run(self) -> bool:
        """Whether the folder holds a run's recipe (a trained, imported or exported run)."""
        return self.path.is_dir() and self.recipe.is_file()

    def is_export(self) -> bool:
        return self.export_info.is_file()

    def origin(self) -> Origin:
        """``imported FORMAT RELEASE``, ``exported from RUN`` or ``trained run DIR`` (see ``origin_of``)."""
        return origin_of(self.path)


def is_run_dir(path: str | Path) -> bool:
    """Whether ``path`` is a run directory (it holds ``recipe.yaml``)."""
    return RunDir(Path(path)).is_run()


def require_run_dir(path: str | Path, flag: str = "") -> RunDir:
    """``path`` as a RunDir, or the one error saying it is not a run directory; ``flag`` says how it was given
    (``--init``, ``run:``, ``--checkpoint``...)."""
    run = RunDir(Path(path).expanduser())
    if run.is_run():
        return run
    given = f"{flag}{path}" if flag.endswith(":") else f"{flag} {run.path}".strip()
    hint = (" (a transformers LLaVA directory: `radzoo import llava-hf` it first)"
            if (run.path / "config.json").is_file() else "")
    raise MissingFileError(f"{given}: not a radzoo run directory (no {RECIPE_FILE}){hint}; pass a "
                           "directory written by radzoo train, import or export")


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InputError(f"{path} cannot be read ({exc}); write it again (radzoo import / export)") from None


def origin_of(source: str | Path) -> Origin:
    """Where the weights of ``source`` (a recipe, or a run/import/export directory) came from."""
    run = RunDir(Path(source))
    if run.provenance.is_file():
        provenance = _read_json(run.provenance)
        if not isinstance(provenance, dict):
            provenance = {"provenance": provenance}
        release = next((str(provenance[k]) for k in RELEASE_KEYS if isinstance(provenance.get(k), str)
                        and provenance[k]), None)
        source_dir = provenance.get("source")
        details = [str(provenance[k]) for k in ("format",) if provenance.get(k)]
        details += [release] if release else ([f"from {source_dir}"] if isinstance(source_dir, str) else [])
        return Origin("import", " ".join(["imported", *details]), provenance)
    if run.is_export():
        export = _read_json(run.export_info)
        return Origin("export", f"exported from {export.get('source_run', 'a run')}")
    if run.is_run():
        return Origin("run", f"trained run {run.path}")
    return Origin("recipe", "recipe (untrained)")
