"""The offline demo: synthetic CXRs, a shared encoder pre-training, the three demo recipes compared with two
reference rows (5 to 10 minutes on two CPU cores, no downloads). Rerun to resume.

Example: radzoo demo --out radzoo-demo
"""

from __future__ import annotations

import argparse
from pathlib import Path

from radzoo import cpu_kernels
from radzoo.commands.threads_option import thread_count
from radzoo.errors import InputError, OutputExistsError

MIN_STUDIES = 10  # the synthetic set's every 10th study is a test study: fewer leave nothing to score


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", default="radzoo-demo", help="output folder (default: radzoo-demo)")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch CPU threads (default 1: tiny models gain little from more, and lose much "
                             "when the cores are busy; 0 leaves torch's default)")
    parser.add_argument("--studies", type=int, default=None, help="synthetic studies (default 3000)")
    parser.add_argument("--seed", type=int, default=0,
                        help="training seed: the encoder pre-training's and every recipe's initial weights and "
                             "batch order (default 0, the README's table); the synthetic set stays the same")
    parser.add_argument("--kernels", choices=cpu_kernels.KERNELS, default=cpu_kernels.DEFAULT_KERNELS,
                        help="CPU code paths: portable (default) gives the README's figures bit for bit on any x86-64 "
                             "CPU with AVX2 (torch's AVX2 kernels, MKL's COMPATIBLE branch, no oneDNN, no AVX-512 "
                             "in numpy); native lets torch, MKL and numpy pick this CPU's fastest (figures may "
                             "move by up to the seed spread)")
    parser.add_argument("--multi-image", action="store_true",
                        help="compare the frontal-only demo-llava-rad with demo-multi-image (frontal, lateral, prior "
                             "image and report) on synthetic studies with laterals and priors, scored against "
                             "reports that state the changes (longer than the default demo)")


def run(args: argparse.Namespace) -> int:
    threads = thread_count(args)  # checked before anything loads: a typo is answered at once
    cpu_kernels.pin(args.kernels)  # before torch and numpy load: they read the pins when they load
    if args.studies is not None and args.studies < MIN_STUDIES:
        raise InputError(f"--studies {args.studies}: the demo needs at least {MIN_STUDIES} (one in ten is a test "
                         "study); leave it out for the full 3,000")
    if Path(args.out).exists() and not Path(args.out).is_dir():
        raise OutputExistsError(f"--out {args.out}: a file is there; choose a folder (it is created, or resumed)")
    from rich.console import Console

    from radzoo.comparison.console import print_leaderboard  # start-up time: radzoo --help imports every command
    from radzoo.comparison.demo import DEMO_RECIPES, MULTI_IMAGE_RECIPES, DemoSize, run_demo, verdict

    size = DemoSize(multi_image=args.multi_image, **({} if args.studies is None else {"studies": args.studies}))
    result = run_demo(args.out, size=size, threads=threads,
                      recipes=MULTI_IMAGE_RECIPES if args.multi_image else DEMO_RECIPES, seed=args.seed,
                      kernels=args.kernels)
    print_leaderboard(result.rows, result.headline, result.files)
    console = Console()
    for line in verdict(result.rows, result.headline):
        console.print(line, highlight=False, soft_wrap=True)
    console.print(f"Read {result.files['md']} for every metric; README.md explains the columns.", highlight=False,
                  soft_wrap=True)
    return 0
