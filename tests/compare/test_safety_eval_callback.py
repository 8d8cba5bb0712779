"""SafetyEvalCallback: a fit on a tiny random model leaves a safety curve (metric history by step) in MLflow."""

from __future__ import annotations

from pathlib import Path

import mlflow

from safelight.callbacks.safety_eval import curve_subset
from safelight.cli import main

REPO = Path(__file__).resolve().parents[2]


def test_curve_subset_is_fixed_and_per_group() -> None:
    rows = ([{"kind": "harmful", "i": i} for i in range(10)]
            + [{"kind": "benign", "utility_group": "alignment", "i": i} for i in range(10)]
            + [{"kind": "benign", "utility_group": "task", "i": i} for i in range(3)])
    subset = curve_subset(rows, n_harmful=4, n_benign=5, seed=0)
    assert sum(r["kind"] == "harmful" for r in subset) == 4
    assert sum(r.get("utility_group") == "alignment" for r in subset) == 5
    assert sum(r.get("utility_group") == "task" for r in subset) == 3  # fewer than asked: all of them
    assert subset == curve_subset(rows, n_harmful=4, n_benign=5, seed=0)


def test_fit_logs_a_safety_curve_with_steps(tiny_model_dir: Path, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    main(["fit", "--config", str(REPO / "configs" / "quickstart.yaml"),
          "--model.policy=safelight.models.PretrainedPolicy", f"--model.policy.name_or_path={tiny_model_dir}",
          "--data.cache_dir=judge_cache", "--data.scenario.init_args.n=32", "--data.batch_size=8",
          "--trainer.max_steps=4", "--trainer.enable_checkpointing=false", "--evaluate_after_fit=false",
          "--model.evaluator.init_args.max_new_tokens=3", "--trainer.logger.init_args.experiment_name=curve",
          "--trainer.callbacks+=safelight.callbacks.safety_eval.SafetyEvalCallback",
          "--trainer.callbacks.every_n_steps=2", "--trainer.callbacks.n_harmful=4", "--trainer.callbacks.n_benign=3",
          "--trainer.callbacks+=safelight.callbacks.risk_record.RiskBetaRecorder"])
    mlflow.set_tracking_uri("sqlite:///mlruns/mlflow.db")
    (run,) = mlflow.search_runs(experiment_names=["curve"], output_format="list")
    history = mlflow.MlflowClient().get_metric_history(run.info.run_id, "curve/asr")
    assert sorted(m.step for m in history) == [0, 2, 4]
    assert all(0.0 <= m.value <= 1.0 for m in history)
    assert "curve/utility_task" in run.data.metrics and "curve/harmfulness" in run.data.metrics
    # RiskBetaRecorder: one (step, risk, beta) line per training example; harmful rows -> beta 0.9.
    local = mlflow.MlflowClient().download_artifacts(run.info.run_id, "train/risk_beta.csv", str(tmp_path))
    lines = Path(local).read_text().splitlines()
    assert lines[0] == "step,risk,beta" and len(lines) == 1 + 4 * 8
    assert all(line.split(",")[1:] == ["1", "0.9"] for line in lines[1:])
