"""ProbeRiskCallback: each training step, risk = the probe's calibrated probability of harmful intent,
read from the *reference* model's pre-generation activations, written into `batch["risk"]`.

Cost (`reference_pass`):
- `shared` (what `auto` picks whenever the schedule gives beta > 0 at risk 0, e.g. the paper's
  clamp schedule with beta_min 0.1, so the objective runs the reference on every batch anyway):
  one reference forward over the full batch. The probe reads its layer's hidden state at the last
  prompt token (causal attention: identical to a prompt-only pass), and the final hidden states
  are left in `batch[REFERENCE_HIDDEN_KEY]`, which `SafeFineTuner.objective_sums` reuses instead
  of running the reference again. Extra cost: the forward hook and a (batch, hidden) probe.
- `prompt_only` (what `auto` picks when beta can be 0, e.g. the threshold schedule, whose low-risk
  batches skip the reference): one extra reference forward over the prompt tokens only, stopped
  after the probe layer (the blocks above it are not run).
The probe must have been trained on this reference model; anything else is refused at fit start.
"""

from __future__ import annotations

from typing import Any, Literal

import torch
from lightning.pytorch import Callback, LightningModule, Trainer
from torch import Tensor

from safelight.models.forward import unwrap_peft
from safelight.probes.artifact import expected_fields, load_probe, weights_fingerprint
from safelight.probes.classifier import ProbeModel
from safelight.probes.features import capture_pooled, num_layers

ReferencePass = Literal["auto", "shared", "prompt_only"]


class ProbeRiskCallback(Callback):
    """Sets `batch["risk"]` from an activation probe before every training step.

    Args:
        probe_path: the probe's safetensors file (its `.json` metadata beside it), as written by
            `safelight probe --config configs/probe/<model>.yaml`.
        reference_pass: `auto`, `shared` or `prompt_only` (see the module docstring).
    """

    def __init__(self, probe_path: str, reference_pass: ReferencePass = "auto") -> None:
        super().__init__()
        self.probe_path = probe_path
        self.reference_pass = reference_pass
        self.probe: ProbeModel | None = None
        self.meta: Any = None
        self.shared = False

    def on_fit_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        reference = getattr(pl_module, "reference", None)
        if reference is None:
            raise RuntimeError(
                "ProbeRiskCallback reads the reference model's activations, but this module has none (a schedule "
                "that never needs the reference, e.g. ZeroSchedule, builds no reference); drop the callback or "
                "use a schedule with a KL term"
            )
        base = unwrap_peft(reference.model)
        expected = expected_fields(pl_module.policy_source.identity, base.config.hidden_size, num_layers(base),
                                   weights_fingerprint(reference.model))
        self.probe, self.meta = load_probe(self.probe_path, expected)
        self.probe.to(pl_module.device)
        if self.reference_pass == "auto":
            beta_at_zero = float(pl_module.schedule(torch.zeros(1)).max())
            self.shared = beta_at_zero > 0
        else:
            self.shared = self.reference_pass == "shared"

    @torch.no_grad()
    def risk_for(self, pl_module: LightningModule, batch: dict[str, Tensor]) -> Tensor:
        """The probe's calibrated risk per example (also stores the reference's final hidden states
        in the batch in `shared` mode)."""
        from safelight.module import REFERENCE_HIDDEN_KEY  # the module imports probes lazily too

        assert self.probe is not None and self.meta is not None, "on_fit_start has not run"
        input_ids, attention_mask = batch["input_ids"], batch["attention_mask"]
        lengths = batch["prompt_lengths"].to(input_ids.device)
        positions = torch.arange(input_ids.shape[1], device=input_ids.device)
        prompt_mask = positions[None, :] < lengths[:, None]  # training batches are right-padded
        layer = self.meta.layer
        with torch.inference_mode(), pl_module.reference.active() as model:
            if self.shared:
                pooled, final = capture_pooled(model, input_ids, attention_mask, [layer], prompt_mask,
                                               self.meta.pooling, stop=False)
                batch[REFERENCE_HIDDEN_KEY] = final
            else:
                width = int(lengths.max())
                pooled, _ = capture_pooled(model, input_ids[:, :width], attention_mask[:, :width], [layer],
                                           prompt_mask[:, :width], self.meta.pooling, stop=True)
            risk = self.probe.proba(pooled[layer])
        # Cloned outside inference mode: the loss multiplies it into tensors that need gradients.
        return risk.clone().float()

    def on_train_batch_start(self, trainer: Trainer, pl_module: LightningModule, batch: Any, batch_idx: int) -> None:
        risk = self.risk_for(pl_module, batch)
        batch["risk"] = risk.to(batch["risk"].device, batch["risk"].dtype)
        n = risk.numel()
        pl_module.log("probe/mean_risk", risk.mean(), on_step=True, on_epoch=True, batch_size=n)
        pl_module.log("probe/share_over_threshold", (risk >= self.meta.threshold).float().mean(),
                      on_step=True, on_epoch=True, batch_size=n)
