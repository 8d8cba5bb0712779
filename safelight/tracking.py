"""MLflow tracking: the default local store, the resolved config as an artifact, a flat param set."""

from __future__ import annotations

import fcntl
import os
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from lightning.pytorch import LightningModule, Trainer
from lightning.pytorch.cli import SaveConfigCallback
from lightning.pytorch.loggers import MLFlowLogger

DEFAULT_TRACKING_URI = "sqlite:///mlruns/mlflow.db"
DEFAULT_ARTIFACT_LOCATION = "mlruns/artifacts"


def ensure_local_store(tracking_uri: str) -> None:
    """Create a local sqlite store's folder and tables, one process at a time.

    MLflow creates and migrates the tables on first use; two runs starting together on a new
    store (a sweep, two terminals) would otherwise race and one fails with "duplicate column".
    """
    prefix = "sqlite:///"
    if not tracking_uri.startswith(prefix):
        return
    db = Path(tracking_uri[len(prefix):])
    db.parent.mkdir(parents=True, exist_ok=True)
    with open(db.parent / (db.name + ".init.lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        from mlflow.tracking import MlflowClient

        MlflowClient(tracking_uri=tracking_uri).search_experiments(max_results=1)


def git_sha() -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, timeout=5)
        return out.stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def mlflow_loggers(trainer: Trainer) -> list[MLFlowLogger]:
    return [lg for lg in trainer.loggers if isinstance(lg, MLFlowLogger)]


def run_params(trainer: Trainer, module: LightningModule, seed: Any) -> dict[str, Any]:
    """The small flat set compared across runs; the full config goes in as an artifact."""
    from safelight.module import SafeFineTuner

    params: dict[str, Any] = {"seed": seed, "git_sha": git_sha()}
    if isinstance(module, SafeFineTuner):
        params.update(
            method=module.method_name,
            schedule=repr(module.schedule),
            granularity=module.granularity,
            divergence=module.divergence,
            model=module.policy_source.identity,
            lora=module.policy_source.lora is not None,
        )
    datamodule = getattr(trainer, "datamodule", None)
    if datamodule is not None:
        scenario = getattr(datamodule, "scenario", None)
        params["scenario"] = getattr(scenario, "name", None)
        judge = getattr(datamodule, "judge", None)
        params["judge"] = judge.identity if judge is not None else "none"
        params.update({k.replace("/", "_"): v for k, v in getattr(datamodule, "stats", {}).items()})
        if judge is not None:
            params.update(judge_params(datamodule, judge))
    return {k: v for k, v in params.items() if v is not None}


def judge_params(datamodule: Any, judge: Any) -> dict[str, Any]:
    """The failure policy and what this process's precompute did: items found in the cache vs sent
    to the judge, and the judge's own retry / timeout / failure counters (HTTP judges)."""
    params: dict[str, Any] = {"judge_failure_policy": getattr(datamodule, "failure_policy", None)}
    params.update(getattr(datamodule, "judge_precompute", None) or {})  # judge_items, judge_cached, ...
    stats = getattr(judge, "stats", None)
    if hasattr(stats, "as_dict"):
        for key, value in stats.as_dict().items():
            if key != "http_status":
                params[f"judge_{key}"] = value
    return params


def new_params(logger: MLFlowLogger, params: dict[str, Any]) -> dict[str, Any]:
    """Drop params the run already holds with another value: MLflow forbids changing a param, and a
    resumed run (same run id) legitimately differs in e.g. how many scores came from the cache."""
    existing = logger.experiment.get_run(logger.run_id).data.params
    return {k: v for k, v in params.items() if k not in existing or existing[k] == str(v)[:250]}


class MLflowConfigArtifact(SaveConfigCallback):
    """Saves the resolved config into the MLflow run (not into a log dir, which sqlite stores lack)."""

    def save_config(self, trainer: Trainer, pl_module: LightningModule, stage: str) -> None:
        loggers = mlflow_loggers(trainer)
        if not loggers or trainer.global_rank != 0:
            return
        text = self.parser.dump(self.config, skip_none=False)
        seed = self.config.get("seed_everything")
        for logger in loggers:
            with tempfile.TemporaryDirectory() as tmp:
                path = os.path.join(tmp, f"config_{getattr(stage, 'value', stage)}.yaml")
                Path(path).write_text(text)
                logger.experiment.log_artifact(logger.run_id, path, artifact_path="config")
            logger.log_hyperparams(new_params(logger, run_params(trainer, pl_module, seed)))
