"""SafeFineTuner: a policy, its frozen safe reference, and the risk-weighted objective.

Each step: read per-example risk from the batch (precomputed judge scores, or a probe callback),
map it to KL weights beta, run the policy (and, only when some beta > 0, the reference under
inference mode) without their output heads, and apply the chunked objective at response positions:

    loss = sum_t [(1 - beta_t) nll_t + beta_t KL_t(pi_ref || pi_theta)] / (response tokens in the global batch)
"""

from __future__ import annotations

from typing import Any

import torch
from jsonargparse import lazy_instance
from lightning.pytorch import LightningModule
from lightning.pytorch.cli import OptimizerCallable
from torch import Tensor, nn

from safelight.data.chat import IGNORE_INDEX
from safelight.distributed import ReferenceSharding, ShardedReferencePolicy, shard_for_strategy
from safelight.eval.evaluator import SafetyEvaluator
from safelight.models.forward import decoder_hidden_states, output_head
from safelight.models.reference import ReferenceKind, ReferencePolicy, make_frozen_copy, resolve_reference_kind
from safelight.models.sources import PolicySource
from safelight.objective.constrained import ConstrainedSFTSettings, response_positions
from safelight.objective.divergence import Direction
from safelight.objective.loss import ObjectiveSums, risk_weighted_sums
from safelight.objective.schedules import PaperClampSchedule, RiskSchedule
from safelight.objective.weights import Granularity, example_betas
from safelight.training_metrics import TrainingMetrics

REFERENCE_PREFIX = "reference_model."
POLICY_PREFIX = "policy_model."
#: Batch key under which a callback may leave the reference's final hidden states (batch, seq, hidden).
REFERENCE_HIDDEN_KEY = "reference_last_hidden"


def _adamw(params: Any) -> torch.optim.Optimizer:
    return torch.optim.AdamW(params, lr=1e-4)


