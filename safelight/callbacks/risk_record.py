"""RiskBetaRecorder: the per-example risk and KL weight beta each training row was trained with.

The step metrics `train/risk` and `train/beta` are batch means, which hide exactly what matters:
per-example weighting should give a bimodal beta (benign rows near beta_min, harmful rows near
beta_max) where a batch mean sits in between. This records the per-example values and logs them
once, at the end of training, as the MLflow artifact `train/risk_beta.csv` (step, risk, beta).
"""

from __future__ import annotations

from typing import Any

import torch
from lightning.pytorch import Callback, LightningModule, Trainer

from safelight.objective.weights import example_betas

ARTIFACT_FILE = "train/risk_beta.csv"


class RiskBetaRecorder(Callback):
    """Args:
        max_rows: stop recording after this many examples (long runs: the histogram is settled by then).
    """

    def __init__(self, max_rows: int = 50_000) -> None:
        self.max_rows = max_rows
        self.rows: list[tuple[int, float, float]] = []

    def on_train_batch_end(self, trainer: Trainer, pl_module: LightningModule, outputs: Any, batch: Any,
                           batch_idx: int) -> None:
        if len(self.rows) >= self.max_rows or "risk" not in batch:
            return
        risk = batch["risk"].detach().float()
        # The same mapping the module applied this step (the risk is final by batch end: a probe
        # callback fills it at batch start).
        if getattr(pl_module, "constrained_sft", None) is not None:
            beta = torch.full_like(risk, float("nan"))  # c_sft weights positions, not examples: no per-example beta
        else:
            beta = example_betas(pl_module.schedule, risk, pl_module.granularity)  # type: ignore[arg-type]
        step = trainer.global_step
        self.rows.extend((step, float(r), float(b)) for r, b in zip(risk.cpu().tolist(), beta.cpu().tolist()))

    def on_train_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        if not trainer.is_global_zero or not self.rows:
            return
        text = "step,risk,beta\n" + "".join(f"{s},{r:.6g},{b:.6g}\n" for s, r, b in self.rows)
        for logger in trainer.loggers:
            experiment, run_id = getattr(logger, "experiment", None), getattr(logger, "run_id", None)
            if run_id is not None and hasattr(experiment, "log_text"):
                experiment.log_text(run_id, text, ARTIFACT_FILE)
