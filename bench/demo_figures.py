"""Record a finished demo's README table cells and the versions they were made with.

    python bench/demo_figures.py radzoo-demo [--machine "2 idle cores, ..."]

Reads DEMO/leaderboard.json and writes bench/results/demo_figures.json: each row's README cells (headline with
its CI, p vs best, chexpert_micro_f1_5, BLEU-4, params), its timings, and the installed version of every package
constraints.txt pins. tests/test_demo_figures.py checks the README's demo table and constraints.txt against it,
so the table always says what the pinned set-up gives. The metric cells are seeded and repeat run to run on one
machine and set-up and, with the demo's default portable kernels (recorded from DEMO/kernels.json), on any x86-64
CPU with AVX2; the learned rows move with the training seed (bench/demo_seed_spread.py measures and the README
states by how much) and with --kernels native on another CPU; the timings depend on the machine and its load
(--machine says under which; the README repeats it).
"""

from __future__ import annotations

import argparse
import json
import platform
import re
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CONSTRAINTS = ROOT / "constraints.txt"
OUT = ROOT / "bench" / "results" / "demo_figures.json"
HEADLINE = "chexpert_micro_f1_14"


def pinned(path: Path = CONSTRAINTS) -> dict[str, str]:
    """Package -> version pinned in a constraints file (``name==version`` lines)."""
    pins = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        match = re.match(r"^([A-Za-z0-9_.\-]+)==(\S+)", line.strip())
        if match:
            pins[match.group(1)] = match.group(2)
    return pins


def p_cell(p: float | None, best: bool) -> str:
    if best:
        return "best"
    return "< 0.001" if p is not None and p < 0.001 else ("–" if p is None else f"{p:.3f}")


def row_cells(row: dict, best: str) -> dict[str, str]:
    """The README table's metric cells of one leaderboard.json row, as the README writes them."""
    head = row["metrics"][HEADLINE]
    headline = f"{head['value']:.3f} [{head['ci_low']:.3f}, {head['ci_high']:.3f}]"
    efficiency = row.get("efficiency") or {}
    params = "–"
    if efficiency.get("params_total") is not None:
        params = f"{efficiency['params_total']:,} ({efficiency['params_trainable']:,})"
    return {
        HEADLINE: f"**{headline}**" if row["name"] == best else headline,
        "p vs best": p_cell(head.get("p_vs_best"), row["name"] == best),
        "chexpert_micro_f1_5": f"{row['metrics']['chexpert_micro_f1_5']['value']:.3f}",
        "BLEU-4": f"{row['metrics']['bleu_4']['value']:.3f}",
        "params (trainable)": params,
    }


def installed_versions() -> dict[str, str | None]:
    """The installed version of every package constraints.txt pins (None: not installed)."""
    versions = {}
    for name in pinned():
        try:
            versions[name] = version(name)
        except PackageNotFoundError:
            versions[name] = None
    return versions


def kernels(demo: Path) -> dict | None:
    """The CPU code paths the demo ran with (its kernels.json; None for a demo made before radzoo recorded them)."""
    path = demo / "kernels.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None


def figures(demo: Path, machine: str) -> dict:
    board = json.loads((demo / "leaderboard.json").read_text(encoding="utf-8"))
    best = board["best"][HEADLINE]
    return {
        "demo": str(demo),
        "machine": machine,
        "python": platform.python_version(),
        "versions": installed_versions(),
        "kernels": kernels(demo),
        "rows": {row["name"]: row_cells(row, best) for row in board["rows"]},
        "order": [row["name"] for row in board["rows"]],
        "timings": {row["name"]: {"train_s": (row.get("efficiency") or {}).get("train_time_s"),
                                  "reports_per_s": (row.get("efficiency") or {}).get("reports_per_s")}
                    for row in board["rows"]},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("demo", type=Path, help="a finished `radzoo demo --out` folder")
    parser.add_argument("--machine", default=f"{platform.machine()}, {platform.system()}",
                        help="where and under what load the demo ran (timings only depend on it)")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    result = figures(args.demo, args.machine)
    args.out.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    for name in result["order"]:
        print(f"{name:<18} " + "  ".join(f"{k}: {v}" for k, v in result["rows"][name].items()))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
