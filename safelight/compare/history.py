"""Per-run series read from MLflow for the figures: safety curves and per-example risk / beta."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Sequence

import pandas as pd
from mlflow.tracking import MlflowClient

from safelight.callbacks.safety_eval import CURVE_PREFIX
from safelight.compare.runs import metric_history

RISK_BETA_ARTIFACT = "train/risk_beta.csv"  # written by safelight.callbacks.risk_record.RiskBetaRecorder


def curves(client: MlflowClient, runs: pd.DataFrame, metrics: Sequence[str] = ("asr", "utility")) -> pd.DataFrame:
    """Long frame: scenario, method, run_id, metric, step, value (empty when no run logged a curve)."""
    parts = []
    ids = runs[["run_id", "scenario", "method"]]
    for metric in metrics:
        hist = metric_history(client, list(ids["run_id"]), f"{CURVE_PREFIX}/{metric}")
        if not hist.empty:
            parts.append(hist.merge(ids, on="run_id").assign(metric=metric))
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()


def _artifact_values(client: MlflowClient, run_id: str, tmp: Path) -> pd.DataFrame | None:
    folder, _, _ = RISK_BETA_ARTIFACT.rpartition("/")
    if RISK_BETA_ARTIFACT not in {a.path for a in client.list_artifacts(run_id, folder)}:
        return None
    local = client.download_artifacts(run_id, RISK_BETA_ARTIFACT, str(tmp))
    return pd.read_csv(local)


def risk_beta_values(client: MlflowClient, runs: pd.DataFrame) -> tuple[pd.DataFrame, str]:
    """Long frame: scenario, method, quantity (risk | beta), value; and where the values came from.

    Per-example values from the RiskBetaRecorder artifact where a run has it; otherwise the
    `train/risk_step` / `train/beta_step` batch means (coarser: they blur per-example weights).
    """
    parts: list[pd.DataFrame] = []
    sources: set[str] = set()
    with tempfile.TemporaryDirectory() as tmp:
        for _, run in runs.iterrows():
            frame = _artifact_values(client, run["run_id"], Path(tmp))
            if frame is not None:
                sources.add("per-example artifact")
                long = frame.melt(value_vars=["risk", "beta"], var_name="quantity", value_name="value")
            else:
                long = pd.concat([metric_history(client, [run["run_id"]], f"train/{q}_step").assign(quantity=q)
                                  for q in ("risk", "beta")], ignore_index=True)
                if long.empty:
                    continue
                sources.add("batch-mean step metrics")
            parts.append(long[["quantity", "value"]].assign(scenario=run["scenario"], method=run["method"]))
    values = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()
    return values, " + ".join(sorted(sources)) or "none"
