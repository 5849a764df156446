"""The README's demo table says what the pinned set-up gives: its metric cells are those bench/demo_figures.py
recorded from a finished demo (bench/results/demo_figures.json), made with the versions constraints.txt pins,
and the README's set-up commands (and .ci/run) install those versions. The learned rows move with the training
seed (and the CPU), so the README also states their spread across seeds and only ranking claims that hold for
every seed: both as bench/demo_seed_spread.py recorded them (bench/results/demo_seed_spread.json), whose seed 0
is the table's run.

The timing cells (train s, reports/s) depend on the machine and its load and are not checked here.
"""

from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path

from radzoo import cpu_kernels

ROOT = Path(__file__).resolve().parents[1]
FIGURES = json.loads((ROOT / "bench" / "results" / "demo_figures.json").read_text(encoding="utf-8"))
SPREAD = json.loads((ROOT / "bench" / "results" / "demo_seed_spread.json").read_text(encoding="utf-8"))
COLUMNS = {"chexpert_micro_f1_14": 2, "p vs best": 3, "chexpert_micro_f1_5": 4, "BLEU-4": 5, "params (trainable)": 6}


def _script(name: str = "demo_figures"):
    spec = importlib.util.spec_from_file_location(name, ROOT / "bench" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def readme_table(header: str) -> list[list[str]]:
    """The rows of the README table whose header line starts with ``header``."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    block = text.split(header)[1].split("\n\n")[0]
    return [[c.strip() for c in line.strip().strip("|").split("|")] for line in block.splitlines()[2:]]


def readme_demo_table() -> list[list[str]]:
    return readme_table("| system | encoder trained on |")


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


def test_the_figures_were_made_with_the_demos_default_portable_kernels():
    """The table holds on any x86-64 CPU with AVX2 only if its runs used the pins `radzoo demo` sets by default."""
    for made in (FIGURES["kernels"], *SPREAD["kernels"].values()):
        assert made["kernels"] == cpu_kernels.DEFAULT_KERNELS == "portable" and made["pinned"] is True
        assert made["env"] == cpu_kernels.PORTABLE_ENV and made["torch_cpu_capability"] == "AVX2"
        assert made["onednn"] is False


def test_the_table_is_the_spreads_default_seed():
    """The table's run is seed 0 of the spread: same metric values, same versions."""
    assert SPREAD["seeds"][0] == 0 and len(SPREAD["seeds"]) >= 3 and SPREAD["order"] == FIGURES["order"]
    assert SPREAD["versions"] == FIGURES["versions"]
    for name in FIGURES["order"]:
        for column in ("chexpert_micro_f1_5", "BLEU-4"):
            assert f"{SPREAD['rows'][name][column]['per_seed']['0']:.3f}" == FIGURES["rows"][name][column], name
        head = f"{SPREAD['rows'][name]['chexpert_micro_f1_14']['per_seed']['0']:.3f}"
        assert FIGURES["rows"][name]["chexpert_micro_f1_14"].strip("*").startswith(head + " ["), name


def test_the_readme_states_the_spread_and_only_what_holds_for_every_seed():
    seeds = SPREAD["seeds"]
    table = readme_table("| system | " + " | ".join(f"seed {s}" for s in seeds) + " |")
    assert [row[0] for row in table] == SPREAD["order"]
    for row in table:
        assert row[1:] == SPREAD["readme_table"][row[0]], f"README seed spread table, {row[0]}"
    prose = " ".join((ROOT / "README.md").read_text(encoding="utf-8").split())
    assert f"seeds {seeds[0]}–{seeds[-1]}" in prose and f"±{SPREAD['headline_half_range']:.2f}" in prose
    for claim in SPREAD["claims"]:
        assert claim in prose, f"README should say what holds across seeds: {claim!r}"


def test_the_spread_script_summarises_seeds_and_says_what_flips(tmp_path):
    """bench/demo_seed_spread.py: per-seed values with mean/min/max/std, and claims only where every seed agrees."""
    def board(a: float, b: float) -> dict:
        def cell(v: float) -> dict:
            return {"value": v, "ci_low": v - 0.04, "ci_high": v + 0.04}

        rows = [("a", a), ("b", b), ("nearest-neighbour", 0.6), ("constant", 0.2)]
        return {"rows": [{"name": n, "metrics": {"chexpert_micro_f1_14": cell(v), "chexpert_micro_f1_5": cell(v),
                                                 "bleu_4": cell(v / 2)}} for n, v in rows]}

    for seed, (a, b) in enumerate([(0.7, 0.45), (0.66, 0.5), (0.68, 0.55)]):
        (tmp_path / str(seed)).mkdir()
        (tmp_path / str(seed) / "leaderboard.json").write_text(json.dumps(board(a, b)))
    result = _script("demo_seed_spread").spread({s: tmp_path / str(s) for s in (0, 1, 2)}, "test")
    head = result["rows"]["b"]["chexpert_micro_f1_14"]
    assert head == {"per_seed": {"0": 0.45, "1": 0.5, "2": 0.55}, "mean": 0.5, "min": 0.45, "max": 0.55, "std": 0.05}
    assert result["readme_table"]["b"] == ["0.450", "0.500", "0.550", "0.500 ± 0.050", "0.450–0.550"]
    assert result["headline_half_range"] == 0.05 and result["rows"]["b"]["BLEU-4"]["max"] == 0.275
    assert result["claims"] == ["every learned row beats constant with non-overlapping 95% CIs for every seed",
                                "a beats nearest-neighbour for every seed",
                                "b stays below nearest-neighbour for every seed", "a beats b for every seed"]
    once = _script("demo_seed_spread").summary({0: 0.70749, 1: 0.5})  # each cell rounded once, as leaderboards do
    assert _script("demo_seed_spread").table_cells(once, [0, 1])[0] == "0.707"
    (tmp_path / "1" / "leaderboard.json").write_text(json.dumps(board(0.55, 0.62)))
    flipped = _script("demo_seed_spread").spread({s: tmp_path / str(s) for s in (0, 1, 2)}, "test")["claims"]
    assert flipped[1:] == ["a beats nearest-neighbour for seeds 0, 2 only",
                           "b beats nearest-neighbour for seed 1 only",
                           "a and b swap places with the seed (a ahead for seeds 0, 2)"]


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
