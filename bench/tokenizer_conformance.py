"""How many sentences of the conformance corpus radzoo's ``simple`` tokenizer splits differently from
pycocoevalcap's PTBTokenizer (Stanford CoreNLP 3.4.1; needs java). One Java process for the whole corpus.

Run: python bench/tokenizer_conformance.py --stage after   (writes bench/results/tokenizer_conformance.json,
keeping the figures of the other stage; ``--stage before`` was run on the tokenizer before the PTB port)
"""

from __future__ import annotations

import argparse
import json
import subprocess
import time
from pathlib import Path

from radzoo.plugins.evaluators.tokenization import simple_tokenize, tokenize

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "tests" / "data" / "tokenizer_corpus.txt"
RESULT = ROOT / "bench" / "results" / "tokenizer_conformance.json"


def differences(lines: list[str]) -> list[dict[str, str]]:
    """Every line whose ``simple`` tokens differ from PTB's, with both tokenisations."""
    ptb = tokenize(lines, "ptb")
    ours = [simple_tokenize(line) for line in lines]
    return [{"text": t, "ptb": p, "simple": s} for t, p, s in zip(lines, ptb, ours) if p != s]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stage", choices=("before", "after"), default="after")
    args = parser.parse_args()
    lines = CORPUS.read_text(encoding="utf-8").splitlines()
    start = time.perf_counter()
    diff = differences(lines)
    seconds = time.perf_counter() - start
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
    result = json.loads(RESULT.read_text()) if RESULT.exists() else {}
    result["corpus"] = {"path": str(CORPUS.relative_to(ROOT)), "sentences": len(lines)}
    result[args.stage] = {"commit": commit.stdout.strip(), "differing_sentences": len(diff),
                          "seconds_ptb_and_simple": round(seconds, 2), "examples": diff[:15]}
    RESULT.parent.mkdir(parents=True, exist_ok=True)
    RESULT.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"{args.stage}: {len(diff)} of {len(lines)} sentences tokenise differently from PTB ({seconds:.1f} s)")
    print(f"wrote {RESULT}")


if __name__ == "__main__":
    main()
