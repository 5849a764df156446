"""Weighted sampling across groups of training examples (data sources, tasks), deterministic and resumable.

Each epoch has as many examples as the stage's dataset; group g gets ``round(share_g x n)`` of them, drawn
from an endless stream of seeded permutations of its own examples (a small source repeats, a large one is
subsampled), and the epoch's draw is shuffled with a seeded generator. The order depends on the seed and
the epoch only, so a resumed run sees exactly the micro-batches an uninterrupted one would.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterator, Sequence

import torch
from torch.utils.data import Sampler


def group_quotas(weights: Sequence[float], total: int) -> list[int]:
    """Examples per group in one epoch of ``total``: proportional to ``weights``, largest remainders first."""
    norm = sum(weights)
    exact = [w / norm * total for w in weights]
    quotas = [math.floor(x) for x in exact]
    order = sorted(range(len(weights)), key=lambda g: (-(exact[g] - quotas[g]), g))
    for g in order[:total - sum(quotas)]:
        quotas[g] += 1
    return quotas


class MixtureBatchSampler(Sampler[list[int]]):
    """Micro-batches from ``start`` to ``total`` over examples whose group is ``groups[i]``, mixed by weight."""

    def __init__(self, groups: Sequence[int], weights: Sequence[float], batch_size: int, total: int, *, seed: int,
                 start: int = 0, rank: int = 0, world_size: int = 1) -> None:
        self.groups, self.weights = list(groups), list(weights)
        self.batch_size, self.total, self.seed = batch_size, total, seed
        self.start, self.rank, self.world = start, rank, world_size
        self.members = [[i for i, g in enumerate(self.groups) if g == k] for k in range(len(self.weights))]
        self.quotas = group_quotas(self.weights, len(self.groups))
        self.per_epoch = math.ceil(len(self.groups) / (batch_size * world_size))

    def __len__(self) -> int:
        return max(0, self.total - self.start)

    def _stream(self, group: int, begin: int, count: int) -> list[int]:
        """Items ``begin .. begin+count`` of the group's endless stream of seeded permutations."""
        members, out = self.members[group], []
        for position in range(begin, begin + count):
            cycle, offset = divmod(position, len(members))
            if offset == 0 or not out:
                gen = torch.Generator().manual_seed(self.seed * 7_919 + group * 104_729 + cycle)
                perm = torch.randperm(len(members), generator=gen).tolist()
            out.append(members[perm[offset]])
        return out

    def epoch_order(self, epoch: int) -> list[int]:
        """Every example index of ``epoch`` in the order it is trained."""
        drawn: list[int] = []
        for group, quota in enumerate(self.quotas):
            if quota and self.members[group]:
                drawn += self._stream(group, epoch * quota, quota)
        gen = torch.Generator().manual_seed(self.seed * 100_003 + epoch)
        return [drawn[i] for i in torch.randperm(len(drawn), generator=gen).tolist()]

    def __iter__(self) -> Iterator[list[int]]:
        glob = self.batch_size * self.world
        order: list[int] = []
        epoch = -1
        for micro in range(self.start, self.total):
            if micro // self.per_epoch != epoch:
                epoch = micro // self.per_epoch
                order = self.epoch_order(epoch)
            pos = (micro % self.per_epoch) * glob
            chunk = order[pos:pos + glob]
            if self.world > 1 and len(chunk) < glob:  # every rank needs a full share
                chunk = (chunk + order * math.ceil(glob / len(order)))[:glob]
            yield chunk[self.rank * self.batch_size:(self.rank + 1) * self.batch_size]

    def group_counts(self, micro_batches: int) -> Counter[int]:
        """Examples per group in the first ``micro_batches`` micro-batches of every rank (what a stage saw)."""
        counts: Counter[int] = Counter()
        for rank in range(self.world):
            view = MixtureBatchSampler(self.groups, self.weights, self.batch_size, micro_batches, seed=self.seed,
                                       rank=rank, world_size=self.world)
            for batch in view:
                counts.update(self.groups[i] for i in batch)
        return counts
