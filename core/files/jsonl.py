"""Crash-safe JSONL output: append whole lines, fsync per batch, repair a torn tail, resume by id.

A kill -9 can interrupt a write half-way; the only damage possible is an incomplete last line
(no trailing newline). ``open`` truncates it away, so the file always holds whole records.
"""

from __future__ import annotations

import json
import os
import warnings
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from radzoo.errors import InputError
from radzoo.files.atomic import atomic_target


def repair_torn_tail(path: Path) -> int:
    """Truncate an incomplete last line (no trailing newline); returns the number of bytes removed."""
    if not path.exists():
        return 0
    size = path.stat().st_size
    if size == 0:
        return 0
    with path.open("rb+") as f:
        f.seek(size - 1)
        if f.read(1) == b"\n":
            return 0
        # scan back for the last newline in chunks: the torn line can be longer than one chunk
        end, keep = size, 0
        while end > 0:
            start = max(0, end - 65536)
            f.seek(start)
            chunk = f.read(end - start)
            cut = chunk.rfind(b"\n")
            if cut >= 0:
                keep = start + cut + 1
                break
            end = start
        f.truncate(keep)
        f.flush()
        os.fsync(f.fileno())
    return size - keep


def decode_line(raw: bytes, path: Path, number: int) -> str:
    """One line of a JSONL file as text; bytes that are not UTF-8 are an error naming the file and line."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}:{number}: not UTF-8 text (byte 0x{raw[exc.start]:02x} at column {exc.start + 1}); "
                         "JSONL files must be UTF-8: re-save the file as UTF-8 or fix the line") from None


def read_records(path: str | Path, required: Sequence[str] = ("id",)) -> list[dict[str, Any]]:
    """Every record (a JSON object with the ``required`` keys) of a JSONL file: the one JSONL reader.

    A last line without its newline that is not valid JSON is a write a crash cut short: it is skipped with a
    warning (generation resumes it). Any other bad line is an error naming the file and line.
    """
    path = Path(path)
    records = []
    with path.open("rb") as f:
        for n, raw in enumerate(f, 1):
            line = decode_line(raw, path, n)
            if not line.strip():
                continue
            try:
                record = json.loads(line.rstrip("\r\n"))
            except json.JSONDecodeError as exc:
                if not raw.endswith(b"\n"):
                    warnings.warn(f"{path}:{n}: skipped a torn last line ({exc.msg}); rerun generation to finish it",
                                  stacklevel=2)
                    break
                raise InputError(f"{path}:{n}: not valid JSON at column {exc.colno} ({exc.msg}); fix or delete "
                                 "the line") from None
            if not isinstance(record, dict):
                raise InputError(f"{path}:{n}: expected a JSON object with keys {', '.join(required)}")
            missing = [k for k in required if k not in record]
            if missing:
                raise InputError(f"{path}:{n}: missing key(s) {', '.join(missing)}; each line needs "
                                 f"{', '.join(required)}")
            records.append(record)
    return records


class JsonlWriter:
    """Appends records to a JSONL file, durably per batch; ``done`` holds the ids already written."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.repaired_bytes = repair_torn_tail(self.path)
        self.done: set[str] = set()
        if self.path.exists():
            self.done = {str(r["id"]) for r in read_records(self.path)}
        self._file = self.path.open("a", encoding="utf-8")

    def write_batch(self, records: Sequence[dict[str, Any]]) -> None:
        """Write the records as one block, flush and fsync: after this returns they survive a crash."""
        fresh = [r for r in records if str(r["id"]) not in self.done]
        if not fresh:
            return
        self._file.write("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in fresh))
        self._file.flush()
        os.fsync(self._file.fileno())
        self.done.update(str(r["id"]) for r in fresh)

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> JsonlWriter:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


def merge_jsonl(parts: Iterable[str | Path], out: str | Path, order: Sequence[str] | None = None) -> int:
    """Merge shard files into ``out`` (atomically), one record per id; ``order`` lists ids in output order.

    Records already in ``out`` are kept, so merging twice is harmless. Returns the number of records.
    """
    out = Path(out)
    by_id: dict[str, dict[str, Any]] = {}
    sources = ([out] if out.exists() else []) + [Path(p) for p in parts]
    for source in sources:
        repair_torn_tail(source)
        for record in read_records(source):
            by_id.setdefault(str(record["id"]), record)
    ids = list(by_id)
    if order is not None:
        rank = {i: n for n, i in enumerate(order)}
        ids.sort(key=lambda i: rank.get(i, len(rank)))
    with atomic_target(out) as tmp, tmp.open("w", encoding="utf-8") as f:
        f.writelines(json.dumps(by_id[i], ensure_ascii=False) + "\n" for i in ids)
    return len(ids)
