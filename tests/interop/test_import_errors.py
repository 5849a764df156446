"""`radzoo import` on sources that are not the named release: one line each, and no run directory left behind."""

from __future__ import annotations

import json

import pytest
from release_replicas import hub_calls_fail  # noqa: F401 (autouse: hub downloads raise)

HUB = {"llava-rad": "microsoft/llava-rad", "cxr-llava": "ECOFRI/CXR-LLAVA-v2", "slava-cxr": "bluesky333/SLaVA-CXR",
       "maira-2": "microsoft/maira-2", "llava-hf": "llava-hf/llava-1.5-7b-hf"}
NOT_THIS_FORMAT = {"llava-rad": "is not a LLaVA config", "cxr-llava": "is not a CXR-LLaVA config",
                   "slava-cxr": "is not a LLaVA-Phi config", "maira-2": "is not a MAIRA-2 config",
                   "llava-hf": "is not a LlavaForConditionalGeneration config"}
# files each format needs besides config.json, so that the config check is what fails
OTHER_FILES = {"llava-rad": ["adapter_config.json", "adapter_model.bin", "non_lora_trainables.bin",
                             "biomedclipcxr_518.json", "biomedclipcxr_518_checkpoint.pt"],
               "slava-cxr": ["preprocessor_config.json"], "maira-2": ["preprocessor_config.json"]}


def _run(capsys, *argv):
    from radzoo.cli import main

    code = main(["import", *map(str, argv)])
    return code, capsys.readouterr().err


@pytest.mark.parametrize("fmt", list(HUB))
def test_an_empty_directory_names_the_missing_file_and_the_download(fmt, tmp_path, capsys):
    (tmp_path / "src").mkdir()
    base = ["--base-llm", tmp_path] if fmt == "llava-rad" else []
    code, err = _run(capsys, fmt, tmp_path / "src", "--out", tmp_path / "runs" / "run", *base)
    assert code == 2 and err.count("error:") == 1
    assert "not found" in err and f"hf download {HUB[fmt]} --local-dir" in err
    assert not (tmp_path / "runs" / "run").exists() and list((tmp_path / "runs").iterdir()) == []


@pytest.mark.parametrize("fmt", list(HUB))
def test_another_model_s_directory_is_refused_as_the_wrong_format(fmt, tmp_path, capsys):
    src = tmp_path / "src"
    src.mkdir()
    (src / "config.json").write_text(json.dumps({"model_type": "bert", "hidden_size": 8}))
    for name in OTHER_FILES.get(fmt, []):
        (src / name).write_bytes(b"")
    base = ["--base-llm", src] if fmt == "llava-rad" else []
    code, err = _run(capsys, fmt, src, "--out", tmp_path / "runs" / "run", *base)
    assert code == 2 and NOT_THIS_FORMAT[fmt] in err and err.count("error:") == 1
    assert list((tmp_path / "runs").iterdir()) == []


def test_an_existing_run_directory_is_never_overwritten(tmp_path, capsys):
    out = tmp_path / "run"
    out.mkdir()
    (out / "recipe.yaml").write_text("name: mine\n")
    code, err = _run(capsys, "llava-hf", tmp_path, "--out", out)
    assert code == 2 and "exists and is not an empty directory" in err
    assert (out / "recipe.yaml").read_text() == "name: mine\n"


def test_an_unknown_format_is_an_argument_error(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        _run(capsys, "maira-3", tmp_path, "--out", tmp_path / "run")
    assert exit_info.value.code == 2
    assert "invalid choice: 'maira-3'" in capsys.readouterr().err
