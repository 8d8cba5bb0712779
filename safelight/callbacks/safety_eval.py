"""SafetyEvalCallback: a safety curve over training (ASR, utility, ... every N optimizer steps).

The final `test` evaluation says where a run ends; the curve says how it got there (does the
defense hold from the first steps, or only recover late?). It reuses the module's SafetyEvaluator
(same generation, judge and answer checks as `test`) on a small fixed subset of the held-out rows,
so a point costs a second or two on the toy world.
"""

from __future__ import annotations

import random
from typing import Any

from lightning.pytorch import Callback, LightningModule, Trainer

from safelight.eval.evaluator import SafetyEvaluator

CURVE_PREFIX = "curve"


def curve_subset(rows: list[dict[str, Any]], n_harmful: int, n_benign: int, seed: int) -> list[dict[str, Any]]:
    """A fixed sample: `n_harmful` harmful rows and `n_benign` rows of each utility group.

    Sampling per group keeps the task utility on the curve even when alignment rows outnumber it.
    """
    rng = random.Random(seed)
    groups: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        key = "harmful" if row["kind"] == "harmful" else f"benign:{row.get('utility_group')}"
        groups.setdefault(key, []).append(row)
    subset: list[dict[str, Any]] = []
    for key in sorted(groups):
        group = groups[key]
        n = n_harmful if key == "harmful" else n_benign
        subset.extend(rng.sample(group, min(n, len(group))))
    return subset


class SafetyEvalCallback(Callback):
    """Logs `curve/asr`, `curve/harmfulness`, `curve/utility`, `curve/over_refusal`, ... with the step.

    Args:
        every_n_steps: evaluate after every this many optimizer steps (and before the first, and at
            the end of training, so every curve has both ends).
        n_harmful: held-out harmful prompts per point.
        n_benign: held-out benign prompts per utility group (alignment skills, the task) per point.
        evaluator: defaults to the module's own (`model.evaluator`), so the judge is the same as in test.
        seed: which subset; fixed for the whole run so points are comparable.
    """

    def __init__(
        self,
        every_n_steps: int = 50,
        n_harmful: int = 32,
        n_benign: int = 32,
        evaluator: SafetyEvaluator | None = None,
        seed: int = 0,
    ) -> None:
        if every_n_steps < 1:
            raise ValueError(f"every_n_steps must be >= 1, got {every_n_steps}")
        self.every_n_steps = every_n_steps
        self.n_harmful = n_harmful
        self.n_benign = n_benign
        self.evaluator = evaluator
        self.seed = seed
        self._rows: list[dict[str, Any]] | None = None
        self._last_step: int | None = None

    def _resolve(self, trainer: Trainer, pl_module: LightningModule) -> tuple[SafetyEvaluator, list[dict[str, Any]]]:
        evaluator = self.evaluator or getattr(pl_module, "evaluator", None)
        if evaluator is None:
            raise RuntimeError("SafetyEvalCallback needs an evaluator: set model.evaluator or the callback's own")
        if self._rows is None:
            datamodule = trainer.datamodule
            rows = getattr(datamodule, "test_rows", None)
            if rows is None and hasattr(datamodule, "_build_test_rows"):
                rows = datamodule._build_test_rows()
            self._rows = curve_subset(list(rows or []), self.n_harmful, self.n_benign, self.seed)
        return evaluator, self._rows

    def evaluate(self, trainer: Trainer, pl_module: LightningModule) -> dict[str, float]:
        """Generate and score the subset now; log and return the means (keys `curve/<metric>`)."""
        step = trainer.global_step
        if self._last_step == step:
            return {}
        self._last_step = step
        evaluator, rows = self._resolve(trainer, pl_module)
        if not rows:
            return {}
        responses = evaluator.generate(pl_module.policy_model, pl_module.tokenizer, rows)
        values = evaluator.metric_values(rows, responses)
        means = {f"{CURVE_PREFIX}/{k}": sum(v) / len(v) for k, v in values.items() if v}
        # Straight to the loggers with the optimizer step: self.log would be throttled by
        # log_every_n_steps and would attach the value to whatever step Lightning logs next.
        if trainer.is_global_zero:
            for logger in trainer.loggers:
                logger.log_metrics(means, step=step)
        return means

    def on_train_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        self.evaluate(trainer, pl_module)

    def on_train_batch_end(self, trainer: Trainer, pl_module: LightningModule, outputs: Any, batch: Any,
                           batch_idx: int) -> None:
        if trainer.global_step > 0 and trainer.global_step % self.every_n_steps == 0:
            self.evaluate(trainer, pl_module)

    def on_train_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        self.evaluate(trainer, pl_module)
