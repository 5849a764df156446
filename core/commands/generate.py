"""Generate a report per study into a resumable JSONL file (batched, left-padded, KV cache).

RECIPE_OR_RUN is a recipe (path or bundled name: its untrained model), a run directory from `radzoo train`,
or a directory from `radzoo export`. Data: --data PATH read with --format (default: the recipe's
data.format; e.g. synthetic for a directory made by `radzoo data synth`, csv, llava-json); without
--data the recipe's own `data` section is used. Rerunning the same command resumes where it stopped.

Example: radzoo generate runs/llava-rad --data data/synthetic --out preds.jsonl
One study from files: --image FRONTAL [--lateral L] [--prior-image P --prior-report TEXT] [--indication ...];
the model reads the images and sections its recipe's prompt lists (prompt.images, prompt.prior_report).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from radzoo.commands.compare import check_data_format
from radzoo.commands.threads_option import add_threads_option, thread_count
from radzoo.data.study import Study, StudyImage
from radzoo.errors import InputError, MissingFileError


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
    parser.add_argument("--task", default="findings", choices=("findings", "impression", "vqa"),
                        help="what each study is asked: its findings report (default), its impression from the "
                             "image and findings, or questions about it (one output line per question)")
    parser.add_argument("--image", action="append", metavar="IMAGE",
                        help="one image (repeatable): print its report instead of reading a data set")
    parser.add_argument("--indication", help="with --image: the clinical indication the prompt gives the model")
    parser.add_argument("--lateral", metavar="IMAGE", help="with one --image: the study's lateral view")
    parser.add_argument("--prior-image", metavar="IMAGE", help="with one --image: the prior study's frontal image")
    parser.add_argument("--prior-report", metavar="TEXT", help="with one --image: the prior study's report")
    parser.add_argument("--technique", help="with --image: the TECHNIQUE section (MAIRA-2's prompt uses it)")
    parser.add_argument("--comparison", help="with --image: the COMPARISON section (MAIRA-2's prompt uses it)")
    parser.add_argument("--out", metavar="PREDS.jsonl", help="output JSONL (appended to; resumable); "
                        "required unless --image")
    parser.add_argument("--batch-size", type=int, help="studies per batch (default: recipe generation.batch_size)")
    parser.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N (default: cpu)")
    parser.add_argument("--dtype", default="fp32", choices=("fp32", "bf16", "fp16"), help="weights dtype")
    parser.add_argument("--rank", type=int, help="this process's shard (default: $RANK under torchrun, else 0)")
    parser.add_argument("--world-size", type=int,
                        help="number of shards (default: $WORLD_SIZE, else 1); rank 0 merges the shard files "
                             "into --out once all exist (rerun rank 0 to merge late shards)")
    add_threads_option(parser)


def _check_source(source: str, checkpoint: str | None) -> None:
    """A mistyped run directory is named as such (not answered with recipe names); a recipe's random weights
    are said aloud."""
    import difflib

    from radzoo.recipe.load import bundled_recipe_names  # start-up time: radzoo --help imports every command

    path = Path(source)
    if path.is_dir():
        return
    if not path.is_file() and source.removesuffix(".yaml").removeprefix("recipes/") not in bundled_recipe_names():
        parent = path.parent if path.parent.is_dir() else Path(".")
        runs = [str(parent / d.name) if parent != Path(".") else d.name for d in parent.iterdir() if d.is_dir()]
        close = difflib.get_close_matches(source, runs + bundled_recipe_names(), n=3, cutoff=0.6)
        hint = f" Did you mean {', '.join(close)}?" if close else ""
        raise MissingFileError(f"{source}: no such run directory, recipe file or bundled recipe.{hint} "
                               "Give a directory written by `radzoo train` (or `radzoo export`), or a recipe")
    if checkpoint is None:
        print(f"radzoo generate: warning: {source} is a recipe, not a trained run: its adapter (and LoRA) weights "
              "are random, so the reports are noise; pass a run directory from `radzoo train` (or --checkpoint)",
              file=sys.stderr)


def _image_study(args: argparse.Namespace, image: str) -> Study:
    """The study of an --image: its lateral, prior and sections when given (a model reads the ones its recipe lists)."""
    images = [StudyImage(image), StudyImage(args.lateral, "lateral")] if args.lateral else []
    prior = Study(id="prior", image=args.prior_image or "", report=args.prior_report) \
        if args.prior_image or args.prior_report else None
    sections = {k: v for k, v in (("indication", args.indication), ("technique", args.technique),
                                  ("comparison", args.comparison)) if v}
    return Study(id=image, image=image, indication=args.indication, split="test", images=images, prior=prior,
                 sections=sections)


def _one_image_reports(args: argparse.Namespace) -> int:
    """``--image``: print each image's report (no data set, no output file)."""
    if len(args.image) > 1 and (args.lateral or args.prior_image or args.prior_report):
        raise InputError("--lateral, --prior-image and --prior-report describe one study: give a single --image")
    if args.data or args.out:
        raise InputError("--image prints reports for the given images; leave out --data and --out (or use them "
                         "without --image for a data set)")
    from radzoo.api import check_recipe, set_torch_threads  # start-up time: radzoo --help imports every command

    for image in [*args.image, *filter(None, (args.lateral, args.prior_image))]:  # found before the model loads
        if not Path(image).is_file():
            raise MissingFileError(f"--image {image}: no such file; give the path of a PNG, JPEG or DICOM image")
    check_recipe(args.source, args.overrides, args.checkpoint)
    set_torch_threads(thread_count(args))
    from radzoo.generation.pipeline import ReportGenerator, generation_kwargs, load_model, prepare_model  # torch

    model, recipe = load_model(args.source, args.checkpoint, args.overrides)
    model = prepare_model(model, args.device, args.dtype)
    run = ReportGenerator(model, generation_kwargs(recipe.generation), str(recipe.name))
    studies = [_image_study(args, image) for image in args.image]
    batch = run.prepare(studies)
    for study_id, problem in batch.failed:
        print(f"radzoo generate: error: {study_id}: {problem}", file=sys.stderr)
    if batch.studies:
        for record in run.records(batch.studies, run.generate_ids(batch.inputs)):
            print(record["prediction"] if len(studies) == 1 else f"{record['id']}: {record['prediction']}")
    return 1 if batch.failed else 0


