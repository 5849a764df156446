"""Build a recipe's model, print its parameter counts, and run one forward/backward pass on CPU."""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("recipe", help="recipe path or bundled name")
    parser.add_argument("overrides", nargs="*", help="key=value overrides")
    parser.add_argument("--no-smoke", action="store_true", help="build only; skip the forward/backward pass")


def run(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    from radzoo.model.weights_check import check_weights_up_front  # start-up time: --help imports every command
    from radzoo.recipe.load import load_recipe

    cfg = load_recipe(args.recipe, args.overrides)
    check_weights_up_front(cfg)  # missing parts named before the model code (transformers, open_clip) loads

    from radzoo.model.build import build_model  # after the check: it loads torch (seconds) before any error
    from radzoo.model.smoke import smoke_step  # likewise torch

    model = build_model(cfg, source=args.recipe)
    table = Table(title=f"{cfg.name}: {cfg.encoder.name} + {cfg.adapter.name} + {cfg.llm.name}")
    for column in ("part", "parameters", "trainable"):
        table.add_column(column, justify="right" if column != "part" else "left")
    for part, counts in model.parameter_counts().items():
        table.add_row(part, f"{counts['total']:,}", f"{counts['trainable']:,}")
    console = Console()
    console.print(table)
    console.print(f"image tokens per image: {model.image_tokens()}")
    if not args.no_smoke:
        loss = smoke_step(model)
        console.print(f"forward/backward on 2 random images: loss {loss:.4f}, gradients reached "
                      f"{', '.join(model.trainable_parts())}")
    return 0
