"""Stop training at the first non-finite loss or gradient, before it reaches the weights.

Checked before backward (the loss) and before the optimizer step (the gradients), so the step that
went wrong never updates the weights and is never checkpointed: the last checkpoint on disk is
the last good state. Every rank takes the same decision (one all-reduce of a flag), so one rank
with a NaN does not leave the others waiting in a collective.
"""

from __future__ import annotations

import torch
from lightning.pytorch import Callback, LightningModule, Trainer
from torch import Tensor


class NonFiniteLossError(RuntimeError):
    """Training produced a NaN or infinite loss or gradient; the weights were not updated by it."""


def _last_checkpoint(trainer: Trainer) -> str:
    callback = trainer.checkpoint_callback
    path = getattr(callback, "last_model_path", "") or getattr(callback, "best_model_path", "")
    return f"the last checkpoint is kept: {path}" if path else "no checkpoint had been written yet"


def _local(tensor: Tensor) -> Tensor:
    return tensor.to_local() if hasattr(tensor, "to_local") else tensor


class FiniteLossGuard(Callback):
    """Raises `NonFiniteLossError` naming the step; gradients are not checked under fp16 loss
    scaling, whose scaler skips such steps by design."""

    def _stop(self, trainer: Trainer, what: str, detail: str) -> None:
        raise NonFiniteLossError(
            f"training stopped at step {trainer.global_step} (epoch {trainer.current_epoch}, batch "
            f"{trainer.fit_loop.epoch_loop.batch_idx}): {what} is not finite ({detail}). This step did not "
            f"update the weights; {_last_checkpoint(trainer)}. Lower the learning rate "
            "(model.optimizer.init_args.lr) or check the data, then resume with --ckpt_path last."
        )

    def _all_finite(self, trainer: Trainer, finite: bool) -> bool:
        return bool(trainer.strategy.reduce_boolean_decision(finite, all=True))

    def on_before_backward(self, trainer: Trainer, pl_module: LightningModule, loss: Tensor) -> None:
        if not self._all_finite(trainer, bool(torch.isfinite(loss.detach()).all())):
            self._stop(trainer, "the loss", f"loss={loss.detach().float().item()}")

    def on_before_optimizer_step(self, trainer: Trainer, pl_module: LightningModule,
                                 optimizer: torch.optim.Optimizer) -> None:
        if str(trainer.precision) in ("16-mixed", "16"):
            return
        # Sharded (DTensor) gradients: this rank's shard is enough, the decision is all-reduced.
        grads = [_local(p.grad) for group in optimizer.param_groups for p in group["params"] if p.grad is not None]
        # One fused norm per tensor and one host sync, instead of a check per parameter.
        norms = [n.float() for n in torch._foreach_norm(grads)] if grads else []
        finite = bool(torch.stack(norms).isfinite().all()) if norms else True
        if not self._all_finite(trainer, finite):
            self._stop(trainer, "a gradient", "some parameter's gradient holds NaN or inf")
