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


def subprocess_env(**extra: str) -> dict[str, str]:
    return dict(os.environ, PYTHONPATH=str(REPO), OMP_NUM_THREADS="1", MKL_NUM_THREADS="1",
                HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1", TOKENIZERS_PARALLELISM="false",
                MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR="false", PYTHONHASHSEED="0", **extra)


def start_safelight(argv: list[str], cwd: Path, log: Path, wrapper: list[str] | None = None,
                    env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    """`python -m safelight.cli ...` (or a wrapper script that calls it) in `cwd`, output to `log`."""
    command = [sys.executable, *(wrapper or ["-m", "safelight.cli"]), *argv]
    with open(log, "wb") as out:
        return subprocess.Popen(command, cwd=cwd, env=subprocess_env(**(env or {})), stdout=out,
                                stderr=subprocess.STDOUT)


def http_judge_args(base_url: str, key_env: str) -> list[str]:
    """The training-data judge behind an OpenAI-compatible endpoint, its key read from `key_env`."""
    return ["--data.judge=safelight.judges.OpenAICompatibleJudge", f"--data.judge.base_url={base_url}",
            "--data.judge.model=judge", f"--data.judge.api_key_env={key_env}", "--data.judge.backoff_s=0.01"]


def files_containing(root: Path, needle: str) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file() and needle.encode() in p.read_bytes()]


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
