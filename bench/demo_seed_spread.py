"""How much the demo's figures move with the training seed, and which of its claims hold for every seed.

    radzoo demo --seed 1 --out demo-seed1   (and so on; seed 0 is the default, the README's table)
    python bench/demo_seed_spread.py 0=radzoo-demo 1=demo-seed1 2=demo-seed2 [--machine "..."]

Every seed trains on the same synthetic set and is scored on the same 300 test studies, so the rows compare.
Reads each SEED=DEMO folder's leaderboard.json and writes bench/results/demo_seed_spread.json: per row and
metric (chexpert_micro_f1_14, chexpert_micro_f1_5, BLEU-4) each seed's value with mean, min, max and sample std,
the README's spread table cells, and the ranking claims that hold for every seed (sentences the README repeats;
tests/test_demo_figures.py checks both against this file).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import platform
import statistics
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "results" / "demo_seed_spread.json"
HEADLINE = "chexpert_micro_f1_14"
METRICS = {HEADLINE: HEADLINE, "chexpert_micro_f1_5": "chexpert_micro_f1_5", "BLEU-4": "bleu_4"}
REFERENCES = ("nearest-neighbour", "constant")


def _script():
    """bench/demo_figures.py, whose readers this script shares."""
    spec = importlib.util.spec_from_file_location("demo_figures", ROOT / "bench" / "demo_figures.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _versions() -> dict[str, str | None]:
    """The installed versions of what constraints.txt pins (as bench/demo_figures.py records them)."""
    return _script().installed_versions()


def _seeds(values: list[int]) -> str:
    """``seed 1`` or ``seeds 0, 2``."""
    return ("seed " if len(values) == 1 else "seeds ") + ", ".join(str(s) for s in values)


def summary(values: dict[int, float]) -> dict:
    """Each seed's value with mean, min, max and sample standard deviation (to 6 places: rounding to 4 first would
    round some README cells twice, 0.70749 -> 0.7075 -> 0.708 where the seed's own leaderboard says 0.707)."""
    vals = list(values.values())
    return {"per_seed": {str(s): round(v, 6) for s, v in values.items()}, "mean": round(statistics.mean(vals), 6),
            "min": round(min(vals), 6), "max": round(max(vals), 6),
            "std": round(statistics.stdev(vals), 6) if len(vals) > 1 else 0.0}


def claims(heads: dict[str, dict[int, dict]], learned: list[str], seeds: list[int]) -> list[str]:
    """Sentences about the ranking, each true for every seed (or saying for which seeds it holds)."""
    out = []
    if "constant" in heads:
        clear = [s for s in seeds if all(heads[r][s]["ci_low"] > heads["constant"][s]["ci_high"] for r in learned)]
        out.append("every learned row beats constant with non-overlapping 95% CIs "
                   + ("for every seed" if clear == seeds else f"for {_seeds(clear)} only" if clear else "for no seed"))
    if "nearest-neighbour" in heads:
        for row in learned:
            ahead = [s for s in seeds if heads[row][s]["value"] > heads["nearest-neighbour"][s]["value"]]
            out.append(f"{row} beats nearest-neighbour for every seed" if ahead == seeds else
                       f"{row} stays below nearest-neighbour for every seed" if not ahead else
                       f"{row} beats nearest-neighbour for {_seeds(ahead)} only")
    for i, a in enumerate(learned):
        for b in learned[i + 1:]:
            ahead = [s for s in seeds if heads[a][s]["value"] > heads[b][s]["value"]]
            out.append(f"{a} beats {b} for every seed" if ahead == seeds else
                       f"{b} beats {a} for every seed" if not ahead else
                       f"{a} and {b} swap places with the seed ({a} ahead for {_seeds(ahead)})")
    return out


def spread(runs: dict[int, Path], machine: str) -> dict:
    boards = {seed: json.loads((demo / "leaderboard.json").read_text(encoding="utf-8")) for seed, demo in runs.items()}
    seeds = sorted(boards)
    order = [row["name"] for row in boards[seeds[0]]["rows"]]
    cells = {seed: {row["name"]: row["metrics"] for row in board["rows"]} for seed, board in boards.items()}
    if any(set(c) != set(order) for c in cells.values()):
        raise SystemExit(f"the demos do not have the same rows: {[sorted(c) for c in cells.values()]}")
    rows = {name: {label: summary({s: cells[s][name][key]["value"] for s in seeds}) for label, key in METRICS.items()}
            for name in order}
    learned = [name for name in order if name not in REFERENCES]
    heads = {name: {s: cells[s][name][HEADLINE] for s in seeds} for name in order}
    moved = max((rows[n][HEADLINE]["max"] - rows[n][HEADLINE]["min"]) / 2 for n in learned)
    return {"demos": {str(s): str(runs[s]) for s in seeds}, "seeds": seeds, "machine": machine,
            "python": platform.python_version(), "versions": _versions(),
            "kernels": {str(s): _script().kernels(runs[s]) for s in seeds},
            "note": "training seed only (radzoo demo --seed): same synthetic set, same 300 test studies",
            "order": order, "rows": rows, "headline_half_range": round(moved, 3),
            "readme_table": {name: table_cells(rows[name][HEADLINE], seeds) for name in order},
            "claims": claims(heads, learned, seeds)}


def table_cells(head: dict, seeds: list[int]) -> list[str]:
    """The README spread table's cells of one row: each seed's headline, mean ± std, min–max."""
    return ([f"{head['per_seed'][str(s)]:.3f}" for s in seeds]
            + [f"{head['mean']:.3f} ± {head['std']:.3f}", f"{head['min']:.3f}–{head['max']:.3f}"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("demos", nargs="+", help="SEED=FOLDER: a finished `radzoo demo --seed SEED --out FOLDER`")
    parser.add_argument("--machine", default=f"{platform.machine()}, {platform.system()}",
                        help="where the demos ran (with --kernels native the figures move with the CPU too)")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    runs = {}
    for item in args.demos:
        seed, sep, folder = item.partition("=")
        if not sep or not seed.isdigit():
            raise SystemExit(f"{item}: write SEED=FOLDER, e.g. 1=demo-seed1")
        runs[int(seed)] = Path(folder)
    result = spread(runs, args.machine)
    args.out.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    for name in result["order"]:
        print(f"{name:<18} " + "  ".join(result["readme_table"][name]))
    print("\n".join(result["claims"]))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
