"""ReXrank columns on ~500 REAL IU X-ray report pairs, each checked equal to its reference package run here on the
same weights (tiny random weights of the real architectures: this checks the algorithm, not the weights). The
committed tests run the same checks on synthetic reports; this script adds real text, read from a fetched public
repository (bench/iu_xray_reports.py says how to get it), and writes figures only, never report text.

Pairs: the findings sections of the first 250 distinct non-empty reports by CSV order, each paired with the
reports 1 and 7 places on (500 pairs). Columns:
- bleu_score vs fast-bleu, called as CXR-Report-Metric's add_bleu_col;
- bertscore vs bert-score's BERTScorer as add_bertscore_col calls it (tiny random RoBERTa);
- radgraph_f1_simple/partial/complete vs radgraph.rewards.compute_reward on the package's own annotations from a
  tiny random RadGraph model (radzoo's path: model_path/bert_path staging; the package: its model cache folder;
  under transformers 5 both run with radgraph_compat's tokenizer methods; tests/plugins/test_radgraph_model.py
  checks radzoo against the package under transformers 4.57.1);
- semb_score vs add_semb_col's cosine on the CheXbert [CLS] embeddings (tiny random CheXbert; its embeddings are
  nearly parallel, so the cosines sit close to 1).

Run: HF_HUB_OFFLINE=1 python bench/rexrank_fidelity.py MIRROR_GIT_DIR  (writes bench/results/rexrank_fidelity.json)
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import transformers
from iu_xray_reports import read_rows

from radzoo.evaluation.pipeline import create_evaluator

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "plugins"))  # the tests' tiny builders
from test_chexbert import save_tiny_chexbert  # noqa: E402
from test_rexrank_bleu import fast_bleu_scores  # noqa: E402
from test_rexrank_models import save_tiny_roberta  # noqa: E402
from tiny_radgraph import save_tiny_radgraph  # noqa: E402

TEXTS, OFFSETS = 250, (1, 7)
OUT = Path(__file__).parent / "results" / "rexrank_fidelity.json"


def real_pairs(rows: list[dict]) -> tuple[list[str], list[str]]:
    texts: list[str] = []
    for row in rows:
        findings = (row["findings"] or "").strip()
        if findings and findings not in texts:
            texts.append(findings)
        if len(texts) == TEXTS:
            break
    pairs = [((i + k) % TEXTS, i) for k in OFFSETS for i in range(TEXTS)]
    return [texts[p] for p, _ in pairs], [texts[r] for _, r in pairs]


def check(name: str, ours: np.ndarray, theirs: np.ndarray, table: dict, started: float) -> None:
    ours, theirs = np.asarray(ours, dtype=np.float64), np.asarray(theirs, dtype=np.float64)
    table[name] = {"pairs": len(ours), "max_abs_difference": float(np.abs(ours - theirs).max()),
                   "distinct_values": len(set(np.round(theirs, 9))), "mean": float(theirs.mean()),
                   "seconds": round(time.perf_counter() - started, 1)}
    print(f"{name:22s} {len(ours)} pairs  max |radzoo - reference| {table[name]['max_abs_difference']:.2e}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mirror", help="git directory (bare or checkout) of the repository holding the CSV")
    args = parser.parse_args()
    rows, source = read_rows(args.mirror)
    predictions, references = real_pairs(rows)
    table: dict = {}
    root = Path(tempfile.mkdtemp(prefix="rexrank-fidelity-"))

    started = time.perf_counter()
    ours = create_evaluator("bleu_score", {}).sample_stats(predictions, references)[:, 0]
    check("bleu_score", ours, fast_bleu_scores(predictions, references), table, started)

    from bert_score import BERTScorer

    started = time.perf_counter()
    roberta = save_tiny_roberta(root)
    evaluator = create_evaluator("rexrank_bertscore", {"model_path": str(roberta), "num_layers": 2})
    ours = evaluator.sample_stats(predictions, references)[:, 0]
    scorer = BERTScorer(model_type=str(roberta), num_layers=2, batch_size=256, lang="en", rescale_with_baseline=True,
                        idf=False, baseline_path=evaluator.baseline_path)
    _, _, f1 = scorer.score([re.sub(r" +", " ", p) for p in predictions], [re.sub(r" +", " ", r) for r in references])
    check("bertscore", ours, f1.double().numpy(), table, started)

    from radgraph import RadGraph
    from radgraph.rewards import compute_reward

    started = time.perf_counter()
    model_dir, bert_dir = save_tiny_radgraph(root / "rg")
    stats = create_evaluator("radgraph", {"model_path": str(model_dir), "bert_path": str(bert_dir)}).sample_stats(
        predictions, references)
    package = RadGraph(model_type="radgraph", model_cache_dir=str(model_dir.parent), cuda=-1)
    texts = sorted(set(predictions + references))
    annotated = package(texts)
    by_text = dict(zip(texts, (annotated[str(i)] for i in range(len(texts)))))
    rewards = np.array([compute_reward(by_text[p], by_text[r], "all") for p, r in zip(predictions, references)])
    for column, level in zip((0, 3, 6), ("simple", "partial", "complete")):
        check(f"radgraph_f1_{level}", stats[:, column], rewards[:, column // 3], table, started)

    from radzoo.plugins.evaluators.chexbert import CheXbertLabeler

    started = time.perf_counter()
    (root / "chexbert").mkdir()
    checkpoint, bert = save_tiny_chexbert(root / "chexbert")
    options = {"checkpoint_path": str(checkpoint), "bert_path": str(bert)}
    ours = create_evaluator("semb_score", options).sample_stats(predictions, references)[:, 0]
    labeler = CheXbertLabeler(**options)
    pred, ref = labeler.embed(predictions), labeler.embed(references)
    check("semb_score", ours, (pred * ref).sum(1) / (np.linalg.norm(pred, axis=1) * np.linalg.norm(ref, axis=1)),
          table, started)

    import bert_score
    import fast_bleu  # noqa: F401  (imported by fast_bleu_scores; recorded below)
    import radgraph  # noqa: F401

    result = {"machine": platform.platform(), "cpus": os.cpu_count(), "load_average_1min": round(os.getloadavg()[0], 2),
              "data": {**source, "pairs": len(predictions), "texts": TEXTS, "offsets": list(OFFSETS),
                       "what": "findings sections of IU X-ray (Open-i) reports; no text is stored here"},
              "weights": "tiny random weights of the real architectures, shared by radzoo and the reference",
              "versions": {"transformers": transformers.__version__, "bert_score": bert_score.__version__,
                           "fast_bleu": "0.0.90", "radgraph": "0.1.18"},
              "columns": table}
    OUT.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
