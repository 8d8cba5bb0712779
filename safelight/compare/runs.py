"""Reading runs back from MLflow: the only source `safelight compare` uses.

A run's identity for comparison comes from the `sweep.*` tags the sweep sets (method, scenario,
seed, lr, variant, and any variant tags such as `sweep.judge_recall`); runs made by hand fall back
to the params every `safelight fit` logs (method, scenario, seed).
"""

from __future__ import annotations

from typing import Any, Iterator

import pandas as pd
from mlflow.entities import Run
from mlflow.tracking import MlflowClient

SWEEP_TAG_PREFIX = "sweep."
#: Tag marking runs that are not training cells (e.g. the comparison run holding the figures).
KIND_TAG = "safelight.kind"
IDENTITY_COLUMNS = ("method", "scenario", "seed", "lr", "variant")


class ExperimentNotFoundError(LookupError):
    pass


def experiment_id(client: MlflowClient, name: str) -> str:
    experiment = client.get_experiment_by_name(name)
    if experiment is None:
        known = ", ".join(sorted(e.name for e in client.search_experiments())) or "none"
        raise ExperimentNotFoundError(f"no MLflow experiment named {name!r} (known: {known})")
    return experiment.experiment_id


def iter_runs(client: MlflowClient, exp_id: str, filter_string: str = "") -> Iterator[Run]:
    """Every run matching the filter, across result pages."""
    token: str | None = None
    while True:
        page = client.search_runs([exp_id], filter_string=filter_string, max_results=1000, page_token=token)
        yield from page
        token = page.token
        if not token:
            return


def run_record(run: Run) -> dict[str, Any]:
    """A flat row: identity columns, every `sweep.*` tag (prefix dropped), and the latest metrics."""
    tags, params = run.data.tags, run.data.params
    record: dict[str, Any] = {"run_id": run.info.run_id, "status": run.info.status}
    for key in IDENTITY_COLUMNS:
        record[key] = tags.get(SWEEP_TAG_PREFIX + key, params.get(key, ""))
    for key, value in tags.items():
        if key.startswith(SWEEP_TAG_PREFIX):
            record.setdefault(key[len(SWEEP_TAG_PREFIX):], value)
    record.update(run.data.metrics)
    return record


def load_runs(client: MlflowClient, experiment: str, finished_only: bool = True) -> pd.DataFrame:
    """One row per training run of the experiment (comparison runs excluded)."""
    exp_id = experiment_id(client, experiment)
    status = "attributes.status = 'FINISHED'" if finished_only else ""
    records = [run_record(r) for r in iter_runs(client, exp_id, status) if KIND_TAG not in r.data.tags]
    return pd.DataFrame.from_records(records)


def metric_history(client: MlflowClient, run_ids: list[str], key: str) -> pd.DataFrame:
    """Long frame (run_id, step, value) of a metric's full history (e.g. the `curve/asr` safety curve)."""
    rows = [(run_id, m.step, m.value) for run_id in run_ids for m in client.get_metric_history(run_id, key)]
    return pd.DataFrame(rows, columns=["run_id", "step", "value"])
