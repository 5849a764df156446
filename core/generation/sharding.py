"""Scale-out: shard studies across ranks (torchrun or explicit rank/world size) and merge per-rank files.

Each rank writes ``<out>.rankR-of-W.jsonl`` (resumable on its own); rank 0 waits for the others and
merges them into ``out``, one record per id, in the original study order.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import torch

from radzoo.errors import MissingFileError
from radzoo.files.jsonl import merge_jsonl, read_records


def distributed_rank() -> tuple[int, int]:
    """(rank, world_size) from torch.distributed or the torchrun/Lightning environment; (0, 1) alone."""
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        return torch.distributed.get_rank(), torch.distributed.get_world_size()
    return int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1))


def shard_path(out: Path, rank: int, world_size: int) -> Path:
    return out.with_name(f"{out.stem}.rank{rank}-of-{world_size}{out.suffix}")


def join_process_group(device: str) -> bool:
    """Under torchrun (RANK/WORLD_SIZE set) join the process group so rank 0 can wait for the others."""
    dist = torch.distributed
    if dist.is_available() and not dist.is_initialized() and "MASTER_ADDR" in os.environ:
        dist.init_process_group("nccl" if device.startswith("cuda") else "gloo")
        return True
    return False


def merged_ids(out: Path) -> set[str]:
    """Ids already merged into ``out`` by an earlier run (perhaps with another world size)."""
    return {str(r["id"]) for r in read_records(out)} if out.exists() else set()


def merge_after_ranks(out: Path, world_size: int, rank: int, order: Sequence[str]) -> None:
    """Wait for every rank (when a process group exists), then rank 0 merges the shard files into ``out``."""
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        torch.distributed.barrier()
    if rank == 0 and all(shard_path(out, r, world_size).exists() for r in range(world_size)):
        # without a process group a rank may still be running: rerunning rank 0 later merges
        merge_shards(out, world_size, order)


def merge_shards(out: str | Path, world_size: int, order: Sequence[str] | None = None) -> int:
    """Merge ``<out>.rankR-of-W.jsonl`` files into ``out`` (ids unique); returns the record count."""
    out = Path(out)
    parts = [shard_path(out, r, world_size) for r in range(world_size)]
    missing = [str(p) for p in parts if not p.exists()]
    if missing:
        raise MissingFileError(f"shard file(s) missing: {', '.join(missing)}; rerun those ranks")
    return merge_jsonl(parts, out, order)
