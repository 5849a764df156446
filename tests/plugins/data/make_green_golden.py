"""Builds green_golden.json: what RadEval 2.2.1's GREEN code (radeval/metrics/green_score/green.py
``compute_green``, ``compute_error_count``; utils.py ``clean_responses``) reads from judge answers written here.

Needs the upstream package source, outside the project: ``pip download --no-deps radeval==2.2.1`` and unpack it.
Its heavy imports (datasets, pandas, transformers models) are stubbed: only the parsing methods run.
Run: python tests/plugins/data/make_green_golden.py PATH/radeval-2.2.1
"""

from __future__ import annotations

import importlib.util
import json
import sys
import types
from pathlib import Path

ANSWERS = [
    "[Explanation]:\nBoth mention the effusion.\n\n[Clinically Significant Errors]:\n(a) False report of a finding "
    "in the candidate: 1. Pneumothorax.\n(b) Missing a finding present in the reference: 0.\n(c) Misidentification "
    "of a finding's anatomic location/position: 0.\n(d) Misassessment of the severity of a finding: 2. Effusion "
    "size; edema.\n(e) Mentioning a comparison that isn't in the reference: 0.\n(f) Omitting a comparison detailing "
    "a change from a prior study: 0.\n\n[Clinically Insignificant Errors]:\n(a) False report: 1. Scar.\n\n"
    "[Matched Findings]:\n3. Effusion; cardiomegaly; clear right lung.\n",
    "[Explanation]:\nIdentical.\n\n[Clinically Significant Errors]:\nNo errors.\n\n[Clinically Insignificant Errors]:"
    "\nNo errors.\n\n[Matched Findings]:\n4. All.",
    "[Clinically Significant Errors]:\n(1) False report: 2. A; B.\n(2) Missing: 1. C.\n\n[Matched Findings]:\n1. D.",
    "[Clinically Significant Errors]:\n(b) Missing a finding present in the reference: 3. A; B; C.\n\n"
    "[Matched Findings]:\nNo matched findings.",
    "Nothing in the expected format at all.",
    "[Explanation]:\n    <Explanation>\n[Clinically Significant Errors]:\n(c) Location: 1. Left not right.\n\n"
    "[Matched Findings]:\n2. Effusion; edema.</s>",
    "<|assistant|>[Clinically Significant Errors]:\n(a) False: 1. X.\n(a) False again: 4. Y.\n\n"
    "[Matched Findings]:\n 5. Five.\n6. Six.",
    "[Clinically Significant Errors]: (e) Comparison: 2. Prior.\n\n[Matched Findings]:\nTwo findings. 2. Hmm",
    "[Explanation]: first\n[Explanation]: second\n\n[Clinically Significant Errors]:\n(f) Omitted: 1. Change."
    "\n\n[Matched Findings]:\n1. One.",
]


def load_green(root: Path):
    for name in ("datasets", "pandas"):
        stub = types.ModuleType(name)
        stub.Dataset = stub.DataFrame = object
        sys.modules[name] = stub
    for package in ("radeval", "radeval.metrics", "radeval.metrics.green_score"):
        module = types.ModuleType(package)
        module.__path__ = [str(root.joinpath(*package.split(".")))]
        sys.modules[package] = module
    modules = {}
    for name in ("utils", "green"):
        spec = importlib.util.spec_from_file_location(f"radeval.metrics.green_score.{name}",
                                                      root / "radeval" / "metrics" / "green_score" / f"{name}.py")
        modules[name] = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = modules[name]
        spec.loader.exec_module(modules[name])
    return modules["green"].GREEN, modules["utils"].clean_responses


def main(root: str) -> None:
    green_class, clean = load_green(Path(root))
    green = green_class(model_name=None, cpu=True)
    rows = []
    for answer in ANSWERS:
        response = clean(answer)
        counts = green.compute_error_count(response)  # significant (a)..(f), then matched
        rows.append({"answer": answer, "green": green.compute_green(response), "matched": counts[-1],
                     "significant": counts[:-1]})
    out = Path(__file__).with_name("green_golden.json")
    out.write_text(json.dumps({"radeval": "2.2.1", "rows": rows}, indent=1), encoding="utf-8")
    print(f"wrote {out}: {len(rows)} answers")


if __name__ == "__main__":
    main(sys.argv[1])
