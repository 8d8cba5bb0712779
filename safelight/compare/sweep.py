"""`safelight sweep`: a grid of `safelight fit` cells into one MLflow experiment, resumable.

    safelight sweep --config configs/sweeps/toy_table.yaml
    safelight sweep --config configs/sweeps/toy_table.yaml --only_methods=[sft,adaptive_critic] --seeds=[0]
    safelight sweep --config configs/sweeps/toy_table.yaml --dry_run true

Cells already FINISHED in the experiment (matched by their `sweep.cell` tag) are skipped, so the
same command resumes an interrupted sweep. A failing cell is recorded as a FAILED run with its
error and log tail, and the sweep goes on (failed cells are retried on the next run unless
--retry_failed false). At the end the comparison table is printed (`safelight compare`).
"""

from __future__ import annotations

import subprocess
import sys
import time
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from jsonargparse import ActionConfigFile, ArgumentParser, Namespace
from mlflow.tracking import MlflowClient

from safelight.compare import launch
from safelight.compare.grid import TAG, Cell, Variant, build_cells
from safelight.compare.runs import iter_runs
from safelight.tracking import DEFAULT_ARTIFACT_LOCATION, DEFAULT_TRACKING_URI, ensure_local_store


@dataclass
class SetupStep:
    """A `safelight ...` command run once before the cells, unless `creates` already exists
    (e.g. training the activation probe that adaptive_probe cells load), or unless no pending cell
    has one of `for_methods`."""

    command: list[str]
    creates: str | None = None
    for_methods: list[str] | None = None


def build_parser() -> ArgumentParser:
    p = ArgumentParser(prog="safelight sweep", description=__doc__)
    p.add_argument("--config", action=ActionConfigFile)
    p.add_argument("--experiment", type=str, required=True, help="the one MLflow experiment of every cell")
    p.add_argument("--tracking_uri", type=str, default=DEFAULT_TRACKING_URI)
    p.add_argument("--artifact_location", type=str, default=DEFAULT_ARTIFACT_LOCATION)
    p.add_argument("--base", type=list[str], default=[], help="configs (or args) every cell starts from")
    p.add_argument("--methods", type=dict[str, list[str]], default={}, help="name -> configs / args")
    p.add_argument("--scenarios", type=dict[str, list[str]], default={}, help="name -> configs / args")
    p.add_argument("--variants", type=dict[str, Variant] | None, default=None, help="name -> {args, tags}")
    p.add_argument("--seeds", type=list[int], default=[0])
    p.add_argument("--lrs", type=list[float] | None, default=None, help="learning rates (default: the config's)")
    p.add_argument("--cell_args", type=list[str], default=[], help="arguments appended to every cell")
    p.add_argument("--setup", type=list[SetupStep], default=[])
    p.add_argument("--only_methods", type=list[str] | None, default=None)
    p.add_argument("--only_scenarios", type=list[str] | None, default=None)
    p.add_argument("--only_variants", type=list[str] | None, default=None)
    p.add_argument("--parallel", type=int, default=2, help="cells at once (subprocess launcher)")
    p.add_argument("--threads_per_cell", type=int, default=1)
    p.add_argument("--launcher", type=launch.Launcher, default="subprocess")
    p.add_argument("--cell_timeout_s", type=float | None, default=None)
    p.add_argument("--retry_failed", type=bool, default=True)
    p.add_argument("--max_cells", type=int | None, default=None, help="run at most this many pending cells")
    p.add_argument("--dry_run", type=bool, default=False, help="list the cells and what would be skipped")
    p.add_argument("--log_dir", type=str, default="sweeps", help="per-cell logs: <log_dir>/<experiment>/")
    p.add_argument("--compare", type=bool, default=True, help="print the comparison table at the end")
    p.add_argument("--compare_args", type=list[str], default=[], help="extra `safelight compare` arguments")
    return p


def _pick(table: dict, only: list[str] | None, what: str) -> dict:
    if only is None:
        return table
    unknown = sorted(set(only) - set(table))
    if unknown:
        raise SystemExit(f"unknown {what}: {unknown}; known: {sorted(table)}")
    return {k: v for k, v in table.items() if k in only}


def cells_of(cfg: Namespace) -> list[Cell]:
    variants = cfg.variants
    if variants is not None:
        variants = {k: v if isinstance(v, Variant) else Variant(**dict(v)) for k, v in variants.items()}
        variants = _pick(variants, cfg.only_variants, "variants")
    return build_cells(cfg.experiment, cfg.base, _pick(cfg.methods, cfg.only_methods, "methods"),
                       _pick(cfg.scenarios, cfg.only_scenarios, "scenarios"), cfg.seeds, cfg.lrs, variants,
                       cfg.cell_args)


def ensure_experiment(client: MlflowClient, name: str, artifact_location: str) -> str:
    # Created here, once: parallel cells creating it at the same moment would collide.
    experiment = client.get_experiment_by_name(name)
    if experiment is not None:
        return experiment.experiment_id
    return client.create_experiment(name, artifact_location=str(Path(artifact_location).resolve()))


def finished_keys(client: MlflowClient, exp_id: str, sweep_name: str) -> tuple[set[str], set[str]]:
    """Cell keys with a FINISHED run, and keys whose last attempt failed."""
    done, failed = set(), set()
    for run in iter_runs(client, exp_id, f"tags.`{TAG}name` = '{sweep_name}'"):
        key = run.data.tags.get(f"{TAG}cell")
        (done if run.info.status == "FINISHED" else failed).add(key)
    return done, failed - done


