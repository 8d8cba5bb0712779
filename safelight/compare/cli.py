"""`safelight compare`: the method x scenario table and figures of one MLflow experiment.

    safelight compare --experiment toy-table
    safelight compare --experiment toy-judge-robustness --x_param judge_recall

Reads only what MLflow stores (tags and params, final metrics, metric histories, artifacts). Prints
the table (mean ± std over seeds, with the number of seeds), writes table.csv / table.md and the
figures under --out, and logs all of them to a `comparison` run in the same experiment.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Sequence

import mlflow
import pandas as pd
from mlflow.tracking import MlflowClient

from safelight.compare import history, plots
from safelight.compare.runs import KIND_TAG, experiment_id, load_runs
from safelight.compare.table import DEFAULT_METRICS, group_keys, summarize, to_markdown
from safelight.tracking import DEFAULT_TRACKING_URI, ensure_local_store


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="safelight compare", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--experiment", required=True, help="MLflow experiment name")
    parser.add_argument("--tracking_uri", default=DEFAULT_TRACKING_URI)
    parser.add_argument("--out", default=None, help="output folder (default: comparisons/<experiment>)")
    parser.add_argument("--metrics", nargs="+", default=list(DEFAULT_METRICS),
                        help="eval/<metric> columns of the table")
    parser.add_argument("--x_param", default=None,
                        help="a sweep tag (e.g. judge_recall): add it to the table keys and plot metrics against it")
    parser.add_argument("--no_figures", action="store_true", help="table only")
    parser.add_argument("--no_mlflow_log", action="store_true", help="do not log the outputs to a comparison run")
    return parser.parse_args(list(argv))


def reference_points(runs: pd.DataFrame) -> pd.DataFrame | None:
    """Mean `eval_reference/*` per scenario: the model before fine-tuning, identical across methods."""
    cols = {c: c.split("/", 1)[1] for c in runs.columns if c.startswith("eval_reference/")}
    if not cols:
        return None
    return runs.groupby("scenario")[list(cols)].mean().rename(columns=cols)


def with_variant_labels(frame: pd.DataFrame) -> pd.DataFrame:
    """Figures colour by `method`: fold the variant (or lr) into it when those vary, so a curve
    never averages over different settings."""
    frame = frame.copy()
    for extra in ("variant", "lr"):
        if extra in frame and frame[extra].fillna("").astype(str).nunique() > 1:
            frame["method"] = frame["method"].astype(str) + " [" + frame[extra].astype(str) + "]"
    return frame


def draw_figures(client: MlflowClient, runs: pd.DataFrame, summary: pd.DataFrame, out: Path,
                 x_param: str | None) -> list[str]:
    notes: list[str] = []
    # Curves by method (+ variant); the metrics-vs-parameter figure keeps the plain summary, whose
    # x axis is that parameter.
    labelled_runs, labelled = with_variant_labels(runs), with_variant_labels(summary)
    if {"asr_mean", "utility_mean"} <= set(labelled.columns):
        plots.asr_vs_utility(labelled, out / "asr_vs_utility.png", reference_points(labelled_runs))
        notes.append("asr_vs_utility.png")
    curves = history.curves(client, labelled_runs)
    if not curves.empty:
        plots.safety_curves(curves, out / "safety_curves.png")
        notes.append("safety_curves.png")
    values, source = history.risk_beta_values(client, labelled_runs)
    if not values.empty:
        plots.risk_beta_histograms(values, out / "risk_beta_histograms.png")
        notes.append(f"risk_beta_histograms.png ({source})")
    if x_param:
        plots.metrics_vs_param(summary, x_param, out / f"metrics_vs_{x_param}.png")
        notes.append(f"metrics_vs_{x_param}.png")
    return notes


def log_comparison_run(client: MlflowClient, experiment: str, out: Path) -> str:
    """A run tagged as a comparison (ignored by later compares) holding the table and the figures."""
    run = client.create_run(experiment_id(client, experiment), run_name="comparison", tags={KIND_TAG: "comparison"})
    client.log_artifacts(run.info.run_id, str(out), artifact_path="comparison")
    client.set_terminated(run.info.run_id, "FINISHED")
    return run.info.run_id


def cost_note(runs: pd.DataFrame, cores: int = 2) -> str | None:
    """Sweep cost from the `sweep.cpu_seconds` tags: on a busy machine wall time says little, while the
    CPU seconds of single-thread cells divided by the cores is what the grid takes on idle cores."""
    if "cpu_seconds" not in runs:
        return None
    cpu = pd.to_numeric(runs["cpu_seconds"], errors="coerce").dropna()
    if cpu.empty:
        return None
    per_scenario = runs.assign(_cpu=pd.to_numeric(runs["cpu_seconds"], errors="coerce")).groupby("scenario")["_cpu"]
    detail = ", ".join(f"{k} {v:.0f}s" for k, v in per_scenario.mean().dropna().items())
    return (f"cost: {len(cpu)} cells, {cpu.sum() / 60:.1f} CPU-minutes (mean per cell: {detail}); "
            f"about {cpu.sum() / 60 / cores:.1f} min on {cores} idle cores with {cores} single-thread cells at a time")


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    ensure_local_store(args.tracking_uri)
    mlflow.set_tracking_uri(args.tracking_uri)
    client = MlflowClient(args.tracking_uri)
    runs = load_runs(client, args.experiment)
    if runs.empty:
        raise SystemExit(f"experiment {args.experiment!r} has no finished runs to compare")
    keys = group_keys(runs) + ([args.x_param] if args.x_param and args.x_param not in group_keys(runs) else [])
    summary = summarize(runs, args.metrics, keys=keys)
    out = Path(args.out or Path("comparisons") / args.experiment)
    out.mkdir(parents=True, exist_ok=True)
    markdown = to_markdown(summary, args.metrics)
    summary.to_csv(out / "table.csv", index=False)
    (out / "table.md").write_text(markdown)
    print(markdown)
    print(f"{len(runs)} finished runs; table: {out / 'table.csv'}, {out / 'table.md'}")
    note = cost_note(runs)
    if note:
        print(note)
        (out / "cost.txt").write_text(note + "\n")
    if not args.no_figures:
        for note in draw_figures(client, runs, summary, out, args.x_param):
            print(f"figure: {out / note}")
    if not args.no_mlflow_log:
        run_id = log_comparison_run(client, args.experiment, out)
        print(f"logged to MLflow run {run_id} (artifacts under comparison/)")


if __name__ == "__main__":
    main()
