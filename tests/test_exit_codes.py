"""One exit-code table for every command (radzoo.cli.EXIT_CODES, the README's table), each command held to it;
and recipe keys, overrides and data paths answered before torch or any model library is imported.

The early-check cases run in one fresh interpreter that reports, after each command's error, whether torch or
transformers had been imported by then: a typo is answered without the seconds they take to load.
"""

from __future__ import annotations

import json
import re
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from radzoo.cli import COMMAND_NAMES, EXIT_CODES, main

README = Path(__file__).resolve().parents[1] / "README.md"
MODEL_LIBRARIES = ("torch", "transformers", "open_clip", "timm", "lightning")


def readme_exit_codes() -> dict[int, str]:
    section = README.read_text(encoding="utf-8").split("## When something goes wrong")[1].split("\n## ")[0]
    return {int(code): meaning.strip() for code, meaning in re.findall(r"^\s*\| `(\d+)` \| (.+?) \|$", section,
                                                                       re.MULTILINE)}


def test_the_readme_table_is_the_cli_table():
    assert set(readme_exit_codes()) == set(EXIT_CODES) == {0, 1, 2, 70, 130, 141}


def _synth(folder: Path, n: int) -> Path:
    assert main(["data", "synth", "--n", str(n), "--out", str(folder)]) == 0
    return folder


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("exit-codes")
    (root / "a-file").write_text("x")
    (root / "bad.csv").write_text("id,image,report,split\ns1,missing.png,Normal heart.,test\n")
    (root / "preds.jsonl").write_text(json.dumps({"id": "s1", "prediction": "x", "reference": "y"}) + "\n")
    return {"root": root, "train_only": _synth(root / "train-only", 4), "file": root / "a-file",
            "bad_csv": root / "bad.csv", "preds": root / "preds.jsonl"}


def _busy_port() -> socket.socket:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    return sock


# command -> (argv with {placeholders} from the inputs fixture, expected exit code)
CASES = [
    ("plugins", ["plugins", "--kind", "encoderz"], 2),
    ("recipe", ["recipe", "show", "llava-rd"], 2),
    ("build", ["build", "demo/llava-rad", "encoder.nme=x"], 2),
    ("data", ["data", "check", "--format", "csv", "--path", "{bad_csv}"], 1),
    ("data", ["data", "check", "--format", "csv", "--path", "{root}/none.csv"], 2),
    ("data", ["data", "check", "--path", "{train_only}", "--split", "test"], 2),
    ("train", ["train", "demo/llava-rad", "--out", "{root}/run", "stages.0.lrr=1"], 2),
    ("train", ["train", "demo/llava-rad", "--out", "{root}/run", "data.path={root}/none"], 2),
    ("generate", ["generate", "demo/llava-rad", "--image", "{root}/missing.png"], 2),
    ("generate", ["generate", "demo/llava-rad", "--data", "{train_only}", "--out", "{root}/p.jsonl"], 2),
    ("generate", ["generate", "demo/llava-rad", "--data", "{root}/none", "--out", "{root}/p.jsonl"], 2),
    ("export", ["export", "{root}/none", "--out", "{root}/exported"], 2),
    ("evaluate", ["evaluate", "--predictions", "{preds}", "--metrics", "bleu", "--option", "blue.x=1",
                  "--out", "{root}/m.json"], 2),
    ("label", ["label", "{root}/none.csv", "--out", "{root}/labels.csv"], 2),
    ("compare", ["compare", "demo/llava-rad", "--out", "{root}/c", "trainer.max_stepz=1"], 2),
    ("compare", ["compare", "demo/llava-rad", "--out", "{root}/c", "--data", "synthetic:{root}/none"], 2),
    ("demo", ["demo", "--out", "{file}"], 2),
    ("view", ["view", "{root}/none"], 2),
    ("import", ["import", "llava-rad", "{root}/none", "--out", "{root}/imported"], 2),
    ("serve", ["serve", "demo/llava-rad", "generation.max_new_tokenz=3"], 2),
    ("serve", ["serve", "demo/llava-rad", "--port", "{busy_port}"], 2),
]


def test_every_command_has_a_case():
    assert {command for command, _, _ in CASES} == set(COMMAND_NAMES)


@pytest.mark.parametrize(("command", "argv", "code"), CASES, ids=[" ".join(a[:3]) for _, a, _ in CASES])
def test_each_command_exits_as_the_table_says(command, argv, code, inputs, capsys):
    with _busy_port() as busy:
        values = {key: str(path) for key, path in inputs.items()} | {"busy_port": str(busy.getsockname()[1])}
        try:
            got = main([word.format(**values) for word in argv])
        except SystemExit as exc:  # argparse's usage errors
            got = exc.code
    out, err = capsys.readouterr()
    assert got == code, err
    if code == 2:
        assert "Traceback" not in err and err.strip(), err
    assert "http://" not in out + err  # serve names its address only once it listens: a busy port fails first


EARLY = """
import json, sys
from radzoo.cli import main
results = []
for argv in json.loads(sys.argv[1]):
    code = main(argv)
    results.append([code, [m for m in sys.argv[2].split(",") if m in sys.modules]])
print(json.dumps(results))
"""


def test_typos_and_data_paths_are_answered_before_torch_loads(inputs, tmp_path):
    """Every command that takes a recipe checks its keys, overrides and data before importing model libraries."""
    values = {key: str(path) for key, path in inputs.items()}
    early = [[w.format(**values) for w in argv] for command, argv, code in CASES
             if code == 2 and command in ("build", "train", "generate", "compare", "serve", "demo", "data")
             and "{busy_port}" not in argv]
    assert len(early) >= 10
    done = subprocess.run([sys.executable, "-c", EARLY, json.dumps(early), ",".join(MODEL_LIBRARIES)],
                          capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    results = json.loads(done.stdout.strip().splitlines()[-1])
    for argv, (code, loaded) in zip(early, results, strict=True):
        assert code == 2 and not loaded, f"radzoo {' '.join(argv)}: exit {code}, imported {loaded} first"


@pytest.mark.slow
def test_serve_stopped_with_ctrl_c_exits_130(tmp_path):
    sys.path.insert(0, str(Path(__file__).parent / "serving"))
    from serve_process import ServerProcess

    server = ServerProcess(tmp_path / "server.log")
    try:
        server.proc.send_signal(signal.SIGINT)
        assert server.proc.wait(timeout=60) == 130, server.log()
    finally:
        server.stop()
    assert "stopped by Ctrl-C" in server.log()
