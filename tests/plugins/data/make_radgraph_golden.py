"""Builds radgraph_golden.json: what the ``radgraph`` package (0.1.18) itself outputs, under the transformers it was
written for (4.57.1), on the tiny random RadGraph model of tests/plugins/tiny_radgraph.py and texts radzoo makes
(synthetic reports and edge cases): each text's annotation and each pair's rewards (simple, partial, complete F1).

Needs a throwaway venv outside the project (radzoo's own venv has transformers 5, which the package cannot run on):
    python3 -m venv /work/upstream/c25-rg
    echo "import site; site.addsitedir('$PWD/.venv/lib/python3.11/site-packages')" \
        > /work/upstream/c25-rg/lib/python3.11/site-packages/zz_base.pth
    /work/upstream/c25-rg/bin/pip install --no-deps transformers==4.57.1 tokenizers==0.22.1 huggingface_hub==0.36.0
    HF_HUB_OFFLINE=1 /work/upstream/c25-rg/bin/python tests/plugins/data/make_radgraph_golden.py
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # tiny_radgraph and report_pairs live beside the tests
from report_pairs import EDGE, synthetic_reports  # noqa: E402
from tiny_radgraph import save_tiny_radgraph  # noqa: E402

SEED, REPORTS = 0, 6


def texts() -> list[str]:
    """The annotated texts: synthetic reports (seed 5), then the edge cases."""
    return synthetic_reports(REPORTS, seed=5) + EDGE


def main() -> None:
    import transformers
    from radgraph import RadGraph
    from radgraph.rewards import compute_reward

    with tempfile.TemporaryDirectory() as root:
        save_tiny_radgraph(Path(root), seed=SEED)
        output = RadGraph(model_type="radgraph", model_cache_dir=root, cuda=-1)(texts())
    annotations = [output[str(i)] for i in range(len(texts()))]
    pairs = [[i, (i + 1) % len(annotations)] for i in range(len(annotations))]  # [hypothesis, reference]
    rewards = [list(compute_reward(annotations[h], annotations[r], "all")) for h, r in pairs]
    out = HERE / "radgraph_golden.json"
    out.write_text(json.dumps({"radgraph": "0.1.18", "transformers": transformers.__version__, "seed": SEED,
                               "texts": "report_pairs.synthetic_reports(6, seed=5) + report_pairs.EDGE",
                               "annotations": annotations, "pairs": pairs, "rewards": rewards}) + "\n",
                   encoding="utf-8")
    entities = sum(len(a["entities"]) for a in annotations)
    relations = sum(len(e["relations"]) for a in annotations for e in a["entities"].values())
    print(f"wrote {out}: {len(annotations)} texts, {entities} entities, {relations} relations")


if __name__ == "__main__":
    main()
