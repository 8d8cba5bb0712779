"""Comparison figures, drawn from frames read out of MLflow (no training objects involved).

- `asr_vs_utility`: one panel per scenario, a point per method (mean ± std over seeds); the model
  before fine-tuning as a star. Lower-right is better.
- `safety_curves`: the SafetyEvalCallback curve (`curve/asr`, `curve/utility`) over steps, mean over
  seeds with a ±std band, per scenario.
- `risk_beta_histograms`: distribution of risk and of beta that each method trained with.
- `metrics_vs_param`: ASR and utility against a numeric sweep tag (e.g. judge recall).
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import matplotlib

matplotlib.use("Agg")  # files only; no display on training machines
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from safelight.compare.table import METHOD_ORDER, SCENARIO_ORDER, _rank  # noqa: E402


def _ordered(values: Sequence[str], order: Sequence[str]) -> list[str]:
    return sorted(set(values), key=lambda v: _rank(v, order))


def _save(fig: Figure, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def _colors(methods: Sequence[str]) -> dict[str, object]:
    cmap = plt.get_cmap("tab10")
    return {m: cmap(i % 10) for i, m in enumerate(methods)}


def asr_vs_utility(summary: pd.DataFrame, path: Path, reference: pd.DataFrame | None = None,
                   utility: str = "utility") -> Path:
    scenarios = _ordered(summary["scenario"], SCENARIO_ORDER)
    methods = _ordered(summary["method"], METHOD_ORDER)
    colors = _colors(methods)
    fig, axes = plt.subplots(1, len(scenarios), figsize=(4.2 * len(scenarios), 4), squeeze=False)
    for ax, scenario in zip(axes[0], scenarios):
        part = summary[summary["scenario"] == scenario]
        for _, row in part.iterrows():
            ax.errorbar(row[f"{utility}_mean"], row["asr_mean"], xerr=row.get(f"{utility}_std"),
                        yerr=row.get("asr_std"), fmt="o", color=colors[row["method"]], label=row["method"], capsize=3)
        if reference is not None and scenario in reference.index:
            ref = reference.loc[scenario]
            ax.plot(ref[utility], ref["asr"], "*", color="black", markersize=12, label="before fine-tuning")
        ax.set(title=scenario, xlabel=utility, ylabel="ASR", xlim=(-0.05, 1.05), ylim=(-0.05, 1.05))
        ax.grid(alpha=0.3)
    handles, labels = axes[0][0].get_legend_handles_labels()
    unique = dict(zip(labels, handles))
    fig.legend(unique.values(), unique.keys(), loc="lower center", ncol=min(len(unique), 5), fontsize=8,
               bbox_to_anchor=(0.5, -0.02))
    fig.subplots_adjust(bottom=0.25)
    return _save(fig, path)


def safety_curves(curves: pd.DataFrame, path: Path, metrics: Sequence[str] = ("asr", "utility")) -> Path:
    """`curves`: long frame with columns scenario, method, run_id, metric, step, value."""
    scenarios = _ordered(curves["scenario"], SCENARIO_ORDER)
    methods = _ordered(curves["method"], METHOD_ORDER)
    colors = _colors(methods)
    fig, axes = plt.subplots(len(metrics), len(scenarios), figsize=(4.2 * len(scenarios), 3.2 * len(metrics)),
                             squeeze=False)
    for col, scenario in enumerate(scenarios):
        for row, metric in enumerate(metrics):
            ax = axes[row][col]
            part = curves[(curves["scenario"] == scenario) & (curves["metric"] == metric)]
            for method in methods:
                stats = part[part["method"] == method].groupby("step")["value"].agg(["mean", "std"]).fillna(0.0)
                if stats.empty:
                    continue
                ax.plot(stats.index, stats["mean"], color=colors[method], label=method)
                ax.fill_between(stats.index, stats["mean"] - stats["std"], stats["mean"] + stats["std"],
                                color=colors[method], alpha=0.15)
            ax.set(title=f"{scenario}: {metric}", xlabel="step", ylim=(-0.05, 1.05))
            ax.grid(alpha=0.3)
    axes[0][0].legend(fontsize=7)
    return _save(fig, path)


def risk_beta_histograms(values: pd.DataFrame, path: Path) -> Path:
    """`values`: long frame with columns scenario, method, quantity (`risk` or `beta`), value."""
    scenarios = _ordered(values["scenario"], SCENARIO_ORDER)
    methods = _ordered(values["method"], METHOD_ORDER)
    colors = _colors(methods)
    fig, axes = plt.subplots(len(scenarios), 2, figsize=(9, 2.8 * len(scenarios)), squeeze=False)
    bins = [i / 20 for i in range(21)]
    for r, scenario in enumerate(scenarios):
        for c, quantity in enumerate(("risk", "beta")):
            ax = axes[r][c]
            part = values[(values["scenario"] == scenario) & (values["quantity"] == quantity)]
            for method in methods:
                data = part.loc[part["method"] == method, "value"].dropna()
                if len(data):
                    ax.hist(data, bins=bins, histtype="step", density=True, color=colors[method], label=method)
            ax.set(title=f"{scenario}: {quantity}", xlim=(0, 1))
    axes[0][1].legend(fontsize=7)
    return _save(fig, path)


def metrics_vs_param(summary: pd.DataFrame, param: str, path: Path,
                     metrics: Sequence[str] = ("asr", "utility", "utility_task")) -> Path:
    """One line per (method, scenario) of each metric's mean ± std against a numeric column."""
    present = [m for m in metrics if f"{m}_mean" in summary]
    fig, axes = plt.subplots(1, len(present), figsize=(4.2 * len(present), 3.6), squeeze=False)
    data = summary.assign(_x=pd.to_numeric(summary[param], errors="coerce")).dropna(subset=["_x"])
    for ax, metric in zip(axes[0], present):
        for (method, scenario), part in data.groupby(["method", "scenario"]):
            part = part.sort_values("_x")
            ax.errorbar(part["_x"], part[f"{metric}_mean"], yerr=part[f"{metric}_std"].fillna(0.0), marker="o",
                        capsize=3, label=f"{method} / {scenario}")
        ax.set(xlabel=param, ylabel=metric, ylim=(-0.05, 1.05))
        ax.grid(alpha=0.3)
    axes[0][0].legend(fontsize=7)
    return _save(fig, path)
