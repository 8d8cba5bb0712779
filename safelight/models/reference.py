"""The frozen safe reference policy pi_ref.

Two ways to hold it: a frozen copy of the policy's initial weights (full fine-tuning), or the same
LoRA model with its adapters disabled (no second copy of the weights; the base weights are frozen
by LoRA anyway, so the adapter-disabled model *is* the initial model).
"""

from __future__ import annotations

import copy
from contextlib import contextmanager, nullcontext
from typing import Callable, ContextManager, Iterator, Literal

import torch
from torch import Tensor, nn

from safelight.models.forward import decoder_hidden_states, output_head

ReferenceKind = Literal["auto", "frozen_copy", "disabled_adapter"]


class ReferenceConfigError(ValueError):
    pass


def is_peft_model(model: nn.Module) -> bool:
    return hasattr(model, "disable_adapter") and hasattr(model, "peft_config")


def resolve_reference_kind(kind: ReferenceKind, policy: nn.Module) -> Literal["frozen_copy", "disabled_adapter"]:
    if kind == "auto":
        return "disabled_adapter" if is_peft_model(policy) else "frozen_copy"
    if kind == "disabled_adapter" and not is_peft_model(policy):
        raise ReferenceConfigError(
            "model.init_args.reference=disabled_adapter needs a LoRA policy: set "
            "model.init_args.policy.init_args.lora, or use reference=frozen_copy for full fine-tuning"
        )
    return kind


def make_frozen_copy(policy: nn.Module) -> nn.Module:
    reference = copy.deepcopy(policy)
    reference.requires_grad_(False)
    reference.eval()
    return reference


class ReferencePolicy:
    """Runs pi_ref: `hidden_states` under inference mode, and its output head."""

    def __init__(self, model: nn.Module, adapter_disabled_view: bool) -> None:
        self.model = model
        self.adapter_disabled_view = adapter_disabled_view

    def _context(self) -> ContextManager:
        return self.model.disable_adapter() if self.adapter_disabled_view else nullcontext()

    @contextmanager
    def active(self) -> Iterator[nn.Module]:
        """The model behaving as pi_ref (for generation); dropout off while inside."""
        was_training = self.model.training
        self.model.eval()
        try:
            with self._context():
                yield self.model
        finally:
            self.model.train(was_training)

    def hidden_states(self, input_ids: Tensor, attention_mask: Tensor) -> Tensor:
        # Inference mode: no autograd graph, no saved activations. The result is cloned by the
        # caller's selection (indexing) so it can meet the policy's tensors in the loss.
        with torch.inference_mode(), self.active() as model:
            return decoder_hidden_states(model, input_ids, attention_mask)

    @property
    def head(self) -> Callable[[Tensor], Tensor]:
        return output_head(self.model)
