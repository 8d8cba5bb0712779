"""ProbeRiskCallback in a real Trainer.fit: the loss uses the probe's risk, a probe for another model
is refused, and in `shared` mode the reference runs once per step (the objective reuses it)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from lightning.pytorch import Callback, Trainer

from safelight.data.datamodule import SafetyDataModule
from safelight.data.toy_scenario import ToyScenario
from safelight.models.sources import PretrainedPolicy
from safelight.module import SafeFineTuner
from safelight.objective import PaperClampSchedule, ThresholdSchedule
from safelight.probes.artifact import ProbeMismatchError, load_probe
from safelight.probes.callback import ProbeRiskCallback
from safelight.probes.features import capture_pooled, decoder_blocks, prompt_features

from .conftest import make_probe


class Check(Callback):
    """Recomputes each row's risk from its unpadded prompt alone and records the logged beta."""

    def __init__(self, probe_path: Path) -> None:
        self.probe, self.meta = load_probe(probe_path)
        self.expected: list[torch.Tensor] = []
        self.seen: list[torch.Tensor] = []
        self.logged_beta: list[float] = []
        self.reference_calls = 0

    def on_fit_start(self, trainer, pl_module) -> None:
        blocks = decoder_blocks(pl_module.reference.model)
        blocks[0].register_forward_hook(lambda *_: setattr(self, "reference_calls", self.reference_calls + 1))

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        risks = []
        for ids, length in zip(batch["input_ids"], batch["prompt_lengths"]):
            prompt = ids[: int(length)][None]
            with torch.no_grad():
                pooled, _ = capture_pooled(pl_module.reference.model, prompt, torch.ones_like(prompt),
                                           [self.meta.layer], pooling=self.meta.pooling)
            risks.append(self.probe.proba(pooled[self.meta.layer])[0])
        self.expected.append(torch.stack(risks))
        self.seen.append(batch["risk"].clone())

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        self.logged_beta.append(float(trainer.callback_metrics["train/beta_step"]))


def _fit(tmp_path: Path, model_dir: Path, probe: Path, schedule, reference_pass: str, steps: int = 3) -> Check:
    module = SafeFineTuner(PretrainedPolicy(str(model_dir)), schedule=schedule,
                           optimizer=lambda p: torch.optim.AdamW(p, lr=1e-3))
    dm = SafetyDataModule(ToyScenario("mixed", n=24, harmful_fraction=0.5), judge=None,
                          cache_dir=str(tmp_path / "cache"), batch_size=8, max_length=64)
    dm.tokenizer = module.tokenizer
    check = Check(probe)
    trainer = Trainer(max_steps=steps, accelerator="cpu", devices=1, logger=False, enable_checkpointing=False,
                      enable_progress_bar=False, enable_model_summary=False,
                      callbacks=[ProbeRiskCallback(str(probe), reference_pass), check])  # type: ignore[arg-type]
    trainer.fit(module, datamodule=dm)
    return check


@pytest.mark.parametrize("reference_pass", ["shared", "prompt_only"])
def test_loss_uses_the_probe_risk(tmp_path: Path, tiny_model_dir: Path, tiny_lm, reference_pass: str) -> None:
    model, tokenizer = tiny_lm
    rows = ToyScenario("mixed", n=24, harmful_fraction=0.5).train_rows()
    features = prompt_features(model, tokenizer, [r["messages"][:-1] for r in rows], [1])[:, 0]
    probe = make_probe(tmp_path / "probe.safetensors", str(tiny_model_dir), 32, 2, layer=1, features=features)
    schedule = PaperClampSchedule()
    check = _fit(tmp_path, tiny_model_dir, probe, schedule, reference_pass)
    assert len(check.logged_beta) == 3
    for expected, seen, beta in zip(check.expected, check.seen, check.logged_beta):
        torch.testing.assert_close(seen, expected, atol=1e-5, rtol=1e-5)
        assert beta == pytest.approx(float(schedule(expected).mean()), abs=1e-5)
    spread = torch.cat(check.expected)
    assert spread.max() - spread.min() > 0.05, "the probe should give rows different risks"
    # The check callback runs the reference once per row; the rest are the training steps' passes.
    rows = sum(len(e) for e in check.expected)
    steps_passes = check.reference_calls - rows
    assert steps_passes == (3 if reference_pass == "shared" else 6)


def test_probe_for_another_model_is_refused(tmp_path: Path, tiny_model_dir: Path) -> None:
    probe = make_probe(tmp_path / "probe.safetensors", "some-other-model", 32, 2, layer=1)
    with pytest.raises(ProbeMismatchError, match="model_identity"):
        _fit(tmp_path, tiny_model_dir, probe, ThresholdSchedule(), "auto", steps=1)
