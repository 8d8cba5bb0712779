"""Per-prompt feature cache: re-running the probe with other sources or classifiers reuses the
activations already extracted (a 135M model on CPU spends minutes per thousand prompts).

Keyed by the model (identity + weights fingerprint), layers, pooling, max length and each prompt's
messages; stored as one safetensors file per key.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Callable, Sequence

import torch
from safetensors.torch import load_file, save_file
from torch import Tensor


def _hash(obj: object) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True).encode()).hexdigest()[:20]


def cached_features(
    cache_dir: str | Path,
    key: dict,
    prompts: Sequence[Sequence[dict]],
    compute: Callable[[list[Sequence[dict]]], Tensor],
) -> Tensor:
    """Features for `prompts`, computing (with `compute`) only those not cached under `key`."""
    path = Path(cache_dir) / f"features-{_hash(key)}.safetensors"
    ids = [_hash(list(p)) for p in prompts]
    known: dict[str, Tensor] = {}
    if path.exists():
        stored = load_file(str(path))
        known = dict(zip(json.loads(path.with_suffix(".json").read_text()), stored["features"]))
    missing = [i for i, h in enumerate(ids) if h not in known]
    if missing:
        fresh = compute([prompts[i] for i in missing])
        for i, row in zip(missing, fresh):
            known[ids[i]] = row
        path.parent.mkdir(parents=True, exist_ok=True)
        order = list(known)
        save_file({"features": torch.stack([known[h] for h in order]).contiguous()}, str(path))
        path.with_suffix(".json").write_text(json.dumps(order))
    return torch.stack([known[h] for h in ids])
