"""Show a recipe fully resolved (bases merged, overrides applied), or list the bundled recipes."""

from __future__ import annotations

import argparse

from radzoo.errors import InputError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=["show", "list"], help="show RECIPE, or list bundled recipes")
    parser.add_argument("recipe", nargs="?", help="recipe path or bundled name (e.g. llava-rad, demo/slava-cxr)")
    parser.add_argument("overrides", nargs="*", help="key=value overrides (a mapping value replaces the node)")


def run(args: argparse.Namespace) -> int:
    # start-up time: radzoo --help imports every command
    from radzoo.recipe.load import bundled_recipe_names, load_recipe, recipe_hash, recipe_to_yaml

    if args.action == "list":
        names = bundled_recipe_names()
        width = max(map(len, names))
        for name in names:  # one line each: the name first, so `radzoo recipe list | cut -d' ' -f1` gives names
            cfg = load_recipe(name, check_names=False)
            paper = f" [{cfg.paper}]" if cfg.paper else ""
            print(f"{name:<{width}}  {cfg.description}{paper}".rstrip())
        return 0
    if not args.recipe:
        raise InputError("recipe show needs a RECIPE (a path or a bundled name; `radzoo recipe list` lists them)")
    cfg = load_recipe(args.recipe, args.overrides)
    print(f"# recipe hash: {recipe_hash(cfg)}")
    print(recipe_to_yaml(cfg), end="")
    return 0
