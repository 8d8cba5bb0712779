"""Build-once, load-always: the toy world's safe reference policy, cached in Hugging Face format.

`ensure_toy_reference()` returns the directory of a built reference, training it on first use
(about 2 minutes on 2 idle CPU cores). Afterwards it is loaded like any hub model, with
`AutoModelForCausalLM.from_pretrained(path)`, so experiments on the toy world exercise the same
loading code as experiments on real models.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import pathlib
import shutil
import tempfile
import time
from typing import Any, Iterator

import torch
import transformers
from transformers import AutoModelForCausalLM, AutoTokenizer, PreTrainedModel, PreTrainedTokenizerBase

from safelight.toy.model import init_toy_model
from safelight.toy.quality import ToyReferenceQualityError, check_quality_gate, measure_toy_model
from safelight.toy.tokenizer import build_toy_tokenizer
from safelight.toy.train import sft_train
from safelight.toy.world import WORLD_VERSION, ToyWorld

__all__ = ["ToyReferenceQualityError", "ensure_toy_reference", "load_toy_reference", "toy_reference_dir"]

log = logging.getLogger(__name__)

# Bump when the training recipe or the saved layout changes, so old caches are not reused.
FORMAT_VERSION = 1
METADATA_FILE = "toy_reference.json"
# 400 steps passed the gate with margin for seed 0 (final loss 0.07, benign accuracy 1.0) but not
# for seed 1 (loss 0.30, benign accuracy 0.89): 600 buys margin for ~35 s more on 2 idle cores.
DEFAULT_STEPS = 600
BATCH_SIZE = 64
LEARNING_RATE = 2e-3
WARMUP_STEPS = 30


def default_cache_dir() -> pathlib.Path:
    return pathlib.Path(os.environ.get("SAFELIGHT_CACHE_DIR") or pathlib.Path.home() / ".cache" / "safelight")


def toy_reference_dir(cache_dir: str | os.PathLike[str] | None = None, seed: int = 0) -> pathlib.Path:
    root = pathlib.Path(cache_dir) if cache_dir is not None else default_cache_dir()
    return root / f"toy-reference-{WORLD_VERSION}-f{FORMAT_VERSION}-seed{seed}"


def _read_metadata(path: pathlib.Path) -> dict[str, Any] | None:
    try:
        return json.loads((path / METADATA_FILE).read_text())
    except (OSError, ValueError):
        return None


def _is_usable(path: pathlib.Path, seed: int, steps: int) -> bool:
    meta = _read_metadata(path)
    return (
        meta is not None
        and meta.get("world_version") == WORLD_VERSION
        and meta.get("format_version") == FORMAT_VERSION
        and meta.get("seed") == seed
        and meta.get("steps") == steps
        and (path / "config.json").is_file()
        and (path / "tokenizer.json").is_file()
    )


@contextlib.contextmanager
def _file_lock(path: pathlib.Path) -> Iterator[None]:
    # An OS lock (released if the holder dies), so two DDP ranks never both build.
    with open(path, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def build_threads() -> int:
    """Threads for the build: the cores not already busy.

    Oversubscribed OpenMP threads spin against each other: on 2 cores shared with two other
    torch processes, a step took 8.5 s with 2 threads and 1.9 s with 1 (0.17 s with 2 on idle cores).
    An explicit OMP_NUM_THREADS wins.
    """
    if os.environ.get("OMP_NUM_THREADS"):
        return torch.get_num_threads()
    cores = len(os.sched_getaffinity(0))
    return max(1, min(cores, cores - round(os.getloadavg()[0])))


@contextlib.contextmanager
def _torch_threads(n: int) -> Iterator[None]:
    previous = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def build_toy_reference(out_dir: pathlib.Path, seed: int, steps: int) -> dict[str, Any]:
    """Train, measure and save the reference into `out_dir`; raise if it fails the quality gate."""
    started = time.perf_counter()
    world = ToyWorld(seed)
    tokenizer = build_toy_tokenizer(world)
    model = init_toy_model(tokenizer, seed=seed)
    threads = build_threads()
    with _torch_threads(threads):
        log.info("toy reference build: %d torch threads", threads)
        sft_train(model, tokenizer, world.alignment_rows(), steps=steps, batch_size=BATCH_SIZE,
                  lr=LEARNING_RATE, seed=seed, warmup_steps=min(WARMUP_STEPS, steps), cosine=True,
                  log=log.info)
        metrics = measure_toy_model(model, tokenizer, world)
    check_quality_gate(metrics)
    model.save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)
    meta = {
        "world_version": WORLD_VERSION, "format_version": FORMAT_VERSION, "seed": seed, "steps": steps,
        "batch_size": BATCH_SIZE, "learning_rate": LEARNING_RATE, "metrics": metrics,
        "n_parameters": sum(p.numel() for p in model.parameters()), "threads": threads,
        "build_seconds": round(time.perf_counter() - started, 1),
        "torch": torch.__version__, "transformers": transformers.__version__,
    }
    # Written last: its presence is what marks a directory as a complete build.
    (out_dir / METADATA_FILE).write_text(json.dumps(meta, indent=2))
    return meta


def ensure_toy_reference(
    cache_dir: str | os.PathLike[str] | None = None, seed: int = 0, force: bool = False, steps: int = DEFAULT_STEPS
) -> pathlib.Path:
    """Directory of the built toy reference for `seed`, building it (under a file lock) if needed.

    Default cache: $SAFELIGHT_CACHE_DIR or ~/.cache/safelight. A build that fails the quality gate
    raises ToyReferenceQualityError and leaves nothing usable behind. `steps` is part of the recipe:
    a cached build with other steps is rebuilt.
    """
    final = toy_reference_dir(cache_dir, seed)
    if not force and _is_usable(final, seed, steps):
        return final
    final.parent.mkdir(parents=True, exist_ok=True)
    with _file_lock(final.parent / f"{final.name}.lock"):
        # Another process may have finished the build while this one waited for the lock.
        if not force and _is_usable(final, seed, steps):
            return final
        log.warning("building the toy reference policy in %s (first use; about 2 minutes on 2 CPU cores)", final)
        tmp = pathlib.Path(tempfile.mkdtemp(prefix=f"{final.name}.tmp-", dir=final.parent))
        try:
            meta = build_toy_reference(tmp, seed, steps)
            if final.exists():
                shutil.rmtree(final)
            os.rename(tmp, final)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    log.warning("toy reference built in %.0fs: %s", meta["build_seconds"], json.dumps(meta["metrics"]))
    return final


def load_toy_reference(path: str | os.PathLike[str]) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    """Load a built reference through the ordinary Hugging Face path, in eval mode."""
    model = AutoModelForCausalLM.from_pretrained(path)
    tokenizer = AutoTokenizer.from_pretrained(path)
    model.eval()
    return model, tokenizer
