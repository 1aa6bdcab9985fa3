"""Deterministic sampling for exact resume: per-item seeds from (seed, epoch, index), the epoch sampler that
yields such keys, the keyed-augmentation wrapper, and the process's distributed rank."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset, Sampler

__all__ = ["EpochSampler", "KeyedAugment", "item_seed", "keyed_rng", "rank_world", "seeded_cpu_rng"]


def rank_world() -> tuple[int, int]:
    """(rank, world size) under torch.distributed, (0, 1) otherwise."""
    dist = torch.distributed
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


@contextmanager
def seeded_cpu_rng(seed: int) -> Iterator[None]:
    """Run a block with the global CPU generator seeded to ``seed``, restoring its state afterwards (torch's
    ``fork_rng`` without touching accelerators, so it stays cheap inside data loaders)."""
    with torch.random.fork_rng(devices=[]):
        torch.default_generator.manual_seed(seed)
        yield


def item_seed(seed: int, epoch: int, index: int) -> int:
    """A 63-bit seed for one item's randomness in one epoch."""
    return int(np.random.SeedSequence([seed, epoch, index]).generate_state(2, np.uint64)[0] >> np.uint64(1))


def keyed_rng(seed: int, epoch: int, index: int) -> Any:
    """Context manager: the CPU generator seeded for item ``index`` of ``epoch`` (see :func:`item_seed`)."""
    return seeded_cpu_rng(item_seed(seed, epoch, index))


class EpochSampler(Sampler):
    """Shuffles with a generator seeded by (seed, epoch) and yields ``(epoch, index)`` keys.

    Datasets that accept such keys (TripletDataset, KeyedAugment) seed each item's augmentations from them, so
    training randomness is a pure function of (seed, epoch, index): an interrupted run resumes exactly, with
    any number of loader workers. Under torch.distributed each rank takes every world-th index (padded so all
    ranks get the same count); Lightning must then not add its own sampler (``use_distributed_sampler=False``).
    """

    def __init__(self, n: int, seed: int = 0, shuffle: bool = True) -> None:
        self.n, self.seed, self.shuffle, self.epoch = n, seed, shuffle, 0

    def set_epoch(self, epoch: int) -> None:
        """Called by Lightning at the start of every epoch."""
        self.epoch = epoch

    def __iter__(self):
        order = (
            torch.randperm(
                self.n,
                generator=torch.Generator().manual_seed(
                    int(np.random.SeedSequence([self.seed, self.epoch]).generate_state(1)[0])
                ),
            )
            if self.shuffle
            else torch.arange(self.n)
        ).tolist()
        rank, world = rank_world()
        if world > 1:
            order = (order * 2)[: len(self) * world][rank::world]
        return iter([(self.epoch, i) for i in order])

    def __len__(self) -> int:
        return -(-self.n // rank_world()[1])


class KeyedAugment(Dataset):
    """Wraps a dataset whose items are dicts (or ``(image, label)`` pairs, as torchvision's ImageFolder gives):
    an ``(epoch, index)`` key seeds ``augment`` applied to ``item[key]`` (an int key means epoch 0); ``fields``
    keeps only those entries of each item."""

    def __init__(
        self,
        base: Any,
        augment: Callable[[Any], Any],
        seed: int,
        key: str = "image",
        fields: tuple[str, ...] | None = None,
    ) -> None:
        self.base, self.augment, self.seed, self.key, self.fields = base, augment, seed, key, fields

    def __len__(self) -> int:
        return len(self.base)

    def __getitem__(self, key: tuple[int, int] | int) -> dict[str, Any]:
        epoch, index = key if isinstance(key, tuple) else (0, key)
        item = self.base[index]
        item = dict(item) if isinstance(item, dict) else {"image": item[0], "label": item[1]}
        if self.fields is not None:
            item = {k: item[k] for k in self.fields}
        with keyed_rng(self.seed, epoch, index):
            item[self.key] = self.augment(item[self.key])
        return item
