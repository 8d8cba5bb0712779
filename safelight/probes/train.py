"""Probe experiment: per-layer probes with L2 chosen on validation, a lexical baseline on the same
splits, the best layer chosen on validation, evaluated in-distribution and across sources.

Selection uses validation data only (AUROC, ties broken by calibrated log-loss, then by the lower
layer). Test and cross-source numbers are reported, never used to choose anything.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from safelight.probes.classifier import ClassifierKind, ProbeModel, calibrate, fit_probe
from safelight.probes.lexical import BagOfWords
from safelight.probes.metrics import best_threshold, probe_metrics
from safelight.probes.prompts import LabelledPrompt, prompt_text
from safelight.probes.splits import ProbeSplits

EVAL_SETS = ("val", "test", "cross")


@dataclass
class Fitted:
    """One selected classifier and its metrics per evaluation set (val / test / cross)."""

    name: str
    model: ProbeModel
    l2: float
    threshold: float
    metrics: dict[str, dict[str, float]] = field(default_factory=dict)
    val_logloss: float = 0.0
    #: cross-source metrics per (harmful source, benign source) pair, keyed "harmful vs benign"
    pairs: dict[str, dict[str, float]] = field(default_factory=dict)


def source_pairs(sources: Sequence[str], labels: Tensor) -> dict[str, Tensor]:
    """Row masks of each (harmful source, benign source) pair of a set with several sources.

    A pooled AUROC over several benign sources hides which of them the probe confuses with harm;
    each pair says it alone. Empty when the set has a single pair (the pooled figure already is it).
    """
    harmful = sorted({s for s, y in zip(sources, labels.tolist()) if y == 1})
    benign = sorted({s for s, y in zip(sources, labels.tolist()) if y == 0})
    if len(harmful) * len(benign) < 2:
        return {}
    return {f"{h} vs {b}": torch.tensor([s in (h, b) for s in sources]) for h in harmful for b in benign}


def select_l2(
    x: dict[str, Tensor],
    y: dict[str, Tensor],
    l2_grid: Sequence[float],
    kind: ClassifierKind,
    seed: int,
    mlp_hidden: int,
    name: str,
    cross_pairs: dict[str, Tensor] | None = None,
) -> Fitted:
    """Fit one classifier per L2 value on `train`, keep the best on `val`, calibrate on `val`.

    `cross_pairs` (see `source_pairs`) adds the cross-source metrics of each source pair.
    """
    best: tuple[tuple[float, float], Fitted] | None = None
    for l2 in l2_grid:
        model = fit_probe(x["train"], y["train"], l2, kind, seed, mlp_hidden)
        calibrate(model, x["val"], y["val"])
        with torch.no_grad():
            p_val = model.proba(x["val"])
        auroc = probe_metrics(p_val, y["val"], 0.5)["auroc"]
        logloss = float(F.binary_cross_entropy(p_val.clamp(1e-6, 1 - 1e-6), y["val"].float()))
        key = (auroc, -logloss)
        if best is None or key > best[0]:
            best = (key, Fitted(name, model, l2, 0.5, val_logloss=logloss))
    assert best is not None
    fitted = best[1]
    with torch.no_grad():
        scores = {s: fitted.model.proba(x[s]) for s in EVAL_SETS if s in x}
    fitted.threshold = best_threshold(scores["val"], y["val"])
    fitted.metrics = {s: probe_metrics(scores[s], y[s], fitted.threshold) for s in scores}
    fitted.pairs = {pair: probe_metrics(scores["cross"][mask], y["cross"][mask], fitted.threshold)
                    for pair, mask in (cross_pairs or {}).items()}
    return fitted


def _subsets(features: Tensor, labels: Tensor, splits: ProbeSplits) -> tuple[dict[str, Tensor], dict[str, Tensor]]:
    idx = {"train": splits.train, "val": splits.val, "test": splits.test}
    if splits.cross:
        idx["cross"] = splits.cross
    x = {k: features[torch.tensor(v)] for k, v in idx.items()}
    y = {k: labels[torch.tensor(v)] for k, v in idx.items()}
    return x, y


@dataclass
class ProbeExperiment:
    per_layer: dict[int, Fitted]
    best_layer: int
    lexical: Fitted

    @property
    def best(self) -> Fitted:
        return self.per_layer[self.best_layer]


def run_experiment(
    prompts: Sequence[LabelledPrompt],
    features: Tensor,
    layers: Sequence[int],
    splits: ProbeSplits,
    l2_grid: Sequence[float] = (1e-4, 1e-3, 1e-2, 1e-1),
    kind: ClassifierKind = "logistic",
    seed: int = 0,
    mlp_hidden: int = 64,
) -> ProbeExperiment:
    """features: (n_prompts, len(layers), hidden), in the order of `layers`."""
    labels = torch.tensor([p["label"] for p in prompts])
    pairs = source_pairs([prompts[i]["source"] for i in splits.cross], labels[torch.tensor(splits.cross, dtype=torch.long)])
    per_layer: dict[int, Fitted] = {}
    for j, layer in enumerate(layers):
        x, y = _subsets(features[:, j], labels, splits)
        per_layer[layer] = select_l2(x, y, l2_grid, kind, seed, mlp_hidden, f"layer {layer}", pairs)
    best_layer = max(layers, key=lambda layer: (per_layer[layer].metrics["val"]["auroc"],
                                                 -per_layer[layer].val_logloss, -layer))
    texts = [prompt_text(p) for p in prompts]
    bow = BagOfWords([texts[i] for i in splits.train])
    x, y = _subsets(bow(texts), labels, splits)
    lexical = select_l2(x, y, l2_grid, "logistic", seed, mlp_hidden, "lexical (bag of words)", pairs)
    return ProbeExperiment(per_layer, best_layer, lexical)
