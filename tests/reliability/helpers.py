"""Shared pieces of the reliability tests: the tiny-model fit command and MLflow look-ups."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
QUICKSTART = REPO / "configs" / "quickstart.yaml"


def tiny_fit_args(model_dir: Path, experiment: str, *extra: str, n: int = 16, steps: int = 4) -> list[str]:
    """`safelight fit` on the tiny random Llama: toy harmful scenario, toy judge, short evaluation."""
    return [
        "fit", "--config", str(QUICKSTART),
        "--model.policy=safelight.models.PretrainedPolicy", f"--model.policy.name_or_path={model_dir}",
        "--data.cache_dir=judge_cache", f"--data.scenario.init_args.n={n}", "--data.batch_size=4",
        "--data.eval_batch_size=8", f"--trainer.max_steps={steps}", "--trainer.max_epochs=-1",
        "--trainer.limit_test_batches=1", "--trainer.enable_progress_bar=false",
        "--trainer.enable_model_summary=false", "--model.evaluator.init_args.max_new_tokens=3",
        f"--trainer.logger.init_args.experiment_name={experiment}", *extra,
    ]


def subprocess_env() -> dict[str, str]:
    env = dict(os.environ, PYTHONPATH=str(REPO), OMP_NUM_THREADS="1", MKL_NUM_THREADS="1",
               HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1", TOKENIZERS_PARALLELISM="false",
               MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR="false", PYTHONHASHSEED="0")
    return env


def start_safelight(argv: list[str], cwd: Path, log: Path, wrapper: list[str] | None = None) -> subprocess.Popen[bytes]:
    """`python -m safelight.cli ...` (or a wrapper script that calls it) in `cwd`, output to `log`."""
    command = [sys.executable, *(wrapper or ["-m", "safelight.cli"]), *argv]
    with open(log, "wb") as out:
        return subprocess.Popen(command, cwd=cwd, env=subprocess_env(), stdout=out, stderr=subprocess.STDOUT)


def mlflow_runs(cwd: Path, experiment: str) -> list[Any]:
    import mlflow

    mlflow.set_tracking_uri(f"sqlite:///{cwd / 'mlruns' / 'mlflow.db'}")
    return mlflow.search_runs(experiment_names=[experiment], output_format="list")


def metric_history(cwd: Path, run_id: str, key: str) -> dict[int, float]:
    """step -> value; a step logged twice (replayed after a resume) keeps its last value."""
    import mlflow

    client = mlflow.MlflowClient(f"sqlite:///{cwd / 'mlruns' / 'mlflow.db'}")
    history = sorted(client.get_metric_history(run_id, key), key=lambda m: (m.step, m.timestamp))
    return {m.step: m.value for m in history}
