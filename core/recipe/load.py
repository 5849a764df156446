"""Recipes: omegaconf YAML with ``extends:`` bases and ``key=value`` overrides, validated against the schema."""

from __future__ import annotations

import dataclasses
import difflib
import hashlib
import json
from collections.abc import Iterator, Sequence
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from omegaconf import DictConfig, ListConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from radzoo.components.discovery import get_plugins, unknown_component_message
from radzoo.data.readers.mixture import data_shorthand
from radzoo.errors import RecipeError
from radzoo.files.atomic import write_text_atomic
from radzoo.model.study_prompt import instruction_problem
from radzoo.recipe.schema import CHOICES, Recipe, StageConfig, schema_default
from radzoo.recipe.secrets import refuse_credentials_from_env
from radzoo.recipe.stage_keys import resolve_stage_key

COMPONENT_KINDS = ("encoder", "adapter", "llm")  # the recipe sections that name a component of that kind


def find_recipe(ref: str | Path) -> Path:
    """A path, or the name of a bundled recipe (``llava-rad``, ``demo/slava-cxr``)."""
    path = Path(ref)
    if path.is_file():
        return path
    bundled = resources.files("radzoo.recipes")
    name = str(ref).removesuffix(".yaml").removeprefix("recipes/")
    candidate = bundled.joinpath(f"{name}.yaml")
    if candidate.is_file():
        return Path(str(candidate))
    known = bundled_recipe_names()
    close = difflib.get_close_matches(name, known, n=3, cutoff=0.4)
    hint = f" Did you mean {', '.join(close)}?" if close else ""
    raise RecipeError(f"recipe {str(ref)!r} not found: no such file and no bundled recipe of that name.{hint}"
                      f" Bundled recipes: {', '.join(known)}")


