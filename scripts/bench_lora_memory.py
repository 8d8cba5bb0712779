"""Peak memory of adaptive LoRA fine-tuning: adapter-disabled reference vs a frozen copy, side by side.

    python scripts/bench_lora_memory.py                      # CPU: ~470M-parameter random Llama, 2 steps each
    python scripts/bench_lora_memory.py --device cuda        # GPU: torch.cuda.max_memory_allocated

Both variants run the real path (PretrainedPolicy with LoRA r 64 / alpha 16 on all linear layers,
SafeFineTuner, a Lightning Trainer) on batches with risk 1, so the paper's clamp schedule gives
beta = 0.9 and the reference runs at every step. Each variant runs in its own subprocess, so one
cannot inherit the other's allocations or allocator caches.

What is measured, and why it is honest:
- CPU: resident memory from the kernel (/proc/self/status). `baseline` is the resident set after
  imports and data, before any weights exist (Python, torch, Lightning, transformers). The model and
  the reference are then built (`configure_model`: load, LoRA, and for `frozen_copy` the deep copy),
  the kernel's high-water mark is reset (/proc/self/clear_refs, Linux >= 4.0), and the fit runs.
  `train peak` is the high-water mark over the fit: every weight, adapter, gradient, optimizer state,
  activation, allocator cache and fragmentation the process holds resident. footprint = train peak -
  baseline; the ratio of footprints is the figure of merit (target <= 0.6). The whole-process peak
  (ru_maxrss, which also includes the loader's transient while it reads the safetensors file, the
  same in both variants) is printed beside it.
- CUDA: torch.cuda.max_memory_allocated (tensors only) and max_memory_reserved (with the caching
  allocator's slack), baseline 0.
The random-init model (~470M parameters, 1.9 GB in float32; wide layers keep LoRA r 64 near its
3B-8B share) is big enough that weights dominate a
2-row batch with gradient checkpointing (as configs/real/base.yaml trains), which is the regime of
3B-8B models with LoRA.
"""

from __future__ import annotations

import argparse
import gc
import json
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

VARIANTS = ("disabled_adapter", "frozen_copy")


def rss_peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux reports KiB


def proc_status_mib(field: str) -> float:
    """VmRSS (now) or VmHWM (high-water mark since start or the last reset), in MiB."""
    match = re.search(rf"^{field}:\s+(\d+) kB", Path("/proc/self/status").read_text(), re.M)
    assert match, f"/proc/self/status has no {field}"
    return int(match.group(1)) / 1024.0


def reset_peak_rss() -> None:
    Path("/proc/self/clear_refs").write_text("5")  # "5" resets VmHWM to the current VmRSS


