"""A non-finite loss stops `safelight fit` with one paragraph naming the step; the step never
reaches the weights, the last good checkpoint, the judge cache and the MLflow run are kept."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import mlflow
import pytest
import torch

from safelight.cli import main
from safelight.module import SafeFineTuner

from .helpers import tiny_fit_args

EXPERIMENT = "nonfinite"


def run_fails(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 1
    err = capsys.readouterr().err
    (message,) = [line for line in err.splitlines() if line.startswith("error")]
    assert "Traceback" not in err
    return message


def test_nan_loss_stops_at_its_step_and_keeps_the_last_good_checkpoint(
        tiny_model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    real_step = SafeFineTuner.training_step

    def nan_at_step_2(self: SafeFineTuner, batch: Any, batch_idx: int) -> torch.Tensor:
        loss = real_step(self, batch, batch_idx)
        return loss * math.nan if self.global_step == 2 else loss

    monkeypatch.setattr(SafeFineTuner, "training_step", nan_at_step_2)
    message = run_fails(tiny_fit_args(tiny_model_dir, EXPERIMENT, "--checkpoint_every_n_train_steps=1", steps=5), capsys)
    assert "NonFiniteLossError" in message and "step 2" in message and "the loss is not finite" in message

    (last,) = (tmp_path / "checkpoints" / EXPERIMENT).glob("*/last.ckpt")
    assert str(last.name) in message
    checkpoint = torch.load(last, map_location="cpu", weights_only=True)
    assert checkpoint["global_step"] == 2  # the two good steps
    assert all(bool(torch.isfinite(t).all()) for t in checkpoint["state_dict"].values())

    # Nothing computed is lost: the judge scores and the MLflow run (marked failed, metrics kept).
    (scores,) = (tmp_path / "judge_cache").glob("scores-*.jsonl")
    assert len(scores.read_text().splitlines()) == 16
    mlflow.set_tracking_uri("sqlite:///mlruns/mlflow.db")
    (run,) = mlflow.search_runs(experiment_names=[EXPERIMENT], output_format="list")
    assert run.info.status == "FAILED" and "train/nll_step" in run.data.metrics


def test_huge_learning_rate_stops_with_a_clear_message(tiny_model_dir: Path, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    message = run_fails(tiny_fit_args(tiny_model_dir, EXPERIMENT, "--model.optimizer.init_args.lr=1e20",
                                      "--model.schedule=safelight.objective.ZeroSchedule", steps=6), capsys)
    assert "NonFiniteLossError" in message and "training stopped at step" in message
    assert "model.optimizer.init_args.lr" in message
