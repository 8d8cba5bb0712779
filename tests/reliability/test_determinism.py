"""Same seed and config on CPU: two `safelight fit` runs log identical per-step train metrics and
identical evaluation metrics (exact equality; one torch thread, as the tests run)."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import pytest
import torch

from safelight.cli import main

from .helpers import metric_history, mlflow_runs, tiny_fit_args

EXPERIMENT = "determinism"


@pytest.fixture()
def one_thread() -> Iterator[None]:
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


def fit_in(directory: Path, model_dir: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[str, dict[str, float]]:
    directory.mkdir()
    monkeypatch.chdir(directory)
    # An absolute store per directory: MLflow caches its sqlite stores by URI within a process.
    store = f"--trainer.logger.init_args.tracking_uri=sqlite:///{directory}/mlruns/mlflow.db"
    main(tiny_fit_args(model_dir, EXPERIMENT, store, steps=6))
    (run,) = mlflow_runs(directory, EXPERIMENT)
    return run.info.run_id, dict(run.data.metrics)


def test_same_seed_and_config_give_identical_metrics(tiny_model_dir: Path, tmp_path: Path, one_thread: None,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    first_id, first = fit_in(tmp_path / "first", tiny_model_dir, monkeypatch)
    second_id, second = fit_in(tmp_path / "second", tiny_model_dir, monkeypatch)
    assert first == second
    assert any(k.startswith("eval/") for k in first) and any(k.startswith("eval_reference/") for k in first)
    step_keys = [k for k in first if k.startswith("train/") and k.endswith("_step")]
    assert len(step_keys) >= 4
    for key in step_keys:
        history = metric_history(tmp_path / "first", first_id, key)
        assert len(history) == 6 and history == metric_history(tmp_path / "second", second_id, key), key
