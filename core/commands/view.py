"""Write (or rebuild) a comparison's HTML viewer, OUT/viewer/index.html, and print its path.

No server and no CDN: open the page in a browser, also from file:// on an offline machine. The reports and images
load a page at a time from OUT/viewer/data/ and OUT/viewer/images/: keep the viewer folder together.
Example, after `radzoo demo --out radzoo-demo`: radzoo view OUT with OUT = radzoo-demo
"""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("out", metavar="OUT", help="a comparison folder (radzoo compare --out / radzoo demo --out)")


def run(args: argparse.Namespace) -> int:
    from radzoo.comparison.viewer import build_viewer  # start-up time: radzoo --help imports every command

    print(build_viewer(args.out))
    return 0
