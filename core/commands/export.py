"""Export a trained run: merge LoRA into the LM and write a standard transformers directory.

OUT holds llm/ (save_pretrained of the merged LM + tokenizer), model.safetensors (encoder and adapter
weights) and recipe.yaml; `radzoo generate OUT --data ...` runs from it with the same greedy outputs.
"""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_dir", metavar="RUN_DIR", help="run directory written by `radzoo train`")
    parser.add_argument("--out", required=True, metavar="DIR", help="new directory to write the export to")


def run(args: argparse.Namespace) -> int:
    from radzoo.export import export_run

    out = export_run(args.run_dir, args.out)
    print(f"exported {args.run_dir} -> {out} (LM in {out / 'llm'}; run `radzoo generate {out} --data ...`)")
    return 0
