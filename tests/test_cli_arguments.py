"""Command-line parsing: ``key=value`` overrides before or after options, and a reader that closes the pipe."""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from radzoo.cli import _parser, main

# (argv, attribute, expected overrides): every command taking overrides, with them after (and between) options
INTERMIXED = [
    (["train", "demo/llava-rad", "--out", "runs/x", "data.path=d", "--resume", "stages.0.max_steps=2"],
     "overrides", ["data.path=d", "stages.0.max_steps=2"]),
    (["compare", "demo/llava-rad", "--out", "runs/q", "--data", "synthetic", "stages.1.max_steps=20",
      "--baselines", "none"], "items", ["demo/llava-rad", "stages.1.max_steps=20"]),
    (["generate", "runs/x", "--data", "d", "--out", "p.jsonl", "generation.max_new_tokens=8", "--batch-size", "4"],
     "overrides", ["generation.max_new_tokens=8"]),
    (["build", "demo/llava-rad", "--no-smoke", "llm.lora.r=4"], "overrides", ["llm.lora.r=4"]),
    (["recipe", "show", "demo/llava-rad", "stages.1.lr=1e-3"], "overrides", ["stages.1.lr=1e-3"]),
    (["train", "--out", "runs/x", "demo/llava-rad", "data.path=d"], "overrides", ["data.path=d"]),
]


@pytest.mark.parametrize(("argv", "attribute", "expected"), INTERMIXED, ids=[" ".join(c[0]) for c in INTERMIXED])
def test_overrides_parse_before_or_after_options(argv, attribute, expected):
    args = _parser().parse_args(argv)
    assert getattr(args, attribute) == expected
    for option, value in zip(argv, argv[1:]):
        if option in ("--out", "--data", "--baselines"):
            assert getattr(args, option[2:]) == value


def test_every_leaf_command_parses_intermixed():
    """A command added later gets the same parsing: every subcommand parser is built intermixed."""
    parser = _parser()
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    assert commands.choices
    for name, sub in commands.choices.items():
        assert type(sub) is type(parser), name


def test_an_unknown_option_after_overrides_is_still_an_error(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["recipe", "show", "demo/llava-rad", "stages.1.lr=1e-3", "--bogus"])
    assert exit_info.value.code == 2
    assert "--bogus" in capsys.readouterr().err


def test_a_closed_pipe_ends_quietly():
    """``radzoo recipe show ... | head -1``: no traceback, no error line once the reader has gone."""
    process = subprocess.Popen([sys.executable, "-m", "radzoo.cli", "recipe", "show", "llava-rad"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    process.stdout.close()
    err = process.stderr.read().decode()
    process.stderr.close()
    assert process.wait() == 141
    assert "Traceback" not in err and "Broken pipe" not in err, err


# ------------------------------------------------------------------------------------ messages that blame right
@pytest.mark.parametrize("argv", [
    ["compare", "demo/llava-rad", "--out", "x", "--data", "mimic:/data/m"],
    ["generate", "demo/llava-rad", "--data", "d", "--format", "mimic", "--out", "p.jsonl"],
    ["data", "check", "--format", "mimic", "--path", "d"],
])
def test_a_data_format_typo_suggests_the_format(argv, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "Did you mean 'mimic-cxr'?" in err and ".yaml" not in err


def test_a_mistyped_run_directory_is_not_answered_with_recipe_names(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "runs" / "llava-rad").mkdir(parents=True)
    assert main(["generate", "runs/llava-rd", "--data", "d", "--out", "p.jsonl"]) == 2
    err = capsys.readouterr().err
    assert "runs/llava-rd: no such run directory" in err and "Did you mean runs/llava-rad" in err
    assert "Bundled recipes" not in err


def test_an_evaluator_option_typo_gets_did_you_mean(tmp_path, capsys):
    predictions = tmp_path / "p.jsonl"
    predictions.write_text('{"id": "1", "prediction": "no effusion", "reference": "small effusion"}\n')
    code = main(["evaluate", "--predictions", str(predictions), "--metrics", "chexpert", "--option",
                 "chexpert.uncertian=negative", "--out", str(tmp_path / "m.json")])
    err = capsys.readouterr().err
    assert code == 2
    assert "evaluator 'chexpert': no option 'uncertian'. Did you mean 'uncertain'?" in err
    assert "__init__" not in err


def test_the_command_list_shows_whole_first_sentences(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    listing = " ".join(capsys.readouterr().out.split())
    assert ("demo The offline demo: synthetic CXRs, a shared encoder pre-training, the three demo recipes compared "
            "with two reference rows (5 to 10 minutes on two CPU cores, no downloads).") in listing


@pytest.mark.parametrize("command", [["train", "r", "--out", "o"], ["generate", "r", "--out", "o"],
                                     ["compare", "r", "--out", "o"]])
def test_threads_default_to_one_and_set_torch(command):
    import torch

    from radzoo.api import set_torch_threads
    from radzoo.commands.threads_option import thread_count

    assert _parser().parse_args(command).threads == 1
    assert thread_count(_parser().parse_args([*command, "--threads", "0"])) is None  # torch's default
    before = torch.get_num_threads()
    try:
        set_torch_threads(thread_count(_parser().parse_args([*command, "--threads", "2"])))
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)
    with pytest.raises(ValueError, match="--threads -1"):
        thread_count(_parser().parse_args([*command, "--threads", "-1"]))


def test_version_is_the_packages_and_plugins_list_theirs(capsys):
    from radzoo import __version__

    pyproject = (Path(__file__).resolve().parents[1] / "pyproject.toml").read_text()
    assert __version__ == re.search(r'^version = "([^"]+)"', pyproject, re.MULTILINE).group(1)
    with pytest.raises(SystemExit) as stop:
        main(["--version"])
    assert stop.value.code == 0 and capsys.readouterr().out.strip() == f"radzoo {__version__}"
    assert main(["plugins"]) == 0
    assert capsys.readouterr().out.splitlines()[0] == f"radzoo {__version__}; plugin packages: radzoo {__version__}"
    assert main(["plugins", "--json"]) == 0
    listing = json.loads(capsys.readouterr().out)
    assert listing["radzoo_version"] == __version__ and listing["packages"] == {"radzoo": __version__}


@pytest.mark.parametrize(("typo", "match"), [("genrate", "generate"), ("comapre", "compare"), ("serv", "serve")])
def test_a_mistyped_command_gets_the_close_match(typo, match, capsys):
    with pytest.raises(SystemExit) as stop:
        main([typo, "x"])
    err = capsys.readouterr().err
    assert stop.value.code == 2 and f"no command {typo!r}. Did you mean {match}?" in err
