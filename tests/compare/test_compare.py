"""`safelight compare` on a real MLflow sqlite store built in tmp with client calls; numbers by hand."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import pytest
from mlflow.entities import Metric
from mlflow.tracking import MlflowClient

from safelight.compare.cli import main
from safelight.compare.runs import KIND_TAG, load_runs
from safelight.compare.table import mean_std

EXPERIMENT = "synthetic"


def add_run(client: MlflowClient, exp_id: str, method: str, scenario: str, seed: int, metrics: dict[str, float],
            status: str = "FINISHED", curve: list[float] | None = None) -> str:
    tags = {"sweep.method": method, "sweep.scenario": scenario, "sweep.seed": str(seed), "sweep.judge_recall": "1.0"}
    rid = client.create_run(exp_id, tags=tags).info.run_id
    logged = [Metric(f"eval/{k}", v, 0, 0) for k, v in metrics.items()]
    logged += [Metric("eval_reference/asr", 0.0, 0, 0), Metric("eval_reference/utility", 0.9, 0, 0)]
    for step, value in enumerate(curve or []):
        logged += [Metric("curve/asr", value, 0, 10 * step), Metric("curve/utility", 1 - value, 0, 10 * step),
                   Metric("train/risk_step", 1.0, 0, 10 * step), Metric("train/beta_step", 0.9, 0, 10 * step)]
    client.log_batch(rid, metrics=logged)  # one call: building the store dominates this file's time
    client.set_terminated(rid, status)
    return rid


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> str:
    root = tmp_path_factory.mktemp("store")
    uri = f"sqlite:///{root}/mlflow.db"
    client = MlflowClient(uri)
    exp_id = client.create_experiment(EXPERIMENT, artifact_location=str(root / "artifacts"))
    for seed, asr in enumerate([1.0, 0.8, 0.6]):
        add_run(client, exp_id, "sft", "harmful", seed, {"asr": asr, "utility": 0.5, "over_refusal": 0.0},
                curve=[0.0, asr])
    for seed, asr in enumerate([0.0, 0.1]):
        add_run(client, exp_id, "adaptive_critic", "harmful", seed, {"asr": asr, "utility": 0.9, "over_refusal": 0.1},
                curve=[0.0, asr])
    add_run(client, exp_id, "adaptive_critic", "benign", 0, {"asr": 0.25, "utility": 0.75, "over_refusal": 0.0})
    # A failed cell and a killed one must not count.
    add_run(client, exp_id, "sft", "harmful", 9, {"asr": 0.0, "utility": 0.0}, status="FAILED")
    add_run(client, exp_id, "adaptive_critic", "harmful", 9, {"asr": 1.0}, status="KILLED")
    return uri


def test_table_numbers_are_mean_and_sample_std_over_seeds(store: str, tmp_path: Path, capsys) -> None:
    out = tmp_path / "out"
    main(["--experiment", EXPERIMENT, "--tracking_uri", store, "--out", str(out), "--no_mlflow_log"])
    table = pd.read_csv(out / "table.csv").set_index(["scenario", "method"])
    sft = table.loc[("harmful", "sft")]
    assert sft["n"] == 3
    assert sft["asr_mean"] == pytest.approx(0.8)
    assert sft["asr_std"] == pytest.approx(0.2)  # sqrt(((0.2)^2 + 0 + (0.2)^2) / (3 - 1))
    adaptive = table.loc[("harmful", "adaptive_critic")]
    assert adaptive["n"] == 2
    assert adaptive["asr_mean"] == pytest.approx(0.05)
    assert adaptive["asr_std"] == pytest.approx(math.sqrt(0.005))
    assert adaptive["over_refusal_mean"] == pytest.approx(0.1)
    single = table.loc[("benign", "adaptive_critic")]
    assert single["n"] == 1 and math.isnan(single["asr_std"])
    # Harmful before benign, sft before adaptive_critic.
    assert list(table.index) == [("harmful", "sft"), ("harmful", "adaptive_critic"), ("benign", "adaptive_critic")]
    markdown = (out / "table.md").read_text()
    assert "| harmful | sft | 0.80 ± 0.20 |" in markdown
    assert "| benign | adaptive_critic | 0.25 |" in markdown
    assert markdown in capsys.readouterr().out
    for figure in ("asr_vs_utility.png", "safety_curves.png", "risk_beta_histograms.png"):
        assert (out / figure).stat().st_size > 1000, figure


def test_outputs_are_logged_to_a_comparison_run_that_later_compares_ignore(store: str, tmp_path: Path) -> None:
    main(["--experiment", EXPERIMENT, "--tracking_uri", store, "--out", str(tmp_path / "a"), "--no_figures"])
    client = MlflowClient(store)
    exp_id = client.get_experiment_by_name(EXPERIMENT).experiment_id
    comparisons = [r for r in client.search_runs([exp_id]) if r.data.tags.get(KIND_TAG) == "comparison"]
    assert len(comparisons) == 1
    logged = {a.path for a in client.list_artifacts(comparisons[0].info.run_id, "comparison")}
    assert {"comparison/table.csv", "comparison/table.md"} <= logged
    assert len(load_runs(client, EXPERIMENT)) == 6  # the comparison run is not a training run


def test_x_param_adds_the_tag_to_the_keys_and_plots_against_it(store: str, tmp_path: Path) -> None:
    out = tmp_path / "x"
    main(["--experiment", EXPERIMENT, "--tracking_uri", store, "--out", str(out), "--x_param", "judge_recall",
          "--no_mlflow_log"])
    assert "judge_recall" in pd.read_csv(out / "table.csv").columns
    assert (out / "metrics_vs_judge_recall.png").exists()


def test_unknown_experiment_names_the_known_ones(store: str) -> None:
    with pytest.raises(LookupError, match="synthetic"):
        main(["--experiment", "nope", "--tracking_uri", store, "--no_mlflow_log"])


def test_mean_std_format() -> None:
    assert mean_std(0.123, 0.0456) == "0.12 ± 0.05"
    assert mean_std(0.5, math.nan) == "0.50"
    assert mean_std(math.nan, math.nan) == "—"
