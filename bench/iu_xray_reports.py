"""Reads the Open-i Indiana University chest X-ray reports (IU X-ray; Demner-Fushman et al., JAMIA 2016) straight
from a git copy of a public repository that holds ``indiana_reports.csv``; nothing is copied into the project.

Get it: ``git clone --bare https://github.com/$REPOSITORY iu.git`` with REPOSITORY below (in a radzoo session,
the ``fetch`` tool brings the same repository under /work/.mirror/). Pass the bare git directory or a checkout;
the file is read from HEAD with ``git show``, and the commit is recorded with the figures.
"""

from __future__ import annotations

import csv
import io
import subprocess
from pathlib import Path

REPOSITORY = "SaadSubhaniTheProgrammerVersion/Textual-Report-Generation-from-Chest-X-rays-Indiana-Dataset"
CSV_PATH = "indiana_reports.csv"


def _git(git_dir: Path, *args: str) -> str:
    return subprocess.run(["git", f"--git-dir={git_dir}", *args], check=True, capture_output=True, text=True).stdout


def read_rows(mirror: str) -> tuple[list[dict], dict]:
    """(the CSV's rows as dicts, {"repository", "commit", "path"}) read from ``mirror``'s HEAD."""
    path = Path(mirror).expanduser()
    git_dir = path / ".git" if (path / ".git").exists() else path
    if not (git_dir / "HEAD").exists() and (git_dir / "repo" / "HEAD").exists():
        git_dir = git_dir / "repo"  # the fetch tool's layout: /work/.mirror/<owner>+<name>/repo
    commit = _git(git_dir, "rev-parse", "HEAD").strip()
    rows = list(csv.DictReader(io.StringIO(_git(git_dir, "show", f"HEAD:{CSV_PATH}"))))
    return rows, {"repository": REPOSITORY, "commit": commit, "path": CSV_PATH}