def bundled_recipe_names() -> list[str]:
    root = Path(str(resources.files("radzoo.recipes")))
    return sorted(str(p.relative_to(root).with_suffix("")) for p in root.rglob("*.yaml")
                  if not p.relative_to(root).parts[0].startswith("_"))


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise RecipeError(f"{path}: file not found") from None
    except UnicodeDecodeError as exc:
        raise RecipeError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except yaml.YAMLError as exc:
        raise RecipeError(f"{path}: invalid YAML: {exc}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise RecipeError(f"{path}: a recipe must be a YAML mapping, got {type(data).__name__}")
    return data


def _load_with_bases(path: Path, seen: tuple[Path, ...] = ()) -> list[tuple[Path, dict[str, Any]]]:
    """The recipe and its ``extends:`` bases, bases first, each base path relative to its file."""
    path = path.resolve()
    if path in seen:
        chain = " -> ".join(str(p) for p in (*seen, path))
        raise RecipeError(f"{path}: 'extends' forms a cycle: {chain}")
    data = _read_yaml(path)
    bases = data.pop("extends", []) or []
    if isinstance(bases, str):
        bases = [bases]
    if not isinstance(bases, list):
        raise RecipeError(f"{path}: key 'extends' must be a list of recipe paths")
    layers: list[tuple[Path, dict[str, Any]]] = []
    for base in bases:
        base_path = (path.parent / base) if not Path(base).is_absolute() else Path(base)
        if not base_path.is_file() and str(base).removesuffix(".yaml") in bundled_recipe_names():
            base_path = find_recipe(base)  # a bundled name: `extends: [llava-rad]` from a recipe anywhere
        if not base_path.is_file():
            raise RecipeError(f"{path}: key 'extends': base recipe {base!r} not found at {base_path} and no "
                              f"bundled recipe has that name (`radzoo recipe list`)")
        layers += _load_with_bases(base_path, (*seen, path))
    layers.append((path, data))
    return layers


def _reset_args_on_swap(cfg: DictConfig, component: str, new_name: Any) -> None:
    """A component's ``args`` belong to that component: naming another one starts from empty args."""
    if new_name is not None and OmegaConf.select(cfg, f"{component}.name", default=None) not in (None, new_name):
        cfg[component].args = {}


def _merge_layer(cfg: DictConfig, layer: Any, source: str) -> DictConfig:
    layer = data_shorthand(layer)  # ``data: [sources...]`` is a mixture
    for component in COMPONENT_KINDS:
        if isinstance(layer.get(component), dict):
            _reset_args_on_swap(cfg, component, layer[component].get("name"))
    try:
        return OmegaConf.merge(cfg, layer)
    except OmegaConfBaseException as exc:
        raise RecipeError(_describe(exc, source, _stage_item_path(layer))) from None


def _stage_item_path(layer: Any) -> str:
    """``stages[i]`` of the first stage that fails on its own: omegaconf reports a list item's keys without it."""
    stages = layer.get("stages") if isinstance(layer, dict) else None
    for i, item in enumerate(stages if isinstance(stages, list) else []):
        try:
            OmegaConf.merge(OmegaConf.structured(StageConfig), item)
        except OmegaConfBaseException:
            return f"stages[{i}]"
    return ""


def _describe(exc: OmegaConfBaseException, source: str, prefix: str = "") -> str:
    key = getattr(exc, "full_key", None) or "?"
    if prefix and not key.startswith("stages"):
        key = f"{prefix}.{key}"
    msg = str(getattr(exc, "msg", exc)).splitlines()[0]
    parent_key = key.rsplit(".", 1)[0] if "." in key else ""
    allowed = _allowed_keys(parent_key)
    if allowed:  # omegaconf's own "Did you mean" would double ours, which lists the allowed keys too
        msg = msg.split(". Did you mean")[0].rstrip(".")
    bad = key.rsplit(".", 1)[-1]
    hint = ""
    if "not in" in msg and allowed:
        close = difflib.get_close_matches(bad, allowed, n=2, cutoff=0.5)
        hint = (f" Did you mean {', '.join(close)}?" if close else "") + f" Allowed keys: {', '.join(allowed)}"
    return f"{source}: key '{key}': {msg}{'' if msg.endswith(('?', '.')) else '.'}{hint}"


def _allowed_keys(parent: str) -> list[str]:
    node: Any = OmegaConf.structured(Recipe)
    for part in [p for p in parent.replace("]", "").replace("[", ".").split(".") if p]:
        if isinstance(node, DictConfig) and part in node:
            node = node[part]
        else:
            return []
    return list(node.keys()) if isinstance(node, DictConfig) else []


def _delete_key(cfg: DictConfig, item: str) -> None:
    """Apply one ``~a.b`` override: a structured config cannot drop its fields, so those go back to the schema."""
    key = item[1:]
    parent, _, leaf = key.rpartition(".")
    node = OmegaConf.select(cfg, parent) if parent else cfg
    if not isinstance(node, DictConfig):
        raise RecipeError(f"override {item!r}: no key '{key}' to delete")
    try:
        try:
            node[leaf] = schema_default(OmegaConf.get_type(node), leaf)
        except KeyError:
            if leaf not in node:
                raise RecipeError(f"override {item!r}: no key '{key}' to delete") from None
            node.pop(leaf)
    except OmegaConfBaseException as exc:
        raise RecipeError(f"override {item!r}: {_describe(exc, 'command line')}") from None


def _set_value(cfg: DictConfig, key: str, value: Any) -> None:
    """Set ``key``; a mapping replaces the node, a typed node (``llm.lora={r: 4}``) from its schema defaults."""
    node = OmegaConf.select(cfg, key, default=None)
    typed = isinstance(node, DictConfig) and dataclasses.is_dataclass(OmegaConf.get_type(node))
    if isinstance(value, dict) and typed:
        OmegaConf.update(cfg, key, OmegaConf.structured(OmegaConf.get_type(node)), merge=False)
    # a None typed node (llm.lora before LoRA is on) takes a mapping only by merging into its type
    OmegaConf.update(cfg, key, value, merge=isinstance(value, dict) and (typed or node is None))


def apply_overrides(cfg: DictConfig, overrides: Sequence[str]) -> DictConfig:
    """``a.b=value`` sets (YAML-parsed, a mapping replaces the whole node); ``~a.b`` deletes a free-form key
    and resets a schema key to its default (``~llm.lora`` turns LoRA off)."""
    for item in overrides:
        if item.startswith("~"):
            _delete_key(cfg, item)
            continue
        key, sep, raw = item.lstrip("+").partition("=")
        if not sep or not key:
            raise RecipeError(f"override {item!r} is not of the form key=value (e.g. llm.lora.r=16)")
        try:
            value = yaml.safe_load(raw) if raw else ""
        except yaml.YAMLError as exc:
            raise RecipeError(f"override {item!r}: value is not valid YAML: {exc}") from None
        try:
            key = resolve_stage_key(key, [str(s.name) for s in cfg.stages])
        except ValueError as exc:
            raise RecipeError(f"override {item!r}: {exc}") from None
        component, _, leaf = key.partition(".")
        if component in COMPONENT_KINDS and leaf == "name":
            _reset_args_on_swap(cfg, component, value)
        try:
            _set_value(cfg, key, value)
        except OmegaConfBaseException as exc:
            raise RecipeError(_describe(exc, f"override {item!r}")) from None
    return cfg


def _choice_values(cfg: DictConfig) -> Iterator[tuple[str, str, Any]]:
    """(key path, CHOICES key, value) for every key whose values are a closed set."""
    for key in ("data.format", "trainer.precision", "trainer.strategy", "trainer.uncertain_labels", "prompt.format",
                "generation.cache", "trainer.optimizer", "prompt.layout", "generation.task"):
        yield key, key, OmegaConf.select(cfg, key)
    for listed, items in (("trainer.loggers", cfg.trainer.loggers), ("prompt.images", cfg.prompt.images)):
        yield from ((f"{listed}[{i}]", f"{listed}[]", item) for i, item in enumerate(items))
    yield "generation.engine", "generation.engine", OmegaConf.select(cfg, "generation.engine")
    for i, stage in enumerate(cfg.stages):
        for task in stage.task if isinstance(stage.task, DictConfig) else [stage.task]:  # a weighted mapping
            yield f"stages[{i}].task", "stages[].task", task
        yield f"stages[{i}].scheduler", "stages[].scheduler", stage.scheduler
        for j, part in enumerate(stage.trainable):
            yield f"stages[{i}].trainable[{j}]", "stages[].trainable[]", part


def _check_choices(cfg: DictConfig, source: str) -> None:
    for key, choice_key, value in _choice_values(cfg):
        allowed = CHOICES[choice_key]
        if value is None or str(value) in allowed:
            continue
        close = difflib.get_close_matches(str(value), allowed, n=1, cutoff=0.5)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise RecipeError(f"{source}: key '{key}': {value!r} is not allowed.{hint} "
                          f"Allowed values: {', '.join(allowed)}")
    names = [s.name for s in cfg.stages]
    if len(set(names)) != len(names):
        raise RecipeError(f"{source}: key 'stages': stage names must be unique, got {names}")


def _check_prompt(cfg: DictConfig, source: str) -> None:
    """Each instruction places its images: caught at load, not after build_model has loaded a 7B LLM."""
    for key in ("prompt.instruction", "prompt.instruction_with_indication"):
        problem = instruction_problem(OmegaConf.select(cfg, key), tuple(cfg.prompt.images), str(cfg.prompt.layout))
        if problem:
            raise RecipeError(f"{source}: key '{key}': {problem}")


def _check_generation(cfg: DictConfig, source: str) -> None:
    """Settings the chosen decode engine cannot run (beams on radzoo): caught at load, not after training."""
    from radzoo.generation.engine_settings import engine_problem  # deferred like the rest of generation

    gen = cfg.generation
    problem = engine_problem(str(gen.engine), int(gen.num_beams), int(gen.eos_check_every))
    if problem:
        raise RecipeError(f"{source}: {problem}")


def check_components(cfg: DictConfig, source: str = "recipe") -> None:
    """Every component the recipe names exists in its registry (errors list close matches)."""
    plugins = get_plugins()
    checks = [(f"{kind}.name", kind, cfg[kind].name) for kind in COMPONENT_KINDS]
    checks += [(f"evaluation.metrics[{i}]", "evaluator", m) for i, m in enumerate(cfg.evaluation.metrics)]
    for key, kind, name in checks:
        if name not in plugins.registry(kind):
            raise RecipeError(f"{source}: key '{key}': {unknown_component_message(kind, name)}")


def load_recipe(path: str | Path, overrides: Sequence[str] = (), *, check_names: bool = True) -> DictConfig:
    """Load ``path`` (or a bundled recipe name) with its bases and overrides into a validated DictConfig."""
    recipe_path = find_recipe(path)
    cfg = OmegaConf.structured(Recipe)
    for layer_path, data in _load_with_bases(recipe_path):
        cfg = _merge_layer(cfg, data, str(layer_path))
    cfg = apply_overrides(cfg, list(overrides))
    source = str(recipe_path)
    if missing := sorted(OmegaConf.missing_keys(cfg)):
        raise RecipeError(f"{source}: required key(s) not set: {', '.join(missing)}")
    refuse_credentials_from_env(cfg, source)
    try:
        OmegaConf.resolve(cfg)
    except OmegaConfBaseException as exc:
        raise RecipeError(_describe(exc, source)) from None
    _check_choices(cfg, source)
    _check_prompt(cfg, source)
    _check_generation(cfg, source)
    if check_names:
        check_components(cfg, source)
    OmegaConf.set_readonly(cfg, False)
    return cfg


def recipe_to_yaml(cfg: DictConfig) -> str:
    return OmegaConf.to_yaml(cfg, resolve=True)


def save_recipe(cfg: DictConfig, path: str | Path) -> Path:
    """Write the fully resolved recipe (atomically: temp file then rename)."""
    return write_text_atomic(path, recipe_to_yaml(cfg))


def recipe_hash(cfg: DictConfig | ListConfig) -> str:
    """A stable short hash of the resolved recipe: same hash, same run."""
    blob = json.dumps(OmegaConf.to_container(cfg, resolve=True), sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]
