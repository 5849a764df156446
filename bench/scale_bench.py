"""How radzoo's cost grows with the test set: `evaluate`, `compare`'s scoring and leaderboard, `radzoo view` and the
viewer's load in headless Chromium, at N test studies x SYSTEMS systems.

No model runs: the test studies are the synthetic generator's (its test split: study 9, 19, 29, ...), and each
system's predictions are the references with controlled errors (system s swaps in another study's report for
5% + 5%*s of the studies and drops the last sentence of half as many). Every step runs in a fresh child process,
so its peak RSS is its own (the process' ru_maxrss, Python and imports included).

    python bench/scale_bench.py                        # N = 300, 3,000, 30,000 x 8 systems
    python bench/scale_bench.py --sizes 300 3000       # the small points only
    python bench/scale_bench.py --sizes 30000 --merge  # add one point to the results already written

Writes bench/results/scale_bench.json and docs/scale_curves.png. The prepared studies and predictions are kept
under --work (delete it afterwards: 30,000 studies are ~60,000 small files).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from viewer_bench import browser  # noqa: E402  (a sibling bench script, not a package)

RESULTS = Path(__file__).parent / "results" / "scale_bench.json"
PLOT = Path(__file__).parents[1] / "docs" / "scale_curves.png"
IMAGE_PX = 128  # the synthetic generator's default size
IMAGE_POOL = 1000  # studies drawn; the others reuse these images (see prepare)
BOOTSTRAP = 500  # `radzoo evaluate`'s default resamples (compare's come from the demo recipes' evaluation section)
LOADS = 3  # cold page loads per size
# (what the bench does, the select's id, the value chosen): each timed from the change to the new cards on screen
ACTIONS = (("filter: reference has Pleural Effusion", "f-finding", "Pleural Effusion"),
           ("filter: any two systems disagree", "f-disagree", "all"),
           ("sort: disagreement between systems", "sort-key", "disagreement"),
           ("sort: first system's bleu_4", "sort-key", '["sys0","bleu_4"]'),
           ("clear the filters and sort", None, None))


def log(message: str) -> None:
    print(message, flush=True)


# ---- preparation (untimed, cached) -------------------------------------------------------------------------------

def prepare(work: Path, n: int, systems: int) -> Path:
    """Test studies (studies.jsonl, images/) and every system's predictions under ``work/n``; kept between runs.

    Study k is the generator's study 10k+9 (its test split): its findings, report and indication exactly as
    ``render_study`` makes them. Drawing is what makes the generator slow (~10,000 images a minute on an idle
    core), so only the first IMAGE_POOL studies are drawn and the others show one of those images; the viewer
    still writes one image per study, as it would for real data."""
    from PIL import Image

    from radzoo.data.synthetic import render_study
    from radzoo.data.synthetic.findings import sample_truth
    from radzoo.data.synthetic.reports import write_indication, write_report

    folder = work / str(n)
    done = folder / "prepared.json"
    if done.is_file() and json.loads(done.read_text()) == {"n": n, "systems": systems}:
        return folder
    (folder / "images").mkdir(parents=True, exist_ok=True)
    began, studies = time.perf_counter(), []
    for k in range(n):
        index = 10 * k + 9  # the generator's test split
        image = folder / "images" / f"syn{10 * (k % IMAGE_POOL) + 9:06d}.png"
        if k < IMAGE_POOL:
            s = render_study(index, image_size=IMAGE_PX)
            Image.fromarray(s.pixels, mode="L").save(image)
            report, indication = s.report, s.indication
        else:  # render_study's own random streams, without the drawing
            truth = sample_truth(np.random.default_rng([0, index, 20260]))
            text_rng = np.random.default_rng([0, index, 7])
            report = write_report(truth, text_rng)
            indication = write_indication(truth, text_rng)
        studies.append({"id": f"syn{index:06d}", "image": str(image), "report": report, "indication": indication})
        if k % 5000 == 4999:
            log(f"  prepared {k + 1} of {n} studies ({time.perf_counter() - began:.0f} s)")
    (folder / "studies.jsonl").write_text("".join(json.dumps(s) + "\n" for s in studies))
    rng = np.random.default_rng(0)
    references = [s["report"] for s in studies]
    for system in range(systems):
        rate = 0.05 + 0.05 * system
        swapped = rng.random(n) < rate
        cut = rng.random(n) < rate / 2
        others = rng.integers(0, n, n)
        lines = []
        for i, study in enumerate(studies):
            text = references[others[i]] if swapped[i] else references[i]
            if cut[i] and ". " in text.strip():
                text = text.strip().rsplit(". ", 1)[0] + "."
            lines.append(json.dumps({"id": study["id"], "prediction": text}) + "\n")
        run = folder / "out" / "runs" / f"sys{system}-bench"
        run.mkdir(parents=True, exist_ok=True)
        (run / "predictions.jsonl").write_text("".join(lines))
    done.write_text(json.dumps({"n": n, "systems": systems}))
    log(f"  prepared N={n}: {time.perf_counter() - began:.0f} s")
    return folder


def read_prepared(folder: Path) -> tuple[list, dict[str, dict[str, str]]]:
    """(Study list, system name -> study id -> prediction) of a prepared size."""
    from radzoo.comparison.viewer.comparison_files import row_predictions as read_predictions
    from radzoo.data.study import Study

    studies = [Study(id=r["id"], image=r["image"], report=r["report"], indication=r["indication"])
               for r in map(json.loads, (folder / "studies.jsonl").read_text().splitlines())]
    runs = sorted((folder / "out" / "runs").glob("sys*-bench"), key=lambda p: int(p.name[3:].split("-")[0]))
    return studies, {run.name.removesuffix("-bench"): read_predictions(run / "predictions.jsonl") for run in runs}


# ---- the steps, each in a child process ----------------------------------------------------------------------------

def step_evaluate(folder: Path) -> dict:
    """`radzoo evaluate`'s work on one system (the default metrics, BOOTSTRAP resamples); the bootstrap's share
    is timed inside the same call (the rest is each evaluator's per-sample statistics and its aggregate)."""
    from radzoo.evaluation import pipeline

    studies, predictions = read_prepared(folder)
    refs, preds = [s.report for s in studies], [predictions["sys0"][s.id] for s in studies]
    boot = {"s": 0.0, "cpu_s": 0.0}
    bootstrap_ci = pipeline.bootstrap_ci

    def timed_bootstrap(*args, **kwargs):
        began, cpu = time.perf_counter(), time.process_time()
        try:
            return bootstrap_ci(*args, **kwargs)
        finally:
            boot["s"] += time.perf_counter() - began
            boot["cpu_s"] += time.process_time() - cpu

    pipeline.bootstrap_ci = timed_bootstrap
    began = time.perf_counter()
    pipeline.evaluate(preds, refs, bootstrap=BOOTSTRAP)
    total_s = time.perf_counter() - began
    return {"seconds": round(total_s, 2), "sample_stats_s": round(total_s - boot["s"], 2),
            "bootstrap_s": round(boot["s"], 2), "bootstrap_cpu_s": round(boot["cpu_s"], 2), "resamples": BOOTSTRAP}


def step_compare(folder: Path) -> dict:
    """compare's scoring and leaderboard with the predictions given: every system through the evaluators with
    bootstrap CIs, the paired tests against the best row, the leaderboard files, plots and evaluation.json."""
    from radzoo.comparison import pipeline
    from radzoo.comparison.layout import ManifestRow, write_manifest
    from radzoo.comparison.scoring import SystemOutput, score_systems
    from radzoo.evaluation.pipeline import DEFAULT_METRICS
    from radzoo.recipe.load import load_recipe

    studies, predictions = read_prepared(folder)
    out = folder / "out"
    systems = [SystemOutput(name, "learned", preds, "synthetic predictions with controlled errors", "–",
                            folder=out / "runs" / f"{name}-bench") for name, preds in predictions.items()]
    resamples = int(load_recipe("demo/llava-rad").evaluation.bootstrap_samples)
    began = time.perf_counter()
    rows, results, samples = score_systems(systems, [s.id for s in studies], [s.report for s in studies],
                                           DEFAULT_METRICS, bootstrap=resamples,
                                           paired_resamples=pipeline.PAIRED_RESAMPLES)
    scored_s = time.perf_counter() - began
    pipeline._rank(rows, pipeline.DEFAULT_HEADLINE)
    pipeline._write_outputs(systems, rows, results, samples, pipeline.DEFAULT_HEADLINE, out,
                            {"test_set": f"{len(studies)} synthetic test studies (scale bench)"})
    # the viewer finds each row's folder through the manifest; the bench passes its studies, so no data section
    write_manifest(out, [ManifestRow(s.name, s.kind, s.folder, s.weights_from) for s in systems], {}, "test")
    return {"seconds": round(time.perf_counter() - began, 2), "scoring_s": round(scored_s, 2),
            "resamples": resamples, "paired_resamples": pipeline.PAIRED_RESAMPLES}


def step_view(folder: Path, out: Path | None = None) -> dict:
    """`radzoo view`: the page, its shard scripts and the study images."""
    from radzoo.comparison.viewer import build_viewer

    studies, _ = read_prepared(folder)
    began = time.perf_counter()
    page = build_viewer(out or folder / "out", studies)
    seconds = time.perf_counter() - began
    shards = list((page.parent / "data").glob("studies-*.js"))
    images = list((page.parent / "images").iterdir())
    return {"seconds": round(seconds, 2), "page_bytes": page.stat().st_size, "shards": len(shards),
            "shard_bytes": sum(p.stat().st_size for p in shards), "image_files": len(images),
            "image_bytes": sum(p.stat().st_size for p in images)}


STEPS = {"evaluate": step_evaluate, "compare": step_compare, "view": step_view}


def run_child(step: str, folder: Path) -> dict:
    """One step in a fresh process: its figures plus the process' peak RSS."""
    command = [sys.executable, __file__, "--child", step, "--folder", str(folder)]
    done = subprocess.run(command, capture_output=True, text=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
    if done.returncode != 0:
        raise SystemExit(f"{step} on {folder} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def child(step: str, folder: Path) -> None:
    cpu = time.process_time()
    figures = STEPS[step](folder)
    # CPU seconds move much less than wall seconds with the other jobs on a shared machine
    figures["cpu_s"] = round(time.process_time() - cpu, 2)
    figures["peak_rss_mib"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    print(json.dumps(figures))


# ---- the page in Chromium ---------------------------------------------------------------------------------------

OPEN_TIMES = """const done = arguments[arguments.length - 1];
const check = () => {
  const ready = performance.getEntriesByName('viewer-ready')[0];
  if (!ready) return setTimeout(check, 20);
  const paint = performance.getEntriesByName('first-contentful-paint')[0];
  const nav = performance.getEntriesByType('navigation')[0];
  done({first_contentful_paint_ms: paint ? paint.startTime : null, viewer_ready_ms: ready.startTime,
        load_event_ms: nav.loadEventEnd, cards: document.querySelectorAll('#cards .card').length,
        js_heap_mib: performance.memory ? performance.memory.usedJSHeapSize / 2 ** 20 : null});
};
check();"""

# change one control (or reset them all); ms: until the first screenful of new cards is in the page (the viewer
# builds 6 cards at once, the rest of the page's 50 in the tasks after); whole_page_ms: all 50 and a frame
ACT = """const [id, value, done] = arguments;
const cards = document.getElementById('cards');
const began = performance.now();
if (id === null) {
  for (const s of document.querySelectorAll('#filters select')) s.selectedIndex = 0;
  document.getElementById('f-finding').dispatchEvent(new Event('change', {bubbles: true}));
} else {
  const select = document.getElementById(id);
  select.value = value;
  select.dispatchEvent(new Event('change', {bubbles: true}));
}
const wait = () => cards.getAttribute('aria-busy') === 'false'
  ? requestAnimationFrame(() => done({ms: view.firstScreenAt - began, whole_page_ms: performance.now() - began,
                                      shown: document.getElementById('count').textContent}))
  : setTimeout(wait, 5);
wait();"""


def page_times(page: Path) -> dict:
    """Cold loads (a fresh browser each): first paint, first cards, load event; then each filter/sort action."""
    loads, actions = [], []
    for attempt in range(LOADS):
        driver = browser()
        try:
            driver.set_script_timeout(120)
            driver.get(page.as_uri())
            loads.append(driver.execute_async_script(OPEN_TIMES))
            if attempt == 0:
                for name, control, value in ACTIONS:
                    actions.append({"action": name, **driver.execute_async_script(ACT, control, value)})
        finally:
            driver.quit()
    median = {key: round(float(np.median([x[key] for x in loads])), 1) for key in
              ("first_contentful_paint_ms", "viewer_ready_ms", "load_event_ms")}
    return {"cold_loads": loads, **{f"{k}_median": v for k, v in median.items()}, "actions": actions,
            "slowest_action_ms": round(max(a["ms"] for a in actions), 1),
            "slowest_action_whole_page_ms": round(max(a["whole_page_ms"] for a in actions), 1)}


# ---- the plot ------------------------------------------------------------------------------------------------

def plot(points: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    def series(ax, get, **style) -> None:
        """One line over the sizes that have the figure (a late size may lack a step)."""
        shown = [(p["n"], get(p)) for p in points if _has(p, get)]
        if shown:
            ax.plot(*zip(*shown), marker="o", **style)

    fig, (time_ax, mem_ax, page_ax) = plt.subplots(1, 3, figsize=(15, 4.4))
    # CPU seconds: on a machine shared with other jobs, wall seconds say more about them than about radzoo
    series(time_ax, lambda p: p["evaluate"]["cpu_s"], label="evaluate (1 system, bootstrap included)")
    series(time_ax, lambda p: p["evaluate"]["bootstrap_cpu_s"], label="evaluate: its bootstrap (500 resamples)")
    series(time_ax, lambda p: p["compare"]["cpu_s"], label=f"compare: scoring + leaderboard ({points[0]['systems']} "
           "systems)")
    series(time_ax, lambda p: p["view"]["cpu_s"], label="radzoo view")
    ns = [p["n"] for p in points]
    first = next((p["evaluate"]["cpu_s"] for p in points if "cpu_s" in p.get("evaluate", {})), None)
    if first:
        time_ax.plot([min(ns), max(ns)], [first, first * max(ns) / min(ns)], ls=":", color="grey",
                     label="linear (from evaluate's first point)")
    time_ax.set(xscale="log", yscale="log", xlabel="test studies", ylabel="CPU seconds", title="time")
    for step in ("evaluate", "compare", "view"):
        series(mem_ax, lambda p, step=step: p[step]["peak_rss_mib"] / 1024, label=step)
    mem_ax.axhline(4, ls="--", color="red", label="4 GB goal (compare)")
    mem_ax.set(xscale="log", xlabel="test studies", ylabel="peak RSS (GiB)", title="memory")
    series(page_ax, lambda p: p["page"]["first_contentful_paint_ms_median"], label="first paint")
    series(page_ax, lambda p: p["page"]["viewer_ready_ms_median"], label="first cards")
    series(page_ax, lambda p: p["page"]["slowest_action_ms"], label="slowest filter/sort (first screen)")
    page_ax.axhline(2000, ls="--", color="red", label="2 s goal (open)")
    page_ax.axhline(200, ls=":", color="red", label="200 ms goal (filter/sort)")
    page_ax.set(xscale="log", xlabel="test studies", ylabel="ms", title="viewer in headless Chromium")
    for ax in (time_ax, mem_ax, page_ax):
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.suptitle("radzoo at scale (synthetic predictions; 2 CPU cores shared with other jobs, load averages in "
                 "bench/results/scale_bench.json)", fontsize=10)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)


def _has(point: dict, get) -> bool:
    try:
        get(point)
    except KeyError:
        return False
    return True


def write_point(out: Path, point: dict, keep: bool) -> list[dict]:
    """Add ``point`` to the results (replacing one of the same N; with ``keep``, the others stay), reading the
    file again just before, so that two runs of different sizes can share it; returns every point."""
    old = json.loads(out.read_text())["points"] if keep and out.is_file() else []
    same = [p for p in old if p["n"] == point["n"]]
    merged = {**same[0], **point} if same else point  # steps run apart for one size join
    points = sorted([p for p in old if p["n"] != point["n"]] + [merged], key=lambda p: p["n"])
    result = {"machine": f"{platform.machine()}, {os.cpu_count()} CPUs shared with 7 other engineers' jobs",
              "python": platform.python_version(), "image_px": IMAGE_PX,
              "note": "each step's peak RSS is its own process' (ru_maxrss); load averages beside each point",
              "points": points}
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1) + "\n")
    return points


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", type=int, default=[300, 3000, 30000])
    parser.add_argument("--systems", type=int, default=8)
    parser.add_argument("--work", type=Path, default=Path("/tmp/radzoo-scale-bench"))
    parser.add_argument("--merge", action="store_true", help="keep the sizes already in the results file")
    parser.add_argument("--steps", nargs="+", default=["evaluate", "compare", "view", "page"],
                        choices=["evaluate", "compare", "view", "page"])
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--plot-only", action="store_true", help="redraw docs/scale_curves.png from the results")
    parser.add_argument("--child", choices=sorted(STEPS), help=argparse.SUPPRESS)
    parser.add_argument("--folder", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(args.child, args.folder)
    if args.plot_only:
        return plot(json.loads(args.out.read_text())["points"], PLOT)
    points: list[dict] = []
    for n in args.sizes:
        log(f"N = {n} x {args.systems} systems")
        folder = prepare(args.work, n, args.systems)
        point = {"n": n, "systems": args.systems, "load_average_before": [round(x, 2) for x in os.getloadavg()]}
        for step in args.steps:
            if step == "page":
                view = folder / "out" / "viewer" / "index.html"
                point["page"] = page_times(view)
                log(f"  page: first paint {point['page']['first_contentful_paint_ms_median']} ms, first cards "
                    f"{point['page']['viewer_ready_ms_median']} ms, slowest action "
                    f"{point['page']['slowest_action_ms']} ms")
            else:
                point[step] = run_child(step, folder)
                log(f"  {step}: {point[step]}")
            point["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
            points = write_point(args.out, point, keep=args.merge)  # after every step: a late one may not finish
            args.merge = True  # the next step and size join these
    plot(points, PLOT)
    log(f"wrote {args.out} and {PLOT}")


if __name__ == "__main__":
    main()
