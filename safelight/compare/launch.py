"""Running one sweep cell (`safelight fit ...`) and recording its outcome in MLflow.

Subprocesses isolate failures (a crash, an OOM, a bad config) and let two single-thread cells run
side by side, which on a 2-core machine beats one two-thread process. The in-process launcher
skips the interpreter and import start-up (several seconds a cell) but runs cells one at a time.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import threading
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from mlflow.entities import Run
from mlflow.tracking import MlflowClient

from safelight.compare.grid import TAG, Cell
from safelight.compare.runs import iter_runs

Launcher = Literal["subprocess", "inprocess"]
DEFAULT_LOGGER_CLASS = "lightning.pytorch.loggers.MLFlowLogger"


def fit_argv(cell: Cell, sweep_name: str, experiment: str, tracking_uri: str, artifact_location: str) -> list[str]:
    """The cell's `safelight fit` arguments, with the MLflow logger replaced as a whole (experiment, tags)."""
    logger = {"class_path": DEFAULT_LOGGER_CLASS, "init_args": {
        "experiment_name": experiment, "tracking_uri": tracking_uri, "artifact_location": artifact_location,
        "run_name": cell.label, "tags": cell.tags(sweep_name), "log_model": False}}
    return ["fit", *cell.args, f"--trainer.logger={json.dumps(logger)}"]


def thread_env(threads: int) -> dict[str, str]:
    env = dict(os.environ)
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        env[var] = str(threads)
    env.update(TOKENIZERS_PARALLELISM="false", PYTHONUNBUFFERED="1", MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR="false")
    return env


@dataclass
class CellResult:
    returncode: int
    #: CPU seconds the cell used (user + system): on a contended machine the honest cost of a cell,
    #: from which the wall time on idle cores is estimated.
    cpu_seconds: float | None = None


def run_subprocess(argv: list[str], log_path: Path, threads: int, timeout_s: float | None) -> CellResult:
    with open(log_path, "w") as log:
        proc = subprocess.Popen([sys.executable, "-m", "safelight.cli", *argv], stdout=log, stderr=subprocess.STDOUT,
                                env=thread_env(threads))
        timer = threading.Timer(timeout_s, proc.kill) if timeout_s else None
        if timer is not None:
            timer.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)  # like wait(), plus the child's resource usage
        finally:
            if timer is not None:
                timer.cancel()
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode < 0 and timeout_s:
            log.write(f"\n[sweep] cell killed (signal {-proc.returncode}); timeout {timeout_s} s\n")
        return CellResult(proc.returncode, usage.ru_utime + usage.ru_stime)


def run_inprocess(argv: list[str], log_path: Path, threads: int) -> CellResult:
    import torch

    from safelight.cli import main

    torch.set_num_threads(threads)
    with open(log_path, "w") as log, contextlib.redirect_stdout(log), contextlib.redirect_stderr(log):
        try:
            main(argv)
            return CellResult(0)
        except SystemExit as exc:  # jsonargparse reports bad arguments this way
            return CellResult(exc.code if isinstance(exc.code, int) else 2)
        except Exception:  # noqa: BLE001 - a failed cell is recorded, the sweep goes on
            traceback.print_exc(file=log)
            return CellResult(1)


def cell_runs(client: MlflowClient, exp_id: str, key: str) -> list[Run]:
    return list(iter_runs(client, exp_id, f"tags.`{TAG}cell` = '{key}'"))


def _error_line(log_path: Path) -> str:
    lines = [ln for ln in log_path.read_text(errors="replace").splitlines() if ln.strip()] if log_path.exists() else []
    errors = [ln for ln in lines if "Error" in ln or "error:" in ln]
    return (errors or lines or ["(no output)"])[-1][:500]


def record_outcome(client: MlflowClient, exp_id: str, cell: Cell, sweep_name: str, result: CellResult,
                   seconds: float, log_path: Path, since_ms: int) -> bool:
    """True when the cell finished; otherwise mark (or create) its run FAILED with the error attached.

    Only runs started by this attempt (`since_ms`) count: earlier failed attempts keep their record.
    """
    rc = result.returncode
    runs = [r for r in cell_runs(client, exp_id, cell.key) if r.info.start_time >= since_ms]
    finished = [r for r in runs if r.info.status == "FINISHED"]
    if rc == 0 and finished:
        client.set_tag(finished[-1].info.run_id, f"{TAG}seconds", f"{seconds:.1f}")
        if result.cpu_seconds is not None:
            client.set_tag(finished[-1].info.run_id, f"{TAG}cpu_seconds", f"{result.cpu_seconds:.1f}")
        return True
    failed = [r for r in runs if r.info.status != "FINISHED"] or [r for r in runs if rc != 0]
    if not failed:  # it died before the logger created a run: make one, so the failure is visible
        failed = [client.create_run(exp_id, run_name=cell.label, tags=cell.tags(sweep_name))]
    for run in failed:
        run_id = run.info.run_id
        client.set_tag(run_id, f"{TAG}status", "failed")
        client.set_tag(run_id, f"{TAG}error", f"exit {rc}: {_error_line(log_path)}")
        if log_path.exists():
            client.log_text(run_id, log_path.read_text(errors="replace")[-20000:], "sweep/cell_log_tail.txt")
        client.set_terminated(run_id, "FAILED")
    return False


def mark_stale(client: MlflowClient, exp_id: str, key: str) -> None:
    """A RUNNING run of a cell about to start was left by an interrupted sweep: mark it KILLED."""
    for run in cell_runs(client, exp_id, key):
        if run.info.status == "RUNNING":
            client.set_terminated(run.info.run_id, "KILLED")
