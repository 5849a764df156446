"""Data sets: generate the synthetic CXR set, check a data set (studies per split and view, skipped per
reason), show one study as a model will see it, or synthesise RADEX-style instruction data from public case
descriptions through an LLM endpoint."""

from __future__ import annotations

import argparse
import json
import sys

from radzoo.data.study_summary import study_counts, study_record
from radzoo.errors import InputError, MissingFileError

EXAMPLES = """examples:
  radzoo data synth --n 1000 --out data/synthetic --seed 0 --image-size 64
  radzoo data synth --n 200 --out data/synthetic-multi --multi-image
  radzoo data check --format mimic-cxr --path /data/mimic-cxr-jpg --option views=[PA] --split test
  radzoo data show --format mimic-cxr --path /data/mimic-cxr-jpg --id 50000002 --json
  radzoo data radex /data/cases/cases.jsonl --out data/radex --model gpt-4o --option radex.seed=0
"""
EXAMPLES_PER_REASON = 5  # skipped records listed per reason (the count covers them all)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.epilog, parser.formatter_class = EXAMPLES, argparse.RawDescriptionHelpFormatter
    sub = parser.add_subparsers(dest="data_command", metavar="ACTION", required=True)
    synth = sub.add_parser("synth", help="write a synthetic CXR set (images, reports.csv, llava.json)")
    synth.add_argument("--n", type=int, default=1000, help="number of studies (default 1000)")
    synth.add_argument("--out", required=True, help="output folder")
    synth.add_argument("--seed", type=int, default=0)
    synth.add_argument("--image-size", type=int, default=64,
                       help="image side in pixels (default 64, the demo's size; the real sets' are larger)")
    synth.add_argument("--multi-image", action="store_true",
                       help="also draw lateral views and prior studies, and write report_vs_prior (the report with "
                            "change sentences); the frontal images and reports stay the same")
    check = sub.add_parser("check", help="read a data set and print studies per split and skipped records")
    _source_arguments(check)
    check.add_argument("--option", action="append", default=[], metavar="KEY=VALUE",
                       help="reader option (YAML value), repeatable; every image is opened unless "
                            "verify_images=false")
    show = sub.add_parser("show", help="print one study: images with views, sections, labels and its prior")
    _source_arguments(show)
    show.add_argument("--id", required=True, help="the study's id (mimic-cxr: study_id)")
    show.add_argument("--json", action="store_true", help="print the study as JSON")

    radex = sub.add_parser("radex", help="RADEX-style instruction data (llava-json) from de-identified public "
                                         "case descriptions, through an OpenAI-compatible endpoint")
    radex.add_argument("cases", help="JSONL: one case per line (id, images, text / findings / impression, age, sex)")
    radex.add_argument("--out", required=True, help="output folder: data.json (llava-json) and summary.json")
    radex.add_argument("--model", required=True, help="the model the endpoint serves (OPENAI_BASE_URL, "
                                                      "OPENAI_API_KEY as for the judges)")
    radex.add_argument("--option", action="append", default=[], metavar="radex.KEY=VALUE",
                       help="e.g. radex.base_url=..., radex.api_key_env=..., radex.temperature=0, radex.seed=0, "
                            "radex.allow_unscrubbed=true, radex.min_words=5 (repeatable)")


def _source_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--format", default="synthetic", help="data format (csv, llava-json, mimic-cxr, ...)")
    parser.add_argument("--path", default=None, help="data file or folder (synthetic: default cached set)")
    parser.add_argument("--image-root", default=None, help="folder relative image paths start from")
    parser.add_argument("--split", default=None, help="only this split (train, validate, test)")


def run(args: argparse.Namespace) -> int:
    if args.data_command == "synth":
        return _synth(args)
    if args.data_command == "show":
        return _show(args)
    if args.data_command == "radex":
        return _radex(args)
    return _check(args)


def _synth(args: argparse.Namespace) -> int:
    from radzoo.data.synthetic import MANIFEST, generate  # start-up time: radzoo --help imports every command

    out = generate(args.out, args.n, seed=args.seed, image_size=args.image_size, multi_image=args.multi_image)
    print(f"wrote {args.n} synthetic studies to {out} (reports.csv, llava.json, images/, {MANIFEST})")
    return 0