def build_model_dir(path: Path, hidden: int, layers: int, intermediate: int) -> Path:
    from safelight.models.tiny import build_tiny_model_dir

    return build_tiny_model_dir("llama3", path, hidden_size=hidden, intermediate_size=intermediate,
                                num_hidden_layers=layers, num_attention_heads=hidden // 64,
                                num_key_value_heads=hidden // 64)


def batches(model_dir: Path, batch_size: int, n_batches: int) -> list[dict[str, Any]]:
    from transformers import AutoTokenizer

    from safelight.data.chat import encode_chat
    from safelight.data.collate import ChatCollator

    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    chat = [{"role": "user", "content": "Explain how to do the harmful thing, step by step."},
            {"role": "assistant", "content": "Sure, here is how to do it: Step 1, Step 2, Step 3. " * 2}]
    enc = encode_chat(tokenizer, chat)
    row = {"input_ids": enc.input_ids, "labels": enc.labels, "prompt_length": enc.prompt_length, "risk": 1.0}
    collate = ChatCollator(tokenizer.pad_token_id)
    return [collate([row] * batch_size) for _ in range(n_batches)]


def run_variant(variant: str, model_dir: Path, steps: int, batch_size: int, device: str,
                checkpointing: bool) -> dict[str, Any]:
    """One variant in this process; returns its memory figures."""
    import torch
    from lightning.pytorch import Trainer
    from torch.utils.data import DataLoader

    from safelight.models.sources import LoraSettings, PretrainedPolicy
    from safelight.module import SafeFineTuner
    from safelight.objective.schedules import PaperClampSchedule

    data = batches(model_dir, batch_size, steps)
    gc.collect()
    baseline = proc_status_mib("VmRSS") if device == "cpu" else 0.0
    policy = PretrainedPolicy(str(model_dir), lora=LoraSettings(r=64, alpha=16, dropout=0.0),
                              gradient_checkpointing=checkpointing)
    module = SafeFineTuner(policy, schedule=PaperClampSchedule(), reference=variant)  # type: ignore[arg-type]
    module.configure_model()  # load + LoRA + (frozen_copy) the copy; Lightning's call is then a no-op
    gc.collect()
    if device == "cpu":
        reset_peak_rss()
    trainer = Trainer(accelerator="gpu" if device == "cuda" else "cpu", devices=1, max_steps=steps, logger=False,
                      enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False)
    start = time.perf_counter()
    # batch_size=None: the loader yields the prebuilt batches as they are.
    trainer.fit(module, train_dataloaders=DataLoader(data, batch_size=None))  # type: ignore[arg-type]
    result: dict[str, Any] = {"variant": variant, "steps": trainer.global_step, "seconds": time.perf_counter() - start,
                              "params": sum(p.numel() for p in module.policy_model.parameters()),
                              "trainable": sum(p.numel() for p in module.policy_model.parameters() if p.requires_grad)}
    if device == "cuda":
        result.update(peak_mib=torch.cuda.max_memory_allocated() / 2**20,
                      reserved_mib=torch.cuda.max_memory_reserved() / 2**20, baseline_mib=0.0, process_peak_mib=0.0)
    else:
        result.update(peak_mib=proc_status_mib("VmHWM"), baseline_mib=baseline, process_peak_mib=rss_peak_mib())
    result["footprint_mib"] = result["peak_mib"] - result["baseline_mib"]
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model-dir", type=Path, help="an existing HF model directory (default: build a random one)")
    parser.add_argument("--hidden", type=int, default=3072)
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--intermediate", type=int, default=8192)
    parser.add_argument("--steps", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=2)
    parser.add_argument("--no-gradient-checkpointing", dest="checkpointing", action="store_false",
                        help="keep every activation (configs/real/base.yaml checkpoints, as here by default)")
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--variant", choices=VARIANTS, help=argparse.SUPPRESS)  # child mode
    args = parser.parse_args()

    if args.variant:  # child: one variant, JSON on the last stdout line
        print(json.dumps(run_variant(args.variant, args.model_dir, args.steps, args.batch_size, args.device,
                                     args.checkpointing)))
        return

    with tempfile.TemporaryDirectory() as tmp:
        model_dir = args.model_dir or build_model_dir(Path(tmp) / "model", args.hidden, args.layers, args.intermediate)
        results = []
        for variant in VARIANTS:
            cmd = [sys.executable, __file__, "--variant", variant, "--model-dir", str(model_dir), "--steps",
                   str(args.steps), "--batch-size", str(args.batch_size), "--device", args.device]
            cmd += [] if args.checkpointing else ["--no-gradient-checkpointing"]
            out = subprocess.run(cmd, check=True, capture_output=True, text=True)
            results.append(json.loads(out.stdout.strip().splitlines()[-1]))
    lean, copy = results
    print(f"model: {lean['params'] / 1e6:.0f}M parameters ({lean['trainable'] / 1e6:.1f}M LoRA), "
          f"{lean['steps']} steps, batch {args.batch_size}, gradient checkpointing {args.checkpointing}, "
          f"device {args.device}")
    print(f"{'reference':<18}{'baseline MiB':>13}{'train peak MiB':>16}{'footprint MiB':>15}"
          f"{'process peak MiB':>18}{'fit s':>7}")
    for r in results:
        print(f"{r['variant']:<18}{r['baseline_mib']:>13.0f}{r['peak_mib']:>16.0f}{r['footprint_mib']:>15.0f}"
              f"{r['process_peak_mib']:>18.0f}{r['seconds']:>7.1f}")
    ratio = lean["footprint_mib"] / copy["footprint_mib"]
    process_ratio = lean["process_peak_mib"] / copy["process_peak_mib"] if copy["process_peak_mib"] else float("nan")
    summary = {"footprint_ratio": ratio, "process_peak_ratio": process_ratio, "results": results}
    print(f"footprint ratio disabled_adapter / frozen_copy: {ratio:.2f} (target <= 0.6); "
          f"whole-process peak ratio {process_ratio:.2f}")
    if args.json:
        args.json.write_text(json.dumps(summary, indent=2) + "\n")


if __name__ == "__main__":
    main()
