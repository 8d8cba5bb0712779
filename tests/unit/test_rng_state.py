"""Random streams saved in a checkpoint come back exactly, and load with weights_only=True."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import torch

from safelight.rng_state import capture_rng_states, restore_rng_states


def draws() -> tuple[list[float], list[float], list[float]]:
    return torch.rand(3).tolist(), np.random.rand(3).tolist(), [random.random() for _ in range(3)]


def test_states_round_trip_through_a_weights_only_checkpoint(tmp_path: Path) -> None:
    torch.manual_seed(1), np.random.seed(2), random.seed(3)
    draws()  # move every stream off its seed
    path = tmp_path / "state.ckpt"
    torch.save({"safelight": {"rng": capture_rng_states()}}, path)
    expected = draws()
    draws()  # and further on, as a crashed run would have
    restore_rng_states(torch.load(path, weights_only=True)["safelight"]["rng"])
    assert draws() == expected
