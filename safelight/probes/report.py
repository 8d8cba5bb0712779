"""The probe report: a markdown table per layer (with the lexical baseline), a plot, MLflow logging."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # headless: the report is written to files
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

from safelight.probes.train import EVAL_SETS, Fitted, ProbeExperiment  # noqa: E402

SET_TITLES = {"val": "validation", "test": "test (in-distribution)", "cross": "cross-source test"}
METRICS = ("auroc", "accuracy", "tpr_at_1fpr")


def _row(label: str, fitted: Fitted, sets: list[str]) -> str:
    cells = [label, f"{fitted.l2:g}"]
    for s in sets:
        m = fitted.metrics[s]
        cells += [f"{m['auroc']:.3f}", f"{m['accuracy']:.3f}", f"{m['tpr_at_1fpr']:.3f}"]
    return "| " + " | ".join(cells) + " |"


def _labelled_rows(exp: ProbeExperiment) -> list[tuple[str, Fitted]]:
    """The table rows: each layer (the selected one marked), then the lexical baseline."""
    return [(f"{layer}{' (selected)' if layer == exp.best_layer else ''}", fitted)
            for layer, fitted in sorted(exp.per_layer.items())] + [("lexical baseline", exp.lexical)]


def markdown_table(exp: ProbeExperiment) -> str:
    sets = [s for s in EVAL_SETS if s in exp.best.metrics]
    head = ["layer", "L2"] + [f"{SET_TITLES[s]} {m}" for s in sets for m in ("AUROC", "acc", "TPR@1%FPR")]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += [_row(label, fitted, sets) for label, fitted in _labelled_rows(exp)]
    return "\n".join(lines)


def pairs_table(exp: ProbeExperiment) -> str:
    """Cross-source AUROC per (harmful, benign) source pair, per layer and for the lexical baseline."""
    pairs = list(exp.best.pairs)
    if not pairs:
        return ""
    lines = ["| layer | " + " | ".join(f"{p} AUROC" for p in pairs) + " |", "|" + "---|" * (len(pairs) + 1)]
    for label, fitted in _labelled_rows(exp):
        lines.append("| " + " | ".join([label] + [f"{fitted.pairs[p]['auroc']:.3f}" for p in pairs]) + " |")
    return "\n".join(lines)


def pair_key(pair: str) -> str:
    """MLflow-safe metric name part of a source pair ("a vs b" -> "a_vs_b")."""
    return pair.replace(" ", "_")


def split_summary(counts: dict[str, dict[str, Any]]) -> str:
    lines = ["| set | sources | harmful | benign |", "|---|---|---|---|"]
    for name, info in counts.items():
        lines.append(f"| {name} | {', '.join(info['sources'])} | {info['harmful']} | {info['benign']} |")
    return "\n".join(lines)


def plot_layers(exp: ProbeExperiment, path: Path, title: str) -> Path:
    layers = sorted(exp.per_layer)
    fig, ax = plt.subplots(figsize=(10, 4.2))
    for i, s in enumerate(s for s in EVAL_SETS if s in exp.best.metrics):
        colour = f"C{i}"
        ax.plot(layers, [exp.per_layer[layer].metrics[s]["auroc"] for layer in layers], "o-", color=colour,
                label=f"probe, {SET_TITLES[s]}")
        ax.axhline(exp.lexical.metrics[s]["auroc"], color=colour, ls="--", lw=1, label=f"lexical, {SET_TITLES[s]}")
    offset = len(exp.best.metrics)
    for i, pair in enumerate(exp.best.pairs):
        ax.plot(layers, [exp.per_layer[layer].pairs[pair]["auroc"] for layer in layers], ".:", lw=1,
                color=f"C{offset + i}", label=f"probe, cross-source {pair}")
    ax.axvline(exp.best_layer, color="grey", ls=":", lw=1)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("layer")
    ax.set_ylabel("AUROC")
    ax.set_title(title, fontsize=9)
    # Outside the axes: with a line per source pair, an inside legend hides the curves.
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def flat_metrics(exp: ProbeExperiment) -> dict[str, float]:
    """`probe/auroc` etc.: the selected probe on the cross-source test (else the in-distribution test)."""
    out: dict[str, float] = {"probe/best_layer": float(exp.best_layer)}
    headline = "cross" if "cross" in exp.best.metrics else "test"
    for m in METRICS:
        out[f"probe/{m}"] = exp.best.metrics[headline][m]
        out[f"probe/lexical_{m}"] = exp.lexical.metrics[headline][m]
    for s, metrics in exp.best.metrics.items():
        for m in METRICS:
            out[f"probe/{s}_{m}"] = metrics[m]
            out[f"probe/lexical_{s}_{m}"] = exp.lexical.metrics[s][m]
    for pair, metrics in exp.best.pairs.items():
        for m in METRICS:
            out[f"probe/cross_pair/{pair_key(pair)}_{m}"] = metrics[m]
            out[f"probe/lexical_cross_pair/{pair_key(pair)}_{m}"] = exp.lexical.pairs[pair][m]
    return out


def log_to_mlflow(
    exp: ProbeExperiment, params: dict[str, Any], files: list[Path], tracking_uri: str, experiment: str,
    artifact_location: str,
) -> str:
    import mlflow

    from safelight.tracking import ensure_local_store

    ensure_local_store(tracking_uri)
    mlflow.set_tracking_uri(tracking_uri)
    if mlflow.get_experiment_by_name(experiment) is None:
        mlflow.create_experiment(experiment, artifact_location=str(Path(artifact_location).resolve()))
    mlflow.set_experiment(experiment)
    with mlflow.start_run() as run:
        mlflow.log_params({k: str(v)[:500] for k, v in params.items()})
        mlflow.log_metrics(flat_metrics(exp))
        for layer, fitted in exp.per_layer.items():
            for s, metrics in fitted.metrics.items():
                mlflow.log_metric(f"probe/layer_{s}_auroc", metrics["auroc"], step=layer)
            for pair, metrics in fitted.pairs.items():
                mlflow.log_metric(f"probe/layer_cross_pair/{pair_key(pair)}_auroc", metrics["auroc"], step=layer)
        for path in files:
            mlflow.log_artifact(str(path), artifact_path="probe")
        return run.info.run_id
