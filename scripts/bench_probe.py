"""Training-step time with probe risk vs precomputed critic (judge) risk, side by side in one run.

    python scripts/bench_probe.py                       # toy reference, toy harmful+task batches
    python scripts/bench_probe.py --model-dir <hf dir>  # any local HF causal LM with a chat template

A step = risk (probe: ProbeRiskCallback.risk_for; critic: already in the batch) + objective +
backward + optimizer step, on the same batches. Modes are interleaved step by step (critic,
shared, prompt_only, critic, ...) so machine load hits all alike; the median step time is reported.
The probe's weights do not affect its cost, so a random probe with matching metadata is used
unless --probe-path is given. Prints a markdown table of ratios against critic mode.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import torch

from safelight.data.chat import IGNORE_INDEX, encode_chat
from safelight.data.collate import ChatCollator
from safelight.data.toy_scenario import ToyScenario
from safelight.models.forward import unwrap_peft
from safelight.models.sources import PolicySource, PretrainedPolicy
from safelight.module import SafeFineTuner
from safelight.objective import PaperClampSchedule
from safelight.probes.artifact import ProbeMetadata, save_probe
from safelight.probes.callback import ProbeRiskCallback
from safelight.probes.classifier import ProbeModel
from safelight.probes.features import num_layers


def make_module(source: PolicySource) -> SafeFineTuner:
    module = SafeFineTuner(source, schedule=PaperClampSchedule(), optimizer=lambda p: torch.optim.AdamW(p, lr=1e-5))
    module.configure_model()
    return module


def batches(module: SafeFineTuner, batch_size: int, n: int) -> list[dict[str, torch.Tensor]]:
    rows = ToyScenario("mixed", n=batch_size * n, harmful_fraction=0.3).train_rows()
    collate = ChatCollator(module.tokenizer.pad_token_id)
    out = []
    for start in range(0, len(rows), batch_size):
        encoded = []
        for row in rows[start:start + batch_size]:
            enc = encode_chat(module.tokenizer, row["messages"], 256)
            # Critic mode: the judge's score is a fixed column of the data (1.0 harmful, 0.0 benign).
            encoded.append({"input_ids": enc.input_ids, "labels": enc.labels, "prompt_length": enc.prompt_length,
                            "risk": 1.0 if row["kind"] == "harmful" else 0.0})
        out.append(collate(encoded))
    return out


def random_probe(module: SafeFineTuner, folder: Path) -> Path:
    base = unwrap_peft(module.reference.model)
    layers = num_layers(base)
    meta = ProbeMetadata(model_identity=module.policy_source.identity, hidden_size=base.config.hidden_size,
                         num_layers=layers, layer=max(1, layers // 2), pooling="last")
    return save_probe(ProbeModel(base.config.hidden_size), meta, folder / "bench_probe.safetensors")


def step(module: SafeFineTuner, opt: torch.optim.Optimizer, batch: dict, callback: ProbeRiskCallback | None) -> float:
    batch = dict(batch)
    start = time.perf_counter()
    if callback is not None:
        batch["risk"] = callback.risk_for(module, batch)
    sums, _ = module.objective_sums(batch)
    n = max(int((batch["labels"][:, 1:] != IGNORE_INDEX).sum()), 1)
    (sums.weighted / n).backward()
    opt.step()
    opt.zero_grad(set_to_none=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model-dir", help="local HF model dir (default: the toy safe reference)")
    parser.add_argument("--probe-path", help="a trained probe for that model (default: a random one)")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    if args.model_dir:
        source: PolicySource = PretrainedPolicy(args.model_dir)
    else:
        from safelight.models.toy import ToyPolicy

        source = ToyPolicy()
    module = make_module(source)
    module.policy_model.train()
    opt = module.configure_optimizers()
    data = batches(module, args.batch_size, args.steps + args.warmup)
    with tempfile.TemporaryDirectory() as tmp:
        probe = args.probe_path or str(random_probe(module, Path(tmp)))
        modes: dict[str, ProbeRiskCallback | None] = {"critic": None}
        for name in ("shared", "prompt_only"):
            callback = ProbeRiskCallback(probe, reference_pass=name)  # type: ignore[arg-type]
            callback.on_fit_start(None, module)  # type: ignore[arg-type]
            modes[f"probe ({name})"] = callback
        times: dict[str, list[float]] = {m: [] for m in modes}
        for i, batch in enumerate(data):
            for mode, callback in modes.items():
                elapsed = step(module, opt, batch, callback)
                if i >= args.warmup:
                    times[mode].append(elapsed)
    base = statistics.median(times["critic"])
    print(f"model {source.identity}; batch {args.batch_size}; {args.steps} timed steps per mode; "
          f"torch threads {args.threads}\n")
    # Paired ratios (same batch, adjacent in time) are robust to load that drifts during the run.
    print("| mode | median step (ms) | ratio of medians vs critic | median paired ratio |")
    print("|---|---|---|---|")
    for mode, values in times.items():
        med = statistics.median(values)
        paired = statistics.median(v / c for v, c in zip(values, times["critic"]))
        print(f"| {mode} | {1000 * med:.1f} | {med / base:.3f} | {paired:.3f} |")


if __name__ == "__main__":
    main()
