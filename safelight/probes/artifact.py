"""A trained probe on disk: weights as safetensors, metadata as JSON beside them (same stem).

The metadata says which model the probe reads (identity, hidden size, number of layers), where
(layer, pooling), how features are normalised, and how its output becomes a calibrated risk
(Platt scale and bias, decision threshold). Loading for a different model is refused with a
message naming every field that differs: activations of another model are meaningless to it.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from safetensors.torch import load_file, save_file

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


def expected_fields(model_identity: str, hidden_size: int, num_layers: int | None = None) -> dict[str, Any]:
    fields: dict[str, Any] = {"model_identity": model_identity, "hidden_size": hidden_size}
    if num_layers is not None:
        fields["num_layers"] = num_layers
    return fields


def check_compatible(meta: ProbeMetadata, expected: dict[str, Any], where: str) -> None:
    diffs = [f"{key}: probe has {getattr(meta, key)!r}, the model has {value!r}"
             for key, value in expected.items() if getattr(meta, key) != value]
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
