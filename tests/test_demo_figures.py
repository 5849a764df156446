"""The README's demo table says what the pinned set-up gives: its metric cells are those bench/demo_figures.py
recorded from a finished demo (bench/results/demo_figures.json), made with the versions constraints.txt pins,
and the README's set-up commands (and .ci/run) install those versions.

The timing cells (train s, reports/s) depend on the machine and its load and are not checked here.
"""

from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FIGURES = json.loads((ROOT / "bench" / "results" / "demo_figures.json").read_text(encoding="utf-8"))
COLUMNS = {"chexpert_micro_f1_14": 2, "p vs best": 3, "chexpert_micro_f1_5": 4, "BLEU-4": 5, "params (trainable)": 6}


def _script():
    spec = importlib.util.spec_from_file_location("demo_figures", ROOT / "bench" / "demo_figures.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def readme_demo_table() -> list[list[str]]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    block = text.split("| system | encoder trained on |")[1].split("\n\n")[0]
    return [[c.strip() for c in line.strip().strip("|").split("|")] for line in block.splitlines()[2:]]


def test_the_readme_table_has_the_recorded_figures_in_their_order():
    table = readme_demo_table()
    assert [row[0] for row in table] == FIGURES["order"]
    for row in table:
        for column, at in COLUMNS.items():
            assert row[at] == FIGURES["rows"][row[0]][column], f"README demo table, {row[0]}, {column}"


def test_the_figures_were_made_with_the_pinned_versions():
    pins = _script().pinned()
    assert {"torch", "transformers", "tokenizers", "numpy", "peft", "timm"} <= set(pins)
    assert FIGURES["versions"] == pins


def test_the_setup_commands_install_the_pinned_versions():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    installs = re.findall(r"pip install[^\n&]*\.\[dev\]\"[^\n&]*", readme) + re.findall(
        r"pip install[^\n&]*\.\[dev\]\"[^\n&]*", (ROOT / ".ci" / "run").read_text(encoding="utf-8"))
    assert len(installs) == 3 and all("-c constraints.txt" in line for line in installs), installs


def test_the_script_writes_the_readme_cells(tmp_path):
    """bench/demo_figures.py formats a leaderboard.json row as the README does (bold best, p floor, counts)."""
    metric = {"value": 0.69565, "ci_low": 0.66017, "ci_high": 0.73184, "p_vs_best": None}
    other = dict(metric, value=0.2, p_vs_best=1 / 1001)
    rows = [{"name": "a", "metrics": {"chexpert_micro_f1_14": metric, "chexpert_micro_f1_5": metric,
                                      "bleu_4": metric}, "efficiency": {"params_total": 990784,
                                                                        "params_trainable": 218240}},
            {"name": "b", "metrics": {"chexpert_micro_f1_14": other, "chexpert_micro_f1_5": other,
                                      "bleu_4": other}, "efficiency": {}}]
    (tmp_path / "leaderboard.json").write_text(json.dumps({"best": {"chexpert_micro_f1_14": "a"}, "rows": rows}))
    result = _script().figures(tmp_path, "test")
    assert result["rows"]["a"] == {"chexpert_micro_f1_14": "**0.696 [0.660, 0.732]**", "p vs best": "best",
                                   "chexpert_micro_f1_5": "0.696", "BLEU-4": "0.696",
                                   "params (trainable)": "990,784 (218,240)"}
    assert result["rows"]["b"]["p vs best"] == "< 0.001" and result["rows"]["b"]["params (trainable)"] == "–"
