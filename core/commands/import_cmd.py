"""Import a published release (LLaVA-Rad, CXR-LLaVA, SLaVA-CXR, MAIRA-2, transformers LLaVA) as a run directory.

SRC is the directory `hf download` wrote. The run directory (--out) loads like any trained run:
`radzoo generate RUN --data ...`, `radzoo evaluate`, `radzoo compare run:RUN ...`, `radzoo export RUN`.
Nothing is downloaded and no remote code runs; weights keep their released dtype unless --dtype.
Conformance (docs/CONFORMANCE.md): cxr-llava and slava-cxr give the official code's greedy reports on replicas
(6/6); maira-2 matches Microsoft's model and processor code, but its chat template text is NOT verified against
upstream (not public), nor is a slava-cxr release already in Phi's q_proj/k_proj/v_proj form.
llava-rad is verified against microsoft/LLaVA-Rad's own code, run (prompt ids, pixels, logits, greedy ids, 6/6);
llava-hf is checked against transformers live, with no committed golden (unverified as a golden).
"""

from __future__ import annotations

import argparse

from radzoo.runs.importers import FORMATS, import_release


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("format", metavar="FORMAT", choices=list(FORMATS), help=f"one of {', '.join(FORMATS)}")
    parser.add_argument("src", metavar="SRC", help="the release's local directory (as `hf download` leaves it)")
    parser.add_argument("--out", required=True, metavar="RUN", help="new run directory to write")
    parser.add_argument("--base-llm", metavar="DIR",
                        help="the base LLM directory a LoRA-only release needs (llava-rad: Vicuna-7B v1.5)")
    parser.add_argument("--dtype", choices=("fp32", "fp16", "bf16"),
                        help="store the weights in this dtype (default: as released)")


def run(args: argparse.Namespace) -> int:
    out = import_release(args.format, args.src, args.out, base_llm=args.base_llm, dtype=args.dtype)
    print(f"imported {args.format} {args.src} -> {out} (provenance in {out / 'provenance.json'}; "
          f"run `radzoo generate {out} --data ... --out preds.jsonl`)")
    return 0
