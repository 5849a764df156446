"""Each closed set of choices is declared once, by its owner, and every one of them is checked when a recipe loads."""

from __future__ import annotations

import argparse
import re

import pytest

from radzoo import hookspecs
from radzoo.commands import compare as compare_command
from radzoo.commands import evaluate as evaluate_command
from radzoo.commands import plugins as plugins_command
from radzoo.comparison.systems import BASELINES
from radzoo.components.protocols import PROTOCOLS
from radzoo.data.readers import FORMATS as DATA_FORMATS
from radzoo.evaluation.pipeline import DEFAULT_METRICS
from radzoo.model.chat_formats import FORMATS as CHAT_FORMATS
from radzoo.model.parts import PARTS
from radzoo.recipe.load import RecipeError, _choice_values, load_recipe
from radzoo.recipe.schema import CHOICES
from radzoo.training.stages import lr_factor


def test_choices_come_from_their_owners() -> None:
    assert CHOICES["data.format"] == tuple(DATA_FORMATS)
    assert CHOICES["prompt.format"] == tuple(CHAT_FORMATS)
    assert PARTS is CHOICES["stages[].trainable[]"]
    assert set(PROTOCOLS) == set(hookspecs.KIND_HOOKS)


def test_every_choice_is_checked_when_a_recipe_loads() -> None:
    cfg = load_recipe("demo/llava-rad", ["trainer.loggers=[csv,tensorboard]"])
    assert {choice for _, choice, _ in _choice_values(cfg)} == set(CHOICES)


@pytest.mark.parametrize(("override", "key"), [("trainer.uncertain_labels=maybe", "trainer.uncertain_labels"),
                                               ("trainer.loggers=[csv,nosuchlogger]", "trainer.loggers[1]")])
def test_trainer_choices_fail_at_load_not_when_training_starts(override: str, key: str) -> None:
    with pytest.raises(RecipeError, match=rf"key '{re.escape(key)}': '\w+' is not allowed"):
        load_recipe("demo/llava-rad", [override])


def test_every_scheduler_choice_is_implemented() -> None:
    for kind in CHOICES["stages[].scheduler"]:
        assert 0.0 <= lr_factor(5, 10, 0.1, kind) <= 1.0


def option(module, flag: str) -> argparse.Action:
    parser = argparse.ArgumentParser()
    module.add_arguments(parser)
    return next(a for a in parser._actions if flag in a.option_strings)


def test_command_help_names_the_owners_choices() -> None:
    """The commands spell these out to keep ``radzoo --help`` from importing numpy; this keeps them in step."""
    assert f"else {','.join(DEFAULT_METRICS)})" in option(compare_command, "--metrics").help
    assert f"(default: {','.join(DEFAULT_METRICS)})" in option(evaluate_command, "--metrics").help
    assert option(compare_command, "--baselines").default == ",".join(BASELINES)
    assert list(option(plugins_command, "--kind").choices) == list(hookspecs.KIND_HOOKS)
