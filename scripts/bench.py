"""Step time, tokens/s and peak memory of SafeFineTuner's objective, per method, as ratios to SFT.

    python scripts/bench.py                      # toy model and the 32k-vocab / 512-token config, CPU
    python scripts/bench.py --sizes large --rounds 3 --steps 4
    python scripts/bench.py --device cuda        # on a GPU

Methods: sft (beta = 0, no reference), constant_kl (beta 0.5), adaptive_critic (paper clamp on
precomputed risk), adaptive_probe (paper clamp on risk from ProbeRiskCallback with a random
logistic probe: the callback's real code path, shared reference pass), adaptive_threshold
(threshold schedule, beta 0.9 above tau, 0 below, exactly `--risky-share` of each batch risky), each
with full fine-tuning and LoRA. A step is the module's own `objective_sums` (+ the training
step's normalisation), backward, AdamW step: the Lightning loop around it is the same for all.

Side by side: every (size, fine-tuning, method) runs in its own fresh subprocess, in interleaved
rounds (all variants once per round); the ratio to SFT is taken within each round and the median
over rounds is reported, so load from other processes hits all variants alike.

Memory, honestly: on CPU each subprocess reports its peak resident set size (getrusage
ru_maxrss, a kernel high-water mark) minus its resident size just before the model is built
(interpreter + imports), i.e. what training added; on CUDA, torch.cuda.max_memory_allocated.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

METHODS = ["sft", "constant_kl", "adaptive_critic", "adaptive_probe", "adaptive_threshold"]
SIZES: dict[str, dict[str, Any]] = {
    # DESIGN.md §4's toy model; toy sequences are under 50 tokens.
    "toy": {"model": dict(vocab_size=512, hidden_size=128, intermediate_size=512, num_hidden_layers=4,
                          num_attention_heads=4, num_key_value_heads=4, tie_word_embeddings=True),
            "batch": 16, "seq": 48, "prompt": 24},
    # A Llama-2-like vocabulary (32k, untied head) at sequence 512, small enough for a CPU.
    "large": {"model": dict(vocab_size=32000, hidden_size=256, intermediate_size=1024, num_hidden_layers=4,
                            num_attention_heads=4, num_key_value_heads=4, tie_word_embeddings=False),
              "batch": 2, "seq": 512, "prompt": 128},
}


def rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


# ------------------------------------------------------------------------------------ worker
def build_model_dir(size: str, root: Path) -> Path:
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    path = root / size
    if not (path / "config.json").exists():
        torch.manual_seed(0)
        spec = SIZES[size]
        config = LlamaConfig(max_position_embeddings=max(spec["seq"], 64), **spec["model"])
        LlamaForCausalLM(config).save_pretrained(path)
    return path


def make_probe(module: Any, root: Path) -> Path:
    import torch

    from safelight.models.forward import unwrap_peft
    from safelight.probes.artifact import ProbeMetadata, save_probe
    from safelight.probes.classifier import ProbeModel
    from safelight.probes.features import num_layers

    base = unwrap_peft(module.reference.model)
    torch.manual_seed(1)
    probe = ProbeModel(base.config.hidden_size)
    meta = ProbeMetadata(model_identity=module.policy_source.identity, hidden_size=base.config.hidden_size,
                         num_layers=num_layers(base), layer=num_layers(base) // 2, pooling="last")
    return save_probe(probe, meta, root / "probe.safetensors")


def make_batches(spec: dict[str, Any], steps: int, method: str, risky_share: float, device: str) -> list[dict]:
    import torch

    g = torch.Generator().manual_seed(0)
    b, s, p = spec["batch"], spec["seq"], spec["prompt"]
    vocab = spec["model"]["vocab_size"]
    batches = []
    for _ in range(steps):
        ids = torch.randint(0, vocab, (b, s), generator=g)
        labels = ids.clone()
        labels[:, :p] = -100
        if method == "adaptive_threshold":
            # Exactly round(b * share) risky rows in every batch, so every timed step does the same work.
            risk = (torch.randperm(b, generator=g) < round(b * risky_share)).float()
        else:
            risk = torch.rand(b, generator=g)
        batch = {"input_ids": ids, "attention_mask": torch.ones_like(ids), "labels": labels,
                 "prompt_lengths": torch.full((b,), p), "risk": risk}
        batches.append({k: v.to(device) for k, v in batch.items()})
    return batches


def worker(cfg: dict[str, Any]) -> dict[str, Any]:
    import torch

    torch.set_num_threads(cfg["threads"])
    from safelight.models.sources import LoraSettings, PretrainedPolicy
    from safelight.module import SafeFineTuner
    from safelight.objective import ConstantSchedule, PaperClampSchedule, ThresholdSchedule, ZeroSchedule

    device, method = cfg["device"], cfg["method"]
    spec = SIZES[cfg["size"]]
    schedule = {"sft": ZeroSchedule(), "constant_kl": ConstantSchedule(0.5),
                "adaptive_threshold": ThresholdSchedule(tau=0.5, beta_high=0.9)}.get(method, PaperClampSchedule())
    lora = LoraSettings(r=16, alpha=16, dropout=0.0) if cfg["finetune"] == "lora" else None
    batches = make_batches(spec, cfg["warmup"] + cfg["steps"], method, cfg["risky_share"], device)
    if device == "cuda":
        torch.cuda.reset_peak_memory_stats()
    base_rss = rss_bytes()
    module = SafeFineTuner(PretrainedPolicy(cfg["model_dir"], lora=lora), schedule=schedule,
                           kl_chunk_size=cfg["chunk"])
    module.configure_model()
    module.to(device)
    probe = None
    if method == "adaptive_probe":
        from safelight.probes.callback import ProbeRiskCallback

        probe = ProbeRiskCallback(str(make_probe(module, Path(cfg["tmp"]))), reference_pass="auto")
        probe.on_fit_start(None, module)  # type: ignore[arg-type]
    params = [p for p in module.policy_model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=1e-5)
    times, walls, risky = [], [], []
    # CPU: process CPU time (one thread), which time spent preempted by other processes on a shared
    # machine does not inflate; CUDA: wall time between synchronisations.
    clock = time.perf_counter if device == "cuda" else time.process_time
    for i, batch in enumerate(batches):
        if device == "cuda":
            torch.cuda.synchronize()
        start, wall = clock(), time.perf_counter()
        if probe is not None:
            batch["risk"] = probe.risk_for(module, batch)
        sums, beta = module.objective_sums(batch)
        loss = sums.weighted / max(sums.n_tokens, 1)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        if device == "cuda":
            torch.cuda.synchronize()
        if i >= cfg["warmup"]:
            times.append(clock() - start)
            walls.append(time.perf_counter() - wall)
            risky.append(float((beta > 0).float().mean()))
    peak = (torch.cuda.max_memory_allocated() if device == "cuda"
            else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - base_rss)
    tokens = spec["batch"] * spec["seq"]
    # The fastest timed step: every step does the same work, and on a shared machine noise only
    # ever adds time (timeit's reasoning); the median is kept in the raw results.
    return {"step_s": min(times), "step_median_s": statistics.median(times), "wall_s": statistics.median(walls),
            "tokens_per_s": tokens / min(times),
            "peak_bytes": peak, "risky_share": statistics.mean(risky)}


# ------------------------------------------------------------------------------------ parent
def _child(fn: Any, args: tuple, queue: Any) -> None:
    try:
        queue.put(("ok", fn(*args)))
    except BaseException as exc:  # report, never hang the parent
        import traceback

        queue.put(("error", f"{exc!r}\n{traceback.format_exc()}"))


def in_child(ctx: Any, fn: Any, *args: Any) -> Any:
    """fn(*args) in a fresh process forked from a server that imported everything once (a second
    instead of ~10 s of imports per variant) and never ran a torch op (so forking is safe)."""
    queue = ctx.Queue()
    proc = ctx.Process(target=_child, args=(fn, args, queue))
    proc.start()
    status, payload = queue.get(timeout=1800)
    proc.join()
    if status != "ok":
        raise RuntimeError(f"{fn.__name__}{args!r} failed:\n{payload}")
    return payload


def table(results: dict[tuple[str, str, str], list[dict[str, Any]]], methods: list[str]) -> str:
    lines = ["| size | fine-tuning | method | step (s) | tokens/s | peak mem (MiB) | step / sft | mem / sft "
             "| risky share |", "|---|---|---|---:|---:|---:|---:|---:|---:|"]
    for (size, finetune) in sorted({(k[0], k[1]) for k in results}, key=lambda k: (k[0] != "toy", k[1])):
        base = results[(size, finetune, "sft")]
        for method in methods:
            runs = results[(size, finetune, method)]
            step_ratio = statistics.median(r["step_s"] / b["step_s"] for r, b in zip(runs, base))
            mem_ratio = statistics.median(r["peak_bytes"] / b["peak_bytes"] for r, b in zip(runs, base))
            step = statistics.median(r["step_s"] for r in runs)
            lines.append(
                f"| {size} | {finetune} | {method} | {step:.3f} | {statistics.median(r['tokens_per_s'] for r in runs):.0f} "
                f"| {statistics.median(r['peak_bytes'] for r in runs) / 2**20:.0f} | {step_ratio:.3f} | {mem_ratio:.3f} "
                f"| {statistics.mean(r['risky_share'] for r in runs):.2f} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--sizes", nargs="+", default=["toy", "large"], choices=list(SIZES))
    parser.add_argument("--finetune", nargs="+", default=["full", "lora"], choices=["full", "lora"])
    parser.add_argument("--methods", nargs="+", default=METHODS, choices=METHODS)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--steps", type=int, default=3, help="timed steps per variant and round")
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--threads", type=int, default=1, help="torch threads per variant (CPU)")
    parser.add_argument("--chunk", type=int, default=128, help="kl_chunk_size (memory knob: up to three chunk x vocab fp32 buffers)")
    parser.add_argument("--risky-share", type=float, default=0.5, help="share of risky rows in every batch (threshold)")
    parser.add_argument("--json", help="also write all raw results here")
    args = parser.parse_args()
    import multiprocessing

    os.environ["OMP_NUM_THREADS"] = str(args.threads)
    # Large blocks straight from (and back to) the kernel, so the resident set follows the tensors
    # alive rather than what the allocator happens to keep cached.
    os.environ.setdefault("MALLOC_MMAP_THRESHOLD_", "131072")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(["torch", "transformers", "peft", "safelight.module", "safelight.probes.callback"])
    methods = ["sft"] + [m for m in args.methods if m != "sft"]
    results: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        # Built in a child, so that no torch op ever runs in this process or the fork server.
        dirs = {size: str(in_child(ctx, build_model_dir, size, Path(tmp))) for size in args.sizes}
        for rnd in range(args.rounds):
            for size in args.sizes:
                for finetune in args.finetune:
                    for method in methods:
                        cfg = {"size": size, "finetune": finetune, "method": method, "model_dir": dirs[size],
                               "device": args.device, "steps": args.steps, "warmup": args.warmup,
                               "threads": args.threads, "chunk": args.chunk, "risky_share": args.risky_share,
                               "tmp": tempfile.mkdtemp(dir=tmp)}
                        r = in_child(ctx, worker, cfg)
                        results.setdefault((size, finetune, method), []).append(r)
                        print(f"round {rnd} {size}/{finetune}/{method}: {r}", file=sys.stderr, flush=True)
    print(f"\n`python scripts/bench.py {' '.join(sys.argv[1:])}` — device {args.device}, {args.threads} thread(s), "
          f"step = fastest of {args.steps} step(s) in " + ("wall time" if args.device == "cuda" else "process CPU time") + f", ratios to SFT taken per round, median over {args.rounds} interleaved round(s); memory = "
          + ("torch.cuda.max_memory_allocated" if args.device == "cuda" else "peak RSS minus RSS before model build")
          + "\n")
    print(table(results, methods))
    if args.json:
        Path(args.json).write_text(json.dumps({"|".join(k): v for k, v in results.items()}, indent=1))


if __name__ == "__main__":
    main()