class SafeFineTuner(LightningModule):
    """Fine-tunes `policy` while a frozen reference pulls it back in proportion to risk.

    Args:
        policy: where the model and tokenizer come from (toy world, hub id, local dir, GGUF; LoRA).
        schedule: risk -> beta. `ZeroSchedule` is plain SFT, `ConstantSchedule` the constant-KL baseline.
        reference: `frozen_copy` (full fine-tuning), `disabled_adapter` (LoRA: no second copy of the
            weights), or `auto` (the latter whenever the policy has LoRA adapters).
        divergence: forward KL(pi_ref || pi_theta) (the paper) or reverse.
        granularity: one beta per example (default) or one per batch from its mean risk (the paper).
        optimizer: called with the trainable parameters.
        kl_chunk_size: response positions per chunk of the vocabulary-wide terms (memory knob: up to
            three fp32 chunk x vocabulary buffers, 16 MiB each at 128 x 32k, 64 MiB at 128 x 128k).
        evaluator: generation-based safety and utility evaluation run by `test` (and after `fit`).
        constrained_sft: switch to the token-wise constrained SFT baseline (Qi et al. 2024) with these
            per-position betas; the risk schedule is then not used.
        method: the label runs are compared under (MLflow param `method`), e.g. `adaptive_critic`;
            defaults to `c_sft` or the schedule's name.
        reference_sharding: under FSDP, shard the frozen reference like the policy (`shard`: memory
            / world size, one all-gather per layer) or keep a full copy per rank (`replicate`: no
            communication). Ignored under DDP and on one device. See safelight/distributed.py.
    """

    def __init__(
        self,
        policy: PolicySource,
        schedule: RiskSchedule = lazy_instance(PaperClampSchedule),
        reference: ReferenceKind = "auto",
        divergence: Direction = "forward",
        granularity: Granularity = "example",
        optimizer: OptimizerCallable = _adamw,
        kl_chunk_size: int = 128,
        evaluator: SafetyEvaluator | None = None,
        constrained_sft: ConstrainedSFTSettings | None = None,
        method: str | None = None,
        reference_sharding: ReferenceSharding = "shard",
    ) -> None:
        super().__init__()
        self.policy_source = policy
        self.schedule = schedule
        self.reference_kind = reference
        self.divergence = divergence
        self.granularity = granularity
        self.optimizer_factory = optimizer
        self.kl_chunk_size = kl_chunk_size
        self.reference_sharding = reference_sharding
        self.reference_is_sharded = False
        self.evaluator = evaluator
        self.constrained_sft = constrained_sft
        self.method_name = method or ("c_sft" if constrained_sft is not None else schedule.name)
        self._tokenizer = None
        self.policy_model: nn.Module | None = None
        self.reference_model: nn.Module | None = None  # only for frozen_copy; excluded from checkpoints
        self.reference: ReferencePolicy | None = None
        self.train_metrics = TrainingMetrics()
        self.eval_metrics = evaluator.make_metrics() if evaluator is not None else None

    # ---------------------------------------------------------------- building
    @property
    def tokenizer(self):
        if self._tokenizer is None:
            self._tokenizer = self.policy_source.load_tokenizer()
        return self._tokenizer

    def prepare_data(self) -> None:
        self.policy_source.prepare()

    def configure_model(self) -> None:
        if self.policy_model is not None:
            return  # Lightning calls this for every stage; build once.
        policy = self.policy_source.load_model()
        kind = resolve_reference_kind(self.reference_kind, policy)
        if kind == "frozen_copy" and (self.constrained_sft is not None or not self.schedule.never_needs_reference):
            self.reference_model = make_frozen_copy(policy)
            self.reference = ReferencePolicy(self.reference_model, adapter_disabled_view=False)
        elif kind == "disabled_adapter":
            self.reference = ReferencePolicy(policy, adapter_disabled_view=True)
        # from_pretrained returns eval mode; Lightning keeps submodule modes, so train explicitly
        # (dropout, LoRA dropout). The frozen reference stays in eval mode.
        self.policy_model = policy.train()
        self.reference_is_sharded = shard_for_strategy(self, self.reference_model, self.reference_sharding,
                                                       REFERENCE_PREFIX)
        if self.reference_is_sharded and self.reference is not None:
            self.reference = ShardedReferencePolicy(self.reference.model, self.reference.adapter_disabled_view)

    def configure_optimizers(self) -> torch.optim.Optimizer:
        assert self.policy_model is not None
        trainable = [p for p in self.policy_model.parameters() if p.requires_grad]
        return self.optimizer_factory(trainable)

    # ---------------------------------------------------------- checkpoints
    def _frozen_keys(self) -> set[str]:
        """State-dict keys of weights that never change: the reference and frozen (LoRA base) policy weights."""
        keys: set[str] = set()
        if self.reference_model is not None:
            keys |= {REFERENCE_PREFIX + k for k in self.reference_model.state_dict()}
        if self.policy_model is not None:
            keys |= {POLICY_PREFIX + n for n, p in self.policy_model.named_parameters(remove_duplicate=False)
                     if not p.requires_grad}
        return keys

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        # Frozen weights are the initial model, rebuilt from the policy source on load: storing them
        # would double a full fine-tuning checkpoint and make a LoRA one as large as the base model.
        state = checkpoint.get("state_dict", {})
        for key in self._frozen_keys() & set(state):
            del state[key]

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        state = checkpoint.setdefault("state_dict", {})
        current = self.state_dict()
        for key in self._frozen_keys():
            if key in current:
                state.setdefault(key, current[key])

    # ------------------------------------------------------------- training
    def _world_size(self) -> int:
        return self._trainer.world_size if self._trainer is not None else 1

    def _global_sum(self, value: Tensor) -> Tensor:
        return self.trainer.strategy.reduce(value, reduce_op="sum") if self._world_size() > 1 else value

    def _reference_needed(self, beta: Tensor) -> bool:
        local = bool((beta > 0).any())
        if self.reference_is_sharded and self._world_size() > 1:
            # A sharded reference runs collectives: every rank must agree to run it or skip it.
            # A replicated one (DDP, `replicate`) is skipped by each rank on its own.
            return self.trainer.strategy.reduce_boolean_decision(local, all=False)
        return local

    def objective_sums(self, batch: dict[str, Tensor]) -> tuple[ObjectiveSums, Tensor]:
        """Un-normalised objective sums over the batch's response tokens, and beta per example."""
        assert self.policy_model is not None, "configure_model() has not run"
        beta_example = example_betas(self.schedule, batch["risk"].float(), self.granularity)
        input_ids, attention_mask = batch["input_ids"], batch["attention_mask"]
        targets = batch["labels"][:, 1:]
        response = targets != IGNORE_INDEX  # position t predicts token t + 1
        beta_token = beta_example[:, None].expand_as(response)[response]

        hidden = decoder_hidden_states(self.policy_model, input_ids, attention_mask)[:, :-1][response]
        reference_hidden = None
        constraint_beta = None
        if self.constrained_sft is not None:
            constraint_beta = self.constrained_sft.betas(response_positions(response))[response]
        kl_rows = beta_example > 0 if constraint_beta is None else torch.ones_like(beta_example, dtype=torch.bool)
        if self.reference is not None and (constraint_beta is not None or self._reference_needed(beta_example)):
            reference_hidden = self._reference_hidden(batch, kl_rows, response)
        head = output_head(self.policy_model)
        reference_head = self.reference.head if reference_hidden is not None and self.reference is not None else None
        targets = targets[response]

        kl_tokens = kl_rows[:, None].expand_as(response)[response]
        if reference_hidden is not None and not bool(kl_tokens.all()):
            # Rows with beta = 0 need neither the reference nor its head. Put the reference-covered
            # positions first (the reference hidden states are in that order already) so that one
            # objective call covers both kinds: KL and NLL there, the NLL alone after them.
            order = torch.cat([kl_tokens.nonzero().squeeze(1), (~kl_tokens).nonzero().squeeze(1)])
            hidden, targets, beta_token = hidden[order], targets[order], beta_token[order]
        sums = risk_weighted_sums(
            hidden, targets, beta_token.float(), head, reference_hidden, reference_head,
            self.divergence, self.kl_chunk_size, constraint_beta=constraint_beta,
        )
        return sums, beta_example

    def _reference_hidden(self, batch: dict[str, Tensor], rows: Tensor, response: Tensor) -> Tensor:
        """The reference's final hidden states at the response positions of `rows`, in order.

        The reference runs on those rows only, so its cost follows the share of risky examples, not
        of batches that contain one. A sharded reference runs (on one row) even when this rank has
        none, because the other ranks' all-gathers need it.
        """
        assert self.reference is not None
        selected = response & rows[:, None]
        full = batch.get(REFERENCE_HIDDEN_KEY)
        if full is not None:
            # A risk estimator already ran the reference over this batch (the probe callback):
            # no forward pass runs twice.
            return full[:, :-1][selected]
        run = rows if bool(rows.any()) else torch.arange(len(rows), device=rows.device) == 0
        input_ids, attention_mask = batch["input_ids"], batch["attention_mask"]
        if not bool(run.all()):
            input_ids, attention_mask = input_ids[run], attention_mask[run]
        # Indexing copies out of the inference-mode tensor into an ordinary one.
        return self.reference.hidden_states(input_ids, attention_mask)[:, :-1][selected[run]]

    def training_step(self, batch: dict[str, Tensor], batch_idx: int) -> Tensor:
        sums, beta_example = self.objective_sums(batch)
        # Normalise by the response tokens of the whole optimizer step (all ranks, all
        # accumulated micro-batches). Lightning divides by the accumulation count and DDP/FSDP
        # average over ranks, so scale those back: the gradient is sum / N_global exactly.
        window = batch.get("window_response_tokens")
        local = sums.weighted.new_tensor(float(sums.n_tokens)) if window is None else window.to(self.device).float()
        global_tokens = self._global_sum(local).clamp_min(1.0)
        scale = self.trainer.world_size * self.trainer.accumulate_grad_batches
        loss = sums.weighted * scale / global_tokens
        self.train_metrics.update(sums, batch["risk"].float(), beta_example)
        self.train_metrics.log_to(self)
        return loss

    # ----------------------------------------------------------- evaluation
    def test_step(self, batch: list[dict[str, Any]], batch_idx: int) -> None:
        if self.evaluator is None or self.eval_metrics is None:
            raise RuntimeError("model.init_args.evaluator is not set: nothing to evaluate")
        assert self.policy_model is not None
        self.evaluator.evaluate(self, batch)

    def on_test_epoch_end(self) -> None:
        if self.evaluator is not None:
            self.evaluator.finish(self)
