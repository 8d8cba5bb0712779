"""A few optimizer steps of SafeFineTuner under a real Lightning strategy, for tests/distributed.

    python tests/distributed/fit_script.py --model-dir DIR --out DIR --strategy ddp --devices 2 --batch-size 4

Lightning's launcher re-runs this file once per extra rank (so it must be a script, not a
function). Every rank writes `rank<r>.pt`: the global objective of each optimizer step, the full
trainable weights at the end (gathered from shards under FSDP2), how often the reference ran, and
the data it trained on. SGD, not Adam: Adam divides the gradient's scale away, and the scale is
exactly what a wrong normalisation would get wrong.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

import torch


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser()
    p.add_argument("--model-dir", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--strategy", choices=["single", "ddp", "fsdp2"], default="single")
    p.add_argument("--devices", type=int, default=1)
    p.add_argument("--batch-size", type=int, default=4)
    p.add_argument("--accumulate", type=int, default=1)
    p.add_argument("--steps", type=int, default=3)
    p.add_argument("--schedule", choices=["clamp", "threshold"], default="clamp")
    p.add_argument("--reference-sharding", choices=["shard", "replicate"], default="shard")
    p.add_argument("--lr", type=float, default=0.5)
    p.add_argument("--mlflow", action="store_true", help="log to an MLflow store under --out")
    return p.parse_args(argv)


def strategy_for(args: argparse.Namespace) -> Any:
    from lightning.pytorch.strategies import DDPStrategy, ModelParallelStrategy

    if args.strategy == "ddp":
        return DDPStrategy(process_group_backend="gloo", find_unused_parameters=False)
    if args.strategy == "fsdp2":
        return ModelParallelStrategy(data_parallel_size=args.devices, tensor_parallel_size=1,
                                     process_group_backend="gloo")
    return "auto"


def make_module_class() -> type:
    from safelight.module import SafeFineTuner

    class RecordingFineTuner(SafeFineTuner):
        """Records the global objective per optimizer step and counts reference forwards."""

        def configure_model(self) -> None:
            super().configure_model()
            self.reference_calls = 0
            self.local_needed: list[bool] = []
            self._pending: list[torch.Tensor] = []
            self.trajectory: list[float] = []
            if self.reference is not None:
                inner = self.reference.hidden_states

                def counted(*a: Any) -> torch.Tensor:
                    self.reference_calls += 1
                    return inner(*a)

                self.reference.hidden_states = counted  # type: ignore[method-assign]

        def _reference_needed(self, beta: torch.Tensor) -> bool:
            self.local_needed.append(bool((beta > 0).any()))
            return super()._reference_needed(beta)

        def training_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> torch.Tensor:
            loss = super().training_step(batch, batch_idx)
            # loss / (world * accumulate) is this micro-batch's share of the step's global objective.
            self._pending.append(loss.detach() / (self.trainer.world_size * self.trainer.accumulate_grad_batches))
            return loss

        def on_train_batch_end(self, outputs: Any, batch: Any, batch_idx: int) -> None:
            if (batch_idx + 1) % self.trainer.accumulate_grad_batches == 0:
                total = self._global_sum(torch.stack(self._pending).sum())
                self._pending = []
                self.trajectory.append(float(total))

    return RecordingFineTuner


def full_trainable_weights(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    out = {}
    for name, param in model.named_parameters():
        if param.requires_grad:
            data = param.detach()
            out[name] = (data.full_tensor() if hasattr(data, "full_tensor") else data).cpu().clone()
    return out


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = parse(argv)
    torch.set_num_threads(1)  # two processes with one thread each beat one process with two (DESIGN §4)
    from lightning.pytorch import Trainer, seed_everything

    from safelight.data.datamodule import SafetyDataModule
    from safelight.data.toy_scenario import ToyScenario
    from safelight.models.sources import PretrainedPolicy
    from safelight.objective import PaperClampSchedule, ThresholdSchedule
    from safelight.toy.judge import ToyJudge

    seed_everything(0, verbose=False)
    out = Path(args.out)
    schedule = PaperClampSchedule() if args.schedule == "clamp" else ThresholdSchedule(tau=0.5, beta_high=0.9)
    module = make_module_class()(
        PretrainedPolicy(args.model_dir),
        schedule=schedule,
        optimizer=lambda params: torch.optim.SGD(params, lr=args.lr),
        kl_chunk_size=7,  # several chunks per micro-batch, so chunking is part of what is compared
        reference_sharding=args.reference_sharding,
    )
    # 36 task rows (risk 0), 12 compliant harmful rows (risk 1), 8 refusals (risk 0), shuffled.
    scenario = ToyScenario(kind="mixed", n=48, harmful_fraction=0.25, safety_mix=8)
    data = SafetyDataModule(scenario, judge=ToyJudge(), cache_dir=str(out / "judge_cache"),
                            batch_size=args.batch_size, max_length=64, seed=0)
    logger: Any = False
    if args.mlflow:
        from lightning.pytorch.loggers import MLFlowLogger

        logger = MLFlowLogger(experiment_name="distributed", tracking_uri=f"sqlite:///{out}/mlflow.db")
    trainer = Trainer(
        accelerator="cpu",
        devices=args.devices,
        strategy=strategy_for(args),
        max_steps=args.steps,
        accumulate_grad_batches=args.accumulate,
        logger=logger,
        log_every_n_steps=1,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    trainer.fit(module, datamodule=data)
    assert data.train_dataset is not None
    result = {
        "rank": trainer.global_rank,
        "world_size": trainer.world_size,
        "trajectory": module.trajectory,
        "weights": full_trainable_weights(module.policy_model),
        "reference_calls": module.reference_calls,
        "local_needed": module.local_needed,
        "reference_is_sharded": module.reference_is_sharded,
        "risks": sorted(float(r) for r in data.train_dataset["risk"]),
        "pid": os.getpid(),
    }
    out.mkdir(parents=True, exist_ok=True)
    torch.save(result, out / f"rank{trainer.global_rank}.pt")
    return result


if __name__ == "__main__":
    main()
