"""A train loader Lightning can resume mid-epoch (it implements `state_dict` / `load_state_dict`).

Lightning restores a mid-epoch checkpoint's batch index, but not the loader's position: a plain
loader would replay the epoch from its first batch, so the resumed run would train on a different
sequence than the uninterrupted one. This loader records how many batches of which epoch were
trained, and on resume skips exactly those. The skipped batches are regenerated, not fetched from
a saved iterator: the sampler is seeded by (seed, epoch) and accumulation windows start at the
epoch start, so the remaining batches and their window stamps are identical.
"""

from __future__ import annotations

from itertools import islice
from typing import Any, Callable, Iterator

from torch import Tensor
from torch.utils.data import DataLoader

from safelight.data.windows import ResponseTokenWindows


class ResumableWindows(ResponseTokenWindows):
    """`ResponseTokenWindows` plus resume state.

    Args:
        batches_done: batches of the current epoch already trained, read when a checkpoint is taken
            (the trainer's count, not this loader's: Lightning prefetches ahead).
    """

    def __init__(self, loader: DataLoader, accumulate: int, epoch: Callable[[], int],
                 batches_done: Callable[[], int]) -> None:
        super().__init__(loader, accumulate, epoch)
        self.batches_done = batches_done
        self._resume: tuple[int, int] | None = None  # (epoch, batches to skip) from a checkpoint

    def state_dict(self) -> dict[str, Any]:
        return {"epoch": int(self.epoch()), "batches_done": int(self.batches_done())}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self._resume = (int(state["epoch"]), int(state["batches_done"]))

    def __iter__(self) -> Iterator[dict[str, Tensor]]:
        # A generator: the skip is decided at the first batch, after Lightning loaded the state.
        batches = super().__iter__()
        resume, self._resume = self._resume, None
        if resume is not None and resume[0] == self.epoch() and resume[1] > 0:
            batches = islice(batches, resume[1], None)
        yield from batches
