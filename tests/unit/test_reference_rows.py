"""The reference runs on the rows that have a KL weight only, and the objective is unchanged by it."""

from __future__ import annotations

from pathlib import Path

import pytest

from safelight.objective import ThresholdSchedule
from tests.unit.test_module_objective import make_batch, make_module, naive_sums


def test_reference_runs_on_risky_rows_only_with_the_same_objective(tiny_model_dir: Path, monkeypatch) -> None:
    module = make_module(tiny_model_dir, ThresholdSchedule(tau=0.5, beta_high=0.9), kl_chunk_size=3)
    rows_seen = []
    original = module.reference.hidden_states
    monkeypatch.setattr(module.reference, "hidden_states",
                        lambda ids, mask: rows_seen.append(ids.shape[0]) or original(ids, mask))
    batch = make_batch(module, [0.0, 0.9, 0.2])
    sums, beta = module.objective_sums(batch)
    assert rows_seen == [1]
    weighted, nll, kl = naive_sums(module, batch, beta)
    assert sums.weighted.item() == pytest.approx(weighted, rel=1e-5)
    assert sums.nll.item() == pytest.approx(nll, rel=1e-5)
    # train/kl sums the KL where it is weighted (beta > 0): here one row of three.
    assert 0 < sums.kl.item() < kl
