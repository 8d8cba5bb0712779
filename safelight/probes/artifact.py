"""A trained probe on disk: weights as safetensors, metadata as JSON beside them (same stem).

The metadata says which model the probe reads (identity, hidden size, number of layers), where
(layer, pooling), how features are normalised, and how its output becomes a calibrated risk
(Platt scale and bias, decision threshold). Loading for a different model is refused with a
message naming every field that differs: activations of another model are meaningless to it.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file
from torch import nn

from safelight.probes.classifier import ClassifierKind, ProbeModel
from safelight.probes.features import Pooling

FORMAT_VERSION = 1


class ProbeMismatchError(ValueError):
    """The probe was trained on another model's activations."""


class ProbeNotFoundError(FileNotFoundError):
    pass


@dataclass
class ProbeMetadata:
    model_identity: str
    hidden_size: int
    num_layers: int
    layer: int
    pooling: Pooling
    classifier: ClassifierKind = "logistic"
    mlp_hidden: int = 64
    l2: float = 0.0
    threshold: float = 0.5
    normalisation: str = "standardise: (x - mean) / std, train-split statistics"
    calibration: dict[str, float] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    sources: dict[str, list[str]] = field(default_factory=dict)
    weights_fingerprint: str | None = None
    format_version: int = FORMAT_VERSION


def metadata_path(path: str | Path) -> Path:
    return Path(path).with_suffix(".json")


def save_probe(model: ProbeModel, meta: ProbeMetadata, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    meta.calibration = {"method": "platt", "scale": float(model.calib_log_scale.exp()),  # type: ignore[dict-item]
                        "bias": float(model.calib_bias)}
    tensors = {k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()}
    save_file(tensors, str(path), metadata={"format": "safelight-probe", "layer": str(meta.layer)})
    metadata_path(path).write_text(json.dumps(asdict(meta), indent=2, sort_keys=True))
    return path


def weights_fingerprint(model: nn.Module) -> str | None:
    """A hash of a slice of the input embeddings and the first block's weights, rounded to bfloat16.

    The identity names a recipe (a hub id, "toy-reference-seed0"); the weights behind it can change
    (a rebuilt toy reference, a new hub revision). bfloat16 rounding makes float32 and bfloat16
    copies of the same weights agree. None where the weights are sharded or not materialised.
    """
    from safelight.models.forward import unwrap_peft
    from safelight.probes.features import decoder_blocks

    base = unwrap_peft(model)
    tensors = [base.get_input_embeddings().weight, next(decoder_blocks(base)[0].parameters())]
    digest = hashlib.sha256()
    for t in tensors:
        if t.is_meta or type(t.data).__name__ == "DTensor":
            return None  # DTensor (FSDP2) or meta: no local full copy to hash
        values = t.detach().flatten()[:4096].to("cpu", torch.bfloat16).view(torch.int16)
        digest.update(values.numpy().tobytes())
    return digest.hexdigest()[:16]


def expected_fields(model_identity: str, hidden_size: int, num_layers: int | None = None,
                    fingerprint: str | None = None) -> dict[str, Any]:
    fields: dict[str, Any] = {"model_identity": model_identity, "hidden_size": hidden_size}
    if num_layers is not None:
        fields["num_layers"] = num_layers
    if fingerprint is not None:
        fields["weights_fingerprint"] = fingerprint
    return fields


def check_compatible(meta: ProbeMetadata, expected: dict[str, Any], where: str) -> None:
    # A probe saved without a fingerprint (or a sharded model without one) skips that check only.
    diffs = [f"{key}: probe has {getattr(meta, key)!r}, the model has {value!r}"
             for key, value in expected.items()
             if getattr(meta, key) != value and not (key == "weights_fingerprint" and getattr(meta, key) is None)]
    if diffs:
        raise ProbeMismatchError(
            f"probe {where} was trained on another model's activations and cannot score this one ("
            + "; ".join(diffs) + "). Train a probe for this model with `safelight probe --config ...`."
        )


def load_probe(path: str | Path, expected: dict[str, Any] | None = None) -> tuple[ProbeModel, ProbeMetadata]:
    """Load a probe; with `expected` (see `expected_fields`), refuse one made for another model."""
    path = Path(path)
    if not path.exists() or not metadata_path(path).exists():
        raise ProbeNotFoundError(
            f"no probe at {path} (weights) / {metadata_path(path)} (metadata). Train it first, e.g. "
            "`safelight probe --config configs/probe/toy.yaml`, and point probe_path at its output."
        )
    raw = json.loads(metadata_path(path).read_text())
    if raw.get("format_version") != FORMAT_VERSION:
        raise ProbeMismatchError(f"probe {path} has format_version {raw.get('format_version')}, expected {FORMAT_VERSION}")
    meta = ProbeMetadata(**raw)
    if expected is not None:
        check_compatible(meta, expected, str(path))
    model = ProbeModel(meta.hidden_size, meta.classifier, meta.mlp_hidden)
    model.load_state_dict(load_file(str(path)))
    model.requires_grad_(False)
    model.eval()
    return model, meta