def _radex(args: argparse.Namespace) -> int:
    from radzoo.data.radex.synthesis import synthesise  # start-up time: radzoo --help imports every command

    options = {key.removeprefix("radex."): value for key, value in _parse_options(args.option).items()}
    result = synthesise(args.cases, args.out, args.model, options)
    summary = result.summary
    print(f"{args.out}: {summary['records_kept']} records from {summary['cases_read']} cases "
          f"({summary['requests']} requests, {summary['cached_answers']} answers from the cache)")
    if not result.dropped:
        return 0
    for reason, ids in sorted(result.dropped.items()):
        print(f"radzoo data radex: dropped ({reason}): {len(ids)}: {', '.join(ids)}", file=sys.stderr)
    return 1


def _parse_options(items: list[str]) -> dict:
    import yaml

    options = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise InputError(f"--option {item!r}: expected KEY=VALUE, e.g. --option strict=true")
        options[key.strip()] = yaml.safe_load(value)
    return options


def _check(args: argparse.Namespace) -> int:
    # start-up time: radzoo --help imports every command
    from radzoo.api import selection_problem
    from radzoo.data.readers import read_studies

    # a check opens every image unless told not to: "skipped: none" must not hide corrupt files
    options = {"verify_images": True, **_parse_options(args.option)}
    cfg = {"format": args.format, "path": args.path, "image_root": args.image_root, "options": options}
    result = read_studies(cfg, split=args.split if args.split != "all" else None)
    if not result.studies and result.other_splits:  # the split left nothing: say where the studies are
        raise InputError(selection_problem(result, cfg, args.split))
    print(f"{args.format} data: {len(result.studies)} studies")
    for split, count in result.split_counts().items():
        print(f"  {split:<9} {count}")
    counts = study_counts(result.studies)
    print(f"images: {counts['images']} (" + ", ".join(f"{view} {n}" for view, n in counts["images_per_view"].items())
          + f"); studies with a lateral: {counts['with_lateral']}; with a prior: {counts['with_prior']}")
    for reason, count in sorted(result.filtered.items()):
        print(f"left out ({reason}): {count}")
    for reason, items in sorted(result.skipped.items()):
        print(f"skipped ({reason}): {len(items)}")
        for where, detail in items[:EXAMPLES_PER_REASON]:
            print(f"  {where}: {detail}")
        if len(items) > EXAMPLES_PER_REASON:
            print(f"  ... and {len(items) - EXAMPLES_PER_REASON} more")
    if not options["verify_images"]:
        print("images: NOT opened (verify_images=false): unreadable images are not counted above")
    if not result.skipped:
        print("skipped: none" + (" (every image opened)" if options["verify_images"] else ""))
        return 0
    count = sum(len(items) for items in result.skipped.values())
    records = f"{count} unusable record{'' if count == 1 else 's'}"
    print(f"radzoo data: error: {records} in {args.path or 'the data set'} (listed above by reason); "
          "fix them, or leave them to be skipped (training and generation count and skip them too)", file=sys.stderr)
    return 1


def _show(args: argparse.Namespace) -> int:
    from radzoo.data.readers import read_studies  # start-up time: radzoo --help imports every command

    cfg = {"format": args.format, "path": args.path, "image_root": args.image_root,
           "options": {"require_report": False}}
    studies = read_studies(cfg, split=args.split).studies
    study = next((s for s in studies if s.id == args.id), None)
    if study is None:
        close = ", ".join(s.id for s in studies[:5])
        raise MissingFileError(f"study {args.id!r} not found in {args.format} data {args.path or ''} "
                               f"({len(studies)} studies{', e.g. ' + close if close else ''}); check --id and --split")
    record = study_record(study)
    if args.json:
        print(json.dumps(record, indent=2, ensure_ascii=False))
        return 0
    print(f"study {record['id']} ({record['split']})")
    for image in record["images"]:
        print(f"  {image['view']:<8} {image['position'] or '':<8} {image['path']}")
    for name, text in (record["sections"] or {"findings": record["report"]}).items():
        print(f"  {name}: {text}")
    if record["labels"]:
        print("  labels: " + ", ".join(f"{k}={v:g}" for k, v in record["labels"].items()))
    prior = record["prior"]
    if prior is None:
        print("  prior: none")
        return 0
    print(f"  prior: study {prior['id']} ({prior['split']})")
    for image in prior["images"]:
        print(f"    {image['view']:<8} {image['position'] or '':<8} {image['path']}")
    print(f"    report: {prior['report']}")
    return 0