def run_setup(steps: Sequence[SetupStep], pending: Sequence[Cell], threads: int) -> None:
    methods = {c.method for c in pending}
    for step in steps:
        if step.creates and Path(step.creates).exists():
            continue
        if step.for_methods is not None and not methods & set(step.for_methods):
            continue
        print(f"[sweep] setup: safelight {' '.join(step.command)}", flush=True)
        subprocess.run([sys.executable, "-m", "safelight.cli", *step.command], check=True, env=launch.thread_env(threads))


def _fmt(seconds: float) -> str:
    return f"{int(seconds // 60)}m{int(seconds % 60):02d}s"


class Progress:
    """`[i/n] ok method/scenario/s0 53s | elapsed 5m | ETA 20m` lines; ETA from this session's cells."""

    def __init__(self, total: int, parallel: int) -> None:
        self.total, self.parallel, self.done = total, parallel, 0
        self.start = time.monotonic()
        self.durations: list[float] = []

    def report(self, cell: Cell, ok: bool, seconds: float, cpu: float | None = None) -> None:
        self.done += 1
        if seconds > 0:  # 0: finished by another process meanwhile; not a duration sample
            self.durations.append(seconds)
        remaining = self.total - self.done
        eta = sum(self.durations) / max(len(self.durations), 1) * remaining / self.parallel
        cpu_note = f" (cpu {cpu:.0f}s)" if cpu is not None else ""
        print(f"[{self.done}/{self.total}] {'ok    ' if ok else 'FAILED'} {cell.label} {seconds:.0f}s{cpu_note} | "
              f"elapsed {_fmt(time.monotonic() - self.start)} | ETA {_fmt(eta)}", flush=True)


def execute(cfg: Namespace, pending: list[Cell], client: MlflowClient, exp_id: str) -> int:
    """Run the pending cells (`parallel` at a time); returns how many failed."""
    log_dir = Path(cfg.log_dir) / cfg.experiment
    log_dir.mkdir(parents=True, exist_ok=True)
    parallel = cfg.parallel if cfg.launcher == "subprocess" else 1
    progress = Progress(len(pending), parallel)

    def one(cell: Cell) -> tuple[Cell, bool, float, float | None]:
        # Checked again at launch: another sweep process on the same experiment may have run it.
        if any(r.info.status == "FINISHED" for r in launch.cell_runs(client, exp_id, cell.key)):
            return cell, True, 0.0, None
        launch.mark_stale(client, exp_id, cell.key)
        argv = launch.fit_argv(cell, cfg.experiment, cfg.experiment, cfg.tracking_uri, cfg.artifact_location)
        log_path = log_dir / f"{cell.label.replace('/', '__')}.log"
        start, since_ms = time.monotonic(), int(time.time() * 1000) - 1000
        if cfg.launcher == "subprocess":
            result = launch.run_subprocess(argv, log_path, cfg.threads_per_cell, cfg.cell_timeout_s)
        else:
            result = launch.run_inprocess(argv, log_path, cfg.threads_per_cell)
        seconds = time.monotonic() - start
        ok = launch.record_outcome(client, exp_id, cell, cfg.experiment, result, seconds, log_path, since_ms)
        return cell, ok, seconds, result.cpu_seconds

    failures = 0
    with ThreadPoolExecutor(max_workers=parallel) as pool:
        queue = list(pending)
        running: set[Future] = set()
        while queue or running:
            while queue and len(running) < parallel:
                running.add(pool.submit(one, queue.pop(0)))
            finished, running = wait(running, return_when=FIRST_COMPLETED)
            for future in finished:
                cell, ok, seconds, cpu = future.result()
                failures += not ok
                progress.report(cell, ok, seconds, cpu)
    return failures


def main(argv: Sequence[str] | None = None) -> None:
    cfg = build_parser().parse_args(list(sys.argv[1:] if argv is None else argv))
    cells = cells_of(cfg)
    ensure_local_store(cfg.tracking_uri)
    client = MlflowClient(cfg.tracking_uri)
    exp_id = ensure_experiment(client, cfg.experiment, cfg.artifact_location)
    done, failed = finished_keys(client, exp_id, cfg.experiment)
    pending = [c for c in cells if c.key not in done and (cfg.retry_failed or c.key not in failed)]
    print(f"[sweep] {cfg.experiment}: {len(cells)} cells, {len(cells) - len(pending)} already finished "
          f"(or failed, not retried), {len(pending)} to run", flush=True)
    if cfg.max_cells is not None:
        pending = pending[: cfg.max_cells]
    if cfg.dry_run:
        for cell in cells:
            state = "done" if cell.key in done else ("failed" if cell.key in failed else "pending")
            print(f"  {state:7s} {cell.label}  [{cell.key}]")
        return
    if pending:
        run_setup(cfg.setup, pending, max(cfg.parallel * cfg.threads_per_cell, 1))
    failures = execute(cfg, pending, client, exp_id) if pending else 0
    if failures:
        print(f"[sweep] {failures} cell(s) failed: see FAILED runs (tag {TAG}error) and {cfg.log_dir}/", flush=True)
    if cfg.compare:
        from safelight.compare.cli import main as compare

        compare(["--experiment", cfg.experiment, "--tracking_uri", cfg.tracking_uri, *cfg.compare_args])


if __name__ == "__main__":
    main()
