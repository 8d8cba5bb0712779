"""Sharding the policy and the frozen reference under Lightning's strategies.

`SafeFineTuner.configure_model` calls `shard_for_strategy` once both models exist:

- DDP: nothing is wrapped here. The reference has no trainable parameters, so DDP would only
  broadcast it at start-up and sync its buffers every step; it is listed as ignored instead.
- `ModelParallelStrategy` (FSDP2): Lightning leaves parallelisation to the module, so every
  decoder layer and then the root get `fully_shard` over the data-parallel mesh. The reference
  gets the same layer policy (`reference_sharding="shard"`) or stays a full copy on every rank
  (`"replicate"`).
- `FSDPStrategy` (FSDP1, CUDA only): Lightning wraps the whole LightningModule after
  `configure_model` with the strategy's `auto_wrap_policy`, which reaches the reference's layers
  too (= "shard"). For "replicate" the reference is handed to FSDP as an ignored module.

Why an option at all: sharding the reference divides its memory by the world size (what lets an
8B policy + 8B reference fit two 80 GB GPUs, as in the paper), at the price of one all-gather per
layer per step, and all ranks must then agree to run or skip it. Replicating it costs a full
copy per rank but no communication, and each rank may skip it on its own: the better choice when
memory allows (small models, LoRA-free runs with headroom).
"""

from __future__ import annotations

from typing import Any, Literal

import torch
from torch import Tensor, nn

from safelight.models.forward import decoder_hidden_states, unwrap_peft
from safelight.models.reference import ReferencePolicy

ReferenceSharding = Literal["shard", "replicate"]


def decoder_layers(model: nn.Module) -> list[nn.Module]:
    """The repeated transformer blocks: the unit both FSDP versions shard by.

    transformers derives every decoder layer from `GradientCheckpointingLayer`; older releases and
    remote code name theirs in `_no_split_modules`, so fall back to those names.
    """
    try:
        from transformers.modeling_layers import GradientCheckpointingLayer

        layers = [m for m in model.modules() if isinstance(m, GradientCheckpointingLayer)]
        if layers:
            return layers
    except ImportError:  # pragma: no cover - old transformers
        pass
    names = set(getattr(unwrap_peft(model), "_no_split_modules", None) or [])
    return [m for m in model.modules() if type(m).__name__ in names]


def is_fully_sharded(model: nn.Module) -> bool:
    from torch.distributed.fsdp import FSDPModule

    return isinstance(model, FSDPModule)


def fully_shard_model(model: nn.Module, mesh: Any, reshard_root_after_forward: bool = False) -> nn.Module:
    """FSDP2 over `mesh`: one parameter group per decoder layer, the rest (embeddings, final norm,
    output head, tied or not) in the root group.

    The root group stays gathered after the forward by default: the objective applies the output
    head to the selected hidden states *after* the model's forward (and again when a checkpointed
    chunk is recomputed in backward), so it must still be unsharded then.
    """
    from torch.distributed.fsdp import fully_shard

    for layer in decoder_layers(model):
        fully_shard(layer, mesh=mesh)
    fully_shard(model, mesh=mesh, reshard_after_forward=reshard_root_after_forward)
    return model


def root_forward_hidden_states(model: nn.Module, input_ids: Tensor, attention_mask: Tensor) -> Tensor:
    """Final hidden states (after the last norm), obtained through the *root* forward.

    A fully sharded model gathers its root parameter group (embeddings, norm, head) in the root's
    forward hooks only, so the decoder cannot be called on its own as for an unsharded model. The
    head is applied to one position per row (`logits_to_keep=1`): negligible, and its output is
    unused; a hook on the decoder hands back the hidden states.
    """
    decoder = unwrap_peft(model).get_decoder()
    captured: list[Tensor] = []

    def keep(_module: nn.Module, _args: Any, output: Any) -> None:
        captured.append(output.last_hidden_state if hasattr(output, "last_hidden_state") else output[0])

    handle = decoder.register_forward_hook(keep)
    try:
        model(input_ids=input_ids, attention_mask=attention_mask, use_cache=False, logits_to_keep=1)
    finally:
        handle.remove()
    return captured[-1]


