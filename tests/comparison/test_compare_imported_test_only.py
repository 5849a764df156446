"""A published model (an imported replica) compared on a test-only data set, as the README's
`radzoo compare run:runs/llava-rad-published ...` line does: the nearest-neighbour row, which needs training
studies, is left out with a note before any work starts; the log has each line once and no library noise; the
imported run's generation config carries no sampling flags its greedy decoding would ignore."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from llava_rad_replica import write_replica

from radzoo.cli import main
from radzoo.data.synthetic import generate as make_synthetic

# a library that configures the root logger (as some do on import) must not make radzoo's lines appear twice
CLI = "import logging, sys; logging.basicConfig(level=logging.INFO); from radzoo.cli import main; sys.exit(main())"


@pytest.mark.slow
def test_an_imported_run_on_a_test_only_set_end_to_end(tmp_path):
    write_replica(tmp_path)  # tmp_path/llava-rad and tmp_path/vicuna-7b-v1.5
    run = tmp_path / "runs" / "llava-rad-published"
    assert main(["import", "llava-rad", str(tmp_path / "llava-rad"), "--base-llm", str(tmp_path / "vicuna-7b-v1.5"),
                 "--out", str(run)]) == 0
    released = json.loads((tmp_path / "vicuna-7b-v1.5" / "generation_config.json").read_text())
    kept = json.loads((run / "llm" / "generation_config.json").read_text())
    assert {"temperature", "top_p", "do_sample"} <= set(released)
    assert not {"temperature", "top_p", "do_sample"} & set(kept) and kept["eos_token_id"] == 2

    synthetic = make_synthetic(tmp_path / "synthetic", n=3, image_size=64)
    images = sorted((synthetic / "images").iterdir())
    table = tmp_path / "test-only.csv"
    table.write_text("id,image,report,split\n" + "".join(
        f"s{i},{image},Normal heart size. No pleural effusion.,test\n" for i, image in enumerate(images)))
    out = tmp_path / "vs-published"
    done = subprocess.run([sys.executable, "-c", CLI, "compare", f"run:{run}", "--out", str(out), "--data",
                           f"csv:{table}", "generation.max_new_tokens=4", "--bootstrap", "20"],
                          capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    log = done.stderr.splitlines()
    note = next(i for i, line in enumerate(log) if line.startswith("nearest-neighbour: left out"))
    assert note < next(i for i, line in enumerate(log) if line.startswith("[1/")), "the need is checked first"
    assert not [line for line in log if line.startswith(("INFO:radzoo", "WARNING:radzoo"))], "a line printed twice"
    assert "Loading weights" not in done.stderr and "generation flags are not valid" not in done.stderr
    assert "{" not in done.stderr, "an unformatted message"
    rows = [row["name"] for row in json.loads((out / "leaderboard.json").read_text())["rows"]]
    assert len(rows) == 2 and rows[-1] == "constant", rows  # the imported run and the row that needs no training
