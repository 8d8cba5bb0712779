"""The GPU configs for the paper's grid (5 models x 4 scenarios x 4 methods) compose and instantiate.

`run=False` builds the module, data module and trainer without loading weights or data (policy
sources, scenarios and judges are lazy), so no download happens; the trainer is moved to CPU.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from safelight.cli import SafelightCLI

REPO = Path(__file__).resolve().parents[2]
REAL = REPO / "configs" / "real"
MODELS = sorted((REAL / "models").glob("*.yaml"))
SCENARIOS = sorted((REAL / "scenarios").glob("*.yaml"))
METHODS = [REPO / "configs" / "method" / f"{m}.yaml" for m in ("sft", "constant_kl", "adaptive_critic")] + [
    REAL / "methods" / "adaptive_probe.yaml"]
GRID = list(itertools.product(MODELS, SCENARIOS, METHODS))
# Every model, scenario and method at least once (a diagonal through the grid).
REPRESENTATIVE = [(MODELS[i % len(MODELS)], SCENARIOS[i % len(SCENARIOS)], METHODS[(i + i // 4) % len(METHODS)])
                  for i in range(max(len(MODELS), len(SCENARIOS), len(METHODS)))]


def instantiate(model: Path, scenario: Path, method: Path) -> SafelightCLI:
    args = [a for c in (REAL / "base.yaml", model, scenario, method) for a in ("--config", str(c))]
    return SafelightCLI(args=[*args, "--trainer.accelerator=cpu", "--trainer.precision=32-true"], run=False)


def check(cli: SafelightCLI, model: Path, scenario: Path, method: Path) -> None:
    module = cli.model
    assert module.policy_model is None  # nothing loaded
    policy = module.policy_source
    assert policy.lora is not None and (policy.lora.r, policy.lora.alpha) == (64, 16)
    assert policy.dtype == "bfloat16" and policy.trust_remote_code is False
    assert Path(model).read_text().split("name_or_path: ")[1].strip() == policy.name_or_path
    assert module.method_name == method.stem
    assert type(cli.datamodule.scenario).__name__.lower().replace("finetuning", "") in scenario.stem.replace("_", "")
    assert module.evaluator.correctness_judge is not None and module.evaluator.judge.api_key_env == "OPENAI_API_KEY"
    probe = [c for c in cli.trainer.callbacks if type(c).__name__ == "ProbeRiskCallback"]
    assert bool(probe) == (method.stem == "adaptive_probe")
    assert (cli.datamodule.judge is None) == (method.stem == "adaptive_probe")


def test_grid_is_complete() -> None:
    assert len(MODELS) == 5 and len(SCENARIOS) == 4 and all(m.exists() for m in METHODS)
    assert {p for combo in REPRESENTATIVE for p in combo} == set(MODELS) | set(SCENARIOS) | set(METHODS)
    for path in [REAL / "base.yaml", *MODELS, *SCENARIOS, REAL / "methods" / "adaptive_probe.yaml"]:
        first = path.read_text().splitlines()[0]
        assert first.startswith("# GPU config") and "safelight fit --config configs/real/base.yaml" in first, path


@pytest.mark.parametrize("model, scenario, method", REPRESENTATIVE,
                         ids=lambda p: p.stem if isinstance(p, Path) else str(p))
def test_representative_compositions_instantiate(model: Path, scenario: Path, method: Path, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)  # instantiation never reads the key
    check(instantiate(model, scenario, method), model, scenario, method)


@pytest.mark.slow
@pytest.mark.parametrize("model, scenario, method", GRID, ids=lambda p: p.stem if isinstance(p, Path) else str(p))
def test_full_grid_instantiates(model: Path, scenario: Path, method: Path, tmp_path: Path,
                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    check(instantiate(model, scenario, method), model, scenario, method)
