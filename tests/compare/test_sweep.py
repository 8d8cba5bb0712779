"""`safelight sweep` on a tiny random model: real MLflow runs, resume skips finished cells, failures recorded."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from mlflow.tracking import MlflowClient

from safelight.compare.grid import Variant, build_cells
from safelight.compare.sweep import main

REPO = Path(__file__).resolve().parents[2]
CFG = REPO / "configs"


def test_cells_have_stable_keys_and_method_after_scenario() -> None:
    methods = {"sft": ["m.yaml"], "mix": ["--x=1"]}
    scenarios = {"harmful": ["s.yaml"]}
    cells = build_cells("e", ["b.yaml"], methods, scenarios, seeds=[0, 1], lrs=[1e-3],
                        variants={"r1": Variant(["--v=1"], {"judge_recall": 1.0})})
    assert [c.label for c in cells] == ["sft/harmful/r1/lr0.001/s0", "mix/harmful/r1/lr0.001/s0",
                                        "sft/harmful/r1/lr0.001/s1", "mix/harmful/r1/lr0.001/s1"]
    args = cells[0].args
    assert args[:6] == ["--config", "b.yaml", "--config", "s.yaml", "--config", "m.yaml"]
    assert "--seed_everything=0" in args and "--model.optimizer.init_args.lr=0.001" in args
    assert cells[0].tags("e")["sweep.judge_recall"] == "1.0"
    again = build_cells("e", ["b.yaml"], methods, scenarios, seeds=[0, 1], lrs=[1e-3],
                        variants={"r1": Variant(["--v=1"], {"judge_recall": 1.0})})
    assert [c.key for c in cells] == [c.key for c in again]
    assert len({c.key for c in cells}) == 4


def test_editing_a_config_file_changes_the_cell_key(tmp_path: Path) -> None:
    """A finished cell is reused only while the config files it names are unchanged."""
    scenario = tmp_path / "s.yaml"
    scenario.write_text("model:\n  optimizer:\n    init_args:\n      lr: 0.0005\n")

    def key() -> str:
        (cell,) = build_cells("e", [], {"sft": []}, {"harmful": [str(scenario)]}, seeds=[0])
        return cell.key

    before = key()
    assert key() == before
    scenario.write_text("model:\n  optimizer:\n    init_args:\n      lr: 0.0002\n")
    assert key() != before


def write_sweep(tmp_path: Path, tiny_model_dir: Path, methods: dict[str, list[str]]) -> Path:
    config = {
        "experiment": "sweep-test",
        "tracking_uri": f"sqlite:///{tmp_path}/mlflow.db",
        "artifact_location": str(tmp_path / "artifacts"),
        "base": [str(CFG / "quickstart.yaml"), "--model.policy=safelight.models.PretrainedPolicy",
                 f"--model.policy.name_or_path={tiny_model_dir}", "--data.cache_dir=judge_cache"],
        "methods": methods,
        "scenarios": {"harmful": [str(CFG / "scenario" / "toy_harmful.yaml")]},
        "seeds": [0],
        "cell_args": ["--data.scenario.init_args.n=16", "--data.batch_size=8", "--trainer.max_steps=2",
                      "--trainer.enable_checkpointing=false", "--trainer.enable_progress_bar=false",
                      "--model.evaluator.init_args.max_new_tokens=2",
                      "--model.evaluator.init_args.evaluate_reference=false"],
        "parallel": 2,
        "compare": False,
    }
    path = tmp_path / "sweep.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def runs_by_status(tmp_path: Path) -> dict[str, list[str]]:
    client = MlflowClient(f"sqlite:///{tmp_path}/mlflow.db")
    exp_id = client.get_experiment_by_name("sweep-test").experiment_id
    out: dict[str, list[str]] = {}
    for run in client.search_runs([exp_id]):
        out.setdefault(run.info.status, []).append(run.data.tags["sweep.method"])
    return {k: sorted(v) for k, v in out.items()}


def test_sweep_runs_records_failures_and_resumes(tiny_model_dir: Path, tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.chdir(tmp_path)
    methods = {"sft": [str(CFG / "method" / "sft.yaml")], "broken": ["--model.no_such_argument=1"]}
    config = write_sweep(tmp_path, tiny_model_dir, methods)
    main(["--config", str(config)])  # subprocesses, two at a time
    assert runs_by_status(tmp_path) == {"FINISHED": ["sft"], "FAILED": ["broken"]}
    client = MlflowClient(f"sqlite:///{tmp_path}/mlflow.db")
    failed = client.search_runs([client.get_experiment_by_name("sweep-test").experiment_id],
                                filter_string="attributes.status = 'FAILED'")[0]
    assert "no_such_argument" in failed.data.tags["sweep.error"]
    out = capsys.readouterr().out
    assert "[2/2]" in out and "ETA" in out

    main(["--config", str(config), "--retry_failed=false"])
    assert "0 to run" in capsys.readouterr().out
    assert runs_by_status(tmp_path) == {"FINISHED": ["sft"], "FAILED": ["broken"]}

    # A grown grid resumed in-process: only the new cell and the failed one run again.
    methods["adaptive_critic"] = [str(CFG / "method" / "adaptive_critic.yaml")]
    config = write_sweep(tmp_path, tiny_model_dir, methods)
    main(["--config", str(config), "--launcher=inprocess"])
    assert "2 to run" in capsys.readouterr().out
    assert runs_by_status(tmp_path) == {"FINISHED": ["adaptive_critic", "sft"], "FAILED": ["broken", "broken"]}


def test_unknown_method_filter_is_refused(tmp_path: Path, tiny_model_dir: Path) -> None:
    config = write_sweep(tmp_path, tiny_model_dir, {"sft": [str(CFG / "method" / "sft.yaml")]})
    with pytest.raises(SystemExit, match="unknown methods"):
        main(["--config", str(config), "--only_methods=[nope]"])


@pytest.mark.parametrize("path", sorted((CFG / "sweeps").glob("*.yaml")), ids=lambda p: p.stem)
def test_shipped_sweep_configs_expand_to_existing_configs(path: Path, monkeypatch) -> None:
    from safelight.compare.sweep import build_parser, cells_of

    monkeypatch.chdir(REPO)
    assert path.read_text().startswith(f"# safelight sweep --config configs/sweeps/{path.name}")
    cells = cells_of(build_parser().parse_args(["--config", str(path)]))
    assert cells and len({c.key for c in cells}) == len(cells)
    for cell in cells:
        configs = [cell.args[i + 1] for i, a in enumerate(cell.args) if a == "--config"]
        assert all((REPO / c).exists() for c in configs), cell.label
