"""Generate a report per study into a resumable JSONL file (batched, left-padded, KV cache).

RECIPE_OR_RUN is a recipe (path or bundled name: its untrained model), a run directory from `radzoo train`,
or a directory from `radzoo export`. Data: --data PATH read with --format (default: the recipe's
data.format; e.g. synthetic for a directory made by `radzoo data synthetic`, csv, llava-json); without
--data the recipe's own `data` section is used. Rerunning the same command resumes where it stopped.
"""

from __future__ import annotations

import argparse
import sys

from radzoo.errors import InputError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("source", metavar="RECIPE_OR_RUN", help="recipe path/name, run directory or export directory")
    parser.add_argument("overrides", nargs="*", help="key=value recipe overrides, e.g. generation.max_new_tokens=128")
    parser.add_argument("--checkpoint", metavar="RUN_DIR", help="trained run (or export) directory with the weights")
    parser.add_argument("--data", metavar="PATH", help="data set file or directory (default: recipe data.path)")
    parser.add_argument("--format", dest="data_format", metavar="READER",
                        help="reader for --data: synthetic, csv, llava-json, mimic-cxr, chexpert-plus, iu-xray "
                             "(default: the recipe's data.format)")
    parser.add_argument("--image-root", metavar="DIR", help="directory image paths in the data are relative to")
    parser.add_argument("--split", default="test", help="split to generate for (default: test; 'all' for every study)")
    parser.add_argument("--out", required=True, metavar="PREDS.jsonl", help="output JSONL (appended to; resumable)")
    parser.add_argument("--batch-size", type=int, help="studies per batch (default: recipe generation.batch_size)")
    parser.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N (default: cpu)")
    parser.add_argument("--dtype", default="fp32", choices=("fp32", "bf16", "fp16"), help="weights dtype")
    parser.add_argument("--rank", type=int, help="this process's shard (default: $RANK under torchrun, else 0)")
    parser.add_argument("--world-size", type=int,
                        help="number of shards (default: $WORLD_SIZE, else 1); rank 0 merges the shard files "
                             "into --out once all exist (rerun rank 0 to merge late shards)")


def _data_overrides(args: argparse.Namespace) -> list[str]:
    extra = []
    if args.data:
        extra.append(f"data.path={args.data}")
    if args.data_format:
        extra.append(f"data.format={args.data_format}")
    if args.image_root:
        extra.append(f"data.image_root={args.image_root}")
    return extra


def run(args: argparse.Namespace) -> int:
    from radzoo.generate import generate

    if (args.rank is None) != (args.world_size is None):
        raise InputError("pass --rank and --world-size together (or neither: they come from torchrun)")
    result = generate(
        args.source, out=args.out, checkpoint=args.checkpoint, split=None if args.split == "all" else args.split,
        batch_size=args.batch_size, device=args.device, dtype=args.dtype,
        overrides=[*args.overrides, *_data_overrides(args)], rank=args.rank, world_size=args.world_size,
    )
    print(f"{result.out}: {result.generated} reports generated, {result.skipped} already present "
          f"({result.total} studies in this shard)")
    if result.failed:
        study_id, problem = result.failed[0]
        print(f"radzoo generate: error: {len(result.failed)} studies left out (not written), e.g. study {study_id}: "
              f"{problem}; fix or remove them, then rerun the same command to generate just those", file=sys.stderr)
        return 1
    return 0