def run(args: argparse.Namespace) -> int:
    from radzoo.api import generate  # start-up time: radzoo --help imports every command

    _check_source(args.source, args.checkpoint)
    if args.image:
        return _one_image_reports(args)
    given = [flag for flag, value in (("--indication", args.indication), ("--lateral", args.lateral),
                                      ("--prior-image", args.prior_image), ("--prior-report", args.prior_report),
                                      ("--technique", args.technique), ("--comparison", args.comparison)) if value]
    if given:
        raise InputError(f"{', '.join(given)} go(es) with --image; a data set's studies carry their own")
    if not args.out:
        raise InputError("generate needs --out PREDS.jsonl for a data set (or --image IMAGE for one report)")
    if (args.rank is None) != (args.world_size is None):
        raise InputError("pass --rank and --world-size together (or neither: they come from torchrun)")
    if args.data_format:
        check_data_format(args.data_format, "--format")
    # radzoo.api.generate checks the recipe and reads the data (split, filters) before torch loads
    result = generate(args.source, args.data, out=args.out, split=args.split, format=args.data_format,
                      image_root=args.image_root, checkpoint=args.checkpoint, overrides=args.overrides,
                      batch_size=args.batch_size, device=args.device, dtype=args.dtype, rank=args.rank,
                      world_size=args.world_size, task=args.task,
                      threads=thread_count(args))
    reports = f"{result.generated} report{'' if result.generated == 1 else 's'}"
    print(f"{result.out}: {reports} generated, {result.skipped} already present "
          f"({result.total} studies in this shard)")
    if result.failed:
        study_id, problem = result.failed[0]
        count = len(result.failed)
        studies = f"{count} stud{'y' if count == 1 else 'ies'}"
        print(f"radzoo generate: error: {studies} left out (not written), e.g. study {study_id}: "
              f"{problem}; fix or remove them, then rerun the same command to generate just those", file=sys.stderr)
        return 1
    return 0
