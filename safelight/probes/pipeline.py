"""`train_probe`: features from a model, the probe experiment, the saved probe and its report."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import torch

from safelight.models.forward import unwrap_peft
from safelight.models.sources import PolicySource
from safelight.probes.artifact import ProbeMetadata, save_probe, weights_fingerprint
from safelight.probes.classifier import ClassifierKind
from safelight.probes.feature_cache import cached_features
from safelight.probes.features import PaddingSide, Pooling, num_layers, prompt_features
from safelight.probes.prompts import PromptSet
from safelight.probes.report import flat_metrics, log_to_mlflow, markdown_table, pairs_table, plot_layers, split_summary
from safelight.probes.splits import make_splits
from safelight.probes.train import ProbeExperiment, run_experiment
from safelight.tracking import DEFAULT_ARTIFACT_LOCATION, DEFAULT_TRACKING_URI, git_sha


def _counts(prompts: list, idx: list[int]) -> dict[str, Any]:
    return {"sources": sorted({prompts[i]["source"] for i in idx}),
            "harmful": sum(prompts[i]["label"] for i in idx),
            "benign": sum(1 - prompts[i]["label"] for i in idx)}


def train_probe(
    model: PolicySource,
    prompts: PromptSet,
    train_sources: list[str],
    val_sources: list[str] | None = None,
    test_sources: list[str] | None = None,
    layers: list[int] | None = None,
    pooling: Pooling = "last",
    classifier: ClassifierKind = "logistic",
    mlp_hidden: int = 64,
    l2_grid: list[float] | None = None,
    seed: int = 0,
    test_fraction: float = 0.2,
    val_fraction: float = 0.2,
    batch_size: int = 32,
    padding_side: PaddingSide = "left",
    max_length: int | None = 512,
    output: str = "probes/probe.safetensors",
    feature_cache_dir: str = ".safelight_cache/probe_features",
    log_mlflow: bool = True,
    tracking_uri: str = DEFAULT_TRACKING_URI,
    experiment_name: str = "safelight-probe",
    artifact_location: str = DEFAULT_ARTIFACT_LOCATION,
) -> ProbeExperiment:
    """Train and evaluate a harmful-intent probe on `model`'s pre-generation activations.

    Args:
        model: the *reference* model the probe will read during fine-tuning (same identity).
        prompts: labelled prompts by source.
        train_sources / val_sources / test_sources: sources for training (and the in-distribution
            test split), for selection and calibration, and for the cross-source test.
        layers: layers to probe (default: every block output, 1..num_layers).
        output: the probe's safetensors file; its metadata, report and plot go beside it.
        feature_cache_dir: extracted activations per prompt, reused by later runs on the same model.
    """
    started = time.time()
    tokenizer = model.load_tokenizer()
    lm = model.load_base_model()
    lm.requires_grad_(False)
    total_layers = num_layers(lm)
    layers = list(layers) if layers else list(range(1, total_layers + 1))
    by_source = prompts.sources()
    rows = [p for name in sorted(by_source) for p in by_source[name]]
    splits = make_splits(rows, train_sources, val_sources or [], test_sources or [], test_fraction, val_fraction, seed)
    used = sorted(set(splits.train + splits.val + splits.test + splits.cross))
    rows = [rows[i] for i in used]  # extract features only for prompts some split uses
    splits = make_splits(rows, train_sources, val_sources or [], test_sources or [], test_fraction, val_fraction, seed)
    key = {"model": model.identity, "weights": weights_fingerprint(lm), "layers": layers, "pooling": pooling,
           "max_length": max_length}
    with torch.no_grad():
        features = cached_features(feature_cache_dir, key, [r["messages"] for r in rows],
                                   lambda todo: prompt_features(lm, tokenizer, todo, layers, pooling, batch_size,
                                                                padding_side, max_length))
    feature_seconds = time.time() - started
    exp = run_experiment(rows, features, layers, splits, l2_grid or [1e-4, 1e-3, 1e-2, 1e-1], classifier, seed, mlp_hidden)

    out = Path(output)
    best = exp.best
    meta = ProbeMetadata(
        model_identity=model.identity, hidden_size=unwrap_peft(lm).config.hidden_size, num_layers=total_layers,
        layer=exp.best_layer, pooling=pooling, classifier=classifier, mlp_hidden=mlp_hidden, l2=best.l2,
        threshold=best.threshold, metrics=flat_metrics(exp),
        weights_fingerprint=weights_fingerprint(lm),
        sources={"train": list(train_sources), "val": list(val_sources or []), "test": list(test_sources or [])},
    )
    save_probe(best.model, meta, out)
    counts = {"train": _counts(rows, splits.train), "validation": _counts(rows, splits.val),
              "test (in-distribution)": _counts(rows, splits.test)}
    if splits.cross:
        counts["cross-source test"] = _counts(rows, splits.cross)
    table = markdown_table(exp)
    by_pair = pairs_table(exp)
    if by_pair:
        table += "\n\nCross-source test by source pair (each harmful test source against each benign one):\n\n" + by_pair
    note = ("validation = held-out sources" if splits.val_is_other_source
            else "validation = a split of the training sources (no val_sources given)")
    report = (f"# Harmful-intent probe: {model.identity}\n\npooling `{pooling}`, classifier `{classifier}`, "
              f"seed {seed}, {note}; selected layer **{exp.best_layer}** (on validation AUROC).\n\n"
              f"{split_summary(counts)}\n\n{table}\n\nfeatures: {len(rows)} prompts in {feature_seconds:.1f} s\n")
    report_path = out.with_name(out.stem + "_report.md")
    report_path.write_text(report)
    plot_path = plot_layers(exp, out.with_name(out.stem + "_layers.png"), f"{model.identity} ({pooling})")
    print(report)
    print(f"probe saved to {out} (+ {out.with_suffix('.json').name}); report {report_path}; plot {plot_path}")
    if log_mlflow:
        params = {"model": model.identity, "pooling": pooling, "classifier": classifier, "seed": seed,
                  "layers": layers, "selected_layer": exp.best_layer, "l2": best.l2, "git_sha": git_sha(),
                  "train_sources": train_sources, "val_sources": val_sources, "test_sources": test_sources,
                  "counts": json.dumps({k: [v["harmful"], v["benign"]] for k, v in counts.items()})}
        run_id = log_to_mlflow(exp, params, [out, out.with_suffix(".json"), report_path, plot_path],
                               tracking_uri, experiment_name, artifact_location)
        print(f"logged to MLflow ({tracking_uri}), run {run_id}")
    return exp
