"""Check Lightning's `fsdp` strategy (FSDP1, CUDA only) with SafeFineTuner on the GPUs present.

    python scripts/check_fsdp_cuda.py                       # all visible GPUs, reference sharded
    python scripts/check_fsdp_cuda.py --devices 2 --reference-sharding replicate --steps 5

A few optimizer steps of a small random-init Llama (saved and loaded through from_pretrained, like
any model) under the same strategy settings as configs/trainer/fsdp.yaml, with the paper's clamp
schedule so the reference runs every step. Prints, from rank 0: whether the reference's decoder
layers are FSDP units, the loss per step, and whether the trainable weights agree across ranks.
Exits 0 with a "skipped" line where no CUDA device is available; 1 when a check fails.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path
from typing import Any

import torch


def parse() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--devices", type=int, default=0, help="GPUs to use (0: all visible)")
    p.add_argument("--steps", type=int, default=3)
    p.add_argument("--reference-sharding", choices=["shard", "replicate"], default="shard")
    p.add_argument("--precision", default="bf16-mixed")
    p.add_argument("--model-dir", default=None, help="reuse a saved model (default: a temporary one)")
    return p.parse_args()


def build_model(path: Path) -> None:
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=32000, hidden_size=256, intermediate_size=1024, num_hidden_layers=4,
                         num_attention_heads=4, num_key_value_heads=4, max_position_embeddings=512)
    LlamaForCausalLM(config).save_pretrained(path)


def random_batches(n: int, batch: int = 4, seq: int = 256, vocab: int = 32000) -> list[dict[str, torch.Tensor]]:
    g = torch.Generator().manual_seed(0)
    out = []
    for _ in range(n):
        ids = torch.randint(0, vocab, (batch, seq), generator=g)
        labels = ids.clone()
        labels[:, : seq // 4] = -100
        out.append({"input_ids": ids, "attention_mask": torch.ones_like(ids), "labels": labels,
                    "prompt_lengths": torch.full((batch,), seq // 4), "risk": torch.rand(batch, generator=g)})
    return out


def main() -> int:
    args = parse()
    if not torch.cuda.is_available() or torch.cuda.device_count() == 0:
        print("check_fsdp_cuda: skipped (no CUDA device available; Lightning's fsdp strategy needs one)")
        return 0
    from lightning.pytorch import Trainer, seed_everything
    from lightning.pytorch.strategies import FSDPStrategy
    from torch.distributed.fsdp import FullyShardedDataParallel
    from torch.utils.data import DataLoader

    from safelight.distributed import decoder_layer_wrap_policy
    from safelight.models.sources import PretrainedPolicy
    from safelight.module import SafeFineTuner

    devices = args.devices or torch.cuda.device_count()
    seed_everything(0, verbose=False)
    tmp = tempfile.mkdtemp(prefix="safelight-fsdp-")
    model_dir = Path(args.model_dir or Path(tmp) / "model")
    if not (model_dir / "config.json").exists():
        # Every rank builds the same seeded model; files are identical whichever rank writes last.
        build_model(model_dir)

    class Checked(SafeFineTuner):
        losses: list[float] = []

        def training_step(self, batch: dict[str, Any], batch_idx: int) -> torch.Tensor:
            loss = super().training_step(batch, batch_idx)
            self.losses.append(float(loss.detach()))
            return loss

    module = Checked(PretrainedPolicy(str(model_dir)), reference_sharding=args.reference_sharding)
    strategy = FSDPStrategy(auto_wrap_policy=decoder_layer_wrap_policy, sharding_strategy="FULL_SHARD",
                            state_dict_type="sharded")
    trainer = Trainer(accelerator="gpu", devices=devices, strategy=strategy, precision=args.precision,
                      max_steps=args.steps, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                      enable_model_summary=False, inference_mode=False)
    loader = DataLoader(random_batches(args.steps), batch_size=None)
    trainer.fit(module, train_dataloaders=loader)

    failures = []
    reference_units = sum(isinstance(m, FullyShardedDataParallel) for m in module.reference_model.modules())
    expect_sharded = args.reference_sharding == "shard"
    if (reference_units > 0) != expect_sharded or module.reference_is_sharded != expect_sharded:
        failures.append(f"reference FSDP units {reference_units}, reference_is_sharded {module.reference_is_sharded}")
    if not all(torch.isfinite(torch.tensor(module.losses))):
        failures.append(f"non-finite loss {module.losses}")
    with FullyShardedDataParallel.summon_full_params(trainer.strategy.model, writeback=False):
        flat = torch.cat([p.detach().float().flatten() for p in module.policy_model.parameters() if p.requires_grad])
        gathered = [torch.zeros_like(flat) for _ in range(trainer.world_size)]
        torch.distributed.all_gather(gathered, flat)
    spread = max(float((g - gathered[0]).abs().max()) for g in gathered)
    if spread != 0.0:
        failures.append(f"trainable weights differ across ranks by {spread}")
    if trainer.global_rank == 0:
        print(f"check_fsdp_cuda: {devices} GPU(s) ({torch.cuda.get_device_name(0)}), precision {args.precision}, "
              f"reference_sharding={args.reference_sharding}: reference FSDP units {reference_units}, "
              f"losses {[round(x, 4) for x in module.losses]}, max weight difference across ranks {spread}, "
              f"peak memory {torch.cuda.max_memory_allocated() / 2**20:.0f} MiB on rank 0")
        print("check_fsdp_cuda: " + ("FAILED: " + "; ".join(failures) if failures else "ok"))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
