"""Random-number streams in checkpoints, so a resumed fit draws the same dropout masks as an
uninterrupted one (Lightning saves neither the torch, CUDA, numpy nor Python streams).

The states are stored as tensors, ints and tuples only, so checkpoints still load with
`torch.load(weights_only=True)`. One set is stored (rank 0's) and restored on every rank: with
`seed_everything` all ranks start from the same seed and draw in step, as data-parallel ranks do.
Nothing in safelight's training loader draws from the global streams between two steps (its
DataLoader has a generator of its own), so restoring at load time resumes the exact sequence.
"""

from __future__ import annotations

import random
from typing import Any

import numpy as np
import torch
from lightning.pytorch import Callback, LightningModule, Trainer

#: Key of the states inside the checkpoint's safelight section.
RNG_KEY = "rng"


def capture_rng_states() -> dict[str, Any]:
    """The global random states, in weights_only-loadable types."""
    kind, keys, position, has_gauss, cached_gaussian = np.random.get_state()  # type: ignore[misc]
    version, python_state, gauss = random.getstate()
    return {
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        "numpy": (str(kind), torch.from_numpy(np.asarray(keys, dtype=np.int64)), int(position), int(has_gauss),
                  float(cached_gaussian)),
        "python": (int(version), tuple(int(x) for x in python_state), gauss),
    }


def restore_rng_states(states: dict[str, Any]) -> None:
    torch.set_rng_state(states["torch"])
    cuda = states.get("cuda") or []
    if cuda and torch.cuda.is_available() and len(cuda) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(cuda)
    kind, keys, position, has_gauss, cached_gaussian = states["numpy"]
    np.random.set_state((kind, keys.numpy().astype(np.uint32), position, has_gauss, cached_gaussian))
    version, python_state, gauss = states["python"]
    random.setstate((version, tuple(python_state), gauss))


class RngStateRecord(Callback):
    """Saves the global random states in every checkpoint and restores them when a fit resumes."""

    def __init__(self, section: str) -> None:
        self.section = section  # the checkpoint's top-level key for safelight's own state

    def on_save_checkpoint(self, trainer: Trainer, pl_module: LightningModule, checkpoint: dict[str, Any]) -> None:
        checkpoint.setdefault(self.section, {})[RNG_KEY] = capture_rng_states()

    def on_load_checkpoint(self, trainer: Trainer, pl_module: LightningModule, checkpoint: dict[str, Any]) -> None:
        states = checkpoint.get(self.section, {}).get(RNG_KEY)
        if states is not None:  # checkpoints written before this existed resume without it
            restore_rng_states(states)
