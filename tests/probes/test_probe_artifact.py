"""Saved probes: round trip, and refusal to score another model's activations."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from safelight.probes.artifact import ProbeMismatchError, ProbeNotFoundError, expected_fields, load_probe

from .conftest import make_probe


def test_round_trip_keeps_scores(tmp_path: Path) -> None:
    path = make_probe(tmp_path / "p.safetensors", "model-a", 16, 4, layer=2)
    probe, meta = load_probe(path, expected_fields("model-a", 16, 4))
    assert meta.layer == 2 and meta.calibration["method"] == "platt"
    x = torch.randn(5, 16)
    p = probe.proba(x)
    assert p.shape == (5,) and ((p > 0) & (p < 1)).all()


@pytest.mark.parametrize(("identity", "hidden", "layers", "named"), [
    ("model-b", 16, 4, "model_identity"), ("model-a", 32, 4, "hidden_size"), ("model-a", 16, 6, "num_layers"),
])
def test_mismatched_metadata_is_refused_naming_the_field(tmp_path: Path, identity: str, hidden: int, layers: int,
                                                         named: str) -> None:
    path = make_probe(tmp_path / "p.safetensors", "model-a", 16, 4, layer=2)
    with pytest.raises(ProbeMismatchError, match=named):
        load_probe(path, expected_fields(identity, hidden, layers))


def test_missing_probe_names_the_command(tmp_path: Path) -> None:
    with pytest.raises(ProbeNotFoundError, match="safelight probe --config"):
        load_probe(tmp_path / "absent.safetensors")


def test_fingerprint_tells_weights_apart_but_not_dtypes(tiny_lm) -> None:
    import copy

    from safelight.probes.artifact import weights_fingerprint

    model, _ = tiny_lm
    same = weights_fingerprint(model)
    assert same is not None and weights_fingerprint(copy.deepcopy(model).to(torch.bfloat16)) == same
    other = copy.deepcopy(model)
    with torch.no_grad():
        other.get_input_embeddings().weight.add_(0.01)
    assert weights_fingerprint(other) != same


def test_probe_for_other_weights_under_the_same_identity_is_refused(tmp_path: Path) -> None:
    from safelight.probes.artifact import ProbeMetadata, save_probe
    from safelight.probes.classifier import ProbeModel

    meta = ProbeMetadata(model_identity="toy", hidden_size=16, num_layers=4, layer=2, pooling="last",
                         weights_fingerprint="aaaa")
    path = save_probe(ProbeModel(16), meta, tmp_path / "p.safetensors")
    with pytest.raises(ProbeMismatchError, match="weights_fingerprint"):
        load_probe(path, expected_fields("toy", 16, 4, "bbbb"))
    load_probe(path, expected_fields("toy", 16, 4, None))  # sharded model: no fingerprint to compare
