"""The `safelight` CLI end to end on a tiny random model: configs, fast_dev_run, MLflow tracking."""

from __future__ import annotations

from pathlib import Path

import mlflow
import pytest
import torch
import yaml

from safelight.cli import SafelightCLI, main

REPO = Path(__file__).resolve().parents[2]
CONFIGS = REPO / "configs"


def shipped_fit_configs() -> list[list[str]]:
    """Every shipped config, each in the composition its header comment gives."""
    base = str(CONFIGS / "quickstart.yaml")
    combos = [[base]]
    for part in sorted((CONFIGS / "method").glob("*.yaml")) + sorted((CONFIGS / "scenario").glob("*.yaml")):
        combos.append([base, str(part)])
    return combos


@pytest.mark.parametrize("configs", shipped_fit_configs(), ids=lambda c: Path(c[-1]).stem)
def test_every_shipped_config_instantiates(configs: list[str], tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    cli = SafelightCLI(args=[a for c in configs for a in ("--config", c)], run=False)
    assert cli.model is not None and cli.datamodule is not None and cli.trainer is not None


@pytest.mark.parametrize("trainer", sorted((CONFIGS / "trainer").glob("*.yaml")), ids=lambda p: p.stem)
def test_every_trainer_config_parses(trainer: Path, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    if yaml.safe_load(trainer.read_text()).get("accelerator") in ("gpu", "cuda") and not torch.cuda.is_available():
        pytest.skip(f"{trainer.name} is a GPU config (covered by tests/distributed/test_trainer_configs.py)")
    cli = SafelightCLI(args=["--config", str(CONFIGS / "quickstart.yaml"), "--trainer", str(trainer)], run=False)
    assert cli.config["trainer"]["accelerator"] in ("cpu", "gpu", "cuda", "auto")


def tiny_overrides(model_dir: Path) -> list[str]:
    return [
        "--config", str(CONFIGS / "quickstart.yaml"),
        "--model.policy=safelight.models.PretrainedPolicy",
        f"--model.policy.name_or_path={model_dir}",
        "--data.cache_dir=judge_cache",
        "--data.scenario.init_args.n=32",
    ]


def test_fast_dev_run_smoke(tiny_model_dir: Path, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    cli = SafelightCLI(args=["fit", *tiny_overrides(tiny_model_dir), "--trainer.fast_dev_run=2"])
    assert cli.trainer.global_step == 2
    assert cli.trainer.callback_metrics["train/nll_step"] > 0


def test_fit_then_evaluate_is_tracked_in_mlflow(tiny_model_dir: Path, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    main(["fit", *tiny_overrides(tiny_model_dir), "--trainer.max_steps=3", "--trainer.limit_test_batches=1",
          "--trainer.enable_checkpointing=false", "--model.evaluator.init_args.max_new_tokens=4",
          "--trainer.logger.init_args.experiment_name=smoke"])
    mlflow.set_tracking_uri("sqlite:///mlruns/mlflow.db")
    runs = mlflow.search_runs(experiment_names=["smoke"], output_format="list")
    assert len(runs) == 1
    run = runs[0]
    for key in ("train/nll_step", "train/kl_step", "train/beta_step", "train/risk_step", "eval/asr",
                "eval/harmfulness", "eval/keyword_asr", "eval/utility", "eval/over_refusal", "eval_reference/asr"):
        assert key in run.data.metrics, key
    assert run.data.params["method"] == "adaptive_critic"
    assert run.data.params["scenario"] == "toy_harmful"
    client = mlflow.MlflowClient()
    artifacts = {a.path for a in client.list_artifacts(run.info.run_id)}
    assert {"config", "eval"} <= artifacts
    config_files = [a.path for a in client.list_artifacts(run.info.run_id, "config")]
    assert config_files == ["config/config_fit.yaml"]
    text = Path(client.download_artifacts(run.info.run_id, "config/config_fit.yaml", str(tmp_path))).read_text()
    assert "PaperClampSchedule" in text and "ToyJudge" in text
