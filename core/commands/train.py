"""Train a recipe's stages in order (Lightning) and save a run directory: recipe.yaml + model.safetensors.

Example: radzoo train demo/llava-rad --out runs/demo data.path=data/synthetic (add --resume to continue an
interrupted run)
"""

from __future__ import annotations

import argparse
import sys

from radzoo.commands.threads_option import add_threads_option, thread_count


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("recipe", help="recipe path or bundled name (e.g. demo/llava-rad)")
    parser.add_argument("overrides", nargs="*", help="key=value recipe overrides (e.g. stages.0.max_steps=20)")
    parser.add_argument("--out", required=True, help="run directory to write (recipe, weights, checkpoints, logs)")
    parser.add_argument("--resume", action="store_true",
                        help="continue the run in --out from its last checkpoint (same recipe and overrides)")
    parser.add_argument("--stop-after-steps", type=int, default=None, metavar="N",
                        help="stop (checkpointed, resumable) after N optimizer steps in all")
    add_threads_option(parser)
    parser.add_argument("--init", default=None, metavar="RUN",
                        help="start from this run's weights (continued fine-tuning); the recipe's components "
                             "must be the run's")


def run(args: argparse.Namespace) -> int:
    from radzoo.api import train  # start-up time: radzoo --help imports every command

    try:  # radzoo.api.train checks the recipe and reads the data before torch loads
        result = train(args.recipe, args.out, resume=args.resume, overrides=args.overrides,
                       stop_after_steps=args.stop_after_steps, init=args.init, threads=thread_count(args))
    except KeyboardInterrupt as stop:
        # training.pipeline.TrainingInterrupted (importing it would load torch before the checks): checkpointed
        if not hasattr(stop, "run_dir"):  # a Ctrl-C before training began: nothing to resume
            raise
        print(f"radzoo train: interrupted; checkpoint saved in {stop.run_dir}: rerun the same command with "
              "--resume to continue", file=sys.stderr)
        return 130
    from lightning.pytorch.utilities import rank_zero_only  # loaded by training already: no start-up cost

    if rank_zero_only.rank == 0:
        for stage in result.stages:
            print(f"{stage.name:>18}: {stage.steps} steps, loss {stage.start_loss:.4f} -> {stage.end_loss:.4f}, "
                  f"{stage.samples / max(stage.seconds, 1e-9):.1f} samples/s")
        state = "stopped early (rerun with --resume to continue)" if result.stopped_early else "done"
        print(f"{state}: {result.run_dir}")
    return 0
