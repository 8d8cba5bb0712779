"""The comparison table: mean, standard deviation (over seeds, ddof=1) and seed count per cell."""

from __future__ import annotations

import math
from typing import Sequence

import pandas as pd

DEFAULT_METRICS = ("asr", "harmfulness", "utility", "utility_task", "over_refusal")
#: Methods in the order a reader expects: baselines first, then the paper's method and its variants.
METHOD_ORDER = ("sft", "constant_kl", "c_sft", "filter", "mixing", "adaptive_critic", "adaptive_critic_batch",
                "adaptive_probe", "adaptive_threshold")
SCENARIO_ORDER = ("harmful", "mixed", "identity_shift", "benign")


def _rank(value: str, order: Sequence[str]) -> tuple[int, str]:
    for i, name in enumerate(order):
        if value == name or str(value).startswith(name) or str(value).startswith(f"toy_{name}"):
            return (i, str(value))
    return (len(order), str(value))


def _sortable(value: object) -> tuple[int, float, str]:
    # Numbers (lr, judge recall) in numeric order, before anything else.
    try:
        return (0, float(value), "")  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return (1, 0.0, str(value))


def group_keys(runs: pd.DataFrame) -> list[str]:
    """scenario and method, plus lr / variant when they vary (a table row per distinct setting)."""
    keys = ["scenario", "method"]
    for extra in ("variant", "lr"):
        if extra in runs and runs[extra].fillna("").astype(str).nunique() > 1:
            keys.append(extra)
    return keys


def summarize(runs: pd.DataFrame, metrics: Sequence[str] = DEFAULT_METRICS, prefix: str = "eval/",
              keys: Sequence[str] | None = None) -> pd.DataFrame:
    """One row per group: `<metric>_mean`, `<metric>_std` (NaN with one seed) and `n` (seeds)."""
    keys = list(keys or group_keys(runs))
    present = [m for m in metrics if f"{prefix}{m}" in runs]
    out = []
    for key, group in runs.groupby(keys, sort=False, dropna=False):
        row = dict(zip(keys, key if isinstance(key, tuple) else (key,)))
        row["n"] = int(group[f"{prefix}{present[0]}"].notna().sum()) if present else len(group)
        for metric in present:
            values = group[f"{prefix}{metric}"].dropna()
            row[f"{metric}_mean"] = float(values.mean()) if len(values) else math.nan
            row[f"{metric}_std"] = float(values.std(ddof=1)) if len(values) > 1 else math.nan
        out.append(row)
    table = pd.DataFrame(out)
    if table.empty:
        return table
    extra = [k for k in keys if k not in ("scenario", "method")]
    order = table.apply(lambda r: (_rank(r["scenario"], SCENARIO_ORDER), _rank(r["method"], METHOD_ORDER),
                                   tuple(_sortable(r[k]) for k in extra)), axis=1)
    return table.assign(_order=order).sort_values("_order", kind="stable").drop(columns="_order").reset_index(drop=True)


def mean_std(mean: float, std: float, digits: int = 2) -> str:
    if math.isnan(mean):
        return "—"
    return f"{mean:.{digits}f}" if math.isnan(std) else f"{mean:.{digits}f} ± {std:.{digits}f}"


def to_markdown(summary: pd.DataFrame, metrics: Sequence[str] = DEFAULT_METRICS) -> str:
    """Markdown table, `mean ± std` per metric and the number of seeds."""
    keys = [c for c in summary.columns if not c.endswith(("_mean", "_std")) and c != "n"]
    present = [m for m in metrics if f"{m}_mean" in summary]
    header = keys + present + ["n seeds"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for _, row in summary.iterrows():
        cells = [str(row[k]) for k in keys] + [mean_std(row[f"{m}_mean"], row[f"{m}_std"]) for m in present]
        lines.append("| " + " | ".join(cells + [str(int(row["n"]))]) + " |")
    return "\n".join(lines) + "\n"