class ShardedReferencePolicy(ReferencePolicy):
    """The reference when its parameters are sharded: run under `no_grad`, not inference mode.

    FSDP swaps parameters between sharded and gathered storage in place, with version-counter
    bookkeeping that inference tensors lack (pytorch/pytorch#113203, #197327); `no_grad` keeps
    what matters here: no autograd graph and no saved activations.
    """

    def hidden_states(self, input_ids: Tensor, attention_mask: Tensor) -> Tensor:
        with torch.no_grad(), self.active() as model:
            return decoder_hidden_states(model, input_ids, attention_mask)


def ignore_in_ddp(module: nn.Module, prefix: str) -> None:
    """Keep DDP away from the frozen reference: no start-up broadcast, no per-step buffer sync."""
    from torch.nn.parallel import DistributedDataParallel

    names = [n for n, _ in module.named_parameters() if n.startswith(prefix)]
    names += [n for n, _ in module.named_buffers() if n.startswith(prefix)]
    existing = list(getattr(module, "_ddp_params_and_buffers_to_ignore", []))
    DistributedDataParallel._set_params_and_buffers_to_ignore_for_model(module, existing + names)


def shard_for_strategy(
    module: Any, reference_model: nn.Module | None, sharding: ReferenceSharding, prefix: str
) -> bool:
    """Apply the strategy's parallelism to `module.policy_model` and the reference.

    Returns True when the reference ends up sharded (then every rank must run it or skip it
    together, and it must not run under inference mode).
    """
    trainer = module._trainer
    if trainer is None:
        return False
    # A LoRA policy's reference is the policy itself with adapters off: sharded iff the policy is.
    adapter_view = reference_model is None and getattr(module, "reference", None) is not None
    from lightning.pytorch.strategies import DDPStrategy, FSDPStrategy, ModelParallelStrategy

    strategy = trainer.strategy
    if isinstance(strategy, ModelParallelStrategy):
        mesh = strategy.device_mesh
        if mesh.mesh_dim_names is not None and "tensor_parallel" in mesh.mesh_dim_names:
            if mesh["tensor_parallel"].size() > 1:
                raise ValueError("safelight shards by data parallelism only: set tensor_parallel_size=1")
        dp_mesh = mesh["data_parallel"] if mesh.mesh_dim_names is not None else mesh
        fully_shard_model(module.policy_model, dp_mesh)
        if adapter_view:
            return True
        if reference_model is not None and sharding == "shard":
            # Root gathered after forward: the loss applies the reference head to the chunks later.
            fully_shard_model(reference_model, dp_mesh)
            return True
        return False
    if isinstance(strategy, FSDPStrategy):
        if reference_model is None:
            return adapter_view
        if sharding == "replicate":
            # Lightning wraps after configure_model and passes its kwargs on to FSDP.
            ignored = list(strategy.kwargs.get("ignored_modules") or [])
            strategy.kwargs["ignored_modules"] = ignored + [reference_model]
            reference_model.to(strategy.root_device)  # FSDP does not move ignored modules
            return False
        return True
    if isinstance(strategy, DDPStrategy) and reference_model is not None:
        ignore_in_ddp(module, prefix)
    return False


def decoder_layer_wrap_policy(module: nn.Module, recurse: bool, nonwrapped_numel: int) -> bool:
    """FSDP1 auto-wrap policy: one unit per decoder layer, for any transformers model.

    Named in configs/trainer/fsdp.yaml; applies equally to the policy's and the reference's layers.
    """
    if recurse:
        return True
    try:
        from transformers.modeling_layers import GradientCheckpointingLayer
    except ImportError:  # pragma: no cover - old transformers
        return False
    return isinstance(module, GradientCheckpointingLayer)
