"""Stamp each micro-batch with the response-token count of its whole optimizer step.

The loss is normalised by the response tokens of the global batch. With gradient accumulation the
global batch spans several micro-batches, so each needs the count of its window before its
backward pass: this wrapper reads the window ahead (`accumulate` batches) and stamps all of them.
Windows start at the epoch start, as Lightning's accumulation boundaries do.
"""

from __future__ import annotations

from itertools import islice
from typing import Callable, Iterator

import torch
from torch import Tensor
from torch.utils.data import DataLoader

from safelight.data.collate import count_response_tokens


class ResponseTokenWindows:
    def __init__(self, loader: DataLoader, accumulate: int, epoch: Callable[[], int] = lambda: 0) -> None:
        if accumulate < 1:
            raise ValueError(f"accumulate must be >= 1, got {accumulate}")
        self.loader = loader
        self.accumulate = accumulate
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.loader)

    def __iter__(self) -> Iterator[dict[str, Tensor]]:
        sampler = getattr(self.loader, "sampler", None)
        if hasattr(sampler, "set_epoch"):
            sampler.set_epoch(self.epoch())
        batches = iter(self.loader)
        while window := list(islice(batches, self.accumulate)):
            total = torch.tensor(sum(count_response_tokens(b) for b in window), dtype=torch.float32)
            for batch in window:
                batch["window_response_tokens"] = total
                yield batch
