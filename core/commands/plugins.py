"""List every registered component (kind, name, plugin, version, description, license), after radzoo's version and
each plugin package's."""

from __future__ import annotations

import argparse
import json

from radzoo import __version__
from radzoo.hookspecs import KIND_HOOKS


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument("--kind", choices=list(KIND_HOOKS), help="only this kind")


def run(args: argparse.Namespace) -> int:
    from radzoo.components.discovery import get_plugins  # start-up time: radzoo --help imports every command

    plugins = get_plugins()
    rows = [spec.as_dict() for kind, registry in plugins.registries.items() if args.kind in (None, kind)
            for spec in registry]
    failures = [{"plugin": f.plugin, "package": f.package, "stage": f.stage, "error": f.error}
                for f in plugins.failures]
    packages = {row["package"] or "radzoo": row["version"] for row in rows}
    if args.json:
        print(json.dumps({"radzoo_version": __version__, "packages": packages, "components": rows,
                          "failures": failures}, indent=2))
        return 0
    print(f"radzoo {__version__}; plugin packages: "
          + ", ".join(f"{name} {version}" for name, version in sorted(packages.items())))
    from rich.console import Console
    from rich.table import Table

    table = Table(title="radzoo components")
    for column in ("kind", "name", "plugin", "version", "description", "license"):
        table.add_column(column, overflow="fold")
    for row in rows:
        plugin = row["plugin"] if row["package"] in ("", "radzoo") else f"{row['plugin']} ({row['package']})"
        table.add_row(row["kind"], row["name"], plugin, row["version"], row["description"], row["license"])
    console = Console(width=max(Console().width, 140))
    console.print(table)
    for failure in plugins.failures:
        console.print(f"[red]failed:[/red] {failure}", markup=True, highlight=False)
    return 0
